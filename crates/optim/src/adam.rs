//! Adam (`torch.optim.Adam`) and AdamW (`torch.optim.AdamW`): one update rule, whose two variants
//! differ only in how weight decay enters (PyTorch, too, makes `AdamW` an `Adam` with
//! `decoupled_weight_decay=True`):
//!
//! ```text
//! t ← t + 1;  g ← ∇f(θ);  if maximize: g ← -g
//! Adam:   if λ ≠ 0: g ← g + λθ          (L2 penalty, through the moments)
//! AdamW:  θ ← θ(1 - γλ)                  (decoupled decay, before the update)
//! m ← β₁m + (1 - β₁)g
//! v ← β₂v + (1 - β₂)g²
//! if amsgrad: v_max ← max(v_max, v), and v_max stands in for v below
//! θ ← θ - (γ / (1 - β₁ᵗ)) · m / (√v / √(1 - β₂ᵗ) + ε)
//! ```
//!
//! This is the arithmetic of PyTorch's implementation: the AMSGrad maximum is taken over the raw
//! `v` (not the bias-corrected one), and ε is added after the bias correction.
//!
//! Both variants are one options struct, [`AdamFamilyOptions`], whose type parameter says where
//! weight decay enters; [`AdamOptions`] and [`AdamWOptions`] name its two instances.

use crate::optimizer::{GenericOptimizer, UpdateRule};
use crate::state::saved_array;
use crate::update::{check, direction, e, ema, ema_square, step_direction, try_fused};
use nanotorch_ndarray_core::{Backend, BinaryOp, Float, FusedStep, NDArray, Result};
use serde::{Deserialize, Serialize};

/// Adam (`torch.optim.Adam`): `Adam::new(params, AdamOptions { lr: 1e-3, ..Default::default() })`.
pub type Adam<E, B> = GenericOptimizer<E, B, AdamOptions>;

/// AdamW (`torch.optim.AdamW`): Adam with decoupled weight decay.
pub type AdamW<E, B> = GenericOptimizer<E, B, AdamWOptions>;

/// Hyper-parameters of [`Adam`]; `Default` is PyTorch's defaults.
pub type AdamOptions = AdamFamilyOptions<L2Penalty>;

/// Hyper-parameters of [`AdamW`]; `Default` is PyTorch's defaults (note `weight_decay` 1e-2).
pub type AdamWOptions = AdamFamilyOptions<DecoupledWeightDecay>;

/// What tells the members of the Adam family apart: their name and where weight decay enters.
pub trait AdamVariant:
    Copy + Default + PartialEq + std::fmt::Debug + Send + Sync + 'static
{
    /// PyTorch's class name.
    const NAME: &'static str;
    /// `true`: weight decay shrinks θ directly (AdamW); `false`: λθ is added to the gradient and
    /// so goes through the moment estimates (Adam).
    const DECOUPLED_WEIGHT_DECAY: bool;
    /// PyTorch's default `weight_decay`.
    const DEFAULT_WEIGHT_DECAY: f64;
}

/// Adam's weight decay: an L2 penalty λθ added to the gradient.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct L2Penalty;

impl AdamVariant for L2Penalty {
    const NAME: &'static str = "Adam";
    const DECOUPLED_WEIGHT_DECAY: bool = false;
    const DEFAULT_WEIGHT_DECAY: f64 = 0.0;
}

/// AdamW's weight decay: θ ← θ(1 - γλ) before each update (Loshchilov & Hutter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecoupledWeightDecay;

impl AdamVariant for DecoupledWeightDecay {
    const NAME: &'static str = "AdamW";
    const DECOUPLED_WEIGHT_DECAY: bool = true;
    const DEFAULT_WEIGHT_DECAY: f64 = 1e-2;
}

/// Hyper-parameters of the Adam family, written [`AdamOptions`] (Adam) or [`AdamWOptions`]
/// (AdamW); `Default` is PyTorch's defaults for each.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamFamilyOptions<V> {
    /// Learning rate γ (default 1e-3).
    pub lr: f64,
    /// Decay rates (β₁, β₂) of the first and second moment estimates (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to the denominator for stability (default 1e-8).
    pub eps: f64,
    /// Weight decay λ: an L2 penalty added to the gradient for Adam (default 0); for AdamW, each
    /// step multiplies θ by `1 - γλ` (default 1e-2).
    pub weight_decay: f64,
    /// The AMSGrad variant (divide by the running maximum of `v`).
    pub amsgrad: bool,
    /// Ascend the objective instead of descending it.
    pub maximize: bool,
    /// Which member of the family: [`L2Penalty`] (Adam) or [`DecoupledWeightDecay`] (AdamW). A
    /// zero-sized marker, fixed by the type; `..Default::default()` fills it in. (Not in the state
    /// dict: the optimizer's name there says which it is.)
    #[serde(skip)]
    pub variant: V,
}

impl<V: AdamVariant> Default for AdamFamilyOptions<V> {
    fn default() -> Self {
        AdamFamilyOptions {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: V::DEFAULT_WEIGHT_DECAY,
            amsgrad: false,
            maximize: false,
            variant: V::default(),
        }
    }
}

/// Adam's hyper-parameters for AdamW, `weight_decay` included as it is.
impl From<AdamOptions> for AdamWOptions {
    fn from(o: AdamOptions) -> Self {
        AdamWOptions {
            lr: o.lr,
            betas: o.betas,
            eps: o.eps,
            weight_decay: o.weight_decay,
            amsgrad: o.amsgrad,
            maximize: o.maximize,
            variant: DecoupledWeightDecay,
        }
    }
}

/// Per-parameter state of [`Adam`] and [`AdamW`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamState<E: Float, B: Backend> {
    /// Steps taken, `t`.
    pub step: u64,
    /// First moment estimate `m`.
    #[serde(with = "saved_array")]
    pub exp_avg: NDArray<E, B>,
    /// Second moment estimate `v`.
    #[serde(with = "saved_array")]
    pub exp_avg_sq: NDArray<E, B>,
    /// Running maximum of `v` (AMSGrad only).
    #[serde(
        with = "saved_array::optional",
        default = "Option::default",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_exp_avg_sq: Option<NDArray<E, B>>,
}

impl<E: Float, B: Backend, V: AdamVariant> UpdateRule<E, B> for AdamFamilyOptions<V> {
    const NAME: &'static str = V::NAME;
    type State = AdamState<E, B>;

    fn validate(&self) -> Result<()> {
        let name = V::NAME;
        check(name, self.lr >= 0.0, "learning rate", self.lr)?;
        check(name, self.eps >= 0.0, "epsilon value", self.eps)?;
        check(
            name,
            (0.0..1.0).contains(&self.betas.0),
            "beta parameter at index 0",
            self.betas.0,
        )?;
        check(
            name,
            (0.0..1.0).contains(&self.betas.1),
            "beta parameter at index 1",
            self.betas.1,
        )?;
        check(
            name,
            self.weight_decay >= 0.0,
            "weight_decay value",
            self.weight_decay,
        )
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn momentum(&self) -> Option<f64> {
        Some(self.betas.0)
    }

    fn set_momentum(&mut self, momentum: f64) -> bool {
        self.betas.0 = momentum;
        true
    }

    fn update(
        &self,
        param: &NDArray<E, B>,
        grad: &NDArray<E, B>,
        state: &mut Option<AdamState<E, B>>,
    ) -> Result<()> {
        let s = match state {
            Some(s) => s,
            None => state.insert(AdamState {
                step: 0,
                exp_avg: NDArray::zeros(param.dims(), param.backend())?,
                exp_avg_sq: NDArray::zeros(param.dims(), param.backend())?,
                max_exp_avg_sq: None,
            }),
        };
        s.step += 1;
        let (beta1, beta2) = self.betas;
        let t = s.step as f64;
        let bias_correction1 = 1.0 - beta1.powf(t);
        let bias_correction2_sqrt = (1.0 - beta2.powf(t)).sqrt();
        if self.amsgrad && s.max_exp_avg_sq.is_none() {
            s.max_exp_avg_sq = Some(NDArray::zeros(param.dims(), param.backend())?);
        }
        let decoupled = V::DECOUPLED_WEIGHT_DECAY && self.weight_decay != 0.0;
        let fused = FusedStep::Adam {
            decay: decoupled.then(|| e(1.0 - self.lr * self.weight_decay)),
            direction: step_direction(
                self.maximize,
                if V::DECOUPLED_WEIGHT_DECAY {
                    0.0
                } else {
                    self.weight_decay
                },
            ),
            beta1: e(beta1),
            one_minus_beta1: e(1.0 - beta1),
            beta2: e(beta2),
            one_minus_beta2: e(1.0 - beta2),
            step_size: e(self.lr / bias_correction1),
            bias_correction2_sqrt: e(bias_correction2_sqrt),
            eps: e(self.eps),
            amsgrad: self.amsgrad,
        };
        let done = match &s.max_exp_avg_sq {
            Some(max) if self.amsgrad => {
                try_fused(param, fused, grad, &[&s.exp_avg, &s.exp_avg_sq, max])?
            }
            _ => try_fused(param, fused, grad, &[&s.exp_avg, &s.exp_avg_sq])?,
        };
        if done {
            return Ok(());
        }
        let d = if V::DECOUPLED_WEIGHT_DECAY {
            if self.weight_decay != 0.0 {
                param.scalar_assign(BinaryOp::Mul, e(1.0 - self.lr * self.weight_decay))?;
            }
            direction(grad, param, self.maximize, 0.0)?
        } else {
            direction(grad, param, self.maximize, self.weight_decay)?
        };
        ema(&s.exp_avg, &d.array, beta1)?;
        ema_square(&s.exp_avg_sq, &d.array, beta2)?;

        let second = match &s.max_exp_avg_sq {
            Some(max) if self.amsgrad => {
                max.binary_assign(BinaryOp::Maximum, &s.exp_avg_sq)?;
                max
            }
            _ => &s.exp_avg_sq,
        };
        // denom = √v / √(1 - β₂ᵗ) + ε ; θ ← θ - (γ / (1 - β₁ᵗ)) · m / denom
        let denom = second.sqrt()?;
        denom.scalar_assign(BinaryOp::Div, e(bias_correction2_sqrt))?;
        denom.scalar_assign(BinaryOp::Add, e(self.eps))?;
        let step = s.exp_avg.mul_scalar(e(self.lr / bias_correction1))?;
        step.binary_assign(BinaryOp::Div, &denom)?;
        param.binary_assign(BinaryOp::Sub, &step)
    }
}
