//! The instruction sets the element-wise loops are compiled for, and the one place that picks
//! a compiled copy at run time (chapter 2, "Transcendental functions: polynomials with FMA").

/// A loop to run in one of the compiled copies of [`run_loop`]. `run` is `#[inline(always)]`
/// in every implementation, so its body (and the kernels it calls) is compiled again inside
/// each copy, with that copy's instruction set.
pub(crate) trait Loop {
    /// Runs the loop.
    fn run(self);
}

/// The instruction sets the element-wise loops are compiled for, widest first (the derived
/// order: `Avx512 < Avx2 < Baseline`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Isa {
    /// AVX-512F with AVX2 and FMA: 16 f32 lanes.
    Avx512,
    /// AVX2 with FMA: 8 f32 lanes.
    Avx2,
    /// The build's baseline (SSE2 on x86-64): `mul_add` is a call to libm's `fma` there.
    Baseline,
}

impl Isa {
    /// The widest set this CPU has (the checks are cached flag reads).
    #[inline]
    pub(crate) fn best() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            let fma = std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma");
            if fma && std::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if fma {
                return Isa::Avx2;
            }
        }
        Isa::Baseline
    }

    /// Every set this CPU has, widest first (what the tests compare).
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Isa> {
        [Isa::Avx512, Isa::Avx2, Isa::Baseline]
            .into_iter()
            .filter(|&i| i >= Isa::best())
            .collect()
    }
}

/// Runs `l` in the copy compiled for `isa`, which must be one this CPU has ([`Isa::best`] or
/// narrower). The same IEEE operations run in every copy and `mul_add` is one rounding in each
/// (an FMA instruction, or libm's exact `fma` at baseline), so the results are identical.
///
/// Why copies: the baseline x86-64 build vectorises 4 f32 lanes (SSE2) and has no FMA; these
/// copies 8 (AVX2) and 16 (AVX-512), with FMA. That pays for compute-bound maps (chapter 2 has
/// the figures); memory-bound maps run as fast either way.
#[inline(always)]
pub(crate) fn run_loop(isa: Isa, l: impl Loop) {
    match isa {
        // SAFETY: `isa` is one the CPU has (callers take it from `Isa::best`).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { run_avx512(l) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { run_avx2(l) },
        _ => l.run(),
    }
}

/// [`run_loop`]'s AVX-512 copy. Safety: call it only on a CPU with AVX-512F, AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn run_avx512(l: impl Loop) {
    l.run()
}

/// [`run_loop`]'s AVX2 copy. Safety: call it only on a CPU with AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn run_avx2(l: impl Loop) {
    l.run()
}
