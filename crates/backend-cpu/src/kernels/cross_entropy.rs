//! Cross-entropy of logits against class indices, fused as PyTorch fuses it: forward, one pass
//! per row gives its log-sum-exp and the loss `lse − x[t]` (no `[rows, classes]` log-softmax is
//! written); backward, one pass per row writes `g·(softmax − one_hot)`. The composed form
//! (log_softmax, gather, neg, and scatter + log_softmax's backward) reads and writes the logits'
//! size four times more and checks the targets with seven small ops.

use super::isa::{run_loop, Isa, Loop};
use super::lanes::fold_lanes;
use crate::parallel::{par_chunks, SharedMut};
use crate::storage::CpuStorage;
use nanotorch_ndarray_core::op::math::fast_exp;
use nanotorch_ndarray_core::{Error, Float, Layout, Result};
use std::mem::MaybeUninit;

/// Work per logit against a copy, for the threading threshold (an `exp` each).
const COST: usize = 16;

/// `(rows, classes)` of contiguous `[rows, classes]` logits and `[rows]` targets, with the
/// slices, or `None` for any other layout (the caller composes the loss then).
fn shapes<'a, E: Float>(
    x: &'a [E],
    xl: &Layout,
    t: &'a [i64],
    tl: &Layout,
) -> Option<(&'a [E], &'a [i64], usize)> {
    let [rows, classes] = *xl.dims() else {
        return None;
    };
    if classes == 0 || tl.dims() != [rows] {
        return None;
    }
    Some((
        &x[xl.contiguous_range()?],
        &t[tl.contiguous_range()?],
        classes,
    ))
}

/// Every target is a class index in `0..classes` or `ignore_index`; the error names the first
/// that is not, as `cross_entropy` does on every backend.
fn check_targets(t: &[i64], tl: &Layout, classes: usize, ignore_index: i64) -> Result<()> {
    match t
        .iter()
        .enumerate()
        .find(|&(_, &v)| v != ignore_index && !(0..classes as i64).contains(&v))
    {
        None => Ok(()),
        Some((pos, bad)) => Err(Error::invalid(
            "cross_entropy",
            format!(
                "target {bad} at flat position {pos} is not a class index in 0..{classes} \
                 (nor ignore_index {ignore_index})"
            ),
            tl.shape(),
        )),
    }
}

/// `ln Σ eˣ` of one row, stable (its maximum is taken out first).
#[inline(always)]
fn log_sum_exp<E: Float>(row: &[E]) -> E {
    let neg_inf = E::from_f64(f64::NEG_INFINITY);
    let lanes = fold_lanes(row, neg_inf, neg_inf, |m, v| if v > m { v } else { m });
    let max = lanes
        .iter()
        .fold(lanes[0], |a, &b| if b > a { b } else { a });
    // e^(−∞ − max) = 0 pads the last chunk.
    let sums = fold_lanes(row, E::ZERO, neg_inf, |s, v| s + fast_exp(v - max));
    max + sums.iter().fold(E::ZERO, |a, &b| a + b).ln()
}

/// Per row: `(loss, lse)`, the loss `lse − x[t]` (0 where `t == ignore_index`) and the row's
/// log-sum-exp, which the backward pass reuses. `None` for layouts other than contiguous
/// `[rows, classes]` logits and `[rows]` targets.
pub(crate) fn cross_entropy_rows<E: Float>(
    x: &[E],
    xl: &Layout,
    t: &[i64],
    tl: &Layout,
    ignore_index: i64,
) -> Option<Result<(CpuStorage<E>, CpuStorage<E>)>> {
    let (x, t, classes) = shapes(x, xl, t, tl)?;
    if let Err(e) = check_targets(t, tl, classes, ignore_index) {
        return Some(Err(e));
    }
    let rows = t.len();
    let isa = Isa::best();
    let mut loss = None;
    let lse = CpuStorage::build(rows, |lse_out| {
        let lse_out = SharedMut::new(lse_out);
        loss = Some(CpuStorage::build(rows, |loss_out| {
            par_chunks(loss_out, 1, x.len() * COST, |start, chunk| {
                // SAFETY: `par_chunks` hands out disjoint chunks once each, and the same range
                // of the lse buffer is this chunk's alone; the buffer outlives the call.
                let lse = unsafe { lse_out.slice(start..start + chunk.len()) };
                let t = &t[start..start + chunk.len()];
                let x = &x[start * classes..(start + chunk.len()) * classes];
                run_loop(
                    isa,
                    ForwardRows {
                        x,
                        t,
                        classes,
                        ignore_index,
                        loss: chunk,
                        lse,
                    },
                );
            })
        }));
    });
    Some(Ok((loss?, lse)))
}

/// The forward pass over some rows, to run in [`run_loop`]'s compiled copies (the exponentials
/// are FMA polynomials, a libm call each at the baseline).
struct ForwardRows<'a, E> {
    x: &'a [E],
    t: &'a [i64],
    classes: usize,
    ignore_index: i64,
    loss: &'a mut [MaybeUninit<E>],
    lse: &'a mut [MaybeUninit<E>],
}

impl<E: Float> Loop for ForwardRows<'_, E> {
    #[inline(always)]
    fn run(self) {
        let rows = self.x.chunks_exact(self.classes).zip(self.t);
        for ((row, &t), (l, s)) in rows.zip(self.loss.iter_mut().zip(self.lse.iter_mut())) {
            if t == self.ignore_index {
                l.write(E::ZERO);
                s.write(E::ZERO);
                continue;
            }
            let lse = log_sum_exp(row);
            s.write(lse);
            l.write(lse - row[t as usize]);
        }
    }
}

/// The gradient of the per-row losses with respect to the logits: `g[r]·(e^{x − lse[r]} −
/// one_hot(t[r]))` per row, 0 where ignored. `None` for layouts the forward pass refuses, or a
/// strided `lse` or `g`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn cross_entropy_rows_backward<E: Float>(
    x: &[E],
    xl: &Layout,
    lse: &[E],
    lse_layout: &Layout,
    t: &[i64],
    tl: &Layout,
    g: &[E],
    gl: &Layout,
    ignore_index: i64,
) -> Option<Result<CpuStorage<E>>> {
    let (x, t, classes) = shapes(x, xl, t, tl)?;
    if lse_layout.dims() != tl.dims() || gl.dims() != tl.dims() {
        return None;
    }
    let (lse, g) = (
        &lse[lse_layout.contiguous_range()?],
        &g[gl.contiguous_range()?],
    );
    if let Err(e) = check_targets(t, tl, classes, ignore_index) {
        return Some(Err(e));
    }
    let isa = Isa::best();
    Some(Ok(CpuStorage::build(x.len(), |out| {
        par_chunks(out, classes, x.len() * COST, |start, chunk| {
            let first = start / classes;
            let rows = first..first + chunk.len() / classes;
            run_loop(
                isa,
                BackwardRows {
                    x: &x[start..start + chunk.len()],
                    lse: &lse[rows.clone()],
                    t: &t[rows.clone()],
                    g: &g[rows],
                    classes,
                    ignore_index,
                    out: chunk,
                },
            );
        })
    })))
}

/// The backward pass over some rows, to run in [`run_loop`]'s compiled copies.
struct BackwardRows<'a, E> {
    x: &'a [E],
    lse: &'a [E],
    t: &'a [i64],
    g: &'a [E],
    classes: usize,
    ignore_index: i64,
    out: &'a mut [MaybeUninit<E>],
}

impl<E: Float> Loop for BackwardRows<'_, E> {
    #[inline(always)]
    fn run(self) {
        let rows = self
            .x
            .chunks_exact(self.classes)
            .zip(self.out.chunks_mut(self.classes));
        for (r, (row, row_out)) in rows.enumerate() {
            let t = self.t[r];
            if t == self.ignore_index {
                for o in row_out.iter_mut() {
                    o.write(E::ZERO);
                }
                continue;
            }
            let (shift, scale) = (self.lse[r], self.g[r]);
            for (o, &v) in row_out.iter_mut().zip(row) {
                o.write(scale * fast_exp(v - shift));
            }
            // SAFETY: the loop above wrote every entry of the row.
            let p = unsafe { row_out[t as usize].assume_init_read() };
            row_out[t as usize].write(p - scale);
        }
    }
}
