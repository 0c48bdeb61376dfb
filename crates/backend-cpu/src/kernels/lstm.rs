//! One LSTM step's element-wise part in one pass ([`LstmUnit`] per element): the composed form
//! is about twenty array ops per step (gates, products, the backward pass's factors), each its
//! own pass over a few thousand elements and its own allocation, which at the sizes recurrent
//! layers run cost more than the step's matrix product.

use super::contiguous;
use super::isa::{run_loop, Isa, Loop};
use crate::parallel::{par_ranges, SharedMut};
use crate::storage::{take_vec, CpuStorage};
use nanotorch_ndarray_core::{Float, Layout, LstmUnit, LstmUnitGrad};
use std::mem::MaybeUninit;

/// Work per hidden unit against a copy, for the threading threshold (three to five
/// transcendental functions).
const COST: usize = 64;

/// `[h', c']` for a contiguous `pre` `[n, 4·hidden]` and `c` `[n, hidden]`, writing the
/// backward pass's factors into `saved` (`[qd, s_c, f]`, contiguous) when given (shapes checked
/// by the caller); `None` for other layouts.
pub(crate) fn lstm_cell<E: Float>(
    pre: &[E],
    pre_layout: &Layout,
    c: &[E],
    c_layout: &Layout,
    saved: Option<[(&mut [E], &Layout); 3]>,
) -> Option<Vec<CpuStorage<E>>> {
    let (pre, c) = (
        &pre[pre_layout.contiguous_range()?],
        &c[c_layout.contiguous_range()?],
    );
    let &[n, hidden] = c_layout.dims() else {
        return None;
    };
    // `c` holds `n·hidden` elements (its layout's range); `pre` must hold four per unit.
    let len = c.len();
    if len.checked_mul(4) != Some(pre.len()) {
        return None;
    }
    let saved = match saved {
        Some([qd, s_c, f]) => {
            let [qd, s_c, f] = [qd, s_c, f].map(|(data, layout)| {
                let range = layout.contiguous_range()?;
                data.get_mut(range).map(uninit)
            });
            let (qd, s_c, f) = (qd?, s_c?, f?);
            if [qd.len(), s_c.len(), f.len()] != [4 * len, len, len] {
                return None;
            }
            Some((SharedMut::new(qd), SharedMut::new(s_c), SharedMut::new(f)))
        }
        None => None,
    };
    let (mut h_new, mut c_new) = (take_vec::<E>(len), take_vec::<E>(len));
    {
        let h_out = SharedMut::new(h_new.spare_capacity_mut());
        let c_out = SharedMut::new(c_new.spare_capacity_mut());
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
    // SAFETY: the row ranges covered all `n` rows, so every element was written.
    unsafe {
        h_new.set_len(len);
        c_new.set_len(len);
    }
    Some(vec![
        CpuStorage::from_vec(h_new),
        CpuStorage::from_vec(c_new),
    ])
}

/// An initialised buffer seen as one to overwrite: the kernels write their outputs through
/// `MaybeUninit` slices, whether fresh or, as here, an existing array's elements.
fn uninit<E>(data: &mut [E]) -> &mut [MaybeUninit<E>] {
    // SAFETY: `MaybeUninit<E>` has `E`'s layout, and the kernels write only initialised values.
    unsafe { &mut *(data as *mut [E] as *mut [MaybeUninit<E>]) }
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
        let gate = |k: usize| load(self.pre, 4 * r * hid + k * hid + j);
        let c: [E; W] = load(self.c, at);
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

/// A step's backward pass ([`LstmUnitGrad`] per element) from `[dh, dc]` (`[n, hidden]`) and
/// the saved `[qd ([n, 4·hidden]), s_c, f]`: writes `d_pre` into `d_pre_out` and returns
/// `dc_prev`. Every layout contiguous (shapes checked by the caller); `None` otherwise.
pub(crate) fn lstm_cell_backward<E: Float>(
    [dh, dc]: [(&[E], &Layout); 2],
    [qd, s_c, f]: [(&[E], &Layout); 3],
    (d_pre_out, d_pre_layout): (&mut [E], &Layout),
) -> Option<CpuStorage<E>> {
    let &[n, hidden] = dh.1.dims() else {
        return None;
    };
    let (dh, dc, qd, s_c, f) = (
        contiguous(dh)?,
        contiguous(dc)?,
        contiguous(qd)?,
        contiguous(s_c)?,
        contiguous(f)?,
    );
    let d_pre_out = d_pre_out.get_mut(d_pre_layout.contiguous_range()?)?;
    let len = dh.len();
    if [dc.len(), s_c.len(), f.len()] != [len; 3] || [qd.len(), d_pre_out.len()] != [4 * len; 2] {
        return None;
    }
    let mut dc_prev = take_vec::<E>(len);
    {
        let (d_pre_out, dc_out) = (
            SharedMut::new(uninit(d_pre_out)),
            SharedMut::new(dc_prev.spare_capacity_mut()),
        );
        let isa = Isa::best();
        par_ranges(n, 1, len * BACKWARD_COST, |rows| {
            let units = rows.start * hidden..rows.end * hidden;
            let quad = 4 * units.start..4 * units.end;
            // SAFETY: `par_ranges` hands out each range of rows once, so these output ranges
            // are this call's alone; both buffers have room for `n` rows and outlive the call.
            let grads = unsafe {
                GradRows {
                    dh: &dh[units.clone()],
                    dc: &dc[units.clone()],
                    qd: &qd[quad.clone()],
                    s_c: &s_c[units.clone()],
                    f: &f[units.clone()],
                    hidden,
                    d_pre: d_pre_out.slice(quad),
                    dc_prev: dc_out.slice(units),
                }
            };
            run_loop(isa, grads);
        });
    }
    // SAFETY: the row ranges covered all `n` rows, so every element was written.
    unsafe { dc_prev.set_len(len) };
    Some(CpuStorage::from_vec(dc_prev))
}

/// Work per hidden unit of the backward pass against a copy: eight loads, five stores and a
/// dozen multiplications and additions. Counted at 4, a step of the LSTM benchmark (32 × 128
/// units) stayed on the caller for ~9 µs while the helper idled; at 16 it is split whenever the
/// helpers are awake.
const BACKWARD_COST: usize = 16;

/// Some rows' hidden units of a step's backward pass, for [`run_loop`].
struct GradRows<'a, E> {
    dh: &'a [E],
    dc: &'a [E],
    qd: &'a [E],
    s_c: &'a [E],
    f: &'a [E],
    hidden: usize,
    d_pre: &'a mut [MaybeUninit<E>],
    dc_prev: &'a mut [MaybeUninit<E>],
}

impl<E: Float> Loop for GradRows<'_, E> {
    #[inline(always)]
    fn run(mut self) {
        let hid = self.hidden;
        let rows = self.dh.len() / hid.max(1);
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

impl<E: Float> GradRows<'_, E> {
    /// Units `j..j + W` of row `r`.
    #[inline(always)]
    fn units<const W: usize>(&mut self, r: usize, j: usize) {
        let hid = self.hidden;
        let at = r * hid + j;
        let gate = |k: usize| 4 * r * hid + k * hid + j;
        let u = LstmUnitGrad::<E, W>::new(
            load(self.dh, at),
            load(self.dc, at),
            [
                load(self.qd, gate(0)),
                load(self.qd, gate(1)),
                load(self.qd, gate(2)),
                load(self.qd, gate(3)),
            ],
            load(self.s_c, at),
            load(self.f, at),
        );
        for (k, d) in u.d_pre.iter().enumerate() {
            put(self.d_pre, gate(k), d);
        }
        put(self.dc_prev, at, &u.dc);
    }
}

/// `a[start..start + W]` as an array: one bounds check and a block copy (an element-by-element
/// `from_fn` was compiled as sixteen checked scalar loads in a function of its own).
#[inline(always)]
fn load<E: Copy, const W: usize>(a: &[E], start: usize) -> [E; W] {
    let mut v = [a[start]; W];
    v.copy_from_slice(&a[start..start + W]);
    v
}

/// Writes `v` at `out[start..start + W]`.
#[inline(always)]
fn put<E: Copy, const W: usize>(out: &mut [MaybeUninit<E>], start: usize, v: &[E; W]) {
    for (o, &x) in out[start..start + W].iter_mut().zip(v) {
        o.write(x);
    }
}
