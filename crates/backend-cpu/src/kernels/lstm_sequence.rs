//! A whole LSTM layer's recurrence in one direction, forward and backward, with each thread
//! running its own block of the batch through every time step.
//!
//! Why: one step is a `[batch, hidden] @ [hidden, 4·hidden]` product and the cell, and each step
//! needs the previous one. Run as array ops, every step was four or five parallel jobs, each
//! paying a join. But the sequences of a batch never meet: row `r` of a step needs only row `r`
//! of the step before, forward and backward. So a thread takes a block of rows and runs it
//! through the whole sequence, with no barrier and no shared row; the threads share only the
//! recurrent weight, packed once per sequence (`gemm::PackedRhs`: read in place its rows, 2 KiB
//! apart for a hidden size of 128, fall on a handful of L1 sets). Splitting the hidden units
//! instead (a barrier per step, every row written by both threads) was measured first: the
//! threads waited a fifth of the time, and the lines where their columns met went back and
//! forth between the cores at every step. Every element is computed by the same kernels over
//! the same k-blocks as the step-by-step path of `NDArray::lstm_recurrence`, so the bits are the
//! same (the conformance family `lstm_recurrence` checks it).

use super::isa::{run_loop, Isa};
use super::lstm::{CellBlock, GradBlock, Saved};
use crate::gemm::PackedRhs;
use crate::parallel::{num_threads, par_for};
use crate::storage::take_vec;
use nanotorch_ndarray_core::{DType, Float};

/// Below this many multiply-adds per step a sequence runs on one thread.
const PAR_MACS: usize = 1 << 18;

/// Rows per block at least: the AVX-512 micro-kernel's tile is 8 rows tall.
const MIN_ROWS: usize = 8;

/// The sizes of one recurrence.
#[derive(Clone, Copy)]
pub(crate) struct Recurrence {
    pub steps: usize,
    pub batch: usize,
    pub hidden: usize,
    /// Whether time runs backwards (the reverse direction of a bidirectional layer).
    pub reverse: bool,
}

impl Recurrence {
    /// The time steps in the order the forward pass visits them.
    fn order(self) -> impl DoubleEndedIterator<Item = usize> {
        let steps = 0..self.steps;
        let (fwd, bwd) = if self.reverse {
            (None, Some(steps.rev()))
        } else {
            (Some(steps), None)
        };
        fwd.into_iter().flatten().chain(bwd.into_iter().flatten())
    }

    /// How many blocks of rows to cut the batch into (one per thread that can have
    /// `MIN_ROWS`), or `None` for shapes this kernel leaves to the composed path.
    fn blocks<E: Float>(self) -> Option<usize> {
        if self.batch == 0 || self.hidden == 0 {
            return None;
        }
        if E::DTYPE != DType::F32 && E::DTYPE != DType::F64 {
            return None;
        }
        let macs = self.batch * self.hidden * 4 * self.hidden;
        Some(if macs < PAR_MACS {
            1
        } else {
            (self.batch / MIN_ROWS).clamp(1, num_threads())
        })
    }

    /// Rows `start..end` of block `b` of `blocks`.
    fn rows(self, b: usize, blocks: usize) -> (usize, usize) {
        (b * self.batch / blocks, (b + 1) * self.batch / blocks)
    }
}

/// Raw pointers into the arrays of one recurrence, shared by the threads: each writes only its
/// own block's rows.
#[derive(Clone, Copy)]
struct Ptr<E>(*mut E);
// SAFETY: threads write disjoint rows, and read only their own rows of what is written.
unsafe impl<E: Send> Sync for Ptr<E> {}
// SAFETY: as above.
unsafe impl<E: Send> Send for Ptr<E> {}

impl<E> Ptr<E> {
    /// An array only read through this pointer.
    fn of(s: &[E]) -> Self {
        Ptr(s.as_ptr().cast_mut())
    }
    /// The address.
    fn ptr(self) -> *mut E {
        self.0
    }
    /// The address `at` elements on.
    ///
    /// # Safety
    /// Inside the array this points into.
    unsafe fn at(self, at: usize) -> *mut E {
        // SAFETY: forwarded to the caller.
        unsafe { self.0.add(at) }
    }
}

/// A fresh buffer of `len` elements, to be written in full before `set_len`, and a pointer to
/// its elements for the threads.
fn fresh<E: Float>(len: usize) -> (Vec<E>, Ptr<E>) {
    let mut v = take_vec::<E>(len);
    let p = Ptr(v.spare_capacity_mut().as_mut_ptr().cast::<E>());
    (v, p)
}

/// Marks `v` as holding `len` written elements.
///
/// # Safety
/// All `len` elements were written.
unsafe fn written<E>(mut v: Vec<E>, len: usize) -> Vec<E> {
    // SAFETY: forwarded to the caller; `fresh` reserved `len`.
    unsafe { v.set_len(len) };
    v
}

/// The forward recurrence: from the input's share of the gates `xp` (`[steps·batch, 4·hidden]`,
/// biases included), `W_hhᵀ` (`[hidden, 4·hidden]`) and the state `h0`, `c0` (`[batch,
/// hidden]`), returns `[steps + 2, batch, hidden]`: every step's `h`, then `h_n` and `c_n`; with
/// `keep_trace`, also what the backward pass needs, by time index: `[h_prev ([steps, batch,
/// hidden]), qd ([steps·batch, 4·hidden]), s_c, f ([steps·batch, hidden])]`. `None` when the
/// sizes do not match or are ones this kernel leaves to the composed path.
#[allow(clippy::type_complexity)] // the output and the four named trace arrays
pub(crate) fn lstm_recurrence<E: Float>(
    xp: &[E],
    w_hh_t: &[E],
    [h0, c0]: [&[E]; 2],
    keep_trace: bool,
    r: Recurrence,
) -> Option<(Vec<E>, Option<[Vec<E>; 4]>)> {
    let blocks = r.blocks::<E>()?;
    forward(xp, w_hh_t, [h0, c0], keep_trace, r, blocks)
}

/// [`lstm_recurrence`] with the batch cut into `blocks` blocks of rows.
#[allow(clippy::type_complexity)] // as above
fn forward<E: Float>(
    xp: &[E],
    w_hh_t: &[E],
    [h0, c0]: [&[E]; 2],
    keep_trace: bool,
    r: Recurrence,
    blocks: usize,
) -> Option<(Vec<E>, Option<[Vec<E>; 4]>)> {
    let (steps, batch, hidden) = (r.steps, r.batch, r.hidden);
    let (bh, g) = (batch * hidden, 4 * hidden);
    let sizes_match = xp.len() == steps * batch * g
        && w_hh_t.len() == hidden * g
        && h0.len() == bh
        && c0.len() == bh;
    if !sizes_match || hidden == 0 {
        return None;
    }
    // Every element of these is written below before anything reads it: no zero fill (the
    // trace of the LSTM benchmark is 3.9 MB a pass).
    let (out_v, out) = fresh::<E>((steps + 2) * bh);
    let trace_lens = [steps * bh, steps * batch * g, steps * bh, steps * bh];
    let trace_v = keep_trace.then(|| trace_lens.map(fresh::<E>));
    let trace = trace_v.as_ref().map(|t| t.each_ref().map(|(_, p)| *p));
    // The gates' pre-activations of the current step, each block its rows.
    let (_pre_v, pre) = fresh::<E>(batch * g);
    // SAFETY: `w_hh_t` is `[hidden, 4·hidden]` (checked), `hidden > 0`, `E` is f32 or f64
    // (`blocks` checked it).
    let weights = unsafe { PackedRhs::new((hidden, g), w_hh_t.as_ptr(), (g, 1)) };
    let (xp, h0, c0) = (Ptr::of(xp), Ptr::of(h0), Ptr::of(c0));
    let isa = Isa::best();
    par_for(blocks, |b| {
        let (r0, r1) = r.rows(b, blocks);
        let (m, first) = (r1 - r0, r0 * hidden);
        // SAFETY: every offset below is inside its array (sizes checked or allocated above);
        // this block reads and writes only rows `r0..r1` of every array, which no other block
        // touches; the arrays outlive `par_for`.
        unsafe {
            // The cell state lives in `c_n`'s slot and is updated there in place.
            let c = out.at((steps + 1) * bh);
            std::ptr::copy_nonoverlapping(c0.at(first), c.add(first), m * hidden);
            let mut prev = h0.at(first).cast_const();
            for t in r.order() {
                if let Some([h_prev, ..]) = trace {
                    std::ptr::copy_nonoverlapping(prev, h_prev.at(t * bh + first), m * hidden);
                }
                weights.product(m, prev, (hidden, 1), pre.at(r0 * g), g);
                let block = CellBlock {
                    pre: pre.ptr(),
                    xp: Some(xp.at(t * batch * g)),
                    c,
                    h: out.at(t * bh),
                    c_new: c,
                    saved: trace.map(|[_, qd, s_c, f]| Saved {
                        qd: qd.at(t * batch * g),
                        s_c: s_c.at(t * bh),
                        f: f.at(t * bh),
                    }),
                    rows: (r0, r1),
                    hidden,
                };
                run_loop(isa, block);
                prev = out.at(t * bh + first);
            }
            std::ptr::copy_nonoverlapping(prev, out.at(steps * bh + first), m * hidden);
        }
    });
    // SAFETY: the blocks cover `0..batch`, and each wrote its rows of every step's `h`, trace
    // and cell state, and of `h_n`.
    unsafe {
        let out = written(out_v, (steps + 2) * bh);
        let trace = trace_v.map(|t| {
            let [a, b, c, d] = t;
            let [la, lb, lc, ld] = trace_lens;
            [
                written(a.0, la),
                written(b.0, lb),
                written(c.0, lc),
                written(d.0, ld),
            ]
        });
        Some((out, trace))
    }
}

/// The backward recurrence: from the gradient `d_all` of the forward pass's `out` (`[steps + 2,
/// batch, hidden]`: every step's `h`, then `h_n` and `c_n`), `W_hh` (`[4·hidden, hidden]`) and
/// the trace's `[qd, s_c, f]`, returns `[d_pre, dh0, dc0]`: every step's gate gradients
/// (`[steps·batch, 4·hidden]`) and the gradients of `h0` and `c0`. `None` when the sizes do
/// not match or are ones this kernel leaves to the composed path.
pub(crate) fn lstm_recurrence_backward<E: Float>(
    d_all: &[E],
    w_hh: &[E],
    cells: [&[E]; 3],
    r: Recurrence,
) -> Option<[Vec<E>; 3]> {
    let blocks = r.blocks::<E>()?;
    backward(d_all, w_hh, cells, r, blocks)
}

/// [`lstm_recurrence_backward`] with the batch cut into `blocks` blocks of rows.
fn backward<E: Float>(
    d_all: &[E],
    w_hh: &[E],
    [qd, s_c, f]: [&[E]; 3],
    r: Recurrence,
    blocks: usize,
) -> Option<[Vec<E>; 3]> {
    let (steps, batch, hidden) = (r.steps, r.batch, r.hidden);
    let (bh, g) = (batch * hidden, 4 * hidden);
    let sizes_match = d_all.len() == (steps + 2) * bh
        && w_hh.len() == g * hidden
        && qd.len() == steps * batch * g
        && s_c.len() == steps * bh
        && f.len() == steps * bh;
    if !sizes_match || hidden == 0 {
        return None;
    }
    // The gradients reaching the state after the last step, from `h_n` and `c_n`, updated in
    // place step by step; every step's gate gradients, its rows written before they are read.
    let (dh_v, dh) = fresh::<E>(bh);
    let (dc_v, dc) = fresh::<E>(bh);
    let (d_pre_v, d_pre) = fresh::<E>(steps * batch * g);
    // SAFETY: `w_hh` is `[4·hidden, hidden]` (checked), `E` is f32 or f64 (`blocks` checked it).
    let weights = unsafe { PackedRhs::new((g, hidden), w_hh.as_ptr(), (hidden, 1)) };
    let (d_all, qd, s_c, f) = (Ptr::of(d_all), Ptr::of(qd), Ptr::of(s_c), Ptr::of(f));
    let isa = Isa::best();
    par_for(blocks, |b| {
        let (r0, r1) = r.rows(b, blocks);
        let (m, first) = (r1 - r0, r0 * hidden);
        // SAFETY: as in `forward`: offsets inside their arrays, each block reads and writes
        // only its rows.
        unsafe {
            std::ptr::copy_nonoverlapping(d_all.at(steps * bh + first), dh.at(first), m * hidden);
            let last = d_all.at((steps + 1) * bh + first);
            std::ptr::copy_nonoverlapping(last, dc.at(first), m * hidden);
            for t in r.order().rev() {
                let block = GradBlock {
                    dh: dh.ptr(),
                    d_out: Some(d_all.at(t * bh)),
                    dc: dc.ptr(),
                    qd: qd.at(t * batch * g),
                    s_c: s_c.at(t * bh),
                    f: f.at(t * bh),
                    d_pre: d_pre.at(t * batch * g),
                    dc_prev: dc.ptr(),
                    rows: (r0, r1),
                    hidden,
                };
                run_loop(isa, block);
                // `dh` of the step before: `d_pre_t · W_hh`, this block's rows.
                let d_pre_t = d_pre.at((t * batch + r0) * g);
                weights.product(m, d_pre_t, (g, 1), dh.at(first), hidden);
            }
        }
    });
    // SAFETY: the blocks cover `0..batch` and wrote their rows of all three.
    unsafe {
        Some([
            written(d_pre_v, steps * batch * g),
            written(dh_v, bh),
            written(dc_v, bh),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in about [-0.5, 0.5].
    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    }

    /// Everything both passes return, with the batch cut into `blocks` blocks.
    fn run(r: Recurrence, blocks: usize) -> Vec<Vec<f32>> {
        let (bh, g) = (r.batch * r.hidden, 4 * r.hidden);
        let xp = values(r.steps * r.batch * g, 1);
        let w_t = values(r.hidden * g, 2);
        let w: Vec<f32> = (0..g * r.hidden)
            .map(|i| w_t[(i % r.hidden) * g + i / r.hidden])
            .collect();
        let (h0, c0) = (values(bh, 3), values(bh, 4));
        let d_all = values((r.steps + 2) * bh, 5);
        let (out, trace) = forward(&xp, &w_t, [&h0, &c0], true, r, blocks).unwrap();
        let [h_prev, qd, s_c, f] = trace.unwrap();
        let [d_pre, dh, dc] = backward(&d_all, &w, [&qd, &s_c, &f], r, blocks).unwrap();
        vec![out, h_prev, qd, s_c, f, d_pre, dh, dc]
    }

    /// A block's rows are computed the same way whichever thread runs them and however the
    /// batch is cut (blocks of one row, and empty ones, included), so every cut gives the bits
    /// of one block.
    #[test]
    fn every_cut_of_the_batch_gives_the_same_bits() {
        let shapes = [
            (5, 9, 40, false),
            (4, 17, 72, true),
            (3, 2, 5, false),
            (0, 2, 16, true),
        ];
        for (steps, batch, hidden, reverse) in shapes {
            let r = Recurrence {
                steps,
                batch,
                hidden,
                reverse,
            };
            let whole = run(r, 1);
            for blocks in [2, 3, batch, batch + 1] {
                let cut = run(r, blocks);
                for (k, (a, b)) in whole.iter().zip(&cut).enumerate() {
                    assert!(
                        a.len() == b.len()
                            && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
                        "array {k}, {blocks} blocks, steps {steps} batch {batch} hidden {hidden}"
                    );
                }
            }
        }
    }
}
