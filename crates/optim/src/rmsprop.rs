//! RMSprop (`torch.optim.RMSprop`):
//!
//! ```text
//! g ← ∇f(θ);  if maximize: g ← -g;  if λ ≠ 0: g ← g + λθ
//! v ← αv + (1 - α)g²
//! ṽ ← v;  if centered: ḡ ← αḡ + (1 - α)g,  ṽ ← v - ḡ²
//! if μ > 0: b ← μb + g / (√ṽ + ε),  θ ← θ - γb
//! else:     θ ← θ - γ g / (√ṽ + ε)
//! ```

use crate::optimizer::{GenericOptimizer, UpdateRule};
use crate::state::saved_array;
use crate::update::{
    add_scaled, check, descend, direction, e, ema, ema_square, step_direction, try_fused, Direction,
};
use nanotorch_ndarray_core::{Backend, BinaryOp, Float, FusedStep, NDArray, Result};
use serde::{Deserialize, Serialize};

/// RMSprop (`torch.optim.RMSprop`).
#[allow(clippy::upper_case_acronyms)]
pub type RMSprop<E, B> = GenericOptimizer<E, B, RmspropOptions>;

/// Hyper-parameters of [`RMSprop`]; `Default` is PyTorch's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RmspropOptions {
    /// Learning rate γ (default 1e-2).
    pub lr: f64,
    /// Smoothing constant α of the squared-gradient average (default 0.99).
    pub alpha: f64,
    /// Added to the denominator for stability (default 1e-8).
    pub eps: f64,
    /// L2 penalty λ added to the gradient (default 0).
    pub weight_decay: f64,
    /// Momentum factor μ (default 0).
    pub momentum: f64,
    /// Normalise by an estimate of the gradient's variance instead of its second moment.
    pub centered: bool,
    /// Ascend the objective instead of descending it.
    pub maximize: bool,
}

impl Default for RmspropOptions {
    fn default() -> Self {
        RmspropOptions {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            maximize: false,
        }
    }
}

/// Per-parameter state of [`RMSprop`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RmspropState<E: Float, B: Backend> {
    /// Steps taken.
    pub step: u64,
    /// Running average of g², `v`.
    #[serde(with = "saved_array")]
    pub square_avg: NDArray<E, B>,
    /// `b` (momentum > 0 only).
    #[serde(
        with = "saved_array::optional",
        default = "Option::default",
        skip_serializing_if = "Option::is_none"
    )]
    pub momentum_buffer: Option<NDArray<E, B>>,
    /// Running average of g, `ḡ` (centered only).
    #[serde(
        with = "saved_array::optional",
        default = "Option::default",
        skip_serializing_if = "Option::is_none"
    )]
    pub grad_avg: Option<NDArray<E, B>>,
}

impl<E: Float, B: Backend> UpdateRule<E, B> for RmspropOptions {
    const NAME: &'static str = "RMSprop";
    type State = RmspropState<E, B>;

    fn validate(&self) -> Result<()> {
        check("RMSprop", self.lr >= 0.0, "learning rate", self.lr)?;
        check("RMSprop", self.eps >= 0.0, "epsilon value", self.eps)?;
        check(
            "RMSprop",
            self.momentum >= 0.0,
            "momentum value",
            self.momentum,
        )?;
        check(
            "RMSprop",
            self.weight_decay >= 0.0,
            "weight_decay value",
            self.weight_decay,
        )?;
        check("RMSprop", self.alpha >= 0.0, "alpha value", self.alpha)
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn momentum(&self) -> Option<f64> {
        Some(self.momentum)
    }

    fn set_momentum(&mut self, momentum: f64) -> bool {
        self.momentum = momentum;
        true
    }

    fn update(
        &self,
        param: &NDArray<E, B>,
        grad: &NDArray<E, B>,
        state: &mut Option<RmspropState<E, B>>,
    ) -> Result<()> {
        let zeros = || NDArray::zeros(param.dims(), param.backend());
        let s = match state {
            Some(s) => s,
            None => state.insert(RmspropState {
                step: 0,
                square_avg: zeros()?,
                momentum_buffer: None,
                grad_avg: None,
            }),
        };
        s.step += 1;
        if self.momentum > 0.0 && s.momentum_buffer.is_none() {
            s.momentum_buffer = Some(zeros()?);
        }
        if self.centered && s.grad_avg.is_none() {
            s.grad_avg = Some(zeros()?);
        }
        let fused = FusedStep::Rmsprop {
            direction: step_direction(self.maximize, self.weight_decay),
            alpha: e(self.alpha),
            one_minus_alpha: e(1.0 - self.alpha),
            eps: e(self.eps),
            momentum: (self.momentum > 0.0).then(|| e(self.momentum)),
            centered: self.centered,
            neg_lr: e(-self.lr),
        };
        let v = &s.square_avg;
        let done = match (&s.momentum_buffer, &s.grad_avg) {
            (Some(b), Some(a)) if self.momentum > 0.0 && self.centered => {
                try_fused(param, fused, grad, &[v, b, a])?
            }
            (Some(b), _) if self.momentum > 0.0 => try_fused(param, fused, grad, &[v, b])?,
            (_, Some(a)) if self.centered => try_fused(param, fused, grad, &[v, a])?,
            _ => try_fused(param, fused, grad, &[v])?,
        };
        if done {
            return Ok(());
        }
        let d = direction(grad, param, self.maximize, self.weight_decay)?;
        ema_square(&s.square_avg, &d.array, self.alpha)?;
        // The buffers the options ask for were created above, before the fused attempt.
        let avg = if let (true, Some(grad_avg)) = (self.centered, &s.grad_avg) {
            ema(grad_avg, &d.array, self.alpha)?;
            // √(v - ḡ²)
            let var = grad_avg.square()?;
            var.scalar_assign(BinaryOp::Mul, e(-1.0))?;
            var.binary_assign(BinaryOp::Add, &s.square_avg)?;
            var.sqrt()?
        } else {
            s.square_avg.sqrt()?
        };
        avg.scalar_assign(BinaryOp::Add, e(self.eps))?;
        // g / (√ṽ + ε), into a fresh array
        let scaled = d.array.div(&avg)?;
        if let (true, Some(buf)) = (self.momentum > 0.0, &s.momentum_buffer) {
            buf.scalar_assign(BinaryOp::Mul, e(self.momentum))?;
            buf.binary_assign(BinaryOp::Add, &scaled)?;
            add_scaled(param, buf, -self.lr)
        } else {
            descend(
                param,
                Direction {
                    array: scaled,
                    owned: true,
                },
                self.lr,
            )
        }
    }
}
