//! The softmax family along the last axis, fused: each row is read once to find its maximum,
//! once to exponentiate and sum, and normalised in place, while it sits in L1; the backward
//! pass is one dot product and one map per row. The composed form costs five kernels and four
//! temporaries forward and four backward (in a GPT step, attention's causal softmax was
//! about 9% of the time).

use super::isa::{run_loop, Isa, Loop};
use super::lanes::{fold_lanes, fold_lanes2, padded, LANES};
use crate::parallel::par_chunks;
use crate::storage::CpuStorage;
use nanotorch_ndarray_core::op::math::fast_exp;
use nanotorch_ndarray_core::op::Softmax;
use nanotorch_ndarray_core::{Float, Layout};
use std::mem::MaybeUninit;

/// Work per element against a copy, for the threading threshold (an `exp` per element).
const COST: usize = 16;

/// `[rows, n]` and `(L, S)` of a contiguous layout with at least one axis, or `None` (strided or
/// empty layouts take the composed path).
fn rows_of(layout: &Layout) -> Option<(std::ops::Range<usize>, usize, (usize, usize))> {
    let dims = layout.dims();
    let n = *dims.last()?;
    let l = if dims.len() >= 2 {
        dims[dims.len() - 2]
    } else {
        1
    };
    (n > 0).then_some(())?;
    Some((layout.contiguous_range()?, n, (l, n)))
}

/// The forward pass of [`Softmax`] over the rows of a contiguous `x`.
pub(crate) fn softmax_last<E: Float>(
    x: &[E],
    layout: &Layout,
    op: Softmax,
) -> Option<CpuStorage<E>> {
    let (range, n, ls) = rows_of(layout)?;
    let x = &x[range];
    let scale = E::from_f64(op.scale);
    let isa = Isa::best();
    Some(CpuStorage::build(x.len(), |out| {
        par_chunks(out, n, x.len() * COST, |start, chunk| {
            for (k, row_out) in chunk.chunks_mut(n).enumerate() {
                let r = start / n + k;
                let row = &x[r * n..(r + 1) * n];
                // In the FMA copies, where `fast_exp`'s `mul_add` is one instruction.
                run_loop(isa, Forward(row, row_out, op.visible(r, ls), scale, op.log));
            }
        })
    }))
}

/// The backward pass of [`Softmax`] from the output `y` and its gradient `g`, both contiguous.
pub(crate) fn softmax_last_backward<E: Float>(
    y: &[E],
    yl: &Layout,
    g: &[E],
    gl: &Layout,
    op: Softmax,
) -> Option<CpuStorage<E>> {
    let (yr, n, ls) = rows_of(yl)?;
    let (gr, _, _) = rows_of(gl)?;
    let (y, g) = (&y[yr], &g[gr]);
    let scale = E::from_f64(op.scale);
    let isa = Isa::best();
    Some(CpuStorage::build(y.len(), |out| {
        par_chunks(out, n, y.len() * COST, |start, chunk| {
            for (k, row_out) in chunk.chunks_mut(n).enumerate() {
                let r = start / n + k;
                let span = r * n..(r + 1) * n;
                let (y, g) = (&y[span.clone()], &g[span]);
                run_loop(
                    isa,
                    Backward(y, g, row_out, op.visible(r, ls), scale, op.log),
                );
            }
        })
    }))
}

/// [`forward_row`]'s arguments, to run it in [`run_loop`]'s compiled copies.
struct Forward<'a, E>(&'a [E], &'a mut [MaybeUninit<E>], usize, E, bool);

impl<E: Float> Loop for Forward<'_, E> {
    #[inline(always)]
    fn run(self) {
        forward_row(self.0, self.1, self.2, self.3, self.4)
    }
}

/// [`backward_row`]'s arguments.
struct Backward<'a, E>(&'a [E], &'a [E], &'a mut [MaybeUninit<E>], usize, E, bool);

impl<E: Float> Loop for Backward<'_, E> {
    #[inline(always)]
    fn run(self) {
        backward_row(self.0, self.1, self.2, self.3, self.4, self.5)
    }
}

/// One row forward: the first `visible` entries get `softmax(scale·x)` (or its log), the rest
/// 0 (or `−∞`).
#[inline(always)]
fn forward_row<E: Float>(x: &[E], out: &mut [MaybeUninit<E>], visible: usize, scale: E, log: bool) {
    let (x_vis, out_rest) = (&x[..visible], visible);
    let neg_inf = E::from_f64(f64::NEG_INFINITY);
    // The padding must scale to −∞ too, so it leaves a lane as it is: with a negative scale
    // (`causal_softmax(-1.5)`) a pad of −∞ became +∞ and every row shorter than a chunk NaN.
    let pad = if scale < E::ZERO { -neg_inf } else { neg_inf };
    let lanes = fold_lanes(x_vis, neg_inf, pad, |m, v| {
        let v = v * scale;
        if v > m {
            v
        } else {
            m
        }
    });
    let max = lanes
        .iter()
        .fold(lanes[0], |a, &b| if b > a { b } else { a });
    // The exponentials are written and summed in one pass, in `fold_lanes`'s lane order.
    let mut sums = [E::ZERO; LANES];
    let mut x_chunks = x_vis.chunks_exact(LANES);
    let mut out_chunks = out[..visible].chunks_exact_mut(LANES);
    for (xc, oc) in (&mut x_chunks).zip(&mut out_chunks) {
        let xc: &[E; LANES] = xc.try_into().expect("chunks_exact yields LANES");
        let oc: &mut [MaybeUninit<E>; LANES] = oc.try_into().expect("chunks_exact yields LANES");
        for ((s, &v), o) in sums.iter_mut().zip(xc).zip(oc) {
            let e = fast_exp(v * scale - max);
            o.write(e);
            *s = *s + e;
        }
    }
    let rest = x_chunks.remainder();
    if let Some(last) = padded(rest, E::ZERO) {
        // Every lane is computed and the padding's are zeroed by a select, so the partial
        // sums stay in registers (see `lanes`).
        let mut e = [E::ZERO; LANES];
        for (j, (ej, &v)) in e.iter_mut().zip(&last).enumerate() {
            let x = fast_exp(v * scale - max);
            *ej = if j < rest.len() { x } else { E::ZERO };
        }
        for (s, &x) in sums.iter_mut().zip(&e) {
            *s = *s + x;
        }
        for (o, &x) in out_chunks.into_remainder().iter_mut().zip(&e) {
            o.write(x);
        }
    }
    let sum = sums.iter().fold(E::ZERO, |a, &b| a + b);
    if log {
        let lse = max + sum.ln();
        for (o, &v) in out.iter_mut().zip(x_vis) {
            o.write(v * scale - lse);
        }
    } else {
        let inv = E::ONE / sum;
        for o in out[..visible].iter_mut() {
            // SAFETY: the loop above wrote every entry below `visible`.
            let e = unsafe { o.assume_init_read() };
            o.write(e * inv);
        }
    }
    let hidden = if log {
        E::from_f64(f64::NEG_INFINITY)
    } else {
        E::ZERO
    };
    for o in out[out_rest..].iter_mut() {
        o.write(hidden);
    }
}

/// One row backward: `scale·y⊙(g − Σ g⊙y)`, or `scale·(g − e^y·Σ g)` for log, for the first
/// `visible` entries; 0 for the hidden ones.
#[inline(always)]
fn backward_row<E: Float>(
    y: &[E],
    g: &[E],
    out: &mut [MaybeUninit<E>],
    visible: usize,
    scale: E,
    log: bool,
) {
    // The sums run over the whole row, as the composed form's do: a hidden entry's `y` is 0
    // (softmax) and its `g` still counts for log, whose hidden outputs `−∞ − lse` depend on the
    // normaliser too (PyTorch's masked_fill + log_softmax gives the same).
    let zero = E::ZERO;
    let sums = fold_lanes2((y, zero), (g, zero), zero, |s, yv, gv| {
        s + if log { gv } else { gv * yv }
    });
    let total = sums.iter().fold(E::ZERO, |a, &b| a + b);
    let (y, g) = (&y[..visible], &g[..visible]);
    for ((o, &yv), &gv) in out.iter_mut().zip(y).zip(g) {
        o.write(if log {
            scale * (gv - fast_exp(yv) * total)
        } else {
            scale * (yv * (gv - total))
        });
    }
    for o in out[visible..].iter_mut() {
        o.write(E::ZERO);
    }
}
