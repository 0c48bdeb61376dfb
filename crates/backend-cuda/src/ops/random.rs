//! Counter-based random fills (`kernels/random.cu`): element `i` is
//! `random::sample_at(dist, seed, i)`, the same function the CPU computes, so a seed gives the
//! same numbers on every device (normal draws within the last bits of `log`/`cos`).

use super::suffix;
use crate::launch::Launch;
use crate::{Cuda, CudaStorage, Result};
use nanotorch_ndarray_core::{Float, RandomDist};

/// `len` draws from `dist`.
pub(crate) fn random<E: Float>(
    dev: &Cuda,
    len: usize,
    dist: RandomDist,
    seed: u64,
) -> Result<CudaStorage<E>> {
    let out = dev.alloc::<E>(len)?;
    if len == 0 {
        return Ok(out);
    }
    let kind = match dist {
        RandomDist::Uniform { .. } => "uniform",
        RandomDist::Normal { .. } => "normal",
        RandomDist::Bernoulli { .. } => "bernoulli",
    };
    let launch = Launch::new(
        dev,
        &dev.inner.random,
        format!("random_{kind}_{}", suffix(E::DTYPE)),
    )
    .ptr(&out)
    .len(len)
    .u64(seed);
    let launch = match dist {
        RandomDist::Uniform { low, high } => launch.f64(low).f64(high),
        RandomDist::Normal { mean, std } => launch.f64(mean).f64(std),
        RandomDist::Bernoulli { p } => launch.f64(p),
    };
    launch.items(len).run()?;
    Ok(out)
}
