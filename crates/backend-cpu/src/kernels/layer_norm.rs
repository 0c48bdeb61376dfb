//! Layer normalisation along the last axis, fused. Forward, each row is read twice (its mean,
//! then its variance about that mean) and written once while it sits in L1, and the row's mean
//! and `1/√(var + eps)` are kept for the backward pass. Backward, each row takes two sums and
//! one map, and the weight's and bias's gradients are summed over fixed blocks of rows, then
//! over the blocks in order, so they are the same bits on any number of threads. Composed from
//! reductions and maps, a layer norm took about ten kernels and as many temporaries each way
//! (in a GPT step, 8% of one thread's time).

use super::isa::{run_loop, Isa, Loop};
use super::lanes::{fold_lanes, fold_lanes2, sum_lanes};
use super::{contiguous, optional};
use crate::parallel::{par_chunks, par_ranges, SharedMut};
use crate::storage::CpuStorage;
use nanotorch_ndarray_core::{Float, Layout};
use std::mem::MaybeUninit;

/// Work per element against a copy, for the threading threshold (a few passes per element).
const COST: usize = 4;

/// Rows per block of the weight's and bias's gradient sums (fixed, so the result does not
/// depend on how the blocks are shared among threads).
const BLOCK_ROWS: usize = 32;

/// The forward pass over the rows of `x` (last axis `n` > 0): `(y, mean, rstd)`.
pub(crate) fn layer_norm_rows<E: Float>(
    (x, xl): (&[E], &Layout),
    weight: Option<(&[E], &Layout)>,
    bias: Option<(&[E], &Layout)>,
    eps: f64,
) -> Option<(CpuStorage<E>, CpuStorage<E>, CpuStorage<E>)> {
    let x = contiguous((x, xl))?;
    let (weight, bias) = (optional(weight)?, optional(bias)?);
    let n = *xl.dims().last()?;
    let rows = x.len() / n;
    let (mut mean, mut rstd) = (vec![E::ZERO; rows], vec![E::ZERO; rows]);
    let eps = E::from_f64(eps);
    let isa = Isa::best();
    let y = {
        let (mean_at, rstd_at) = (SharedMut::new(&mut mean), SharedMut::new(&mut rstd));
        CpuStorage::build(x.len(), |out| {
            par_chunks(out, n, x.len() * COST, |start, chunk| {
                let first = start / n;
                let count = chunk.len() / n;
                // SAFETY: `par_chunks` hands out whole rows, each chunk once, so these row
                // ranges are disjoint and inside `0..rows`.
                let (m, s) = unsafe {
                    (
                        mean_at.slice(first..first + count),
                        rstd_at.slice(first..first + count),
                    )
                };
                for (k, out) in chunk.chunks_mut(n).enumerate() {
                    let row = &x[(first + k) * n..(first + k + 1) * n];
                    let stats = (&mut m[k], &mut s[k]);
                    run_loop(
                        isa,
                        Forward {
                            row,
                            out,
                            weight,
                            bias,
                            eps,
                            stats,
                        },
                    );
                }
            })
        })
    };
    Some((y, CpuStorage::from_vec(mean), CpuStorage::from_vec(rstd)))
}

/// One row of the forward pass, as a [`Loop`] so it is compiled with AVX2 or AVX-512.
struct Forward<'a, E> {
    row: &'a [E],
    out: &'a mut [MaybeUninit<E>],
    weight: Option<&'a [E]>,
    bias: Option<&'a [E]>,
    eps: E,
    stats: (&'a mut E, &'a mut E),
}

impl<E: Float> Loop for Forward<'_, E> {
    #[inline(always)]
    fn run(self) {
        let n = E::from_f64(self.row.len() as f64);
        let mean = sum_lanes(fold_lanes(self.row, E::ZERO, E::ZERO, |a, v| a + v)) / n;
        // Padding with the mean adds nothing to the squares.
        let squares = fold_lanes(self.row, E::ZERO, mean, |a, v| {
            let d = v - mean;
            a + d * d
        });
        let rstd = E::ONE / (sum_lanes(squares) / n + self.eps).sqrt();
        // One loop per case, each over slices of one length, so each vectorises.
        let len = self.row.len();
        let (row, out) = (self.row, &mut self.out[..len]);
        let normed = |v: E| (v - mean) * rstd;
        match (self.weight.map(|w| &w[..len]), self.bias.map(|b| &b[..len])) {
            (Some(w), Some(b)) => {
                for (((o, &v), &w), &b) in out.iter_mut().zip(row).zip(w).zip(b) {
                    o.write(normed(v) * w + b);
                }
            }
            (Some(w), None) => {
                for ((o, &v), &w) in out.iter_mut().zip(row).zip(w) {
                    o.write(normed(v) * w);
                }
            }
            (None, Some(b)) => {
                for ((o, &v), &b) in out.iter_mut().zip(row).zip(b) {
                    o.write(normed(v) + b);
                }
            }
            (None, None) => {
                for (o, &v) in out.iter_mut().zip(row) {
                    o.write(normed(v));
                }
            }
        }
        (*self.stats.0, *self.stats.1) = (mean, rstd);
    }
}

/// The backward pass: `(dx, dweight, dbias)` from the input `x`, the gradient `g` of the
/// output and the forward pass's row statistics (see `Backend::layer_norm_rows_backward`).
pub(crate) fn layer_norm_rows_backward<E: Float>(
    (x, xl): (&[E], &Layout),
    (g, gl): (&[E], &Layout),
    (mean, ml): (&[E], &Layout),
    (rstd, rl): (&[E], &Layout),
    weight: Option<(&[E], &Layout)>,
) -> Option<(CpuStorage<E>, CpuStorage<E>, CpuStorage<E>)> {
    let (x, g) = (contiguous((x, xl))?, contiguous((g, gl))?);
    let (mean, rstd) = (contiguous((mean, ml))?, contiguous((rstd, rl))?);
    let weight = optional(weight)?;
    let n = *xl.dims().last()?;
    let rows = x.len() / n;
    let blocks = rows.div_ceil(BLOCK_ROWS);
    let mut dx = vec![E::ZERO; x.len()];
    // Per block, the partial sums of `g·x̂` (dweight) then of `g` (dbias).
    let mut partial = vec![E::ZERO; blocks * 2 * n];
    let isa = Isa::best();
    {
        let (dx_at, partial_at) = (SharedMut::new(&mut dx), SharedMut::new(&mut partial));
        par_ranges(blocks, 1, x.len() * COST, |range| {
            let mut xhat = vec![E::ZERO; n];
            for block in range {
                let rows = block * BLOCK_ROWS..((block + 1) * BLOCK_ROWS).min(rows);
                // SAFETY: `par_ranges` hands out each block once; a block's rows of `dx` and
                // its slot of `partial` belong to it alone.
                let (dx, sums) = unsafe {
                    (
                        dx_at.slice(rows.start * n..rows.end * n),
                        partial_at.slice(block * 2 * n..(block + 1) * 2 * n),
                    )
                };
                let (dw, db) = sums.split_at_mut(n);
                for (k, r) in rows.enumerate() {
                    let span = r * n..(r + 1) * n;
                    run_loop(
                        isa,
                        Backward {
                            x: &x[span.clone()],
                            g: &g[span],
                            stats: (mean[r], rstd[r]),
                            weight,
                            xhat: &mut xhat,
                            dx: &mut dx[k * n..(k + 1) * n],
                            dw: &mut *dw,
                            db: &mut *db,
                        },
                    );
                }
            }
        });
    }
    let mut dw = vec![E::ZERO; n];
    let mut db = vec![E::ZERO; n];
    for sums in partial.chunks_exact(2 * n) {
        let (w, b) = sums.split_at(n);
        for (d, &v) in dw.iter_mut().zip(w) {
            *d = *d + v;
        }
        for (d, &v) in db.iter_mut().zip(b) {
            *d = *d + v;
        }
    }
    Some((
        CpuStorage::from_vec(dx),
        CpuStorage::from_vec(dw),
        CpuStorage::from_vec(db),
    ))
}

/// One row of the backward pass, as a [`Loop`]: `dx` gets the row's gradient, `dw` and `db`
/// its share of the weight's and bias's; `xhat` is scratch of the row's length.
struct Backward<'a, E> {
    x: &'a [E],
    g: &'a [E],
    stats: (E, E),
    weight: Option<&'a [E]>,
    xhat: &'a mut [E],
    dx: &'a mut [E],
    dw: &'a mut [E],
    db: &'a mut [E],
}

impl<E: Float> Loop for Backward<'_, E> {
    #[inline(always)]
    fn run(self) {
        let (mean, rstd) = self.stats;
        let n = E::from_f64(self.x.len() as f64);
        // x̂ into scratch, ĝ = g·w into dx, and the weight's and bias's shares; every slice cut
        // to the row's length so the loop vectorises.
        let len = self.x.len();
        let (x, g, xhat) = (self.x, &self.g[..len], &mut self.xhat[..len]);
        let (dx, dw, db) = (
            &mut self.dx[..len],
            &mut self.dw[..len],
            &mut self.db[..len],
        );
        for j in 0..len {
            let xh = (x[j] - mean) * rstd;
            xhat[j] = xh;
            dx[j] = g[j];
            dw[j] = dw[j] + g[j] * xh;
            db[j] = db[j] + g[j];
        }
        if let Some(w) = self.weight {
            for (d, &w) in dx.iter_mut().zip(&w[..len]) {
                *d = *d * w;
            }
        }
        let mean_g = sum_lanes(fold_lanes(self.dx, E::ZERO, E::ZERO, |a, v| a + v)) / n;
        let pairs = fold_lanes2(
            (self.dx, E::ZERO),
            (self.xhat, E::ZERO),
            E::ZERO,
            |a, u, v| a + u * v,
        );
        let mean_gx = sum_lanes(pairs) / n;
        for (d, &xh) in self.dx.iter_mut().zip(self.xhat.iter()) {
            *d = rstd * (*d - mean_g - xh * mean_gx);
        }
    }
}
