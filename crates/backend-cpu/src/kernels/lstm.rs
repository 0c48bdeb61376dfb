//! One LSTM step's element-wise part in one pass ([`LstmUnit`] per element): the composed form
//! is about twenty array ops per step (gates, products, the backward pass's factors), each its
//! own pass over a few thousand elements and its own allocation, which at the sizes recurrent
//! layers run cost more than the step's matrix product.
//!
//! The loops ([`CellBlock`], [`GradBlock`]) take raw pointers and a range of rows: a whole
//! sequence's recurrence (`lstm_sequence.rs`) has each thread write its block's rows of every
//! step's rows of whole-sequence arrays, which `&mut` slices handed to threads cannot express.

use super::contiguous;
use super::isa::{run_loop, Isa, Loop};
use crate::parallel::par_ranges;
use crate::storage::{take_vec, CpuStorage};
use nanotorch_ndarray_core::{Float, Layout, LstmUnit, LstmUnitGrad};

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
                data.get_mut(range)
            });
            let (qd, s_c, f) = (qd?, s_c?, f?);
            if [qd.len(), s_c.len(), f.len()] != [4 * len, len, len] {
                return None;
            }
            Some(Saved {
                qd: qd.as_mut_ptr(),
                s_c: s_c.as_mut_ptr(),
                f: f.as_mut_ptr(),
            })
        }
        None => None,
    };
    let (mut h_new, mut c_new) = (take_vec::<E>(len), take_vec::<E>(len));
    let block = CellBlock {
        pre: pre.as_ptr(),
        xp: None,
        c: c.as_ptr(),
        h: h_new.spare_capacity_mut().as_mut_ptr().cast::<E>(),
        c_new: c_new.spare_capacity_mut().as_mut_ptr().cast::<E>(),
        saved,
        rows: (0, n),
        hidden,
    };
    let (isa, block) = (Isa::best(), &block);
    par_ranges(n, 1, len * COST, |rows| {
        // SAFETY: every pointer addresses `n` rows of its width (checked above, or allocated
        // with room for them) and outlives this call; `par_ranges` hands out each range of rows
        // once, so no two calls write the same element.
        let rows = (rows.start, rows.end);
        run_loop(isa, CellBlock { rows, ..*block });
    });
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

/// Where [`CellBlock`] writes the backward pass's factors: `qd` `[n, 4·hidden]`, `s_c` and `f`
/// `[n, hidden]`.
#[derive(Clone, Copy)]
pub(super) struct Saved<E> {
    pub qd: *mut E,
    pub s_c: *mut E,
    pub f: *mut E,
}

/// Rows `rows` of one LSTM step, for [`run_loop`]'s compiled copies (the
/// sigmoids and tanhs are FMA polynomials there). Gate arrays (`pre`, `xp`, `qd`) are
/// `[n, 4·hidden]`, gate `k` of unit `j` in row `r` at `r·4·hidden + k·hidden + j`; unit arrays
/// (`c`, `h`, `c_new`, `s_c`, `f`) are `[n, hidden]`. `c_new` may be `c` (each element is read
/// before it is written).
///
/// Whoever builds one promises that every pointer addresses the rows it names, that the block's
/// outputs are written by no one else while it runs, and that its inputs are not written.
#[derive(Clone, Copy)]
pub(super) struct CellBlock<E> {
    pub pre: *const E,
    /// Added to `pre` (a sequence's input projection), when present.
    pub xp: Option<*const E>,
    pub c: *const E,
    pub h: *mut E,
    pub c_new: *mut E,
    pub saved: Option<Saved<E>>,
    pub rows: (usize, usize),
    pub hidden: usize,
}

// SAFETY: a block is a description of which elements one thread reads and writes; its builder
// promises (see above) that no other thread writes them meanwhile.
unsafe impl<E: Send> Send for CellBlock<E> {}
// SAFETY: as above.
unsafe impl<E: Sync> Sync for CellBlock<E> {}

/// Hidden units per [`LstmUnit`] call: two AVX-512 or four AVX2 vectors of f32.
const LANES: usize = 16;

impl<E: Float> Loop for CellBlock<E> {
    #[inline(always)]
    fn run(self) {
        let hid = self.hidden;
        let full = hid - hid % LANES;
        for r in self.rows.0..self.rows.1 {
            for j in (0..full).step_by(LANES) {
                // SAFETY: the builder's promise (see `CellBlock`).
                unsafe { self.units::<LANES>(r, j) };
            }
            for j in full..hid {
                // SAFETY: as above.
                unsafe { self.units::<1>(r, j) };
            }
        }
    }
}

impl<E: Float> CellBlock<E> {
    /// Units `j..j + W` of row `r`.
    ///
    /// # Safety
    /// As the builder promised (see [`CellBlock`]), for these elements.
    #[inline(always)]
    unsafe fn units<const W: usize>(&self, r: usize, j: usize) {
        let hid = self.hidden;
        let at = r * hid + j;
        let gate = |k: usize| {
            let i = 4 * r * hid + k * hid + j;
            let pre: [E; W] = load(self.pre, i);
            match self.xp {
                Some(xp) => {
                    let xp: [E; W] = load(xp, i);
                    std::array::from_fn(|l| pre[l] + xp[l])
                }
                None => pre,
            }
        };
        let u = LstmUnit::new([gate(0), gate(1), gate(2), gate(3)], load(self.c, at));
        put(self.h, at, &u.h);
        put(self.c_new, at, &u.c);
        if let Some(s) = self.saved {
            for (k, q) in u.qd.iter().enumerate() {
                put(s.qd, 4 * r * hid + k * hid + j, q);
            }
            put(s.s_c, at, &u.s_c);
            put(s.f, at, &u.f);
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
    let block = GradBlock {
        dh: dh.as_ptr(),
        d_out: None,
        dc: dc.as_ptr(),
        qd: qd.as_ptr(),
        s_c: s_c.as_ptr(),
        f: f.as_ptr(),
        d_pre: d_pre_out.as_mut_ptr(),
        dc_prev: dc_prev.spare_capacity_mut().as_mut_ptr().cast::<E>(),
        rows: (0, n),
        hidden,
    };
    let (isa, block) = (Isa::best(), &block);
    par_ranges(n, 1, len * BACKWARD_COST, |rows| {
        // SAFETY: every pointer addresses `n` rows of its width (checked above, or allocated
        // with room for them) and outlives this call; `par_ranges` hands out each range of rows
        // once, so no two calls write the same element.
        let rows = (rows.start, rows.end);
        run_loop(isa, GradBlock { rows, ..*block });
    });
    // SAFETY: the row ranges covered all `n` rows, so every element was written.
    unsafe { dc_prev.set_len(len) };
    Some(CpuStorage::from_vec(dc_prev))
}

/// Work per hidden unit of the backward pass against a copy: eight loads, five stores and a
/// dozen multiplications and additions. Counted at 4, a step of the LSTM benchmark (32 × 128
/// units) stayed on the caller for ~9 µs while the helper idled; at 16 it is split whenever the
/// helpers are awake.
const BACKWARD_COST: usize = 16;

/// Rows `rows` of a step's backward pass, for [`run_loop`]; laid out as
/// [`CellBlock`]'s arrays (`d_pre` and `qd` are gate arrays, the rest unit arrays), with the
/// same promise from its builder. `dc_prev` may be `dc`.
#[derive(Clone, Copy)]
pub(super) struct GradBlock<E> {
    pub dh: *const E,
    /// Added to `dh` (the gradient reaching a sequence's output at this step), when present.
    pub d_out: Option<*const E>,
    pub dc: *const E,
    pub qd: *const E,
    pub s_c: *const E,
    pub f: *const E,
    pub d_pre: *mut E,
    pub dc_prev: *mut E,
    pub rows: (usize, usize),
    pub hidden: usize,
}

// SAFETY: as for `CellBlock`.
unsafe impl<E: Send> Send for GradBlock<E> {}
// SAFETY: as above.
unsafe impl<E: Sync> Sync for GradBlock<E> {}

impl<E: Float> Loop for GradBlock<E> {
    #[inline(always)]
    fn run(self) {
        let hid = self.hidden;
        let full = hid - hid % LANES;
        for r in self.rows.0..self.rows.1 {
            for j in (0..full).step_by(LANES) {
                // SAFETY: the builder's promise (see `GradBlock`).
                unsafe { self.units::<LANES>(r, j) };
            }
            for j in full..hid {
                // SAFETY: as above.
                unsafe { self.units::<1>(r, j) };
            }
        }
    }
}

impl<E: Float> GradBlock<E> {
    /// Units `j..j + W` of row `r`.
    ///
    /// # Safety
    /// As the builder promised (see [`GradBlock`]), for these elements.
    #[inline(always)]
    unsafe fn units<const W: usize>(&self, r: usize, j: usize) {
        let hid = self.hidden;
        let at = r * hid + j;
        let gate = |k: usize| 4 * r * hid + k * hid + j;
        let dh: [E; W] = load(self.dh, at);
        let dh = match self.d_out {
            Some(d_out) => {
                let d_out: [E; W] = load(d_out, at);
                std::array::from_fn(|l| dh[l] + d_out[l])
            }
            None => dh,
        };
        let u = LstmUnitGrad::<E, W>::new(
            dh,
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

/// The `W` elements at `a + start`, as one block read (the compiler makes it one vector load).
///
/// # Safety
/// `a + start .. a + start + W` is readable.
#[inline(always)]
unsafe fn load<E: Copy, const W: usize>(a: *const E, start: usize) -> [E; W] {
    // SAFETY: forwarded to the caller; unaligned, as rows start anywhere.
    unsafe { a.add(start).cast::<[E; W]>().read_unaligned() }
}

/// Writes `v` at `out + start`.
///
/// # Safety
/// `out + start .. out + start + W` is writable and no other thread touches it.
#[inline(always)]
unsafe fn put<E: Copy, const W: usize>(out: *mut E, start: usize, v: &[E; W]) {
    // SAFETY: forwarded to the caller.
    unsafe { out.add(start).cast::<[E; W]>().write_unaligned(*v) }
}
