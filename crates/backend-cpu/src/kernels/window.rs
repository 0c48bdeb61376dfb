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

/// The columns of `x` in `order`; `g` is the geometry `checks::im2col` returned for `layout`
/// and `window`. Each unit of work is one row: the `oh·ow` values one window tap of one input
/// plane sees.
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
    let taps = g.c * kh * kw;
    let len = g.n * taps * row_len;
    CpuStorage::build(len, |out| {
        par_chunks(out, row_len, len, |start, chunk| {
            for (q, row) in (start / row_len.max(1)..).zip(chunk.chunks_mut(row_len.max(1))) {
                let (ni, r) = match order {
                    ColumnOrder::BatchOuter => (q / taps, q % taps),
                    ColumnOrder::TapMajor => (q % g.n, q / g.n),
                };
                let (ci, ki, kj) = (r / (kh * kw), r / kw % kh, r % kw);
                let base = layout.offset() + ni * st[0] + ci * st[1];
                fill_row(x, base, st, window, g, (ki, kj), row);
            }
        })
    })
}

/// One im2col row: for every output position, the input value tap `(ki, kj)` reads from the
/// plane at `base`, or 0 in the padding. Each line of the row is zeros, a strided run of the
/// input and zeros again, with no per-element test.
fn fill_row<E: Float>(
    x: &[E],
    base: usize,
    st: &[usize],
    window: &Window2d,
    g: &WindowGeometry,
    (ki, kj): (usize, usize),
    row: &mut [MaybeUninit<E>],
) {
    let (lo, hi, ix0) = valid_span(
        kj,
        window.stride.1,
        window.dilation.1,
        window.padding.1,
        g.w,
        g.ow,
    );
    for (oy, line) in row.chunks_mut(g.ow.max(1)).enumerate() {
        let iy = tap(
            oy,
            ki,
            window.stride.0,
            window.dilation.0,
            window.padding.0,
            g.h,
        );
        let Some(y) = iy.filter(|_| lo < hi) else {
            line.iter_mut().for_each(|o| {
                o.write(E::ZERO);
            });
            continue;
        };
        let (left, rest) = line.split_at_mut(lo);
        let (mid, right) = rest.split_at_mut(hi - lo);
        left.iter_mut().chain(right).for_each(|o| {
            o.write(E::ZERO);
        });
        let first = base + y * st[2] + ix0 * st[3];
        let step = window.stride.1 * st[3]; // 0 for a broadcast width axis
        if step == 1 {
            // the common case (stride 1, contiguous rows): a copy
            let src = &x[first..first + mid.len()];
            for (o, &v) in mid.iter_mut().zip(src) {
                o.write(v);
            }
        } else {
            for (j, o) in mid.iter_mut().enumerate() {
                o.write(x[first + j * step]);
            }
        }
    }
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
    CpuStorage::build(len, |out| {
        par_chunks(out, plane, len * kh * kw, |start, chunk| {
            for o in chunk.iter_mut() {
                o.write(E::ZERO);
            }
            // SAFETY: every element was just written.
            let chunk: &mut [E] = unsafe { &mut *(chunk as *mut [MaybeUninit<E>] as *mut [E]) };
            for (p, img) in chunk.chunks_mut(plane.max(1)).enumerate() {
                let nc = start / plane.max(1) + p;
                let (ni, ci) = (nc / g.c, nc % g.c);
                for ki in 0..kh {
                    for kj in 0..kw {
                        let row = (ci * kh + ki) * kw + kj;
                        let base = cl.offset() + ni * st[0] + row * st[1];
                        let (lo, hi, ix0) = valid_span(
                            kj,
                            window.stride.1,
                            window.dilation.1,
                            window.padding.1,
                            w,
                            g.ow,
                        );
                        if lo == hi {
                            continue;
                        }
                        for oy in 0..g.oh {
                            let Some(y) = tap(
                                oy,
                                ki,
                                window.stride.0,
                                window.dilation.0,
                                window.padding.0,
                                h,
                            ) else {
                                continue;
                            };
                            let first = base + (oy * g.ow + lo) * st[2];
                            let count = hi - lo;
                            if window.stride.1 == 1 && st[2] == 1 {
                                // the common case: add one contiguous run into another
                                let dst = &mut img[y * w + ix0..y * w + ix0 + count];
                                for (d, &v) in dst.iter_mut().zip(&cols[first..first + count]) {
                                    *d = *d + v;
                                }
                            } else {
                                let dst = img[y * w + ix0..].iter_mut().step_by(window.stride.1);
                                for (j, d) in dst.take(count).enumerate() {
                                    *d = *d + cols[first + j * st[2]];
                                }
                            }
                        }
                    }
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
