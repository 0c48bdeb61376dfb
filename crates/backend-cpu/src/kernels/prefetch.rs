//! Software prefetch: asking for memory a loop will read a few KiB from now. Long loops whose
//! body is more than a load and an add (a transcendental map, a reduction with its adds in
//! flight) keep too few loads in the out-of-order window for memory to stay busy, and the
//! hardware prefetcher alone left them waiting on their input (measured on an Intel Xeon,
//! Emerald Rapids; the figures are beside the callers).

/// Asks for the cache lines of `x` to be brought into L1; a no-op off x86-64.
#[inline(always)]
pub(crate) fn prefetch<E>(x: &[E]) {
    #[cfg(target_arch = "x86_64")]
    for line in (0..std::mem::size_of_val(x)).step_by(64) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: the address lies inside `x`; a prefetch changes no program state anyway.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((x.as_ptr() as *const i8).add(line)) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}
