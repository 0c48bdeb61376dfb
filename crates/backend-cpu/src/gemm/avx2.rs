//! The AVX2 micro-kernels, for CPUs without AVX-512 (Zen 1 to 3, Intel's desktop cores): one
//! `MR × NR` block of C, 6 × 16 for f32 and 6 × 8 for f64, two 256-bit accumulators per row.
//!
//! Why this tile (BLIS's for Haswell): AVX2 has 16 vector registers. Twelve accumulators, two
//! loaded vectors of B and one broadcast of A make 15. Each step of `p` then does 12 FMAs for
//! 2 loads and 6 broadcasts; an 8 × 8 tile (8 accumulators) does 8 FMAs for 1 load and 8
//! broadcasts, and measured 15% slower on Zen 1, where a 256-bit broadcast from memory costs
//! two micro-ops. Twelve independent FMA chains cover the FMA latency (4–5 cycles) at the one
//! or two 256-bit FMAs per cycle these cores issue.
//!
//! Each element of C is the same sequence of FMAs over the same k-blocks as in the AVX-512
//! kernels, so both give the same bits. Columns past the end of C are masked off in the loads
//! of B and the stores of C (`vmaskmov`), as the AVX-512 kernels do with their mask registers;
//! rows past the end were zero-padded by the packing of A and are not stored.

use super::blocked::Micro;
use std::arch::x86_64::*;

/// Rows of C per micro-kernel call.
const MR: usize = 6;

/// The AVX2 kernels (f32 and f64), as a [`Micro`] implementation.
pub(super) struct Avx2;

/// Lanes `from..from + 8` of a row of `cols` f32, as a `vmaskmov` mask (sign bit set where a
/// lane exists).
#[target_feature(enable = "avx2")]
unsafe fn mask_f32(cols: usize, from: usize) -> __m256i {
    let live = _mm256_set1_epi32(cols.saturating_sub(from).min(8) as i32);
    _mm256_cmpgt_epi32(live, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
}

/// Lanes `from..from + 4` of a row of `cols` f64, as a `vmaskmov` mask.
#[target_feature(enable = "avx2")]
unsafe fn mask_f64(cols: usize, from: usize) -> __m256i {
    let live = _mm256_set1_epi64x(cols.saturating_sub(from).min(4) as i64);
    _mm256_cmpgt_epi64(live, _mm256_setr_epi64x(0, 1, 2, 3))
}

/// `impl Micro` for one element type: `$lanes` elements per vector, `NR` = two vectors, and the
/// type's AVX2 intrinsics.
macro_rules! micro {
    ($t:ty, $lanes:literal, $kernel:ident, $transpose:expr, $transpose8:expr, $mask:ident, $zero:ident,
     $set1:ident, $load:ident, $mask_load:ident, $fmadd:ident, $add:ident, $store:ident,
     $mask_store:ident) => {
        impl Micro<$t> for Avx2 {
            const MR: usize = MR;
            const NR: usize = 2 * $lanes;
            const ZERO: $t = 0.0;

            unsafe fn kernel(
                kc: usize,
                a: *const $t,
                a_steps: Option<(usize, usize)>,
                b: *const $t,
                rsb: usize,
                c: *mut $t,
                ldc: usize,
                tile: (usize, usize),
                accumulate: bool,
            ) {
                match a_steps {
                    None => $kernel::<true>(kc, a, (1, MR), b, rsb, c, ldc, tile, accumulate),
                    Some(steps) => $kernel::<false>(kc, a, steps, b, rsb, c, ldc, tile, accumulate),
                }
            }

            unsafe fn transpose_rows(kc: usize, a: *const $t, rsa: usize, out: *mut $t) -> bool {
                $transpose(kc, a, rsa, out, MR)
            }

            unsafe fn transpose_columns(kc: usize, b: *const $t, csb: usize, out: *mut $t) -> bool {
                // Eight columns of B are eight rows of Bᵀ: one 8-row transpose per group.
                (0..2 * $lanes / 8)
                    .all(|g| $transpose8(kc, b.add(g * 8 * csb), csb, out.add(g * 8), 2 * $lanes))
            }
        }

        /// [`Micro::kernel`] for this type; the accumulators live in registers once the loops
        /// over `MR` unroll.
        #[target_feature(enable = "avx2,fma")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $kernel<const PACKED: bool>(
            kc: usize,
            a: *const $t,
            a_steps: (usize, usize),
            b: *const $t,
            rsb: usize,
            c: *mut $t,
            ldc: usize,
            (rows, cols): (usize, usize),
            accumulate: bool,
        ) {
            let full = cols == 2 * $lanes;
            let (m0, m1) = ($mask(cols, 0), $mask(cols, $lanes));
            let mut acc = [[$zero(); 2]; MR];
            // A packed sliver's steps are constants, so its loads keep immediate offsets.
            let (a_row, a_step) = if PACKED { (1, MR) } else { a_steps };
            let (mut ap, mut bp) = (a, b);
            // One loop per case, so plain or masked loads of B are chosen once, not per step.
            macro_rules! steps {
                ($b0:expr, $b1:expr) => {
                    for _ in 0..kc {
                        let (b0, b1) = ($b0, $b1);
                        for (r, acc_r) in acc.iter_mut().enumerate() {
                            let ar = $set1(*ap.add(r * a_row));
                            acc_r[0] = $fmadd(ar, b0, acc_r[0]);
                            acc_r[1] = $fmadd(ar, b1, acc_r[1]);
                        }
                        ap = ap.add(a_step);
                        bp = bp.add(rsb);
                    }
                };
            }
            if full {
                steps!($load(bp), $load(bp.add($lanes)));
            } else {
                steps!($mask_load(bp, m0), $mask_load(bp.add($lanes), m1));
            }
            for (r, acc_r) in acc.iter().enumerate().take(rows) {
                let cp = c.add(r * ldc);
                let (mut v0, mut v1) = (acc_r[0], acc_r[1]);
                if full {
                    if accumulate {
                        v0 = $add(v0, $load(cp));
                        v1 = $add(v1, $load(cp.add($lanes)));
                    }
                    $store(cp, v0);
                    $store(cp.add($lanes), v1);
                } else {
                    if accumulate {
                        v0 = $add(v0, $mask_load(cp, m0));
                        v1 = $add(v1, $mask_load(cp.add($lanes), m1));
                    }
                    $mask_store(cp, m0, v0);
                    $mask_store(cp.add($lanes), m1, v1);
                }
            }
        }
    };
}

micro!(
    f32,
    8,
    kernel_f32,
    |kc, a, rsa, out, ldo| {
        super::transpose::rows_f32::<MR>(kc, a, rsa, out, ldo);
        true
    },
    |kc, a, rsa, out, ldo| {
        super::transpose::rows_f32::<8>(kc, a, rsa, out, ldo);
        true
    },
    mask_f32,
    _mm256_setzero_ps,
    _mm256_set1_ps,
    _mm256_loadu_ps,
    _mm256_maskload_ps,
    _mm256_fmadd_ps,
    _mm256_add_ps,
    _mm256_storeu_ps,
    _mm256_maskstore_ps
);

micro!(
    f64,
    4,
    kernel_f64,
    |_, _, _, _, _| false,
    |_, _, _, _, _| false,
    mask_f64,
    _mm256_setzero_pd,
    _mm256_set1_pd,
    _mm256_loadu_pd,
    _mm256_maskload_pd,
    _mm256_fmadd_pd,
    _mm256_add_pd,
    _mm256_storeu_pd,
    _mm256_maskstore_pd
);
