//! One product split across the threads with the operand its tiles share packed once.
//!
//! Tiles that are blocks of rows of C all read the whole of B; tiles that are blocks of columns
//! all read the whole of A. Packed by each tile, that operand was packed once per thread, and
//! the split could not be finer than the number of threads without packing it more often still:
//! a thread that lost its core to another program held up the whole product. Here the threads
//! first pack it together, into slivers that run over all of k, then take tiles (a block of `MC`
//! rows, or 8 slivers of columns, and at least two tiles per thread) as they come free.
//!
//! Both phases are one [`par_for`](crate::parallel::par_for): the packing pieces come first in
//! its order, and a thread that draws a tile waits for the last piece to be finished. Each
//! element of C is still the same kernel over the same k-blocks, so the bits do not change.

use super::blocked::{
    gemm, pack_a_block, pack_b_block, packs_b, reads_a_in_place, Micro, Prepacked, MC,
};
use crate::storage::CpuStorage;
use nanotorch_ndarray_core::Element;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Columns of C per tile, in slivers of `NR`, when the tiles are blocks of columns.
const SLIVERS_PER_TILE: usize = 8;

/// Packing pieces per thread: enough that a late thread's share is small.
const PACK_PIECES_PER_THREAD: usize = 4;

/// Fewest elements in the shared operand for it to be packed once: a smaller one (an LSTM
/// step's `[32, 128]` hidden state) is packed by each tile in about a microsecond, less than
/// the extra hand-outs and the wait for the last piece cost.
const MIN_SHARED: usize = 1 << 15;

/// `C = A·B` as [`gemm`] computes it, split across `threads` with the shared operand packed
/// once. Returns false, having done nothing, where the split would not pay: when a one-thread
/// call would read that operand where it lies instead of packing it, when the operand is small
/// ([`MIN_SHARED`]), or when the product is too small to cut into two tiles.
///
/// # Safety
/// As [`gemm`] (with nothing prepacked); the pointers are also valid on the helper threads.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn par_gemm<T: Element, K: Micro<T>>(
    (m, k, n): (usize, usize, usize),
    a: *const T,
    (rsa, csa): (usize, usize),
    b: *const T,
    (rsb, csb): (usize, usize),
    c: *mut T,
    ldc: usize,
    threads: usize,
) -> bool {
    // Blocks of rows share B, which is the smaller operand when m ≥ n.
    let split_rows = m >= n;
    let packs_shared = if split_rows {
        packs_b(m, csb)
    } else {
        !reads_a_in_place(n, csa)
    };
    let (dim, unit, block) = if split_rows {
        (m, K::MR, MC - MC % K::MR)
    } else {
        (n, K::NR, SLIVERS_PER_TILE * K::NR)
    };
    let parts = dim
        .div_ceil(block)
        .max(2 * threads)
        .next_multiple_of(threads)
        .min(dim / (2 * unit));
    let shared_len = k * if split_rows { n } else { m };
    if !packs_shared || shared_len < MIN_SHARED || parts < 2 {
        return false;
    }
    let step = dim.div_ceil(parts).next_multiple_of(unit);
    let tiles = dim.div_ceil(step);

    // The shared operand: `other` slivers of `width` rows (A) or columns (B), over all of k.
    let (other, width) = if split_rows { (n, K::NR) } else { (m, K::MR) };
    let slivers = other.div_ceil(width);
    let per_piece = slivers.div_ceil(threads * PACK_PIECES_PER_THREAD).max(1);
    let pieces = slivers.div_ceil(per_piece);
    let packed_pieces = AtomicUsize::new(0);
    // Addresses as integers so the closure is `Sync`; each piece and each tile writes its own
    // part of the packed buffer or of C.
    let (a, b, c) = (a as usize, b as usize, c as usize);
    let _packed = CpuStorage::<T>::build(slivers * width * k, |out| {
        let out = out.as_mut_ptr() as usize;
        crate::parallel::par_for(pieces + tiles, |i| {
            let (a, b, c, out) = (a as *const T, b as *const T, c as *mut T, out as *mut T);
            if i < pieces {
                let first = i * per_piece * width;
                let count = (per_piece * width).min(other - first);
                if split_rows {
                    pack_b_block::<T, K>(
                        k,
                        count,
                        b.add(first * csb),
                        (rsb, csb),
                        out.add(first * k),
                    );
                } else {
                    pack_a_block::<T, K>(
                        count,
                        k,
                        a.add(first * rsa),
                        (rsa, csa),
                        out.add(first * k),
                    );
                }
                packed_pieces.fetch_add(1, Ordering::Release);
                return;
            }
            // Pieces are handed out before tiles, so every piece is in a thread's hands.
            while packed_pieces.load(Ordering::Acquire) < pieces {
                std::hint::spin_loop();
            }
            let start = (i - pieces) * step;
            let len = step.min(dim - start);
            if split_rows {
                gemm::<T, K>(
                    (len, k, n),
                    a.add(start * rsa),
                    (rsa, csa),
                    b,
                    (rsb, csb),
                    c.add(start * ldc),
                    ldc,
                    Prepacked::B(out),
                );
            } else {
                gemm::<T, K>(
                    (m, k, len),
                    a,
                    (rsa, csa),
                    b.add(start * csb),
                    (rsb, csb),
                    c.add(start),
                    ldc,
                    Prepacked::A(out),
                );
            }
        });
    });
    true
}
