//! Adam (`torch.optim.Adam`) and AdamW (`torch.optim.AdamW`), which differ only in how weight
//! decay enters:
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

use crate::optimizer::{GenericOptimizer, UpdateRule};
use crate::state::{
    check_state_keys, flag, load_array, load_optional_array, load_step, option_map, save_array,
    OptionReader, ParamState, SavedValue,
};
use crate::update::{check, direction, e, ema, ema_square};
use nanotorch_ndarray_core::{Backend, BinaryOp, Float, NDArray, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Adam (`torch.optim.Adam`): `Adam::new(params, AdamOptions { lr: 1e-3, ..Default::default() })`.
pub type Adam<E, B> = GenericOptimizer<E, B, AdamOptions>;

/// AdamW (`torch.optim.AdamW`): Adam with decoupled weight decay.
pub type AdamW<E, B> = GenericOptimizer<E, B, AdamWOptions>;

/// Hyper-parameters of [`Adam`]; `Default` is PyTorch's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamOptions {
    /// Learning rate γ (default 1e-3).
    pub lr: f64,
    /// Decay rates (β₁, β₂) of the first and second moment estimates (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to the denominator for stability (default 1e-8).
    pub eps: f64,
    /// L2 penalty λ added to the gradient (default 0).
    pub weight_decay: f64,
    /// The AMSGrad variant (divide by the running maximum of `v`).
    pub amsgrad: bool,
    /// Ascend the objective instead of descending it.
    pub maximize: bool,
}

impl Default for AdamOptions {
    fn default() -> Self {
        AdamOptions {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            maximize: false,
        }
    }
}

/// Hyper-parameters of [`AdamW`]; `Default` is PyTorch's defaults (note `weight_decay` 1e-2).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamWOptions {
    /// Learning rate γ (default 1e-3).
    pub lr: f64,
    /// Decay rates (β₁, β₂) of the moment estimates (default (0.9, 0.999)).
    pub betas: (f64, f64),
    /// Added to the denominator for stability (default 1e-8).
    pub eps: f64,
    /// Decoupled weight decay λ: each step multiplies θ by `1 - γλ` (default 1e-2).
    pub weight_decay: f64,
    /// The AMSGrad variant.
    pub amsgrad: bool,
    /// Ascend the objective instead of descending it.
    pub maximize: bool,
}

impl Default for AdamWOptions {
    fn default() -> Self {
        AdamWOptions {
            weight_decay: 1e-2,
            ..AdamWOptions::from(AdamOptions::default())
        }
    }
}

impl From<AdamOptions> for AdamWOptions {
    fn from(o: AdamOptions) -> Self {
        AdamWOptions {
            lr: o.lr,
            betas: o.betas,
            eps: o.eps,
            weight_decay: o.weight_decay,
            amsgrad: o.amsgrad,
            maximize: o.maximize,
        }
    }
}

/// Per-parameter state of [`Adam`] and [`AdamW`].
#[derive(Debug)]
pub struct AdamState<E: Float, B: Backend> {
    /// Steps taken, `t`.
    pub step: u64,
    /// First moment estimate `m`.
    pub exp_avg: NDArray<E, B>,
    /// Second moment estimate `v`.
    pub exp_avg_sq: NDArray<E, B>,
    /// Running maximum of `v` (AMSGrad only).
    pub max_exp_avg_sq: Option<NDArray<E, B>>,
}

/// Adam's options seen through one type, `decoupled` telling Adam from AdamW.
fn adam_update<E: Float, B: Backend>(
    o: &AdamOptions,
    decoupled: bool,
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
    let (beta1, beta2) = o.betas;
    let d = if decoupled {
        if o.weight_decay != 0.0 {
            param.scalar_assign(BinaryOp::Mul, e(1.0 - o.lr * o.weight_decay))?;
        }
        direction(grad, param, o.maximize, 0.0)?
    } else {
        direction(grad, param, o.maximize, o.weight_decay)?
    };
    ema(&s.exp_avg, &d.array, beta1)?;
    ema_square(&s.exp_avg_sq, &d.array, beta2)?;

    let t = s.step as f64;
    let bias_correction1 = 1.0 - beta1.powf(t);
    let bias_correction2_sqrt = (1.0 - beta2.powf(t)).sqrt();
    let second = if o.amsgrad {
        let max = match &s.max_exp_avg_sq {
            Some(m) => m,
            None => s
                .max_exp_avg_sq
                .insert(NDArray::zeros(param.dims(), param.backend())?),
        };
        max.binary_assign(BinaryOp::Maximum, &s.exp_avg_sq)?;
        max
    } else {
        &s.exp_avg_sq
    };
    // denom = √v / √(1 - β₂ᵗ) + ε ; θ ← θ - (γ / (1 - β₁ᵗ)) · m / denom
    let denom = second.sqrt()?;
    denom.scalar_assign(BinaryOp::Div, e(bias_correction2_sqrt))?;
    denom.scalar_assign(BinaryOp::Add, e(o.eps))?;
    let step = s.exp_avg.mul_scalar(e(o.lr / bias_correction1))?;
    step.binary_assign(BinaryOp::Div, &denom)?;
    param.binary_assign(BinaryOp::Sub, &step)
}

fn validate_adam(name: &str, o: &AdamOptions) -> Result<()> {
    check(name, o.lr >= 0.0, "learning rate", o.lr)?;
    check(name, o.eps >= 0.0, "epsilon value", o.eps)?;
    check(
        name,
        (0.0..1.0).contains(&o.betas.0),
        "beta parameter at index 0",
        o.betas.0,
    )?;
    check(
        name,
        (0.0..1.0).contains(&o.betas.1),
        "beta parameter at index 1",
        o.betas.1,
    )?;
    check(
        name,
        o.weight_decay >= 0.0,
        "weight_decay value",
        o.weight_decay,
    )
}

fn adam_map(o: &AdamOptions) -> BTreeMap<String, f64> {
    option_map(&[
        ("lr", o.lr),
        ("beta1", o.betas.0),
        ("beta2", o.betas.1),
        ("eps", o.eps),
        ("weight_decay", o.weight_decay),
        ("amsgrad", flag(o.amsgrad)),
        ("maximize", flag(o.maximize)),
    ])
}

fn adam_from_map(map: &BTreeMap<String, f64>) -> Result<AdamOptions> {
    let mut r = OptionReader::new(map);
    let o = AdamOptions {
        lr: r.f64("lr")?,
        betas: (r.f64("beta1")?, r.f64("beta2")?),
        eps: r.f64("eps")?,
        weight_decay: r.f64("weight_decay")?,
        amsgrad: r.bool("amsgrad")?,
        maximize: r.bool("maximize")?,
    };
    r.finish()?;
    Ok(o)
}

fn save_adam<E: Float, B: Backend>(s: &AdamState<E, B>) -> Result<ParamState> {
    let mut p = ParamState::new();
    p.insert("step".into(), SavedValue::Scalar(s.step as f64));
    p.insert("exp_avg".into(), save_array(&s.exp_avg)?);
    p.insert("exp_avg_sq".into(), save_array(&s.exp_avg_sq)?);
    if let Some(m) = &s.max_exp_avg_sq {
        p.insert("max_exp_avg_sq".into(), save_array(m)?);
    }
    Ok(p)
}

fn load_adam<E: Float, B: Backend>(
    saved: &ParamState,
    param: &NDArray<E, B>,
) -> Result<AdamState<E, B>> {
    check_state_keys(saved, &["step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"])?;
    Ok(AdamState {
        step: load_step(saved, "step")?,
        exp_avg: load_array(saved, "exp_avg", param)?,
        exp_avg_sq: load_array(saved, "exp_avg_sq", param)?,
        max_exp_avg_sq: load_optional_array(saved, "max_exp_avg_sq", param)?,
    })
}

impl AdamWOptions {
    fn as_adam(&self) -> AdamOptions {
        AdamOptions {
            lr: self.lr,
            betas: self.betas,
            eps: self.eps,
            weight_decay: self.weight_decay,
            amsgrad: self.amsgrad,
            maximize: self.maximize,
        }
    }
}

impl<E: Float, B: Backend> UpdateRule<E, B> for AdamOptions {
    const NAME: &'static str = "Adam";
    type State = AdamState<E, B>;

    fn validate(&self) -> Result<()> {
        validate_adam("Adam", self)
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
        adam_update(self, false, param, grad, state)
    }

    fn to_map(&self) -> BTreeMap<String, f64> {
        adam_map(self)
    }

    fn from_map(map: &BTreeMap<String, f64>) -> Result<Self> {
        adam_from_map(map)
    }

    fn save_state(state: &AdamState<E, B>) -> Result<ParamState> {
        save_adam(state)
    }

    fn load_state(saved: &ParamState, param: &NDArray<E, B>) -> Result<AdamState<E, B>> {
        load_adam(saved, param)
    }
}

impl<E: Float, B: Backend> UpdateRule<E, B> for AdamWOptions {
    const NAME: &'static str = "AdamW";
    type State = AdamState<E, B>;

    fn validate(&self) -> Result<()> {
        validate_adam("AdamW", &self.as_adam())
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
        adam_update(&self.as_adam(), true, param, grad, state)
    }

    fn to_map(&self) -> BTreeMap<String, f64> {
        adam_map(&self.as_adam())
    }

    fn from_map(map: &BTreeMap<String, f64>) -> Result<Self> {
        adam_from_map(map).map(AdamWOptions::from)
    }

    fn save_state(state: &AdamState<E, B>) -> Result<ParamState> {
        save_adam(state)
    }

    fn load_state(saved: &ParamState, param: &NDArray<E, B>) -> Result<AdamState<E, B>> {
        load_adam(saved, param)
    }
}
