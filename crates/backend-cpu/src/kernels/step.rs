//! What optimizers run every step, without allocating: the fused step ([`FusedStep::run`] on
//! pieces of the arrays, spread over the threads; the pieces are ranges, the slices are cut from
//! raw pointers) and the sums behind gradient clipping's norm.

use super::isa::{run_loop, Isa, Loop};
use crate::parallel::{par_ranges, SharedMut};
use nanotorch_ndarray_core::{Error, Float, FusedStep, Result};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

/// `step` over `param` (written), `grad` and the `state` buffers (written), all one length.
pub(crate) fn fused_step<E: Float>(
    step: &FusedStep<E>,
    param: &mut [E],
    grad: &[E],
    state: &mut [&mut [E]],
) -> Result<()> {
    let n = param.len();
    if grad.len() != n
        || state.iter().any(|s| s.len() != n)
        || state.len() != step.state_count()
        || state.len() > 3
    {
        // `run` words the error; it checks before touching anything.
        return step.run(param, grad, state);
    }
    let param = SharedMut::new(param);
    let buffers: [Option<SharedMut<E>>; 3] =
        std::array::from_fn(|i| state.get_mut(i).map(|s| SharedMut::new(s)));
    let count = state.len();
    let failed = AtomicBool::new(false);
    let isa = Isa::best();
    par_ranges(n, 1, n * step.cost(), |range: Range<usize>| {
        // SAFETY: `par_ranges` hands out disjoint ranges inside `0..n`, each once, and every
        // array is borrowed (mutably where written) until this function returns.
        let (p, mut s) = unsafe {
            (
                param.slice(range.clone()),
                buffers
                    .each_ref()
                    .map(|b| b.as_ref().map_or(&mut [][..], |b| b.slice(range.clone()))),
            )
        };
        let piece = Piece {
            step,
            param: p,
            grad: &grad[range],
            state: &mut s[..count],
            failed: &failed,
        };
        run_loop(isa, piece);
    });
    if failed.into_inner() {
        return Err(Error::msg(format!(
            "{} fused step: the kernel refused a piece of the arrays",
            step.name()
        )));
    }
    Ok(())
}

/// One piece of a fused step, to run in [`run_loop`]'s compiled copies (wider vectors: the
/// step is a memory-bound loop over arrays that often sit in L2).
struct Piece<'a, 'b, E> {
    step: &'a FusedStep<E>,
    param: &'a mut [E],
    grad: &'a [E],
    state: &'a mut [&'b mut [E]],
    failed: &'a AtomicBool,
}

impl<E: Float> Loop for Piece<'_, '_, E> {
    #[inline(always)]
    fn run(self) {
        if self.step.run(self.param, self.grad, self.state).is_err() {
            self.failed.store(true, Ordering::Relaxed);
        }
    }
}

/// `Σ|x|ᵖ` in f64 (`p = ∞`: the largest `|x|`, NaN if any is NaN), on one thread: eight
/// accumulators, so the loop vectorises and the sum of a long array loses less to rounding.
pub(crate) fn abs_pow_sum<E: Float>(x: &[E], p: f64) -> f64 {
    fn lanes<E: Float>(x: &[E], term: impl Fn(f64) -> f64) -> f64 {
        let mut acc = [0.0f64; 8];
        let mut chunks = x.chunks_exact(8);
        for c in &mut chunks {
            for (a, v) in acc.iter_mut().zip(c) {
                *a += term(v.to_f64());
            }
        }
        let tail: f64 = chunks.remainder().iter().map(|v| term(v.to_f64())).sum();
        acc.iter().sum::<f64>() + tail
    }
    if p == f64::INFINITY {
        x.iter().fold(0.0f64, |m, v| {
            let a = v.to_f64().abs();
            if a > m || a.is_nan() {
                a
            } else {
                m
            }
        })
    } else if p == 1.0 {
        lanes(x, f64::abs)
    } else if p == 2.0 {
        lanes(x, |v| v * v)
    } else {
        lanes(x, |v| v.abs().powf(p))
    }
}
