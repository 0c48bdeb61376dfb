//! A whole LSTM layer's recurrence in one direction, forward and backward, on a team of threads
//! (`crate::team`) that each own a slice of the hidden units for the whole sequence.
//!
//! Why: one step is a `[batch, hidden] @ [hidden, 4·hidden]` product and the cell, and each step
//! needs all of the previous step's `h`. Run as array ops, every step was four or five parallel
//! jobs, each paying a join; here a member computes its units' four gate columns of the product
//! and then their cell, and the team meets once per step. The backward pass needs one barrier
//! per step too: a member writes its units' gate gradients of the step, and after the barrier
//! computes its units' columns of `dh = d_pre · W_hh` from all of them; `dc` and the cell's
//! inputs are its own units only. Each member packs its columns of the weight once per sequence
//! (`gemm::PackedRhs`). Every element is computed by the same kernels over the same k-blocks as
//! the step-by-step path of `NDArray::lstm_recurrence`, so the bits are the same (the
//! conformance family `lstm_recurrence` checks it).

use super::isa::{run_loop, Isa};
use super::lstm::{CellBlock, GradBlock, Saved, LANES};
use crate::gemm::PackedRhs;
use crate::storage::take_vec;
use crate::team::team;
use nanotorch_ndarray_core::{DType, Float};

/// Below this many multiply-adds per step a sequence runs on one thread: a barrier costs about
/// a microsecond, a quarter of a step this size on one core.
const TEAM_MACS: usize = 1 << 18;

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
        let reverse = self.reverse;
        let (fwd, bwd) = if reverse {
            (None, Some(steps.rev()))
        } else {
            (Some(steps), None)
        };
        fwd.into_iter().flatten().chain(bwd.into_iter().flatten())
    }

    /// How many threads to ask for, and whether the shapes are ones this kernel takes.
    fn team_size<E: Float>(self) -> Option<usize> {
        if self.batch == 0 || self.hidden == 0 {
            return None;
        }
        if E::DTYPE != DType::F32 && E::DTYPE != DType::F64 {
            return None;
        }
        let macs = self.batch * self.hidden * 4 * self.hidden;
        Some(if macs < TEAM_MACS {
            1
        } else {
            self.hidden.div_ceil(LANES)
        })
    }
}

/// Raw pointers into the arrays of one recurrence, shared by the members of its team: each
/// writes only its own units' columns, between barriers (see the module comment).
#[derive(Clone, Copy)]
struct Ptr<E>(*mut E);
// SAFETY: members write disjoint elements between barriers, which order their writes and reads.
unsafe impl<E: Send> Sync for Ptr<E> {}
// SAFETY: as above.
unsafe impl<E: Send> Send for Ptr<E> {}

impl<E> Ptr<E> {
    /// An array only read through this pointer.
    fn of(s: &[E]) -> Self {
        Ptr(s.as_ptr().cast_mut())
    }
    /// An array written through this pointer.
    fn of_mut(s: &mut [E]) -> Self {
        Ptr(s.as_mut_ptr())
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
/// its elements for a team's members.
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
    let wanted = r.team_size::<E>()?;
    let (steps, batch, hidden) = (r.steps, r.batch, r.hidden);
    let (bh, g) = (batch * hidden, 4 * hidden);
    let sizes_match = xp.len() == steps * batch * g
        && w_hh_t.len() == hidden * g
        && h0.len() == bh
        && c0.len() == bh;
    if !sizes_match {
        return None;
    }
    // Every element of these is written below before anything reads it: no zero fill (the
    // trace of the LSTM benchmark is 3.9 MB a pass).
    let (out_v, out) = fresh::<E>((steps + 2) * bh);
    let trace_lens = [steps * bh, steps * batch * g, steps * bh, steps * bh];
    let trace_v = keep_trace.then(|| trace_lens.map(fresh::<E>));
    let trace = trace_v.as_ref().map(|t| t.each_ref().map(|(_, p)| *p));
    let (xp, w, h0) = (Ptr::of(xp), Ptr::of(w_hh_t), Ptr::of(h0));
    // The cell state lives in `c_n`'s slot and is updated there in place.
    // SAFETY: `out` has room for `steps + 2` rows of `bh`; `c0` holds `bh` elements.
    unsafe { std::ptr::copy_nonoverlapping(c0.as_ptr(), out.at((steps + 1) * bh), bh) };
    // The gates' pre-activations of the current step; each member writes and reads only its
    // own units' columns.
    let (_pre_v, pre) = fresh::<E>(batch * g);
    let isa = Isa::best();
    team(wanted, |m| {
        let units = m.share(hidden, LANES);
        let (u0, width) = (units.start, units.len());
        // SAFETY: every offset below is inside its array (sizes checked or allocated above);
        // this member writes only its units' columns, which no other member reads before the
        // barrier that ends the step (see the module comment); the arrays outlive the team.
        unsafe {
            let weights = GateWeights::pack(w.ptr(), hidden, (u0, width));
            let c = out.at((steps + 1) * bh);
            let mut prev = h0.ptr().cast_const();
            for t in r.order() {
                if width > 0 {
                    if let Some([h_prev, ..]) = trace {
                        copy_units(prev, h_prev.at(t * bh), batch, hidden, (u0, units.end));
                    }
                    weights.gates(prev, pre.ptr(), batch);
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
                        rows: (0, batch),
                        hidden,
                        units: (u0, units.end),
                    };
                    run_loop(isa, block);
                }
                m.barrier();
                prev = out.at(t * bh);
            }
            if width > 0 {
                copy_units(prev, out.at(steps * bh), batch, hidden, (u0, units.end));
            }
        }
    });
    // SAFETY: the members' units cover `0..hidden`, and every step wrote each unit's `h` (rows
    // `t`), trace rows and cell state; rows `steps` and `steps + 1` were written after the loop
    // and before it.
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

/// One member's columns of `W_hhᵀ` (`[hidden, 4·hidden]`), packed once for the whole sequence:
/// all of it when the member has every unit, else its units' columns of each gate.
struct GateWeights<E> {
    /// One operand for all columns, or one per gate.
    parts: Vec<PackedRhs<E>>,
    hidden: usize,
    u0: usize,
}

impl<E: Float> GateWeights<E> {
    /// # Safety
    /// `w_t` addresses a row-major `[hidden, 4·hidden]` array; `hidden > 0`, `E` is f32 or f64.
    unsafe fn pack(w_t: *const E, hidden: usize, (u0, width): (usize, usize)) -> Self {
        let g = 4 * hidden;
        // SAFETY: the blocks lie inside `w_t` (the caller's promise).
        let parts = unsafe {
            if width == hidden {
                vec![PackedRhs::new((hidden, g), w_t, (g, 1))]
            } else if width == 0 {
                Vec::new()
            } else {
                (0..4)
                    .map(|k| PackedRhs::new((hidden, width), w_t.add(k * hidden + u0), (g, 1)))
                    .collect()
            }
        };
        GateWeights { parts, hidden, u0 }
    }

    /// `pre[:, k·hidden + u] = h · W_hhᵀ[:, k·hidden + u]` for this member's units `u` of every
    /// gate `k`.
    ///
    /// # Safety
    /// `h` is `[batch, hidden]` and `pre` `[batch, 4·hidden]`, row-major; no other thread
    /// writes these columns of `pre` or reads them meanwhile.
    unsafe fn gates(&self, h: *const E, pre: *mut E, batch: usize) {
        let (hidden, g) = (self.hidden, 4 * self.hidden);
        let one = self.parts.len() == 1;
        for (k, part) in self.parts.iter().enumerate() {
            let col = if one { 0 } else { k * hidden + self.u0 };
            // SAFETY: forwarded to the caller.
            unsafe { part.product(batch, h, (hidden, 1), pre.add(col), g) };
        }
    }
}

/// Copies columns `units` of a `[batch, hidden]` array into another.
///
/// # Safety
/// Both address `[batch, hidden]` row-major arrays; no other thread writes these columns of
/// either meanwhile.
unsafe fn copy_units<E: Copy>(
    from: *const E,
    to: *mut E,
    batch: usize,
    hidden: usize,
    (u0, u1): (usize, usize),
) {
    for row in 0..batch {
        let at = row * hidden + u0;
        // SAFETY: forwarded to the caller.
        unsafe { std::ptr::copy_nonoverlapping(from.add(at), to.add(at), u1 - u0) };
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
    [qd, s_c, f]: [&[E]; 3],
    r: Recurrence,
) -> Option<[Vec<E>; 3]> {
    let wanted = r.team_size::<E>()?;
    let (steps, batch, hidden) = (r.steps, r.batch, r.hidden);
    let (bh, g) = (batch * hidden, 4 * hidden);
    let sizes_match = d_all.len() == (steps + 2) * bh
        && w_hh.len() == g * hidden
        && qd.len() == steps * batch * g
        && s_c.len() == steps * bh
        && f.len() == steps * bh;
    if !sizes_match {
        return None;
    }
    // The gradients reaching the state after the last step: from `h_n` and `c_n`; updated in
    // place step by step, each member its own units.
    let mut dh = d_all[steps * bh..(steps + 1) * bh].to_vec();
    let mut dc = d_all[(steps + 1) * bh..].to_vec();
    // Every step's rows are written before they are read.
    let (d_pre_v, d_pre) = fresh::<E>(steps * batch * g);
    let (d_all, w, qd, s_c, f) = (
        Ptr::of(d_all),
        Ptr::of(w_hh),
        Ptr::of(qd),
        Ptr::of(s_c),
        Ptr::of(f),
    );
    let (dh_p, dc_p) = (Ptr::of_mut(&mut dh), Ptr::of_mut(&mut dc));
    let isa = Isa::best();
    team(wanted, |m| {
        let units = m.share(hidden, LANES);
        let (u0, width) = (units.start, units.len());
        // SAFETY: as in `lstm_recurrence`: offsets inside their arrays, each member writes its
        // units' columns of `dh`, `dc` and the step's `d_pre` rows, and reads other members'
        // `d_pre` columns only after the barrier that follows their writing them.
        unsafe {
            // `W_hh[:, u]`, `[4·hidden, width]`: this member's columns of `dh`.
            let w_u = (width > 0).then(|| PackedRhs::new((g, width), w.at(u0), (hidden, 1)));
            for t in r.order().rev() {
                if width > 0 {
                    let block = GradBlock {
                        dh: dh_p.ptr(),
                        d_out: Some(d_all.at(t * bh)),
                        dc: dc_p.ptr(),
                        qd: qd.at(t * batch * g),
                        s_c: s_c.at(t * bh),
                        f: f.at(t * bh),
                        d_pre: d_pre.at(t * batch * g),
                        dc_prev: dc_p.ptr(),
                        rows: (0, batch),
                        hidden,
                        units: (u0, units.end),
                    };
                    run_loop(isa, block);
                }
                m.barrier();
                if let Some(w_u) = &w_u {
                    // `dh` of the previous step, this member's columns: `d_pre_t · W_hh[:, u]`.
                    w_u.product(batch, d_pre.at(t * batch * g), (g, 1), dh_p.at(u0), hidden);
                }
            }
        }
    });
    // SAFETY: every step wrote all its rows of `d_pre` (the members' units cover `0..hidden`).
    let d_pre = unsafe { written(d_pre_v, steps * batch * g) };
    Some([d_pre, dh, dc])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::team::SCOPED;

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

    /// Everything both passes return, for a team of `size` (`None`: as the machine gives).
    fn run(r: Recurrence, size: Option<usize>) -> Vec<Vec<f32>> {
        let (bh, g) = (r.batch * r.hidden, 4 * r.hidden);
        let xp = values(r.steps * r.batch * g, 1);
        let w_t = values(r.hidden * g, 2);
        let w: Vec<f32> = (0..g * r.hidden)
            .map(|i| w_t[(i % r.hidden) * g + i / r.hidden])
            .collect();
        let (h0, c0) = (values(bh, 3), values(bh, 4));
        let d_all = values((r.steps + 2) * bh, 5);
        SCOPED.set(size);
        let (out, trace) = lstm_recurrence(&xp, &w_t, [&h0, &c0], true, r).unwrap();
        let [h_prev, qd, s_c, f] = trace.unwrap();
        let [d_pre, dh, dc] = lstm_recurrence_backward(&d_all, &w, [&qd, &s_c, &f], r).unwrap();
        SCOPED.set(None);
        vec![out, h_prev, qd, s_c, f, d_pre, dh, dc]
    }

    /// A team splits the hidden units; each element is computed the same way whoever computes
    /// it, so every team size gives the bits of a team of one, members without units included.
    #[test]
    fn every_team_size_gives_the_same_bits() {
        let shapes = [
            (5, 3, 40, false),
            (4, 2, 72, true),
            (3, 1, 5, false),
            (0, 2, 16, true),
        ];
        for (steps, batch, hidden, reverse) in shapes {
            let r = Recurrence {
                steps,
                batch,
                hidden,
                reverse,
            };
            let alone = run(r, Some(1));
            for size in [2, 3, 5] {
                let team = run(r, Some(size));
                for (k, (a, b)) in alone.iter().zip(&team).enumerate() {
                    assert!(
                        a.len() == b.len()
                            && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
                        "array {k}, team of {size}, steps {steps} batch {batch} hidden {hidden}"
                    );
                }
            }
        }
    }
}
