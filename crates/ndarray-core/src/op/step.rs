//! The optimizers' update rules as element-wise programs, so that a backend can run a whole step
//! of one parameter in a single pass over its memory, with no temporaries (issue 14: Adam used to
//! make three arrays per parameter per step).
//!
//! Each rule is written once, per element, in [`FusedStep::run`]; a backend with a fused kernel
//! (the CPU's) calls it on disjoint pieces of the arrays. A backend without one returns `false`
//! from [`crate::Backend::fused_step`] and the optimizer composes the same arithmetic from
//! whole-array ops instead. Both do the same IEEE operations in the same order (no FMA), so
//! their results agree to the bit, which `nanotorch-optim`'s tests assert.
//!
//! The constants arrive already converted to the element type, rounded exactly as the composed
//! path rounds them, which is what makes the two agree.

use crate::{Error, Float, Result};

/// How the update direction is made from the gradient, PyTorch's first lines of every
/// algorithm: `d = -g if maximize else g`, then `d = λθ + d` when there is weight decay λ.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepDirection<E> {
    /// Ascend instead of descend.
    pub maximize: bool,
    /// The L2 penalty λ, if any.
    pub weight_decay: Option<E>,
}

impl<E: Float> StepDirection<E> {
    /// `d` for parameter `p` with gradient `g`.
    #[inline(always)]
    pub fn apply(self, p: E, g: E) -> E {
        match (self.weight_decay, self.maximize) {
            (None, false) => g,
            (None, true) => -g,
            (Some(wd), false) => p * wd + g,
            (Some(wd), true) => p * wd - g,
        }
    }
}

/// SGD's momentum: `b ← μb + (1 − τ)d` (or `b ← d` on the first step), then `d + μb` with
/// Nesterov, `b` without.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdMomentum<E> {
    /// μ.
    pub momentum: E,
    /// `1 − τ`, τ being the dampening.
    pub one_minus_dampening: E,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// The first step: the buffer is set to `d` rather than updated.
    pub first: bool,
}

/// One optimizer step of one parameter, element by element. The state buffers a rule needs are
/// listed in its variant's doc, in the order [`FusedStep::run`] takes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FusedStep<E> {
    /// SGD: `θ ← θ − γ·d` (momentum: `θ ← θ − γ·b`). State: `[momentum_buffer]` when
    /// `momentum` is `Some`, none otherwise.
    Sgd {
        /// Gradient to direction.
        direction: StepDirection<E>,
        /// `−γ`.
        neg_lr: E,
        /// Momentum, if any.
        momentum: Option<SgdMomentum<E>>,
    },
    /// Adam and AdamW. State: `[exp_avg, exp_avg_sq]`, plus `max_exp_avg_sq` with AMSGrad.
    Adam {
        /// AdamW's decoupled decay: θ is first multiplied by this (`1 − γλ`).
        decay: Option<E>,
        /// Gradient to direction (Adam's L2 penalty lives here).
        direction: StepDirection<E>,
        /// β₁.
        beta1: E,
        /// `1 − β₁`.
        one_minus_beta1: E,
        /// β₂.
        beta2: E,
        /// `1 − β₂`.
        one_minus_beta2: E,
        /// `γ / (1 − β₁ᵗ)`.
        step_size: E,
        /// `√(1 − β₂ᵗ)`.
        bias_correction2_sqrt: E,
        /// ε.
        eps: E,
        /// Divide by the running maximum of `v` (its buffer is the third state).
        amsgrad: bool,
    },
    /// RMSprop. State: `[square_avg]`, then `momentum_buffer` if `momentum` is `Some`, then
    /// `grad_avg` if `centered`.
    Rmsprop {
        /// Gradient to direction.
        direction: StepDirection<E>,
        /// α, the smoothing constant.
        alpha: E,
        /// `1 − α`.
        one_minus_alpha: E,
        /// ε.
        eps: E,
        /// μ, if momentum is used.
        momentum: Option<E>,
        /// Normalise by the variance estimate `v − ḡ²` instead of `v`.
        centered: bool,
        /// `−γ`.
        neg_lr: E,
    },
    /// Adagrad. State: `[sum]`.
    Adagrad {
        /// Gradient to direction.
        direction: StepDirection<E>,
        /// ε.
        eps: E,
        /// `−γ / (1 + (t − 1)·lr_decay)`.
        neg_clr: E,
    },
}

impl<E: Float> FusedStep<E> {
    /// PyTorch's class name of the algorithm (for errors).
    pub fn name(&self) -> &'static str {
        match self {
            FusedStep::Sgd { .. } => "SGD",
            FusedStep::Adam { .. } => "Adam",
            FusedStep::Rmsprop { .. } => "RMSprop",
            FusedStep::Adagrad { .. } => "Adagrad",
        }
    }

    /// How many state buffers this step reads and writes.
    pub fn state_count(&self) -> usize {
        match *self {
            FusedStep::Sgd { momentum, .. } => usize::from(momentum.is_some()),
            FusedStep::Adam { amsgrad, .. } => 2 + usize::from(amsgrad),
            FusedStep::Rmsprop {
                momentum, centered, ..
            } => 1 + usize::from(momentum.is_some()) + usize::from(centered),
            FusedStep::Adagrad { .. } => 1,
        }
    }

    /// Work per element against an `add` (1), for a backend's threading threshold: the step is
    /// memory-bound, and each state buffer is one more array read and written.
    pub fn cost(&self) -> usize {
        1 + self.state_count()
    }

    /// The step over `param` and its `grad` and `state` buffers, all of one length (checked),
    /// element by element: the reference every backend's fused kernel computes, and the CPU's
    /// kernel itself (each variant one loop with no data-dependent branch, so it vectorises).
    /// Always inlined: the CPU backend calls it inside its AVX2 and AVX-512 copies of the loop,
    /// and a call left out of line ran the baseline (SSE2) code, 4 lanes with the loop-invariant
    /// tests (first step, Nesterov) still branching per element.
    #[inline(always)]
    pub fn run(&self, param: &mut [E], grad: &[E], state: &mut [&mut [E]]) -> Result<()> {
        let n = param.len();
        if grad.len() != n || state.iter().any(|s| s.len() != n) {
            return Err(Error::msg(format!(
                "{} fused step: the parameter has {n} elements, the gradient {} and the state \
                 buffers {:?}",
                self.name(),
                grad.len(),
                state.iter().map(|s| s.len()).collect::<Vec<_>>()
            )));
        }
        match (*self, state) {
            (
                FusedStep::Sgd {
                    direction,
                    neg_lr,
                    momentum: None,
                },
                [],
            ) => {
                for (p, &g) in param.iter_mut().zip(grad) {
                    *p = *p + neg_lr * direction.apply(*p, g);
                }
            }
            (
                FusedStep::Sgd {
                    direction,
                    neg_lr,
                    momentum: Some(m),
                },
                [buf],
            ) => {
                for ((p, &g), b) in param.iter_mut().zip(grad).zip(buf.iter_mut()) {
                    let d = direction.apply(*p, g);
                    *b = if m.first {
                        d
                    } else {
                        m.momentum * *b + m.one_minus_dampening * d
                    };
                    let v = if m.nesterov { d + m.momentum * *b } else { *b };
                    *p = *p + neg_lr * v;
                }
            }
            (FusedStep::Adam { amsgrad, .. }, state) if state.len() == 2 + usize::from(amsgrad) => {
                // One loop per buffer set (the `None` is a constant, so each loop is branch-free).
                match state {
                    [m, v] => {
                        for ((p, &g), (m, v)) in param
                            .iter_mut()
                            .zip(grad)
                            .zip(m.iter_mut().zip(v.iter_mut()))
                        {
                            self.adam_element(p, g, m, v, None);
                        }
                    }
                    [m, v, vmax] => {
                        for (((p, &g), (m, v)), vmax) in param
                            .iter_mut()
                            .zip(grad)
                            .zip(m.iter_mut().zip(v.iter_mut()))
                            .zip(vmax.iter_mut())
                        {
                            self.adam_element(p, g, m, v, Some(vmax));
                        }
                    }
                    _ => unreachable!("the guard checked the number of buffers"),
                }
            }
            (
                FusedStep::Rmsprop {
                    momentum, centered, ..
                },
                state,
            ) if state.len() == self.state_count() => match state {
                [v] => {
                    for ((p, &g), v) in param.iter_mut().zip(grad).zip(v.iter_mut()) {
                        self.rmsprop_element(p, g, v, None, None);
                    }
                }
                [v, b] if momentum.is_some() => {
                    for ((p, &g), (v, b)) in param
                        .iter_mut()
                        .zip(grad)
                        .zip(v.iter_mut().zip(b.iter_mut()))
                    {
                        self.rmsprop_element(p, g, v, Some(b), None);
                    }
                }
                [v, a] if centered => {
                    for ((p, &g), (v, a)) in param
                        .iter_mut()
                        .zip(grad)
                        .zip(v.iter_mut().zip(a.iter_mut()))
                    {
                        self.rmsprop_element(p, g, v, None, Some(a));
                    }
                }
                [v, b, a] => {
                    for (((p, &g), (v, b)), a) in param
                        .iter_mut()
                        .zip(grad)
                        .zip(v.iter_mut().zip(b.iter_mut()))
                        .zip(a.iter_mut())
                    {
                        self.rmsprop_element(p, g, v, Some(b), Some(a));
                    }
                }
                _ => unreachable!("the guard checked the number of buffers"),
            },
            (
                FusedStep::Adagrad {
                    direction,
                    eps,
                    neg_clr,
                },
                [sum],
            ) => {
                for ((p, &g), s) in param.iter_mut().zip(grad).zip(sum.iter_mut()) {
                    let d = direction.apply(*p, g);
                    *s = *s + d * d;
                    *p = *p + neg_clr * (d / (s.sqrt() + eps));
                }
            }
            (step, state) => {
                return Err(Error::msg(format!(
                    "{} fused step: needs {} state buffers, got {}",
                    step.name(),
                    step.state_count(),
                    state.len()
                )))
            }
        }
        Ok(())
    }

    /// Adam on one element: `vmax` is AMSGrad's running maximum.
    #[inline(always)]
    fn adam_element(&self, p: &mut E, g: E, m: &mut E, v: &mut E, vmax: Option<&mut E>) {
        let FusedStep::Adam {
            decay,
            direction,
            beta1,
            one_minus_beta1,
            beta2,
            one_minus_beta2,
            step_size,
            bias_correction2_sqrt,
            eps,
            ..
        } = *self
        else {
            return;
        };
        // The L2 penalty reads θ before AdamW's decay would change it (only one is ever on).
        let d = direction.apply(*p, g);
        if let Some(decay) = decay {
            *p = *p * decay;
        }
        *m = beta1 * *m + one_minus_beta1 * d;
        *v = *v * beta2 + d * d * one_minus_beta2;
        let second = match vmax {
            Some(vmax) => {
                *vmax = vmax.maximum(*v);
                *vmax
            }
            None => *v,
        };
        let denom = second.sqrt() / bias_correction2_sqrt + eps;
        *p = *p - *m * step_size / denom;
    }

    /// RMSprop on one element: `buf` is the momentum buffer, `grad_avg` the centred mean.
    #[inline(always)]
    fn rmsprop_element(
        &self,
        p: &mut E,
        g: E,
        v: &mut E,
        buf: Option<&mut E>,
        grad_avg: Option<&mut E>,
    ) {
        let FusedStep::Rmsprop {
            direction,
            alpha,
            one_minus_alpha,
            eps,
            momentum,
            neg_lr,
            ..
        } = *self
        else {
            return;
        };
        let d = direction.apply(*p, g);
        *v = *v * alpha + d * d * one_minus_alpha;
        let avg = match grad_avg {
            Some(a) => {
                *a = alpha * *a + one_minus_alpha * d;
                (*a * *a * -E::ONE + *v).sqrt()
            }
            None => v.sqrt(),
        } + eps;
        let scaled = d / avg;
        let u = match (momentum, buf) {
            (Some(mu), Some(b)) => {
                *b = *b * mu + scaled;
                *b
            }
            _ => scaled,
        };
        *p = *p + neg_lr * u;
    }
}
