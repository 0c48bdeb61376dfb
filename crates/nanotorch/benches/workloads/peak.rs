//! `fma_peak/...`: the machine's f32 FMA ceiling, printed beside the GEMM cases so their GFLOP/s
//! read as a fraction of what the cores can do. Each thread runs chains of independent FMAs
//! (enough to cover the FMA latency on two pipes) with no loads or stores: 16 chains with
//! AVX-512's 32 registers, 12 with AVX2's 16 (16 chains and the two constants did not fit, and
//! the spills made the AVX2 probe read 50 GF/s on a machine whose GEMM reached 70). The AVX-512
//! case runs only where the CPU has AVX-512F, the AVX2 one where it has AVX2 and FMA.

use crate::harness::Bench;
use nanotorch::array::Backend;

type Res = Result<(), Box<dyn std::error::Error>>;

/// FMA steps per thread per timed call: about 2 ms of work, so the threads' start and join
/// (tens of µs, paid in every call) stay under a few percent of it. At 2^17 steps (0.3 ms on a
/// Xeon at 3.7 GHz) they made the 2-thread ceiling read 382 GF/s on a machine whose two cores
/// each run 240 GF/s at once.
const STEPS: usize = 1 << 20;

/// Every peak case selected by `bench`, on `bench.threads` threads at once.
pub fn run<B: Backend>(backend: &B, bench: &Bench) -> Res {
    if bench.device != "cpu" {
        return Ok(());
    }
    #[cfg(target_arch = "x86_64")]
    for (case, lanes, chains, supported, chain) in [
        (
            "fma_peak/avx512",
            16,
            x86::AVX512_CHAINS,
            std::is_x86_feature_detected!("avx512f"),
            x86::chain_avx512 as unsafe fn(usize) -> f32,
        ),
        (
            "fma_peak/avx2",
            8,
            x86::AVX2_CHAINS,
            std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma"),
            x86::chain_avx2,
        ),
    ] {
        if !bench.want(case) || !supported {
            continue;
        }
        let threads = bench.threads.max(1);
        let t = bench.time(backend, || {
            std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    // SAFETY: `supported` checked the CPU features this chain needs.
                    .map(|_| s.spawn(move || unsafe { chain(STEPS) }))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().unwrap_or(0.0))
                    .sum::<f32>()
            })
        })?;
        let flop = (2 * chains * lanes * STEPS * threads) as f64;
        bench.emit(case, t, Some(("gflops", flop / t.1 / 1e6)));
    }
    Ok(())
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// Independent FMA chains of the AVX-512 probe.
    pub const AVX512_CHAINS: usize = 16;
    /// Independent FMA chains of the AVX2 probe.
    pub const AVX2_CHAINS: usize = 12;

    /// `steps` rounds of 16 independent 16-lane FMAs; returns a lane so nothing is optimised out.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn chain_avx512(steps: usize) -> f32 {
        let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        let mut acc = [_mm512_set1_ps(1.0); AVX512_CHAINS];
        for _ in 0..steps {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        let sum = acc
            .iter()
            .fold(_mm512_setzero_ps(), |s, &x| _mm512_add_ps(s, x));
        _mm512_reduce_add_ps(sum)
    }

    /// As [`chain_avx512`] with 12 chains of 8-lane AVX2 FMAs.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn chain_avx2(steps: usize) -> f32 {
        let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut acc = [_mm256_set1_ps(1.0); AVX2_CHAINS];
        for _ in 0..steps {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut lanes = [0f32; 8];
        let sum = acc
            .iter()
            .fold(_mm256_setzero_ps(), |s, &x| _mm256_add_ps(s, x));
        _mm256_storeu_ps(lanes.as_mut_ptr(), sum);
        lanes.iter().sum()
    }
}
