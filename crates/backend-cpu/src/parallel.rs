//! Splitting work across cores with `std::thread::scope`, and the row walker every strided kernel
//! uses (it walks rows with the one shared iterator, `Layout::strided_index`).

use nanotorch_ndarray_core::{Layout, StridedIndex};
use std::mem::MaybeUninit;
use std::sync::OnceLock;

/// Below this much work (output elements × a per-op cost: 1 for memory-bound ops such as add,
/// copy or sum, `TRANSCENDENTAL_COST` = 16 for exp/log/tanh/pow/random fills) an op runs on one
/// thread.
///
/// Measured with a throwaway timing program (release, contiguous f32, median of 200, this
/// 2-core machine while other builds were running, so load average ≈ 2):
///
/// | n     | add 1 thread | add 2 threads | exp 1 thread | exp 2 threads |
/// |-------|--------------|---------------|--------------|---------------|
/// | 64K   | 10.6 µs      | 8.2 µs        | 233 µs       | 173 µs        |
/// | 128K  | 18.8 µs      | 90 µs         | 354 µs       | 249 µs        |
/// | 1M    | 156 µs       | 178 µs        | 2.8 ms       | 1.5 ms        |
/// | 16M   | 7.6 ms       | 7.8-10.8 ms   | 67 ms        | 45 ms         |
///
/// A scoped spawn costs tens of µs here, and memory-bound ops gain nothing from a second core
/// on this machine (one core already saturates its memory bandwidth), while exp gains from
/// 64K elements on. Hence 1M work units: add/mul/copy go parallel only above 1M elements,
/// transcendental ops above 64K.
pub(crate) const PAR_THRESHOLD: usize = 1 << 20;

/// Number of worker threads to split large ops across.
pub(crate) fn num_threads() -> usize {
    static N: OnceLock<usize> = OnceLock::new();
    *N.get_or_init(|| {
        std::env::var("NANOTORCH_NUM_THREADS")
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    })
}

/// How many pieces to cut `work` units into (1 below the threshold).
pub(crate) fn pieces(work: usize) -> usize {
    if work < PAR_THRESHOLD {
        1
    } else {
        num_threads().min(work / (PAR_THRESHOLD / 2)).max(1)
    }
}

/// Calls `f(start, chunk)` on consecutive chunks of `out`, each a multiple of `unit` long (except
/// possibly the last), on up to `pieces` threads. `work` is the total cost, in elements.
pub(crate) fn par_chunks<T: Send>(
    out: &mut [T],
    unit: usize,
    work: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let n = pieces(work);
    let units = out.len().div_ceil(unit.max(1));
    if n <= 1 || units <= 1 {
        f(0, out);
        return;
    }
    let per = units.div_ceil(n) * unit.max(1);
    std::thread::scope(|s| {
        let mut rest = out;
        let mut start = 0;
        let f = &f;
        let mut chunks = Vec::new();
        while !rest.is_empty() {
            let take = per.min(rest.len());
            let (head, tail) = rest.split_at_mut(take);
            chunks.push((start, head));
            start += take;
            rest = tail;
        }
        let last = chunks.pop();
        for (st, c) in chunks {
            s.spawn(move || f(st, c));
        }
        if let Some((st, c)) = last {
            f(st, c);
        }
    });
}

/// Merges adjacent axes that are contiguous with each other in every layout, and drops size-1
/// axes; returns the merged dims and one stride vector per layout. A 0-d or all-ones shape
/// becomes `[1]`.
pub(crate) fn coalesce<const N: usize>(
    dims: &[usize],
    strides: [&[usize]; N],
) -> (Vec<usize>, [Vec<usize>; N]) {
    let mut out_dims: Vec<usize> = Vec::with_capacity(dims.len());
    let mut out_strides: [Vec<usize>; N] = std::array::from_fn(|_| Vec::new());
    for (axis, &d) in dims.iter().enumerate() {
        if d == 1 {
            continue;
        }
        if let Some(&last) = out_dims.last() {
            let mergeable = (0..N).all(|k| {
                let ls = *out_strides[k].last().unwrap_or(&0);
                ls == strides[k][axis] * d
            });
            if mergeable {
                *out_dims.last_mut().unwrap_or(&mut 0) = last * d;
                for k in 0..N {
                    if let Some(s) = out_strides[k].last_mut() {
                        *s = strides[k][axis];
                    }
                }
                continue;
            }
        }
        out_dims.push(d);
        for k in 0..N {
            out_strides[k].push(strides[k][axis]);
        }
    }
    if out_dims.is_empty() {
        out_dims.push(1);
        for s in out_strides.iter_mut() {
            s.push(0);
        }
    }
    (out_dims, out_strides)
}

/// `N` layouts of one shape seen as rows: `outer` layouts (all axes but the last, after
/// coalescing) and the last axis's length and strides.
pub(crate) struct Rows<const N: usize> {
    pub outer: [Layout; N],
    pub inner: usize,
    pub inner_strides: [usize; N],
}

impl<const N: usize> Rows<N> {
    pub(crate) fn new(layouts: [&Layout; N]) -> Self {
        let dims = layouts[0].dims();
        let (cd, cs) = coalesce(dims, layouts.map(|l| l.strides()));
        let r = cd.len();
        let inner = if dims.contains(&0) { 0 } else { cd[r - 1] };
        let outer_dims = cd[..r - 1].to_vec();
        let outer = std::array::from_fn(|k| {
            Layout::new(
                outer_dims.clone(),
                cs[k][..r - 1].to_vec(),
                layouts[k].offset(),
            )
        });
        Rows {
            outer,
            inner,
            inner_strides: std::array::from_fn(|k| cs[k][r - 1]),
        }
    }

    /// Calls `f(bases, row_out)` for every row of a contiguous output, in parallel when big.
    pub(crate) fn for_each_out<T: Send>(
        &self,
        out: &mut [MaybeUninit<T>],
        cost: usize,
        f: impl Fn([usize; N], &mut [MaybeUninit<T>]) + Sync,
    ) {
        let inner = self.inner;
        if inner == 0 {
            return;
        }
        let total = out.len();
        par_chunks(out, inner, total * cost, |start, chunk| {
            let first_row = start / inner;
            let mut iters: [StridedIndex<'_>; N] =
                std::array::from_fn(|k| StridedIndex::starting_at(&self.outer[k], first_row));
            for row in chunk.chunks_mut(inner) {
                let bases: [usize; N] = std::array::from_fn(|k| iters[k].next().unwrap_or(0));
                f(bases, row);
            }
        });
    }

    /// Calls `f(bases)` for every row, on this thread.
    pub(crate) fn for_each(&self, mut f: impl FnMut([usize; N])) {
        if self.inner == 0 {
            return;
        }
        let mut iters: [StridedIndex<'_>; N] =
            std::array::from_fn(|k| self.outer[k].strided_index());
        for _ in 0..self.outer[0].numel() {
            let bases: [usize; N] = std::array::from_fn(|k| iters[k].next().unwrap_or(0));
            f(bases);
        }
    }
}
