//! Reductions over any set of axes, and arg-reductions along one.

use super::isa::{run_loop, Isa};
use super::map::{generate, map1, UpdateSlice};
use crate::parallel::{coalesce, par_chunks};
use crate::storage::CpuStorage;
use nanotorch_ndarray_core::{ArgReduceOp, Element, Layout, ReduceOp, StridedIndex};
use std::mem::MaybeUninit;

// Reductions

macro_rules! with_reduce {
    ($op:expr, $E:ty, |$f:ident| $body:expr) => {
        match $op {
            ReduceOp::Sum => {
                let $f = |a: $E, b: $E| ReduceOp::Sum.combine(a, b);
                $body
            }
            ReduceOp::Prod => {
                let $f = |a: $E, b: $E| ReduceOp::Prod.combine(a, b);
                $body
            }
            ReduceOp::Max => {
                let $f = |a: $E, b: $E| ReduceOp::Max.combine(a, b);
                $body
            }
            ReduceOp::Min => {
                let $f = |a: $E, b: $E| ReduceOp::Min.combine(a, b);
                $body
            }
        }
    };
}

/// Independent partial sums in `fold_slice`: enough that the adds of several vector registers
/// are in flight at once (an add's latency is ~4 cycles; with one chain per register the loop
/// waits on it). 8 gave ~6 GB/s on one core, 32 gives ~15 GB/s (16M f32, 2-core dev machine).
const SUM_LANES: usize = 32;

/// How many chunks of `SUM_LANES` elements ahead [`sum_slice`] fetches its input.
const PREFETCH_CHUNKS: usize = 32;

/// The shortest contiguous run of reduced elements that case C of [`reduce`] folds as a slice:
/// below it, the per-run call costs more than the vectorised loop saves.
const MIN_RUN: usize = 16;

/// Folds a contiguous slice. Sums use `SUM_LANES` independent accumulators so the loop
/// vectorises (the order of float additions differs from a left fold; the result is as accurate
/// or better, since each partial sum holds fewer terms).
#[inline]
fn fold_slice<E: Element>(op: ReduceOp, s: &[E]) -> E {
    if op == ReduceOp::Sum && E::DTYPE.is_float() {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { sum_slice_avx512(s) };
        }
        return sum_slice(s);
    }
    with_reduce!(op, E, |f| s.iter().fold(op.identity(), |a, &x| f(a, x)))
}

/// `sum_slice` compiled for AVX-512 (16 f32 lanes). Safety: only on a CPU with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sum_slice_avx512<E: Element>(s: &[E]) -> E {
    sum_slice(s)
}

/// The sum of a float slice with `SUM_LANES` partial sums (the same bits in every compiled copy:
/// the additions are the same IEEE operations in the same order).
#[inline(always)]
fn sum_slice<E: Element>(s: &[E]) -> E {
    {
        let mut acc = [E::ZERO; SUM_LANES];
        let chunks = s.chunks_exact(SUM_LANES);
        let rest = chunks.remainder();
        for (i, c) in chunks.enumerate() {
            // 4 KiB ahead in f32 (see `super::prefetch`): sum_all over 16M f32 on the Xeon, 2
            // threads, 1.30 -> 1.16 ms (PyTorch 1.20).
            let ahead = &s[((i + PREFETCH_CHUNKS) * SUM_LANES).min(s.len())..];
            super::prefetch::prefetch(&ahead[..ahead.len().min(SUM_LANES)]);
            for (a, &v) in acc.iter_mut().zip(c) {
                *a = *a + v;
            }
        }
        // Pairwise, so the partial sums meet in a balanced tree.
        let mut width = SUM_LANES;
        while width > 1 {
            width /= 2;
            for k in 0..width {
                acc[k] = acc[k] + acc[k + width];
            }
        }
        rest.iter().fold(acc[0], |t, &x| t + x)
    }
}

/// Folds one long contiguous slice (a full reduction) on every core: fixed-size blocks fold in
/// parallel, then their partial results fold in order. The block size does not depend on the
/// thread count, so the result is the same bits on any machine.
fn fold_long<E: Element>(op: ReduceOp, s: &[E]) -> E {
    const BLOCK: usize = 1 << 15;
    if s.len() <= BLOCK {
        return fold_slice(op, s);
    }
    let mut partials = vec![op.identity(); s.len().div_ceil(BLOCK)];
    par_chunks(&mut partials, 1, s.len(), |start, chunk| {
        for (i, p) in chunk.iter_mut().enumerate() {
            let from = (start + i) * BLOCK;
            *p = fold_slice(op, &s[from..(from + BLOCK).min(s.len())]);
        }
    });
    fold_slice(op, &partials)
}

pub(crate) fn reduce<E: Element>(
    op: ReduceOp,
    x: &[E],
    layout: &Layout,
    axes: &[usize],
) -> CpuStorage<E> {
    let dims = layout.dims();
    let strides = layout.strides();
    let is_reduced = |i: usize| axes.contains(&i);
    let out_len: usize = (0..dims.len())
        .filter(|&i| !is_reduced(i))
        .map(|i| dims[i])
        .product();
    let red_len: usize = axes.iter().map(|&a| dims[a]).product();
    if out_len == 0 {
        return CpuStorage::build(0, |_| {});
    }
    if red_len == 0 {
        return generate(out_len, 1, |_| op.identity());
    }
    if red_len == 1 {
        return map1(x, layout, 1, |v| v);
    }
    let kept: Vec<usize> = (0..dims.len()).filter(|&i| !is_reduced(i)).collect();
    if let Some(out) = reduce_transposed(op, x, layout, axes, &kept) {
        return out;
    }
    let pick = |ax: &[usize]| -> (Vec<usize>, Vec<usize>) {
        (
            ax.iter().map(|&i| dims[i]).collect(),
            ax.iter().map(|&i| strides[i]).collect(),
        )
    };
    let (kd, ks) = pick(&kept);
    let (rd, rs) = pick(axes);
    let (rd, [rs]) = coalesce(&rd, [&rs]);
    let (kd, [ks]) = coalesce(&kd, [&ks]);
    let total = layout.numel();

    // A: the reduced axes form one contiguous run (sum over the last axis): fold slices.
    if rd.len() == 1 && rs[0] == 1 {
        let kept_layout = Layout::new(kd, ks, layout.offset());
        let n = rd[0];
        if out_len == 1 {
            let base = layout.offset();
            return generate(1, 1, |_| fold_long(op, &x[base..base + n]));
        }
        return CpuStorage::build(out_len, |out| {
            par_chunks(out, 1, total, |start, chunk| {
                let mut it = StridedIndex::starting_at(&kept_layout, start);
                for o in chunk.iter_mut() {
                    let base = it.next().unwrap_or(0);
                    o.write(fold_slice(op, &x[base..base + n]));
                }
            })
        });
    }

    let red_layout = Layout::new(rd, rs, 0);
    // B: the kept axes end in a contiguous run (sum over the batch of a [B, N] array): add whole
    // rows of the input into rows of the output, a vectorised loop per reduced position.
    if *ks.last().unwrap_or(&0) == 1 && kd.last().is_some_and(|&n| n > 1) {
        let kn = *kd.last().unwrap_or(&1);
        let r = kd.len();
        let outer = Layout::new(kd[..r - 1].to_vec(), ks[..r - 1].to_vec(), layout.offset());
        let isa = Isa::best();
        return CpuStorage::build(out_len, |out| {
            par_chunks(out, 1, total, |start, chunk| {
                for o in chunk.iter_mut() {
                    o.write(op.identity());
                }
                // SAFETY: every element was just written.
                let chunk: &mut [E] = unsafe { &mut *(chunk as *mut [MaybeUninit<E>] as *mut [E]) };
                let mut pos = start;
                let end = start + chunk.len();
                let mut outer_it = StridedIndex::starting_at(&outer, start / kn);
                while pos < end {
                    let base = outer_it.next().unwrap_or(0);
                    let col0 = pos % kn;
                    let seg = (kn - col0).min(end - pos);
                    let dst = &mut chunk[pos - start..pos - start + seg];
                    with_reduce!(op, E, |f| {
                        for roff in red_layout.strided_index() {
                            let src = &x[base + roff + col0..base + roff + col0 + seg];
                            run_loop(isa, UpdateSlice(&mut *dst, src, &f));
                        }
                    });
                    pos += seg;
                }
            })
        });
    }

    // C: the innermost reduced axis is a contiguous run (a bias gradient: [n, c, h·w] summed
    // over n and h·w): fold each run as a slice, then combine the runs' results in order.
    let kept_layout = Layout::new(kd, ks, layout.offset());
    let (run, r) = (*red_layout.dims().last().unwrap_or(&1), red_layout.rank());
    if r > 1 && red_layout.strides()[r - 1] == 1 && run >= MIN_RUN {
        let outer = Layout::new(
            red_layout.dims()[..r - 1].to_vec(),
            red_layout.strides()[..r - 1].to_vec(),
            0,
        );
        let offsets: Vec<usize> = outer.strided_index().collect();
        return CpuStorage::build(out_len, |out| {
            par_chunks(out, 1, total, |start, chunk| {
                let mut it = StridedIndex::starting_at(&kept_layout, start);
                for o in chunk.iter_mut() {
                    let base = it.next().unwrap_or(0);
                    let v = with_reduce!(op, E, |f| offsets.iter().fold(op.identity(), |a, &r| {
                        f(a, fold_slice(op, &x[base + r..base + r + run]))
                    }));
                    o.write(v);
                }
            })
        });
    }

    // D: anything else: the reduced offsets once, then one fold per output element.
    let offsets: Vec<usize> = red_layout.strided_index().collect();
    CpuStorage::build(out_len, |out| {
        par_chunks(out, 1, total, |start, chunk| {
            let mut it = StridedIndex::starting_at(&kept_layout, start);
            for o in chunk.iter_mut() {
                let base = it.next().unwrap_or(0);
                let v = with_reduce!(op, E, |f| offsets
                    .iter()
                    .fold(op.identity(), |a, &r| f(a, x[base + r])));
                o.write(v);
            }
        })
    })
}

/// The reduction of a view whose contiguous axis is kept but is not the last kept axis: the
/// batch sum of a transposed `[B, in, out]` gradient (`matmul`'s `dW` for a batched `x·Wᵀ`)
/// has strides `[in·out, 1, in]`. Case C of [`reduce`] would gather every output element with
/// a stride; instead the contiguous axis is moved last, so case B adds whole rows, and the
/// small result is transposed back into the kept order. Each output element still folds the
/// same inputs in the same order (the reduced offsets in row-major order), so the bits match
/// case C's. `None` where this does not apply.
fn reduce_transposed<E: Element>(
    op: ReduceOp,
    x: &[E],
    layout: &Layout,
    axes: &[usize],
    kept: &[usize],
) -> Option<CpuStorage<E>> {
    let (dims, strides) = (layout.dims(), layout.strides());
    let last = *kept.last()?;
    let p = kept
        .iter()
        .copied()
        .find(|&i| strides[i] == 1 && dims[i] > 1)?;
    // Already last (case B), or some reduced axis is also unit-stride (an overlapping view):
    // leave those to the general cases.
    if p == last || axes.iter().any(|&a| strides[a] == 1 && dims[a] > 1) {
        return None;
    }
    // The input's axes with `p` moved to the end; the reduced axes keep their relative order.
    let order: Vec<usize> = (0..dims.len()).filter(|&i| i != p).chain([p]).collect();
    let moved = Layout::new(
        order.iter().map(|&i| dims[i]).collect::<Vec<_>>(),
        order.iter().map(|&i| strides[i]).collect::<Vec<_>>(),
        layout.offset(),
    );
    let moved_axes: Vec<usize> = axes
        .iter()
        .map(|&a| order.iter().position(|&i| i == a).unwrap_or(a))
        .collect();
    let tmp = reduce(op, x, &moved, &moved_axes);
    // `tmp` is row-major over the kept axes in the moved order (`p` last); view it in the
    // original kept order and copy.
    let moved_kept: Vec<usize> = kept
        .iter()
        .copied()
        .filter(|&i| i != p)
        .chain([p])
        .collect();
    let mut row_major = vec![0usize; moved_kept.len()];
    let mut acc = 1;
    for (k, &i) in moved_kept.iter().enumerate().rev() {
        row_major[k] = acc;
        acc *= dims[i];
    }
    let view_strides: Vec<usize> = kept
        .iter()
        .map(|i| {
            let k = moved_kept.iter().position(|j| j == i).unwrap_or(0);
            row_major[k]
        })
        .collect();
    let view = Layout::new(
        kept.iter().map(|&i| dims[i]).collect::<Vec<_>>(),
        view_strides,
        0,
    );
    Some(map1(tmp.as_slice(), &view, 1, |v| v))
}

pub(crate) fn arg_reduce<E: Element>(
    op: ArgReduceOp,
    x: &[E],
    layout: &Layout,
    axis: usize,
) -> CpuStorage<i64> {
    let mut dims = layout.dims().to_vec();
    let mut strides = layout.strides().to_vec();
    let n = dims.remove(axis);
    let s = strides.remove(axis);
    let outer = Layout::new(dims, strides, layout.offset());
    let out_len = outer.numel();
    let better = |cand: E, best: E| match op {
        ArgReduceOp::ArgMax => cand > best,
        ArgReduceOp::ArgMin => cand < best,
    };
    CpuStorage::build(out_len, |out| {
        par_chunks(out, 1, out_len * n, |start, chunk| {
            let mut it = StridedIndex::starting_at(&outer, start);
            for o in chunk.iter_mut() {
                let base = it.next().unwrap_or(0);
                let mut best = x[base];
                let mut idx = 0usize;
                if !best.is_nan() {
                    for j in 1..n {
                        let v = x[base + j * s];
                        if v.is_nan() {
                            idx = j;
                            break;
                        }
                        if better(v, best) {
                            best = v;
                            idx = j;
                        }
                    }
                }
                o.write(idx as i64);
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::sum_slice;
    use nanotorch_ndarray_core::{Layout, ReduceOp};

    /// The batch sum of a transposed `[b, r, c]` view (strides `[r·c, 1, r]`, matmul's `dW`)
    /// takes `reduce_transposed`; every op gives the element-by-element fold, exactly.
    #[test]
    fn reducing_a_view_whose_unit_stride_axis_is_kept_but_not_last() {
        let (b, r, c) = (5, 7, 3);
        let x: Vec<f32> = (0..b * r * c)
            .map(|i| ((i * 37) % 101) as f32 * 0.25 - 12.0)
            .collect();
        let layout = Layout::new(vec![b, r, c], vec![r * c, 1, r], 0);
        for op in [ReduceOp::Sum, ReduceOp::Max, ReduceOp::Min, ReduceOp::Prod] {
            let got = super::reduce(op, &x, &layout, &[0]).into_vec();
            let mut want = Vec::new();
            for i in 0..r {
                for j in 0..c {
                    let v = (0..b).fold(op.identity(), |a, k| {
                        op.combine(a, x[k * r * c + i + j * r])
                    });
                    want.push(v);
                }
            }
            assert_eq!(got, want, "{op:?}");
        }
        // The reduced axis between the two kept ones.
        let layout = Layout::new(vec![r, b, c], vec![1, r * c, r], 0);
        let got = super::reduce(ReduceOp::Sum, &x, &layout, &[1]).into_vec();
        let want: Vec<f32> = (0..r)
            .flat_map(|i| {
                let x = &x;
                (0..c).map(move |j| (0..b).fold(0.0, |a, k| a + x[i + k * r * c + j * r]))
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn avx512_sum_gives_the_same_bits_as_the_baseline_sum() {
        let x: Vec<f32> = (0..100_003)
            .map(|i| ((i * 7919) % 1013) as f32 * 0.37 - 150.0)
            .collect();
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            let wide = unsafe { super::sum_slice_avx512(&x) };
            assert_eq!(wide.to_bits(), sum_slice(&x).to_bits());
        }
        let plain: f64 = x.iter().map(|&v| v as f64).sum();
        assert!((sum_slice(&x) as f64 - plain).abs() < 1e-3 * plain.abs().max(1.0));
    }
}
