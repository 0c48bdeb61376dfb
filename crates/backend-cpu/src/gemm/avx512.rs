//! The AVX-512 micro-kernels: one `MR × NR` block of C from a packed sliver of A and a sliver
//! of B, for f32 (`NR` = 32, two 16-lane registers) and f64 (`NR` = 16); and a narrow variant
//! for products with at most one vector's width of columns.
//!
//! Why this tile: AVX-512 has 32 vector registers. `MR × 2` accumulators (16), two loaded
//! vectors of B and one broadcast of A leave room to spare, and 16 independent FMA chains cover
//! the FMA latency (4 cycles) on two FMA pipes (8 chains in flight at most). Each step of `p`
//! loads 2 vectors of B and broadcasts `MR` = 8 scalars of A for 16 FMAs: under the two loads
//! per cycle both Zen 4 and Intel's server cores sustain, so the FMA units set the pace.
//! `MR` = 8 also divides the row counts small models use (32, 64, 1024) with no wasted rows.
//!
//! With 16 columns or fewer (f32; 8 for f64) the second vector of B would be all padding and
//! half the FMAs wasted: [`Avx512Narrow`] keeps one vector of B and 16 rows instead (16
//! accumulators, 16 broadcasts and one load of B per 16 FMAs). resnet18's last stage multiplies
//! by 16 columns (a batch of 16 one-pixel images).
//!
//! Columns past the end of C (the last sliver of a row) are masked off in the loads of B and in
//! the stores of C, so no edge case needs a second kernel; a full-width sliver uses plain loads
//! and stores, as masked ones cost extra on some cores (Zen 4 among them). Rows past the end
//! were zero-padded by the packing of A and are simply not stored. Every kernel runs one FMA
//! per step of `p` per element, in order, so all give the same bits. The f32 and f64 kernels
//! are one macro over the element type's intrinsics.

use super::blocked::Micro;
use std::arch::x86_64::*;

/// The AVX-512 kernels (f32 and f64), `8 × 2` vectors, as a [`Micro`] implementation.
pub(super) struct Avx512;

/// The AVX-512 kernels for products at most one vector wide, `16 × 1` vector.
pub(super) struct Avx512Narrow;

/// The lanes `from..from + W` of a row of `cols` elements that exist, as a load/store mask of
/// `W` ≤ 16 lanes.
fn mask<const W: usize>(cols: usize, from: usize) -> u16 {
    let live = cols.saturating_sub(from).min(W);
    ((1u32 << live) - 1) as u16
}

/// `impl Micro` for `$name` (`$mr` rows, `$nv` vectors of B) over one element type's kernel.
macro_rules! micro_impl {
    ($name:ident, $mr:literal, $nv:literal, $t:ty, $lanes:literal, $kernel:ident, $transpose8:expr) => {
        impl Micro<$t> for $name {
            const MR: usize = $mr;
            const NR: usize = $nv * $lanes;
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
                    None => {
                        $kernel::<true, $mr, $nv>(kc, a, (1, $mr), b, rsb, c, ldc, tile, accumulate)
                    }
                    Some(steps) => {
                        $kernel::<false, $mr, $nv>(kc, a, steps, b, rsb, c, ldc, tile, accumulate)
                    }
                }
            }

            unsafe fn transpose_rows(kc: usize, a: *const $t, rsa: usize, out: *mut $t) -> bool {
                // Eight rows at a time into the `MR`-wide sliver.
                (0..$mr / 8).all(|h| $transpose8(kc, a.add(h * 8 * rsa), rsa, out.add(h * 8), $mr))
            }

            unsafe fn transpose_columns(kc: usize, b: *const $t, csb: usize, out: *mut $t) -> bool {
                // Eight columns of B are eight rows of Bᵀ: one 8-row transpose per group.
                (0..$nv * $lanes / 8)
                    .all(|g| $transpose8(kc, b.add(g * 8 * csb), csb, out.add(g * 8), $nv * $lanes))
            }
        }
    };
}

/// Both kernels' `impl Micro` for one element type (`$lanes` elements per vector) and the
/// kernel, written over the type's AVX-512 intrinsics.
macro_rules! micro {
    ($t:ty, $lanes:literal, $kernel:ident, $transpose8:expr, $mask:ty, $zero:ident, $set1:ident,
     $load:ident, $maskz_load:ident, $fmadd:ident, $add:ident, $store:ident, $mask_store:ident) => {
        micro_impl!(Avx512, 8, 2, $t, $lanes, $kernel, $transpose8);
        micro_impl!(Avx512Narrow, 16, 1, $t, $lanes, $kernel, $transpose8);

        /// [`Micro::kernel`] for this type. The accumulator array is indexed only by constants
        /// once the loops over `MR` unroll, so it lives in registers.
        #[target_feature(enable = "avx512f")]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $kernel<const PACKED: bool, const MR: usize, const NV: usize>(
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
            let full = cols == NV * $lanes;
            let mut masks = [0 as $mask; NV];
            for (v, m) in masks.iter_mut().enumerate() {
                *m = mask::<$lanes>(cols, v * $lanes) as $mask;
            }
            let mut acc = [[$zero(); NV]; MR];
            // A packed sliver's steps are constants, so its loads keep immediate offsets.
            let (a_row, a_step) = if PACKED { (1, MR) } else { a_steps };
            let (mut ap, mut bp) = (a, b);
            // One loop per case, so the choice between plain and masked loads of B is made
            // once, not at every step of k.
            macro_rules! steps {
                ($load_b:expr) => {
                    for _ in 0..kc {
                        let mut bv = [$zero(); NV];
                        for (v, b) in bv.iter_mut().enumerate() {
                            *b = $load_b(v);
                        }
                        for (r, acc_r) in acc.iter_mut().enumerate() {
                            let ar = $set1(*ap.add(r * a_row));
                            for (acc_v, &b) in acc_r.iter_mut().zip(&bv) {
                                *acc_v = $fmadd(ar, b, *acc_v);
                            }
                        }
                        ap = ap.add(a_step);
                        bp = bp.add(rsb);
                    }
                };
            }
            if full {
                steps!(|v: usize| $load(bp.add(v * $lanes)));
            } else {
                steps!(|v: usize| $maskz_load(masks[v], bp.add(v * $lanes)));
            }
            for (r, acc_r) in acc.iter().enumerate().take(rows) {
                let cp = c.add(r * ldc);
                for (v, &sum) in acc_r.iter().enumerate() {
                    let cv = cp.add(v * $lanes);
                    if full {
                        let sum = if accumulate {
                            $add(sum, $load(cv))
                        } else {
                            sum
                        };
                        $store(cv, sum);
                    } else {
                        let sum = if accumulate {
                            $add(sum, $maskz_load(masks[v], cv))
                        } else {
                            sum
                        };
                        $mask_store(cv, masks[v], sum);
                    }
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
