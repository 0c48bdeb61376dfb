//! What optimizers run every step, without allocating: the fused step ([`FusedStep::run`] on
//! pieces of the arrays, spread over the threads; the pieces are ranges, the slices are cut from
//! raw pointers) and the sums behind gradient clipping's norm.

use crate::parallel::{par_ranges, SharedMut};
use nanotorch_ndarray_core::{Error, Float, FusedStep, Result};
use std::ops::Range;

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
    let failed = std::sync::atomic::AtomicBool::new(false);
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
        if step.run(p, &grad[range], &mut s[..count]).is_err() {
            failed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    });
    if failed.into_inner() {
        return Err(Error::msg(format!(
            "{} fused step: the kernel refused a piece of the arrays",
            step.name()
        )));
    }
    Ok(())
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
