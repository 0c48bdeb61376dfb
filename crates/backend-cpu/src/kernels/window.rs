//! Sliding windows: im2col and col2im, the basis of convolution and pooling.

use super::isa::{run_loop, Isa, Loop};
use crate::parallel::par_chunks;
use crate::storage::CpuStorage;
use nanotorch_ndarray_core::checks::WindowGeometry;
use nanotorch_ndarray_core::{Float, Layout, Window2d};
use std::hint::select_unpredictable;
use std::mem::MaybeUninit;

/// The input coordinate a window tap reads, or `None` in the padding.
#[inline]
fn tap(o: usize, k: usize, stride: usize, dil: usize, pad: usize, len: usize) -> Option<usize> {
    (o * stride + k * dil).checked_sub(pad).filter(|&i| i < len)
}

/// The outputs `lo..hi` (of `out_len`) whose tap `k` lands inside the input (`tap` is `Some`),
/// and the input position of the first: each row of im2col/col2im is then zeros (padding), a
/// strided run of the input, and zeros again, with no per-element test.
fn valid_span(
    k: usize,
    stride: usize,
    dil: usize,
    pad: usize,
    len: usize,
    out_len: usize,
) -> (usize, usize, usize) {
    let reach = k * dil;
    let lo = pad.saturating_sub(reach).div_ceil(stride).min(out_len);
    let hi = (len + pad)
        .saturating_sub(reach)
        .div_ceil(stride)
        .min(out_len);
    let hi = hi.max(lo);
    (lo, hi, (lo * stride + reach).saturating_sub(pad))
}

/// Where im2col puts the row of sample `ni` and window tap `r` (of `c·kh·kw`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ColumnOrder {
    /// `[n, c·kh·kw, oh·ow]`: `Backend::im2col`'s contract.
    BatchOuter,
    /// `[c·kh·kw, n, oh·ow]`: `Backend::im2col_tap_major`'s, one matrix for the whole batch.
    TapMajor,
}

/// Where each window tap's values sit in a plane of the image (offsets from the plane's first
/// element at the image's strides): the same for every sample and channel, so an im2col row is
/// filled, and a col2im row added back, with no arithmetic beyond a base address. Deep in a
/// network, where a plane is a few pixels wide, working the geometry out row by row (with
/// divisions to find each row's sample and tap) cost more than moving the values.
struct TapTable {
    /// Window taps (`kh·kw`).
    taps: usize,
    /// Outputs per line (`ow`).
    ow: usize,
    /// Image elements between neighbouring outputs of a line: the width stride × `stride.1`.
    step: usize,
    kind: TapKind,
}

enum TapKind {
    /// Per tap and output position, the offset or [`PAD`]: rows are gathers (for lines shorter
    /// than [`LINE_COPY_MIN`]).
    Elements(Vec<usize>),
    /// Per tap and output line: padding, a run of the image at `step`, padding again.
    Lines(Vec<Line>),
}

/// In [`TapKind::Elements`], the mark of an output position whose tap lands in the padding.
const PAD: usize = usize::MAX;

/// Output lines at least this long are handled run by run (a copy), shorter ones element by
/// element (a gather, with no per-line bookkeeping).
const LINE_COPY_MIN: usize = 8;

/// One output line of one tap: outputs `lo..hi` see the image from offset `first` on (at the
/// table's `step`), the rest the padding. A line wholly in the padding has `lo == hi`.
#[derive(Clone, Copy)]
struct Line {
    lo: usize,
    hi: usize,
    first: usize,
}

impl TapTable {
    /// The table for `window` over planes of `g.h × g.w` at strides `(row, column)`.
    fn new(window: &Window2d, g: &WindowGeometry, (rs, cs): (usize, usize)) -> Self {
        let (kh, kw) = window.kernel;
        let (s, d, p) = (window.stride, window.dilation, window.padding);
        let taps = (0..kh).flat_map(|ki| (0..kw).map(move |kj| (ki, kj)));
        let rows = move |ki| (0..g.oh).map(move |oy| tap(oy, ki, s.0, d.0, p.0, g.h));
        let kind = if g.ow < LINE_COPY_MIN {
            let offsets = taps.flat_map(|(ki, kj)| {
                rows(ki).flat_map(move |iy| {
                    (0..g.ow).map(move |ox| match (iy, tap(ox, kj, s.1, d.1, p.1, g.w)) {
                        (Some(iy), Some(ix)) => iy * rs + ix * cs,
                        _ => PAD,
                    })
                })
            });
            TapKind::Elements(offsets.collect())
        } else {
            let lines = taps.flat_map(|(ki, kj)| {
                let (lo, hi, ix0) = valid_span(kj, s.1, d.1, p.1, g.w, g.ow);
                rows(ki).map(move |iy| match iy {
                    Some(iy) => Line {
                        lo,
                        hi,
                        first: iy * rs + ix0 * cs,
                    },
                    None => Line {
                        lo: 0,
                        hi: 0,
                        first: 0,
                    },
                })
            });
            TapKind::Lines(lines.collect())
        };
        TapTable {
            taps: kh * kw,
            ow: g.ow,
            step: s.1 * cs,
            kind,
        }
    }

    /// Fills `row` with what tap `t` sees of the plane at `base` in `x` (0 in the padding).
    fn fill<E: Float>(&self, x: &[E], base: usize, t: usize, row: &mut [MaybeUninit<E>]) {
        let len = row.len();
        match &self.kind {
            TapKind::Elements(offsets) => {
                for (o, &at) in row.iter_mut().zip(&offsets[t * len..(t + 1) * len]) {
                    o.write(if at == PAD { E::ZERO } else { x[base + at] });
                }
            }
            TapKind::Lines(lines) => {
                let oh = len / self.ow;
                let lines = &lines[t * oh..(t + 1) * oh];
                for (line, out) in lines.iter().zip(row.chunks_mut(self.ow)) {
                    let (left, rest) = out.split_at_mut(line.lo);
                    let (mid, right) = rest.split_at_mut(line.hi - line.lo);
                    left.iter_mut().chain(right).for_each(|o| {
                        o.write(E::ZERO);
                    });
                    if mid.is_empty() {
                        continue;
                    }
                    let from = base + line.first;
                    if self.step == 1 {
                        // the common case (stride 1, contiguous rows): a copy
                        let src = &x[from..from + mid.len()];
                        for (o, &v) in mid.iter_mut().zip(src) {
                            o.write(v);
                        }
                    } else {
                        for (j, o) in mid.iter_mut().enumerate() {
                            o.write(x[from + j * self.step]);
                        }
                    }
                }
            }
        }
    }

    /// Adds what tap `t` saw back into `img`, a contiguous plane: the `oh·ow` values of `cols`
    /// from `base` on at stride `cs` (the adjoint of [`TapTable::fill`] for this table's
    /// `lines`; the padding's share is dropped). Values land in output order, as the composed
    /// sum would add them.
    fn add_back<E: Float>(
        &self,
        lines: &[Line],
        img: &mut [E],
        cols: &[E],
        (base, cs): (usize, usize),
        t: usize,
    ) {
        let at_col = |j: usize| cols[base + j * cs];
        let oh = lines.len() / self.taps;
        for (oy, line) in lines[t * oh..(t + 1) * oh].iter().enumerate() {
            let first_col = oy * self.ow + line.lo;
            let count = line.hi - line.lo;
            if count == 0 {
                continue;
            }
            if self.step == 1 && cs == 1 {
                // the common case: add one contiguous run into another
                let src = &cols[base + first_col..base + first_col + count];
                let dst = &mut img[line.first..line.first + count];
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d = *d + v;
                }
            } else {
                for j in 0..count {
                    let at = line.first + j * self.step;
                    img[at] = img[at] + at_col(first_col + j);
                }
            }
        }
    }
}

/// How col2im adds the columns back: through a [`Gather`] for a table of elements, run by run
/// for a table of lines.
enum AddBack<'a> {
    Sums(Gather),
    Lines(&'a [Line]),
}

/// col2im over planes read element by element ([`TapKind::Elements`]), turned around: per plane
/// position, where in the columns (from a plane's base) the values that add into it sit, in tap
/// order. Each position is then one sum written once, the same additions in the same order as
/// [`TapTable::add_back`] tap by tap (which, on planes of a few pixels, spent its time storing
/// into and reloading the positions it had just added to).
struct Gather {
    /// `sources[starts[p]..starts[p + 1]]` add into plane position `p`.
    starts: Vec<usize>,
    sources: Vec<usize>,
}

impl Gather {
    /// The sums for a table's element `offsets` (`taps` rows of them) when tap `t`'s output `j`
    /// sits at `t·tap_stride + j·col_stride` in the columns.
    fn new(
        offsets: &[usize],
        taps: usize,
        plane: usize,
        (tap_stride, col_stride): (usize, usize),
    ) -> Self {
        let outputs = offsets.len() / taps.max(1);
        let mut starts = vec![0; plane + 1];
        for &at in offsets.iter().filter(|&&at| at != PAD) {
            starts[at + 1] += 1;
        }
        for p in 0..plane {
            starts[p + 1] += starts[p];
        }
        let mut next = starts.clone();
        let mut sources = vec![0; starts[plane]];
        // Taps outermost, so each position's sources come in tap order.
        for (k, &at) in offsets.iter().enumerate() {
            if at != PAD {
                let (t, j) = (k / outputs, k % outputs);
                sources[next[at]] = t * tap_stride + j * col_stride;
                next[at] += 1;
            }
        }
        Gather { starts, sources }
    }

    /// Writes into `img` (one plane) the sums of the columns from `base` on.
    fn sum_into<E: Float>(&self, img: &mut [MaybeUninit<E>], cols: &[E], base: usize) {
        let ranges = self.starts.windows(2);
        for (o, range) in img.iter_mut().zip(ranges) {
            let mut sum = E::ZERO;
            for &at in &self.sources[range[0]..range[1]] {
                sum = sum + cols[base + at];
            }
            o.write(sum);
        }
    }
}

/// The columns of `x` in `order`; `g` is the geometry `checks::im2col` returned for `layout`
/// and `window`. Each unit of work is one row: the `oh·ow` values one window tap of one input
/// plane sees, filled through a [`TapTable`].
pub(crate) fn im2col<E: Float>(
    x: &[E],
    layout: &Layout,
    window: &Window2d,
    g: &WindowGeometry,
    order: ColumnOrder,
) -> CpuStorage<E> {
    let (kh, kw) = window.kernel;
    let st = layout.strides();
    let row_len = g.oh * g.ow;
    let per_plane = kh * kw;
    let taps = g.c * per_plane;
    let len = g.n * taps * row_len;
    let table = TapTable::new(window, g, (st[2], st[3]));
    CpuStorage::build(len, |out| {
        par_chunks(out, row_len, len, |start, chunk| {
            if chunk.is_empty() {
                return;
            }
            // The first row's sample, channel and tap; later rows step from it.
            let q = start / row_len;
            let (mut ni, r) = match order {
                ColumnOrder::BatchOuter => (q / taps, q % taps),
                ColumnOrder::TapMajor => (q % g.n, q / g.n),
            };
            let (mut ci, mut t) = (r / per_plane, r % per_plane);
            for row in chunk.chunks_mut(row_len) {
                let base = layout.offset() + ni * st[0] + ci * st[1];
                table.fill(x, base, t, row);
                match order {
                    ColumnOrder::BatchOuter => {
                        t += 1;
                        if t == per_plane {
                            (t, ci) = (0, ci + 1);
                            if ci == g.c {
                                (ci, ni) = (0, ni + 1);
                            }
                        }
                    }
                    ColumnOrder::TapMajor => {
                        ni += 1;
                        if ni == g.n {
                            (ni, t) = (0, t + 1);
                            if t == per_plane {
                                (t, ci) = (0, ci + 1);
                            }
                        }
                    }
                }
            }
        })
    })
}

/// The image `[n, c, h, w]` whose windows sum back from `cols` (the adjoint of [`im2col`]); `g`
/// is the geometry `checks::col2im` returned for `cl` and `window`.
pub(crate) fn col2im<E: Float>(
    cols: &[E],
    cl: &Layout,
    window: &Window2d,
    g: &WindowGeometry,
) -> CpuStorage<E> {
    let (h, w) = (g.h, g.w);
    let (kh, kw) = window.kernel;
    let st = cl.strides();
    let plane = h * w;
    let len = g.n * g.c * plane;
    let table = TapTable::new(window, g, (w, 1));
    // Planes narrower than `LINE_COPY_MIN` are summed position by position, wider ones added
    // back line by line.
    let back = match &table.kind {
        TapKind::Elements(offsets) => {
            AddBack::Sums(Gather::new(offsets, kh * kw, plane, (st[1], st[2])))
        }
        TapKind::Lines(lines) => AddBack::Lines(lines),
    };
    CpuStorage::build(len, |out| {
        par_chunks(out, plane, len * kh * kw, |start, chunk| {
            // Where plane `p` of this chunk starts in the columns (its first tap's row).
            let plane_base = |p: usize| {
                let nc = start / plane.max(1) + p;
                let (ni, ci) = (nc / g.c, nc % g.c);
                cl.offset() + ni * st[0] + ci * kh * kw * st[1]
            };
            let lines = match &back {
                AddBack::Sums(gather) => {
                    for (p, img) in chunk.chunks_mut(plane.max(1)).enumerate() {
                        gather.sum_into(img, cols, plane_base(p));
                    }
                    return;
                }
                AddBack::Lines(lines) => lines,
            };
            for o in chunk.iter_mut() {
                o.write(E::ZERO);
            }
            // SAFETY: every element was just written.
            let chunk: &mut [E] = unsafe { &mut *(chunk as *mut [MaybeUninit<E>] as *mut [E]) };
            for (p, img) in chunk.chunks_mut(plane.max(1)).enumerate() {
                for t in 0..kh * kw {
                    let base = plane_base(p) + t * st[1];
                    table.add_back(lines, img, cols, (base, st[2]), t);
                }
            }
        })
    })
}

/// Max pooling's pick (`Backend::window_argmax`) over contiguous planes of `plane` values: for
/// each plane and output, the first slot holding the window's maximum, or its last NaN
/// (PyTorch's `v > best || isnan(v)` in slot order, from `fallback` at −∞). The loop runs slot
/// by slot over all of a plane's outputs, so the table is read in order, one row at a time.
///
/// Each plane is copied with a −∞ after it, at index `plane`: padding slots read it, and so
/// does the running pick before anything has won (it starts there and becomes `fallback` if
/// it never moves, since −∞ never wins).
pub(crate) fn window_argmax<E: Float>(
    x: &[E],
    plane: usize,
    slots: &[i64],
    fallback: &[i64],
) -> CpuStorage<i64> {
    let outputs = fallback.len();
    let planes = x.len() / plane.max(1);
    let mut out = vec![0i64; planes * outputs];
    let isa = Isa::best();
    // A compare costs several simple element operations: count it so, to split sooner.
    par_chunks(
        &mut out,
        outputs,
        planes * slots.len() * 8,
        |start, chunk| {
            let pick = PickPlanes {
                x,
                plane,
                slots,
                fallback,
                first: start / outputs.max(1),
                picks: chunk,
            };
            run_loop(isa, pick);
        },
    );
    CpuStorage::from_vec(out)
}

/// [`window_argmax`] over a run of planes, as a [`Loop`] so that the compare-and-select pass
/// is compiled with AVX2 or AVX-512 blends.
struct PickPlanes<'a, E> {
    x: &'a [E],
    plane: usize,
    slots: &'a [i64],
    fallback: &'a [i64],
    /// The plane `picks` starts at.
    first: usize,
    /// `outputs` picks per plane.
    picks: &'a mut [i64],
}

/// Outputs handled together by [`PickPlanes`]: their running picks and values live in
/// registers across the window's slots.
const PICK_LANES: usize = 8;

impl<E: Float> Loop for PickPlanes<'_, E> {
    /// Per block of [`PICK_LANES`] outputs, one slot at a time: the slot's values are read
    /// (loads at table positions), then each running pick and its value move by a select where
    /// the new value wins. Nothing branches on the data (random data would mispredict every
    /// other compare), and the picks are stored once per block: a select written back to
    /// memory each slot becomes a masked store, which AMD CPUs run many times slower.
    #[inline(always)]
    fn run(self) {
        let outputs = self.fallback.len();
        let plane = self.plane;
        let window = self.slots.len() / outputs.max(1);
        let mut padded = vec![E::MIN; plane + 1];
        let planes = self.picks.chunks_mut(outputs.max(1));
        for (p, picks) in (self.first..).zip(planes) {
            padded[..plane].copy_from_slice(&self.x[p * plane..(p + 1) * plane]);
            for (b, out) in picks.chunks_mut(PICK_LANES).enumerate() {
                let first = b * PICK_LANES;
                let lanes = out.len();
                let mut at = [plane as i64; PICK_LANES];
                let mut top = [E::MIN; PICK_LANES];
                for k in 0..window {
                    let row = &self.slots[k * outputs + first..][..lanes];
                    // Lanes past the last output read the −∞ slot, which never wins.
                    let mut slot = [plane as i64; PICK_LANES];
                    slot[..lanes].copy_from_slice(row);
                    let v = slot.map(|s| padded[s as usize]);
                    for j in 0..PICK_LANES {
                        let wins = (v[j] > top[j]) | v[j].is_nan();
                        at[j] = if wins { slot[j] } else { at[j] };
                        top[j] = if wins { v[j] } else { top[j] };
                    }
                }
                let fallback = &self.fallback[first..first + lanes];
                for ((o, &a), &f) in out.iter_mut().zip(&at).zip(fallback) {
                    *o = select_unpredictable(a == plane as i64, f, a);
                }
            }
        }
    }
}
