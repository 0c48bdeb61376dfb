//! The loop nest around the micro-kernel (the Goto/BLIS scheme): C is computed in blocks of
//! `KC` steps of k (so a sliver of B stays in L1 while the kernel runs down the rows), `MC`
//! rows (so the packed block of A stays in L2) and `NC` columns (so packed B stays in L2/L3).
//!
//! A is always packed, into slivers of `MR` rows stored column by column: the kernel then
//! reads it with one pointer, and its cost (m·k copies) is small beside the m·k·n FMAs.
//! B is packed into slivers of `NR` columns only when it must be or when it pays: when its
//! columns are not contiguous (the kernel loads `NR` adjacent elements of a row), or when C has
//! many rows, so each sliver is reused often and strided rows of B could evict each other from
//! the cache. A short, wide product with a row-major B (one LSTM step: `[32, 128] @ [128, 512]`)
//! reads B where it lies: packing it would cost as much as half the product.
//!
//! The k-blocks are the same whatever part of C a thread computes, and each is added to C in
//! order, so every element is the same bits on any number of threads.

use std::cell::RefCell;

/// A micro-kernel for element type `T`: its tile width and its code (one implementation per
/// instruction set, see `avx512.rs` and `avx2.rs`).
pub(super) trait Micro<T: Copy + 'static> {
    /// Rows of C per micro-kernel call (the packing of A lays A out in slivers this tall).
    const MR: usize;
    /// Columns of C per micro-kernel call.
    const NR: usize;
    /// The zero the packing pads with.
    const ZERO: T;

    /// `C[r][j] (+)= Σ_p a[p·MR + r] · b[p·rsb + j]` for `r < rows`, `j < cols`, where
    /// `tile = (rows, cols)`; C is overwritten when `accumulate` is false (it may then be
    /// uninitialised) and added to otherwise. With `a_steps = Some((row, step))` A is read
    /// where it lies instead, `a[p·step + r·row]`.
    ///
    /// # Safety
    /// The CPU has the kernel's instruction set; `a` holds `kc·MR` elements (or addresses `MR`
    /// rows of `kc` at `a_steps`); `b` addresses `kc` rows of `cols` elements at row stride
    /// `rsb`; `c` addresses `rows` rows of `cols` elements at row stride `ldc` that no other
    /// thread touches; `rows ≤ MR`, `cols ≤ NR`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel(
        kc: usize,
        a: *const T,
        a_steps: Option<(usize, usize)>,
        b: *const T,
        rsb: usize,
        c: *mut T,
        ldc: usize,
        tile: (usize, usize),
        accumulate: bool,
    );

    /// Packs `MR` rows of a row-major A (`kc` elements each, row stride `rsa`) into a sliver
    /// (`MR` elements per step of k) with vector transposes; false when this type has no such
    /// path (the caller then copies element by element).
    ///
    /// # Safety
    /// The CPU has AVX2; `a` addresses `MR` rows of `kc` elements at stride `rsa`; `out` has
    /// room for `kc·MR` elements.
    unsafe fn transpose_rows(kc: usize, a: *const T, rsa: usize, out: *mut T) -> bool;

    /// Packs `NR` columns of a column-major B (`kc` elements each, column stride `csb`: a
    /// transposed weight) into a sliver (`NR` elements per step of k) with vector transposes;
    /// false when this type has no such path.
    ///
    /// # Safety
    /// The CPU has AVX2; `b` addresses `NR` columns of `kc` elements at stride `csb`; `out` has
    /// room for `kc·NR` elements.
    unsafe fn transpose_columns(kc: usize, b: *const T, csb: usize, out: *mut T) -> bool;
}

/// Steps of k per block: a 32-wide f32 sliver of B is then 32 KiB, an 8-row sliver of A 8 KiB.
const KC: usize = 256;
/// Rows of C per block of packed A (`MC × KC` f32 = 128 KiB, inside L2).
const MC: usize = 128;
/// Columns of C per block of packed B (`KC × NC` f32 = 1 MiB).
const NC: usize = 1024;
/// C with more rows than this packs B even when B's rows are contiguous.
const DIRECT_B_MAX_ROWS: usize = 64;
/// C with at most this many columns reads A where it lies (full slivers of `MR` rows; a last,
/// shorter one is still packed, zero-padded): each element of A then meets B once or twice,
/// and packing it would cost about as much as the product (resnet18's last stage multiplies
/// its `[512, 4608]` weight by 16 columns).
const DIRECT_A_MAX_COLS: usize = 64;

thread_local! {
    /// Per-thread packing space for A and B, kept between calls (u64 keeps it aligned for f64).
    static PACK: RefCell<(Vec<u64>, Vec<u64>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// A buffer of at least `len` elements of `T`, reusing `buf`'s allocation.
fn room<T>(buf: &mut Vec<u64>, len: usize) -> *mut T {
    // 8 words of slack to start on a cache line: a vector load that straddles two lines
    // costs two.
    let words = (len * std::mem::size_of::<T>()).div_ceil(8) + 8;
    if buf.len() < words {
        buf.resize(words, 0);
    }
    let skip = buf.as_ptr().align_offset(64);
    buf[skip..].as_mut_ptr() as *mut T
}

/// `C = A·B` for an `m×k` A and a `k×n` B at the given element strides into a row-major C
/// with row stride `ldc`.
///
/// # Safety
/// The CPU has `K`'s instruction set; the pointers address blocks that are in bounds at the
/// given strides; no other thread writes the C block; `k > 0`.
pub(super) unsafe fn gemm<T: Copy + 'static, K: Micro<T>>(
    shape: (usize, usize, usize),
    a: *const T,
    sa: (usize, usize),
    b: *const T,
    sb: (usize, usize),
    c: *mut T,
    ldc: usize,
) {
    gemm_from::<T, K>(shape, a, sa, Rhs::Strided(b, sb), c, ldc)
}

/// Where a product's right operand comes from.
#[derive(Clone, Copy)]
enum Rhs<T> {
    /// A `k×n` matrix at these (row, column) element strides, packed as needed.
    Strided(*const T, (usize, usize)),
    /// Already packed by [`pack_rhs`].
    Packed(*const T),
}

/// The elements [`pack_rhs`] writes for a `k×n` B.
pub(super) fn packed_rhs_len<T: Copy + 'static, K: Micro<T>>(k: usize, n: usize) -> usize {
    k * n.next_multiple_of(K::NR)
}

/// Packs a whole `k×n` B (element strides `sb`) into `out` (room for [`packed_rhs_len`]
/// elements) the way [`gemm`] packs each block of it, block after block: the block of columns
/// `jc` and steps `pc` starts at `jc·k + pc·nc`, `nc` its column count rounded up to whole
/// slivers. For a B used by many products (a recurrent weight at every time step).
///
/// # Safety
/// `b` addresses a `k×n` block at strides `sb`; `out` has room for the packed elements.
pub(super) unsafe fn pack_rhs<T: Copy + 'static, K: Micro<T>>(
    (k, n): (usize, usize),
    b: *const T,
    (rsb, csb): (usize, usize),
    out: *mut T,
) {
    for jc in (0..n).step_by(NC) {
        let nc = NC.min(n - jc);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            let to = out.add(jc * k + pc * nc.next_multiple_of(K::NR));
            pack_b_block::<T, K>(kc, nc, b.add(pc * rsb + jc * csb), (rsb, csb), to);
        }
    }
}

/// [`gemm`] with a B that [`pack_rhs`] packed.
///
/// # Safety
/// As [`gemm`]; `packed` holds a `k×n` B packed by `pack_rhs` with this `K`.
pub(super) unsafe fn gemm_packed_rhs<T: Copy + 'static, K: Micro<T>>(
    shape: (usize, usize, usize),
    a: *const T,
    sa: (usize, usize),
    packed: *const T,
    c: *mut T,
    ldc: usize,
) {
    gemm_from::<T, K>(shape, a, sa, Rhs::Packed(packed), c, ldc)
}

/// [`gemm`] with either kind of right operand.
unsafe fn gemm_from<T: Copy + 'static, K: Micro<T>>(
    (m, k, n): (usize, usize, usize),
    a: *const T,
    (rsa, csa): (usize, usize),
    rhs: Rhs<T>,
    c: *mut T,
    ldc: usize,
) {
    let nr = K::NR;
    let (b, (rsb, csb), prepacked) = match rhs {
        Rhs::Strided(b, sb) => (b, sb, None),
        Rhs::Packed(p) => (std::ptr::null(), (0, 0), Some(p)),
    };
    let pack_b = prepacked.is_some() || csb != 1 || m > DIRECT_B_MAX_ROWS;
    let direct_a = n <= DIRECT_A_MAX_COLS && csa == 1;
    PACK.with(|cell| {
        let (buf_a, buf_b) = &mut *cell.borrow_mut();
        // Blocks of A hold whole slivers.
        let mc_max = MC - MC % K::MR;
        let pa = room::<T>(buf_a, mc_max.min(m.next_multiple_of(K::MR)) * KC.min(k));
        let mut pb = if pack_b && prepacked.is_none() {
            room::<T>(buf_b, KC.min(k) * NC.min(n.next_multiple_of(nr)))
        } else {
            std::ptr::null_mut()
        };
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                let b_block = b.wrapping_add(pc * rsb + jc * csb);
                match prepacked {
                    Some(p) => pb = p.add(jc * k + pc * nc.next_multiple_of(nr)).cast_mut(),
                    None if pack_b => pack_b_block::<T, K>(kc, nc, b_block, (rsb, csb), pb),
                    None => {}
                }
                for ic in (0..m).step_by(mc_max) {
                    let mc = mc_max.min(m - ic);
                    let a_block = a.add(ic * rsa + pc * csa);
                    // Rows of this block read in place; the rest (all, or a last short
                    // sliver) is packed to the start of `pa`.
                    let in_place = if direct_a { mc - mc % K::MR } else { 0 };
                    if in_place < mc {
                        let rest = a_block.add(in_place * rsa);
                        pack_a_block::<T, K>(mc - in_place, kc, rest, (rsa, csa), pa);
                    }
                    for jr in (0..nc).step_by(nr) {
                        let cols = nr.min(nc - jr);
                        let (sliver_b, row_stride) = if pack_b {
                            (pb.add(jr * kc) as *const T, nr)
                        } else {
                            (b_block.add(jr), rsb)
                        };
                        for ir in (0..mc).step_by(K::MR) {
                            let (sliver_a, a_steps) = if ir < in_place {
                                (a_block.add(ir * rsa), Some((rsa, csa)))
                            } else {
                                (pa.add((ir - in_place) * kc) as *const T, None)
                            };
                            K::kernel(
                                kc,
                                sliver_a,
                                a_steps,
                                sliver_b,
                                row_stride,
                                c.add((ic + ir) * ldc + jc + jr),
                                ldc,
                                (K::MR.min(mc - ir), cols),
                                pc > 0,
                            );
                        }
                    }
                }
            }
        }
    });
}

/// Slivers of A that [`pack_a_block`] packs in one pass over a transposed A.
const SLIVERS_PER_PASS: usize = 4;

/// Packs the `mc × kc` block of A into slivers of `MR` rows, each stored column by column
/// (`MR` elements per step of k), the last one zero-padded.
unsafe fn pack_a_block<T: Copy + 'static, K: Micro<T>>(
    mc: usize,
    kc: usize,
    a: *const T,
    (rsa, csa): (usize, usize),
    out: *mut T,
) {
    let mr = K::MR;
    // A transposed view (a weight's gradient `dYᵀ·X`): each step of k is a run of adjacent
    // rows, one long stride (a whole row of dY) from the next. Sliver by sliver, each run
    // read 32 bytes of a cache line whose rest the next sliver fetched again, by then evicted:
    // runs 2 KiB apart fall on a few L1 sets. [`SLIVERS_PER_PASS`] slivers per pass read whole
    // lines.
    let grouped = if rsa == 1 && csa != 1 {
        mc - mc % mr
    } else {
        0
    };
    for g in (0..grouped).step_by(SLIVERS_PER_PASS * mr) {
        let rows = (SLIVERS_PER_PASS * mr).min(grouped - g);
        for p in 0..kc {
            let src = a.add(g + p * csa);
            for r in (0..rows).step_by(mr) {
                std::ptr::copy_nonoverlapping(src.add(r), out.add((g + r) * kc + p * mr), mr);
            }
        }
    }
    for ir in (grouped..mc).step_by(mr) {
        let rows = mr.min(mc - ir);
        let (src, sliver) = (a.add(ir * rsa), out.add(ir * kc));
        if rows == mr && csa == 1 && K::transpose_rows(kc, src, rsa, sliver) {
            continue;
        }
        for p in 0..kc {
            let (src, dst) = (src.add(p * csa), sliver.add(p * mr));
            if rows == mr && rsa == 1 {
                // A column of A is contiguous (A is a transposed view): one copy.
                std::ptr::copy_nonoverlapping(src, dst, mr);
                continue;
            }
            for r in 0..rows {
                *dst.add(r) = *src.add(r * rsa);
            }
            for r in rows..mr {
                *dst.add(r) = K::ZERO;
            }
        }
    }
}

/// Packs the `kc × nc` block of B into slivers of `NR` columns, each stored row by row (`NR`
/// elements per step of k), the last one zero-padded.
unsafe fn pack_b_block<T: Copy + 'static, K: Micro<T>>(
    kc: usize,
    nc: usize,
    b: *const T,
    (rsb, csb): (usize, usize),
    out: *mut T,
) {
    let nr = K::NR;
    for jr in (0..nc).step_by(nr) {
        let cols = nr.min(nc - jr);
        let sliver = out.add(jr * kc);
        if cols == nr && rsb == 1 && K::transpose_columns(kc, b.add(jr * csb), csb, sliver) {
            continue;
        }
        for p in 0..kc {
            let src = b.add(p * rsb + jr * csb);
            let dst = sliver.add(p * nr);
            if cols == nr && csb == 1 {
                std::ptr::copy_nonoverlapping(src, dst, nr);
                continue;
            }
            for j in 0..cols {
                *dst.add(j) = *src.add(j * csb);
            }
            for j in cols..nr {
                *dst.add(j) = K::ZERO;
            }
        }
    }
}
