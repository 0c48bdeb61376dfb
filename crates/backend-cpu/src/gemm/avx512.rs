//! The AVX-512 micro-kernels: one `MR × NR` block of C from a packed sliver of A and a sliver
//! of B, for f32 (`NR` = 32, two 16-lane registers) and f64 (`NR` = 16).
//!
//! Why this tile: AVX-512 has 32 vector registers. `MR × 2` accumulators (16), two loaded
//! vectors of B and one broadcast of A leave room to spare, and 16 independent FMA chains cover
//! the FMA latency (4 cycles) on two FMA pipes (8 chains in flight at most). Each step of `p`
//! loads 2 vectors of B and broadcasts `MR` = 8 scalars of A for 16 FMAs: under the two loads
//! per cycle both Zen 4 and Intel's server cores sustain, so the FMA units set the pace.
//! `MR` = 8 also divides the row counts small models use (32, 64, 1024) with no wasted rows.
//!
//! Columns past the end of C (the last sliver of a row) are masked off in the loads of B and in
//! the stores of C, so no edge case needs a second kernel; a full-width sliver uses plain loads
//! and stores, as masked ones cost extra on some cores (Zen 4 among them). Rows past the end
//! were zero-padded by the packing of A and are simply not stored. The f32 and f64 kernels are
//! one macro over the element type's intrinsics.

use super::blocked::Micro;
use std::arch::x86_64::*;

/// Rows of C per micro-kernel call.
const MR: usize = 8;

/// The AVX-512 kernels (f32 and f64), as a [`Micro`] implementation.
pub(super) struct Avx512;

/// The lanes `from..from + W` of a row of `cols` elements that exist, as a load/store mask of
/// `W` ≤ 16 lanes.
fn mask<const W: usize>(cols: usize, from: usize) -> u16 {
    let live = cols.saturating_sub(from).min(W);
    ((1u32 << live) - 1) as u16
}

/// `impl Micro` for one element type: `$lanes` elements per vector, `NR` = two vectors, and the
/// type's AVX-512 intrinsics.
macro_rules! micro {
    ($t:ty, $lanes:literal, $kernel:ident, $transpose:expr, $transpose8:expr, $mask:ty, $zero:ident, $set1:ident,
     $load:ident, $maskz_load:ident, $fmadd:ident, $add:ident, $store:ident, $mask_store:ident) => {
        impl Micro<$t> for Avx512 {
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

        /// [`Micro::kernel`] for this type. The accumulator array is indexed only by constants
        /// once the loops over `MR` unroll, so it lives in registers.
        #[target_feature(enable = "avx512f")]
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
            let (m0, m1) = (
                mask::<$lanes>(cols, 0) as $mask,
                mask::<$lanes>(cols, $lanes) as $mask,
            );
            let mut acc = [[$zero(); 2]; MR];
            // A packed sliver's steps are constants, so its loads keep immediate offsets.
            let (a_row, a_step) = if PACKED { (1, MR) } else { a_steps };
            let (mut ap, mut bp) = (a, b);
            // One loop per case, so the choice between plain and masked loads of B is made
            // once, not at every step of k.
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
                steps!($maskz_load(m0, bp), $maskz_load(m1, bp.add($lanes)));
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
                        v0 = $add(v0, $maskz_load(m0, cp));
                        v1 = $add(v1, $maskz_load(m1, cp.add($lanes)));
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
    16,
    kernel_f32,
    |kc, a, rsa, out, ldo| {
        super::transpose::rows_f32::<MR>(kc, a, rsa, out, ldo);
        true
    },
    |kc, a, rsa, out, ldo| {
        super::transpose::rows_f32::<8>(kc, a, rsa, out, ldo);
        true
    },
    __mmask16,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_loadu_ps,
    _mm512_maskz_loadu_ps,
    _mm512_fmadd_ps,
    _mm512_add_ps,
    _mm512_storeu_ps,
    _mm512_mask_storeu_ps
);

micro!(
    f64,
    8,
    kernel_f64,
    |_, _, _, _, _| false,
    |_, _, _, _, _| false,
    __mmask8,
    _mm512_setzero_pd,
    _mm512_set1_pd,
    _mm512_loadu_pd,
    _mm512_maskz_loadu_pd,
    _mm512_fmadd_pd,
    _mm512_add_pd,
    _mm512_storeu_pd,
    _mm512_mask_storeu_pd
);
