//! Adagrad (`torch.optim.Adagrad`):
//!
//! ```text
//! t ← t + 1;  g ← ∇f(θ);  if maximize: g ← -g
//! γ̃ ← γ / (1 + (t - 1)η)          (η: lr_decay)
//! if λ ≠ 0: g ← g + λθ
//! s ← s + g²                       (s starts at initial_accumulator_value)
//! θ ← θ - γ̃ g / (√s + ε)
//! ```

use crate::optimizer::{GenericOptimizer, UpdateRule};
use crate::state::saved_array;
use crate::update::{check, descend, direction, e, step_direction, try_fused, Direction};
use nanotorch_ndarray_core::{Backend, BinaryOp, Float, FusedStep, NDArray, Result};
use serde::{Deserialize, Serialize};

/// Adagrad (`torch.optim.Adagrad`).
pub type Adagrad<E, B> = GenericOptimizer<E, B, AdagradOptions>;

/// Hyper-parameters of [`Adagrad`]; `Default` is PyTorch's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdagradOptions {
    /// Learning rate γ (default 1e-2).
    pub lr: f64,
    /// Learning-rate decay η per step (default 0).
    pub lr_decay: f64,
    /// L2 penalty λ added to the gradient (default 0).
    pub weight_decay: f64,
    /// Starting value of the sum of squared gradients (default 0).
    pub initial_accumulator_value: f64,
    /// Added to the denominator for stability (default 1e-10).
    pub eps: f64,
    /// Ascend the objective instead of descending it.
    pub maximize: bool,
}

impl Default for AdagradOptions {
    fn default() -> Self {
        AdagradOptions {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            maximize: false,
        }
    }
}

/// Per-parameter state of [`Adagrad`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdagradState<E: Float, B: Backend> {
    /// Steps taken.
    pub step: u64,
    /// Sum of squared gradients `s`.
    #[serde(with = "saved_array")]
    pub sum: NDArray<E, B>,
}

impl<E: Float, B: Backend> UpdateRule<E, B> for AdagradOptions {
    const NAME: &'static str = "Adagrad";
    type State = AdagradState<E, B>;

    fn validate(&self) -> Result<()> {
        check("Adagrad", self.lr >= 0.0, "learning rate", self.lr)?;
        check(
            "Adagrad",
            self.lr_decay >= 0.0,
            "lr_decay value",
            self.lr_decay,
        )?;
        check(
            "Adagrad",
            self.weight_decay >= 0.0,
            "weight_decay value",
            self.weight_decay,
        )?;
        check(
            "Adagrad",
            self.initial_accumulator_value >= 0.0,
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        check("Adagrad", self.eps >= 0.0, "epsilon value", self.eps)
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn update(
        &self,
        param: &NDArray<E, B>,
        grad: &NDArray<E, B>,
        state: &mut Option<AdagradState<E, B>>,
    ) -> Result<()> {
        let s = match state {
            Some(s) => s,
            None => state.insert(AdagradState {
                step: 0,
                sum: NDArray::full(
                    param.dims(),
                    e(self.initial_accumulator_value),
                    param.backend(),
                )?,
            }),
        };
        s.step += 1;
        let clr = self.lr / (1.0 + (s.step - 1) as f64 * self.lr_decay);
        let fused = FusedStep::Adagrad {
            direction: step_direction(self.maximize, self.weight_decay),
            eps: e(self.eps),
            neg_clr: e(-clr),
        };
        if try_fused(param, fused, grad, &[&s.sum])? {
            return Ok(());
        }
        let d = direction(grad, param, self.maximize, self.weight_decay)?;
        s.sum.binary_assign(BinaryOp::Add, &d.array.square()?)?;
        let std = s.sum.sqrt()?;
        std.scalar_assign(BinaryOp::Add, e(self.eps))?;
        let scaled = d.array.div(&std)?;
        descend(
            param,
            Direction {
                array: scaled,
                owned: true,
            },
            clr,
        )
    }
}
