//! Splitting work across cores (on the helper threads of `crate::workers`, which says why not
//! rayon), and the row walker every strided kernel uses (it walks rows with the one shared
//! iterator, `Layout::strided_index`).

use nanotorch_ndarray_core::{Layout, StridedIndex};
use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Below this much work (output elements × a per-op cost: 1 for memory-bound ops such as add,
/// copy or sum, `TRANSCENDENTAL_COST` = 16 for exp/log/tanh/pow/random fills) an op runs on one
/// thread.
///
/// Measured with a throwaway timing program (release, contiguous f32, median of 200 after 3
/// warm-up calls, output dropped inside the timed region, this 2-core machine with nothing else
/// running), with the helper threads of `crate::workers`:
///
/// | n     | add 1 thread | add 2 threads | exp 1 thread | exp 2 threads |
/// |-------|--------------|---------------|--------------|---------------|
/// | 128K  | 18 µs        | 17-18 µs      | 152 µs       | 119-134 µs    |
/// | 256K  | 102-105 µs   | 111 µs        | 309-333 µs   | 229-235 µs    |
/// | 512K  | 225 µs       | 146-151 µs    | 614-680 µs   | 367-411 µs    |
/// | 1M    | 450 µs       | 277 µs        | 1.29-1.33 ms | 0.69-0.71 ms  |
///
/// A second core does pay for memory-bound ops once the operands leave the 2 MiB L2 (the jump
/// between 128K and 256K above), but waking a sleeping thread takes some 50-100 µs here, so at
/// 256K elements an add is mostly done before the helper joins. Hence 512K work units: add, mul
/// and copy go parallel from 512K elements, transcendental ops from 32K.
pub(crate) const PAR_THRESHOLD: usize = 1 << 19;

/// Number of threads to split large ops across: `NANOTORCH_NUM_THREADS` if set (read once), else
/// every core.
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

/// Calls `f(i)` for every `i` in `0..n`, spread over the threads (each index exactly once, in no
/// particular order; a panic in any call reaches the caller once all have returned). The caller
/// decides that the work is worth splitting.
pub(crate) fn par_for(n: usize, f: impl Fn(usize) + Sync) {
    if n <= 1 || num_threads() <= 1 {
        return (0..n).for_each(f);
    }
    // Indices are handed out one at a time, so a thread that wakes late (or loses its core to
    // another program) leaves its share to the others.
    let next = AtomicUsize::new(0);
    crate::workers::run(&|| loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= n {
            break;
        }
        f(i);
    });
}

/// How many pieces to cut `work` units into (1 below the threshold): pieces of about
/// `PAR_THRESHOLD / 2` work each, at most `PIECES_PER_THREAD` per thread. More pieces than
/// threads, because pieces are taken as threads come free: when one is slow to wake (or the
/// machine is busy) the others take over its share instead of waiting for it.
pub(crate) fn pieces(work: usize) -> usize {
    if work < AWAKE_THRESHOLD {
        return 1;
    }
    let threshold = if crate::workers::helpers_awake() {
        AWAKE_THRESHOLD
    } else {
        PAR_THRESHOLD
    };
    if work < threshold {
        1
    } else {
        (num_threads() * PIECES_PER_THREAD)
            .min(work / (threshold / 2))
            .max(1)
    }
}

/// [`PAR_THRESHOLD`] while the helpers are awake (a job ended within their spin window, as
/// between the ops of a training step): they then join within a microsecond or so instead of
/// the 50-100 µs a sleeping one takes, so work an eighth the size is worth splitting.
const AWAKE_THRESHOLD: usize = PAR_THRESHOLD / 8;

/// See [`pieces`]: small enough that a late thread costs at most a quarter of its share.
const PIECES_PER_THREAD: usize = 4;

/// Calls `f(range)` on consecutive ranges covering `0..len`, each a multiple of `unit` long
/// (except possibly the last), spread over the threads when `work`, the total cost in elements,
/// is large enough. Every range is handed out exactly once. Allocates nothing (optimizer steps
/// and other per-step kernels run through it; see `crates/optim/tests/no_alloc.rs`).
pub(crate) fn par_ranges(len: usize, unit: usize, work: usize, f: impl Fn(Range<usize>) + Sync) {
    let unit = unit.max(1);
    let n = pieces(work);
    let units = len.div_ceil(unit);
    if n <= 1 || units <= 1 || num_threads() <= 1 {
        f(0..len);
        return;
    }
    let per = units.div_ceil(n) * unit;
    let count = len.div_ceil(per);
    let next = AtomicUsize::new(0);
    crate::workers::run(&|| loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= count {
            break;
        }
        f(i * per..((i + 1) * per).min(len));
    });
}

/// A pointer into a slice that threads write disjoint ranges of (see [`SharedMut::slice`]).
pub(crate) struct SharedMut<T>(*mut T);

// SAFETY: a `SharedMut` only hands out `&mut` to ranges its user promises are disjoint (the
// ranges of one `par_ranges` call), so threads never share an element; sending `T`s between
// threads needs `T: Send`.
unsafe impl<T: Send> Sync for SharedMut<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for SharedMut<T> {}

impl<T> SharedMut<T> {
    /// A handle on `slice`, which stays mutably borrowed for as long as the handle is used.
    pub(crate) fn new(slice: &mut [T]) -> Self {
        SharedMut(slice.as_mut_ptr())
    }

    /// The elements at `range`.
    ///
    /// # Safety
    /// `range` lies inside the slice given to `new`, that borrow is still alive, and no other
    /// live reference overlaps `range` (each `par_ranges` range is used by one call only).
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice(&self, range: Range<usize>) -> &mut [T] {
        // SAFETY: forwarded to the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(range.start), range.len()) }
    }
}

/// Calls `f(start, chunk)` on consecutive chunks of `out`, each a multiple of `unit` long (except
/// possibly the last), spread over the threads when `work`, the total cost in elements, is large
/// enough. The chunks are disjoint `&mut` slices, so no two threads write the same element.
pub(crate) fn par_chunks<T: Send>(
    out: &mut [T],
    unit: usize,
    work: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let len = out.len();
    let out = SharedMut::new(out);
    par_ranges(len, unit, work, |range| {
        let start = range.start;
        // SAFETY: `par_ranges` hands out disjoint ranges inside `0..len`, each once, and `out`
        // stays borrowed until it returns.
        f(start, unsafe { out.slice(range) })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Fills `len` slots through `par_chunks` with each slot's own index and checks that every
    /// chunk starts at a multiple of `unit` and that every slot was written exactly once.
    fn fill_by_index(len: usize, unit: usize, work: usize) {
        let mut out = vec![usize::MAX; len];
        par_chunks(&mut out, unit, work, |start, chunk| {
            assert_eq!(start % unit, 0, "chunk start {start} is not a whole unit");
            for (i, o) in chunk.iter_mut().enumerate() {
                assert_eq!(*o, usize::MAX, "slot {} written twice", start + i);
                *o = start + i;
            }
        });
        assert!(out.iter().enumerate().all(|(i, &o)| i == o), "len {len}");
    }

    #[test]
    fn par_chunks_covers_every_element_once() {
        for len in [0, 1, 7, 1000, PAR_THRESHOLD, 3 * PAR_THRESHOLD + 17] {
            fill_by_index(len, 1, len);
            // Whole rows of 1000, and a cost weight that asks for many pieces.
            fill_by_index(len, 1000, len * 16);
        }
    }

    #[test]
    fn par_chunks_splits_big_work_into_pieces() {
        // Not a tautology of `pieces`: counts the chunks `f` really receives.
        let calls = AtomicUsize::new(0);
        let mut out = vec![0u8; 4 * PAR_THRESHOLD];
        par_chunks(&mut out, 1, 4 * PAR_THRESHOLD, |_, _| {
            calls.fetch_add(1, Ordering::Relaxed);
        });
        let calls = calls.into_inner();
        if num_threads() > 1 {
            assert!(calls > 1, "one chunk for {} elements", 4 * PAR_THRESHOLD);
        } else {
            assert_eq!(calls, 1);
        }
    }

    #[test]
    fn par_for_hands_out_every_index_once() {
        for n in [0, 1, 2, 3, 64] {
            let seen: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            par_for(n, |i| {
                seen[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(seen.iter().all(|c| c.load(Ordering::Relaxed) == 1), "n {n}");
        }
    }

    #[test]
    fn par_chunks_from_many_threads_at_once() {
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..20 {
                        fill_by_index(2 * PAR_THRESHOLD + 5, 3, 2 * PAR_THRESHOLD);
                    }
                });
            }
        });
    }

    #[test]
    fn par_chunks_nested() {
        // A kernel called from inside a piece (its threads already busy) still covers its output.
        let mut out = vec![0usize; 2 * PAR_THRESHOLD];
        par_chunks(&mut out, 1, 2 * PAR_THRESHOLD, |start, chunk| {
            let len = chunk.len();
            par_chunks(chunk, 1, 2 * PAR_THRESHOLD, |s, c| {
                for (i, o) in c.iter_mut().enumerate() {
                    *o = start + s + i;
                }
            });
            assert_eq!(chunk.len(), len);
        });
        assert!(out.iter().enumerate().all(|(i, &o)| i == o));
    }

    #[test]
    fn a_panic_in_a_piece_reaches_the_caller_and_the_threads_survive() {
        let len = 4 * PAR_THRESHOLD;
        let mut out = vec![0u8; len];
        // The piece holding the last element panics: there is one on any thread count.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            par_chunks(&mut out, 1, len, |start, chunk| {
                if start + chunk.len() == len {
                    panic!("piece at {start}");
                }
            })
        }));
        let payload = r.expect_err("the panic was lost");
        assert_eq!(
            payload
                .downcast_ref::<String>()
                .map(|m| m.starts_with("piece at")),
            Some(true)
        );
        fill_by_index(4 * PAR_THRESHOLD, 1, 4 * PAR_THRESHOLD);
    }
}
