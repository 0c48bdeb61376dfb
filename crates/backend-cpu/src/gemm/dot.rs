//! A product the packed GEMM handles badly, common in convolutions over a whole batch: **dot
//! products** (A's rows and B's columns contiguous, C small, k long), such as a weight gradient
//! `g @ colsᵀ`, `[o, n·oh·ow] @ [n·oh·ow, c·kh·kw]`, with tens of outputs and tens of thousands
//! of steps of k. Packing then copies both operands for a handful of micro-kernel calls. Here
//! each 2×2 block of C is four dot products of contiguous rows, read in `DOT_K` steps so that
//! they stay in cache.
//!
//! Each element of C is the same sequence of `mul_add`s whatever the tile or thread count, and
//! `mul_add` rounds once in every compiled copy (see `kernels::isa`), so the bits do not depend
//! on either.
//!
//! (A register-blocked kernel for short k, `[o, 9] @ [9, n·oh·ow]`, was tried here too: in a
//! training step it was slower than matrixmultiply for k = 16 and barely faster for k = 9, so it
//! is not kept; such products are memory-bound and only gain from a second thread, see
//! [`short_k`].)

use crate::kernels::{run_loop, Isa, Loop};
use std::ops::Add;

/// The element types these kernels run on (f32 and f64).
pub(super) trait Scalar: Copy + Add<Output = Self> + 'static {
    /// 0.
    const ZERO: Self;
    /// `self · a + b`, rounded once.
    fn mul_add(self, a: Self, b: Self) -> Self;
}

impl Scalar for f32 {
    const ZERO: f32 = 0.0;
    #[inline(always)]
    fn mul_add(self, a: f32, b: f32) -> f32 {
        f32::mul_add(self, a, b)
    }
}

impl Scalar for f64 {
    const ZERO: f64 = 0.0;
    #[inline(always)]
    fn mul_add(self, a: f64, b: f64) -> f64 {
        f64::mul_add(self, a, b)
    }
}

/// The longest k [`short_k`] counts as short.
pub(super) const SHORT_K: usize = 32;
/// Steps of k per block of the dot kernel (four 4 KiB f32 rows).
const DOT_K: usize = 1024;
/// Independent partial sums per dot product: enough vector registers of FMAs in flight to
/// cover the FMA latency.
const LANES: usize = 16;

/// A strided operand: base pointer and (row, column) strides in elements.
pub(super) type Operand<E> = (*const E, (usize, usize));

/// Whether a product has short k and long rows of B (a first convolution: `[o, 9] @ [9,
/// n·oh·ow]`): memory-bound, so its work is counted by the output it writes when deciding to
/// split it across threads.
pub(super) fn short_k(k: usize, n: usize, (_, csb): (usize, usize)) -> bool {
    k <= SHORT_K && csb == 1 && n >= 64
}

/// Whether the dot kernel takes this product: rows of A and columns of B contiguous, k long
/// beside a C with few rows or columns.
pub(super) fn dot_shaped(
    (m, k, n): (usize, usize, usize),
    (_, csa): (usize, usize),
    (rsb, _): (usize, usize),
) -> bool {
    csa == 1 && rsb == 1 && k >= 256 && m.min(n) <= 32
}

/// `C = A·B` by the dot kernel.
///
/// # Safety
/// As `gemm::gemm`, and [`dot_shaped`] holds.
pub(super) unsafe fn dot_gemm<E: Scalar>(
    (m, k, n): (usize, usize, usize),
    (a, (rsa, _)): Operand<E>,
    (b, (_, csb)): Operand<E>,
    c: *mut E,
    ldc: usize,
) {
    struct Run<E>(
        (usize, usize, usize),
        (*const E, usize),
        (*const E, usize),
        *mut E,
        usize,
    );
    impl<E: Scalar> Loop for Run<E> {
        #[inline(always)]
        fn run(self) {
            let Run((m, k, n), (a, rsa), (b, csb), c, ldc) = self;
            for p0 in (0..k).step_by(DOT_K) {
                let len = DOT_K.min(k - p0);
                // SAFETY: rows of A and columns of B are `k` contiguous elements.
                let row =
                    |i: usize| unsafe { std::slice::from_raw_parts(a.add(i * rsa + p0), len) };
                let col =
                    |j: usize| unsafe { std::slice::from_raw_parts(b.add(j * csb + p0), len) };
                let mut i = 0;
                while i < m {
                    let rows = if i + 1 < m { 2 } else { 1 };
                    let mut j = 0;
                    while j < n {
                        let cols = if j + 1 < n { 2 } else { 1 };
                        // An odd last row or column is computed twice and stored once.
                        let sums = dot2x2(row(i), row(i + rows - 1), col(j), col(j + cols - 1));
                        for (r, q) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                            if r < rows && q < cols {
                                // SAFETY: (i + r, j + q) is inside this tile of C.
                                let out = unsafe { &mut *c.add((i + r) * ldc + j + q) };
                                let s = sums[r * 2 + q];
                                *out = if p0 == 0 { s } else { *out + s };
                            }
                        }
                        j += cols;
                    }
                    i += rows;
                }
            }
        }
    }
    run_loop(Isa::best(), Run((m, k, n), (a, rsa), (b, csb), c, ldc));
}

/// The 2×2 block of dot products of rows `x0`, `x1` with columns `y0`, `y1` (equal lengths),
/// `LANES` partial sums each (summed pairwise at the end), then the tail one element at a time:
/// `[x0·y0, x0·y1, x1·y0, x1·y1]`. Each step loads four vectors for four FMAs.
#[inline(always)]
fn dot2x2<E: Scalar>(x0: &[E], x1: &[E], y0: &[E], y1: &[E]) -> [E; 4] {
    let mut acc = [[E::ZERO; LANES]; 4];
    let [s00, s01, s10, s11] = &mut acc;
    let steps = x0
        .chunks_exact(LANES)
        .zip(x1.chunks_exact(LANES))
        .zip(y0.chunks_exact(LANES).zip(y1.chunks_exact(LANES)));
    for ((a0, a1), (b0, b1)) in steps {
        for l in 0..LANES {
            s00[l] = a0[l].mul_add(b0[l], s00[l]);
            s01[l] = a0[l].mul_add(b1[l], s01[l]);
            s10[l] = a1[l].mul_add(b0[l], s10[l]);
            s11[l] = a1[l].mul_add(b1[l], s11[l]);
        }
    }
    let whole = x0.len() - x0.len() % LANES;
    let pairs = [(x0, y0), (x0, y1), (x1, y0), (x1, y1)];
    let mut out = [E::ZERO; 4];
    for ((o, s), (x, y)) in out.iter_mut().zip(&mut acc).zip(pairs) {
        let mut width = LANES;
        while width > 1 {
            width /= 2;
            for l in 0..width {
                s[l] = s[l] + s[l + width];
            }
        }
        *o = (whole..x.len()).fold(s[0], |t, p| x[p].mul_add(y[p], t));
    }
    out
}
