//! Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay
//! (`torch.optim.SGD`).
//!
//! ```text
//! g ← ∇f(θ);  if maximize: g ← -g
//! if λ ≠ 0:  g ← g + λθ
//! if μ ≠ 0:  b ← g on the first step, else b ← μb + (1 - τ)g
//!            g ← g + μb if nesterov, else g ← b
//! θ ← θ - γg
//! ```
//!
//! `maximize` negates the gradient first, as PyTorch's implementation does (its documentation's
//! pseudo-code adds `γg` at the end instead, which differs only when weight decay is on: there the
//! implementation, which we follow, still decays the weights toward zero).

use crate::optimizer::{GenericOptimizer, UpdateRule};
use crate::state::saved_array;
use crate::update::{
    add_scaled, check, descend, direction, e, step_direction, try_fused, Direction,
};
use nanotorch_ndarray_core::{Backend, Float, FusedStep, NDArray, Result, SgdMomentum};
use serde::{Deserialize, Serialize};

/// Stochastic gradient descent (`torch.optim.SGD`): `SGD::new(params, SgdOptions { lr: 0.1,
/// momentum: 0.9, ..Default::default() })`.
#[allow(clippy::upper_case_acronyms)]
pub type SGD<E, B> = GenericOptimizer<E, B, SgdOptions>;

/// Hyper-parameters of [`SGD`]; `Default` is PyTorch's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgdOptions {
    /// Learning rate γ (default 1e-3).
    pub lr: f64,
    /// Momentum factor μ (default 0: plain SGD).
    pub momentum: f64,
    /// Dampening τ of the momentum (default 0).
    pub dampening: f64,
    /// L2 penalty λ added to the gradient (default 0).
    pub weight_decay: f64,
    /// Nesterov momentum (needs `momentum > 0` and `dampening == 0`).
    pub nesterov: bool,
    /// Ascend the objective instead of descending it.
    pub maximize: bool,
}

impl Default for SgdOptions {
    fn default() -> Self {
        SgdOptions {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
        }
    }
}

/// Per-parameter state of [`SGD`]: the momentum buffer, created on the first step (when
/// momentum is on).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgdState<E: Float, B: Backend> {
    /// `b` in the algorithm; `None` while momentum is 0.
    #[serde(
        with = "saved_array::optional",
        default = "Option::default",
        skip_serializing_if = "Option::is_none"
    )]
    pub momentum_buffer: Option<NDArray<E, B>>,
}

impl<E: Float, B: Backend> UpdateRule<E, B> for SgdOptions {
    const NAME: &'static str = "SGD";
    type State = SgdState<E, B>;

    fn validate(&self) -> Result<()> {
        check("SGD", self.lr >= 0.0, "learning rate", self.lr)?;
        check("SGD", self.momentum >= 0.0, "momentum value", self.momentum)?;
        check(
            "SGD",
            self.weight_decay >= 0.0,
            "weight_decay value",
            self.weight_decay,
        )?;
        check(
            "SGD",
            self.dampening.is_finite(),
            "dampening",
            self.dampening,
        )?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(nanotorch_ndarray_core::Error::msg(
                "SGD: Nesterov momentum requires a momentum and zero dampening",
            ));
        }
        Ok(())
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
        state: &mut Option<SgdState<E, B>>,
    ) -> Result<()> {
        let state = state.get_or_insert(SgdState {
            momentum_buffer: None,
        });
        let step = |first| FusedStep::Sgd {
            direction: step_direction(self.maximize, self.weight_decay),
            neg_lr: e(-self.lr),
            momentum: (self.momentum != 0.0).then(|| SgdMomentum {
                momentum: e(self.momentum),
                one_minus_dampening: e(1.0 - self.dampening),
                nesterov: self.nesterov,
                first,
            }),
        };
        match &state.momentum_buffer {
            _ if self.momentum == 0.0 => {
                if try_fused(param, step(false), grad, &[])? {
                    return Ok(());
                }
            }
            Some(buf) => {
                if try_fused(param, step(false), grad, &[buf])? {
                    return Ok(());
                }
            }
            None => {
                let buf = NDArray::zeros(param.dims(), param.backend())?;
                if try_fused(param, step(true), grad, &[&buf])? {
                    state.momentum_buffer = Some(buf);
                    return Ok(());
                }
            }
        }
        let d = direction(grad, param, self.maximize, self.weight_decay)?;
        if self.momentum == 0.0 {
            return descend(param, d, self.lr);
        }
        let buf = match &state.momentum_buffer {
            None => {
                // First step: b ← g (a copy: the gradient is not ours to keep).
                let buf = d.array.copy()?;
                state.momentum_buffer = Some(buf.clone());
                buf
            }
            Some(buf) => {
                // b ← μb + (1 − τ)g in one fused pass.
                buf.axpby_assign(e(self.momentum), &d.array, e(1.0 - self.dampening))?;
                buf.clone()
            }
        };
        if self.nesterov {
            // g ← g + μb: written into g's own array when this step owns it.
            let g = d.into_owned()?;
            add_scaled(&g, &buf, self.momentum)?;
            descend(
                param,
                Direction {
                    array: g,
                    owned: true,
                },
                self.lr,
            )
        } else {
            add_scaled(param, &buf, -self.lr)
        }
    }
}
