//! What optimizers need from arrays beyond element-wise ops, without allocating:
//! `fused_step` (the array side of [`FusedStep`], which checks the arrays and hands their
//! storage to the backend's fused kernel) and `abs_pow_sum` (gradient clipping's norm).

use super::NDArray;
use crate::op::FusedStep;
use crate::{Backend, Error, Float, Result};
use std::ops::Range;

impl<E: Float, B: Backend> NDArray<E, B> {
    /// Runs `step` on this parameter in place, with its gradient `grad` and the step's `state`
    /// buffers (updated in place too), in one pass of the backend's fused kernel. Allocates
    /// nothing.
    ///
    /// Returns `Ok(false)`, changing nothing, when the fused kernel cannot run: the backend has
    /// none, an array is not contiguous, or two of them share storage. The caller then composes
    /// the same step from whole-array ops. Shapes that differ, a wrong number of buffers or a
    /// read-only parameter are errors.
    pub fn fused_step(&self, step: &FusedStep<E>, grad: &Self, state: &[&Self]) -> Result<bool> {
        let name = step.name();
        crate::checks::writable(name, &self.layout)?;
        if state.len() != step.state_count() {
            return Err(Error::msg(format!(
                "{name} fused step: needs {} state buffers, got {}",
                step.state_count(),
                state.len()
            )));
        }
        for (what, other) in
            std::iter::once(("gradient", grad)).chain(state.iter().map(|s| ("state buffer", *s)))
        {
            self.check_device(name, other)?;
            if other.shape() != self.shape() {
                return Err(Error::ShapeMismatch {
                    op: name,
                    what: if what == "gradient" {
                        "gradient shape differs from the parameter's"
                    } else {
                        "state buffer shape differs from the parameter's"
                    },
                    lhs: self.shape().clone(),
                    rhs: other.shape().clone(),
                });
            }
        }
        let arrays = || {
            std::iter::once(self)
                .chain(std::iter::once(grad))
                .chain(state.iter().copied())
        };
        let distinct = arrays()
            .enumerate()
            .all(|(i, a)| arrays().skip(i + 1).all(|b| !a.same_storage(b)));
        let Some(param_range) = self.layout.contiguous_range() else {
            return Ok(false);
        };
        let Some(grad_range) = grad.layout.contiguous_range() else {
            return Ok(false);
        };
        let mut ranges: [Range<usize>; 3] = [0..0, 0..0, 0..0];
        for (r, s) in ranges.iter_mut().zip(state) {
            match s.layout.contiguous_range() {
                Some(range) => *r = range,
                None => return Ok(false),
            }
        }
        if !distinct {
            return Ok(false);
        }
        // Each array is locked once (they are distinct), parameter first.
        let mut param = self.storage_mut();
        let grad_storage = grad.storage();
        let param = (&mut *param, param_range);
        let grad = (&*grad_storage, grad_range);
        let backend = &self.backend;
        match state {
            [] => backend.fused_step(step, param, grad, &mut []),
            [a] => {
                let mut a_s = a.storage_mut();
                backend.fused_step(step, param, grad, &mut [(&mut *a_s, ranges[0].clone())])
            }
            [a, b] => {
                let (mut a_s, mut b_s) = (a.storage_mut(), b.storage_mut());
                let [ra, rb, _] = ranges;
                backend.fused_step(step, param, grad, &mut [(&mut *a_s, ra), (&mut *b_s, rb)])
            }
            [a, b, c] => {
                let (mut a_s, mut b_s, mut c_s) =
                    (a.storage_mut(), b.storage_mut(), c.storage_mut());
                let [ra, rb, rc] = ranges;
                backend.fused_step(
                    step,
                    param,
                    grad,
                    &mut [(&mut *a_s, ra), (&mut *b_s, rb), (&mut *c_s, rc)],
                )
            }
            _ => Err(Error::msg(format!(
                "{name} fused step: at most 3 state buffers, got {}",
                state.len()
            ))),
        }
    }

    /// `Σ|x|ᵖ` over every element, in f64 (`p = ∞`: the largest `|x|`; NaN if any element is
    /// NaN): the sum behind a `p`-norm, which gradient clipping adds up over many arrays.
    /// Allocates nothing where the backend has the kernel (the CPU, for contiguous arrays).
    pub fn abs_pow_sum(&self, p: f64) -> Result<f64> {
        if p.is_nan() || p <= 0.0 {
            return Err(Error::msg(format!(
                "abs_pow_sum: p must be > 0 or infinity, got {p}"
            )));
        }
        if let Some(r) = self.backend.abs_pow_sum(&self.storage(), &self.layout, p) {
            return r;
        }
        if self.numel() == 0 {
            return Ok(0.0);
        }
        let a = self.abs()?;
        let sum = if p == f64::INFINITY {
            a.max(&[], false)?
        } else if p == 1.0 {
            a.sum_all()?
        } else if p == 2.0 {
            a.square()?.sum_all()?
        } else {
            a.pow_scalar(E::from_f64(p))?.sum_all()?
        };
        Ok(sum.to_scalar()?.to_f64())
    }
}
