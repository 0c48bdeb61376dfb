//! One LSTM step's element-wise part in one pass ([`LstmUnit`] per element): the composed form
//! is about twenty array ops per step (gates, products, the backward pass's factors), each its
//! own pass over a few thousand elements and its own allocation, which at the sizes recurrent
//! layers run cost more than the step's matrix product.

use super::isa::{run_loop, Isa, Loop};
use crate::parallel::{par_ranges, SharedMut};
use crate::storage::{take_vec, CpuStorage};
use nanotorch_ndarray_core::{Float, Layout, LstmUnit};
use std::mem::MaybeUninit;

/// Work per hidden unit against a copy, for the threading threshold (three to five
/// transcendental functions).
const COST: usize = 64;

/// `[h', c']`, and with `save` `[qd, s_c, f]` after them, for a contiguous `pre` `[n, 4·hidden]`
/// and `c` `[n, hidden]` (shapes checked by the caller); `None` for other layouts.
pub(crate) fn lstm_cell<E: Float>(
    pre: &[E],
    pre_layout: &Layout,
    c: &[E],
    c_layout: &Layout,
    save: bool,
) -> Option<Vec<CpuStorage<E>>> {
    let (pre, c) = (
        &pre[pre_layout.contiguous_range()?],
        &c[c_layout.contiguous_range()?],
    );
    let &[n, hidden] = c_layout.dims() else {
        return None;
    };
    // `c` holds `n·hidden` elements (its layout's range); `pre` must hold four per unit.
    if c.len().checked_mul(4) != Some(pre.len()) {
        return None;
    }
    let len = c.len();
    let sizes: &[usize] = if save {
        &[len, len, 4 * len, len, len]
    } else {
        &[len, len]
    };
    let mut outs: Vec<Vec<E>> = sizes.iter().map(|&s| take_vec::<E>(s)).collect();
    {
        let mut spare = outs
            .iter_mut()
            .map(|o| SharedMut::new(o.spare_capacity_mut()));
        let mut next = || spare.next();
        let (h_out, c_out) = (next()?, next()?);
        let saved = if save {
            Some((next()?, next()?, next()?))
        } else {
            None
        };
        let isa = Isa::best();
        par_ranges(n, 1, len * COST, |rows| {
            let units = rows.start * hidden..rows.end * hidden;
            // SAFETY: `par_ranges` hands out each range of rows once, so these output ranges
            // are this call's alone; every buffer has room for `n` rows and outlives the call.
            let out = unsafe {
                Rows {
                    pre: &pre[4 * units.start..4 * units.end],
                    c: &c[units.clone()],
                    hidden,
                    h: h_out.slice(units.clone()),
                    c_new: c_out.slice(units.clone()),
                    saved: saved.as_ref().map(|(qd, s_c, f)| {
                        (
                            qd.slice(4 * units.start..4 * units.end),
                            s_c.slice(units.clone()),
                            f.slice(units.clone()),
                        )
                    }),
                }
            };
            run_loop(isa, out);
        });
    }
    Some(
        outs.into_iter()
            .zip(sizes)
            .map(|(mut v, &s)| {
                // SAFETY: the row ranges covered all `n` rows, so every element was written.
                unsafe { v.set_len(s) };
                CpuStorage::from_vec(v)
            })
            .collect(),
    )
}

/// Some rows' hidden units, to run in [`run_loop`]'s compiled copies (the sigmoids and tanhs
/// are FMA polynomials there).
struct Rows<'a, E> {
    pre: &'a [E],
    c: &'a [E],
    hidden: usize,
    h: &'a mut [MaybeUninit<E>],
    c_new: &'a mut [MaybeUninit<E>],
    #[allow(clippy::type_complexity)]
    saved: Option<(
        &'a mut [MaybeUninit<E>],
        &'a mut [MaybeUninit<E>],
        &'a mut [MaybeUninit<E>],
    )>,
}

/// Hidden units per [`LstmUnit`] call: two AVX-512 or four AVX2 vectors of f32.
const LANES: usize = 16;

impl<E: Float> Loop for Rows<'_, E> {
    #[inline(always)]
    fn run(mut self) {
        let hid = self.hidden;
        let rows = self.c.len() / hid.max(1);
        for r in 0..rows {
            let full = hid - hid % LANES;
            for j in (0..full).step_by(LANES) {
                self.units::<LANES>(r, j);
            }
            for j in full..hid {
                self.units::<1>(r, j);
            }
        }
    }
}

impl<E: Float> Rows<'_, E> {
    /// Units `j..j + W` of row `r`.
    #[inline(always)]
    fn units<const W: usize>(&mut self, r: usize, j: usize) {
        let hid = self.hidden;
        let at = r * hid + j;
        let gate = |k: usize| -> [E; W] {
            let start = 4 * r * hid + k * hid + j;
            std::array::from_fn(|l| self.pre[start + l])
        };
        let c: [E; W] = std::array::from_fn(|l| self.c[at + l]);
        let u = LstmUnit::new([gate(0), gate(1), gate(2), gate(3)], c);
        let put = |out: &mut [MaybeUninit<E>], start: usize, v: &[E; W]| {
            for (o, &x) in out[start..start + W].iter_mut().zip(v) {
                o.write(x);
            }
        };
        put(self.h, at, &u.h);
        put(self.c_new, at, &u.c);
        if let Some((qd, s_c, f)) = self.saved.as_mut() {
            for (k, q) in u.qd.iter().enumerate() {
                put(qd, 4 * r * hid + k * hid + j, q);
            }
            put(s_c, at, &u.s_c);
            put(f, at, &u.f);
        }
    }
}
