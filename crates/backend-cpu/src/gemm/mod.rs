//! Batched matmul: a single-threaded GEMM (our blocked one with the AVX-512 or AVX2 micro-kernel,
//! the dot-product kernel, or `matrixmultiply`'s), split into tiles that the threads of
//! `crate::parallel` share.
//!
//! Why not matrixmultiply's own threading: measured on the 2-core dev machine it *slowed* the
//! shapes small models use (sgemm 128³: 0.073 ms on 2 threads, 0.034 ms on 1;
//! 128×784 @ 784×256: 0.40 vs 0.39 ms), and it cannot be told per call to stay on one thread.
//! Here each tile is an independent GEMM on a block of output rows (or columns), and a thread
//! that comes free takes the next tile (see `parallel::par_for`). A tile packs its own copy of
//! the operand it shares with the others, so we split the dimension whose shared operand is the
//! smaller one.
//! Each output element is computed by the same kernel over the same k-blocks whatever the
//! split, so the result is the same bits on any number of threads.

use crate::storage::CpuStorage;
use nanotorch_ndarray_core::{checks, DType, Error, Float, Layout, Result, Shape};

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "x86_64")]
mod blocked;
mod dot;
mod packed_rhs;
#[cfg(target_arch = "x86_64")]
mod transpose;

pub(crate) use packed_rhs::PackedRhs;

/// Whether our own kernels run at all: `NANOTORCH_GEMM=matrixmultiply` sends every product
/// to matrixmultiply (read once), to compare against it.
fn use_own_kernels() -> bool {
    static OWN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OWN.get_or_init(|| std::env::var_os("NANOTORCH_GEMM").is_none_or(|v| v != "matrixmultiply"))
}

/// Which of our packed-GEMM micro-kernels this CPU runs (checked once).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Packed {
    /// `avx512.rs`: 8 × 32 f32 and 8 × 16 f64 tiles (16 × 16 and 16 × 8 for narrow products).
    Avx512,
    /// `avx2.rs` (AVX2 with FMA): 6 × 16 f32 and 6 × 8 f64 tiles.
    Avx2,
    /// None: matrixmultiply, which picks its own kernel, is the portable path (and the
    /// reference in tests).
    Portable,
}

/// The packed kernel to use: the widest this CPU has, unless our kernels are turned off.
fn packed() -> Packed {
    static WHICH: std::sync::OnceLock<Packed> = std::sync::OnceLock::new();
    *WHICH.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        if use_own_kernels() {
            use crate::kernels::Isa;
            match Isa::best() {
                Isa::Avx512 => return Packed::Avx512,
                Isa::Avx2 => return Packed::Avx2,
                Isa::Baseline => {}
            }
        }
        Packed::Portable
    })
}

/// Below this many multiply-adds a GEMM runs on one thread (with the AVX-512 kernels; see
/// [`par_macs`]). Measured with the helper threads of `crate::workers` (2 cores, noisy): 256³
/// (16M) 0.23 ms on one thread, 0.13-0.19 ms split; 128×784×256 (26M) 0.39 ms on one, 0.22-0.28
/// ms split. 128³ (2M) is split too: 0.040 ms on one thread, 0.021-0.025 ms split once the
/// helper is running (PyTorch: 0.044 and 0.026-0.030 ms). An early measurement gave 0.05-0.10 ms
/// split, with a helper that slept between calls; a helper now spins between jobs, and one that
/// is late leaves its tiles to the caller, so the first, isolated call costs about one wake-up.
const PAR_MACS: usize = 1 << 21;

/// [`PAR_MACS`] for the AVX2 and portable kernels, and for AVX-512 while the helpers are awake.
const PAR_MACS_SMALL: usize = 1 << 20;

/// The threshold for splitting a GEMM across threads, for the kernel this CPU runs. The AVX2
/// kernels do half the multiply-adds per cycle of the AVX-512 ones (and matrixmultiply fewer
/// still), so the same wake-up cost is repaid by smaller products: on Zen 1 (2 cores) splitting
/// the 2M-multiply-add steps of an LSTM (`[32, 128] @ [128, 512]`, 65 µs on one core) cut the
/// LSTM benchmark from 21 to 17 ms. With AVX-512 the threshold is lowered the same way while the
/// helpers are awake (a job ended within their spin window), as in a recurrent layer's chain of
/// products: on Zen 4 the LSTM benchmark went from 6.2-7.0 to 4.7-5.7 ms.
fn par_macs() -> usize {
    if packed() != Packed::Avx512 || crate::workers::helpers_awake() {
        PAR_MACS_SMALL
    } else {
        PAR_MACS
    }
}

/// Output rows or columns per tile at least: narrower tiles waste the 8-to-16-wide micro-kernel.
const MIN_TILE: usize = 16;

/// One GEMM tile: rows `rows` and columns `cols` of batch `batch`'s output.
#[derive(Clone, Copy)]
struct Tile {
    batch: usize,
    rows: (usize, usize),
    cols: (usize, usize),
}

/// Cuts `batch` GEMMs of `m×n` outputs into about `threads` tiles or more, so every thread has
/// work: whole batches when there are enough of them, else slices of rows (when `m ≥ n`: the
/// tiles then share B, the smaller operand) or of columns.
fn tiles(batch: usize, m: usize, n: usize, threads: usize, min_tile: usize) -> Vec<Tile> {
    let per_batch = threads.div_ceil(batch).max(1);
    let split_rows = m >= n;
    let dim = if split_rows { m } else { n };
    let parts = per_batch.min(dim / min_tile).max(1);
    let step = dim.div_ceil(parts);
    let mut out = Vec::with_capacity(batch * parts);
    for b in 0..batch {
        for start in (0..dim).step_by(step) {
            let range = (start, (start + step).min(dim));
            out.push(Tile {
                batch: b,
                rows: if split_rows { range } else { (0, m) },
                cols: if split_rows { (0, n) } else { range },
            });
        }
    }
    out
}

/// `[batch, m, k] @ [batch, k, n]` for strided views `la`, `lb` (batch axis first; a broadcast
/// batch has stride 0) into a new contiguous `[batch, m, n]`; or with several batch axes each
/// (`checks::matmul`'s second form), the output's batches in row-major order. An `addend` of
/// the output's shape (in the operands' form, any strides) is added to each tile of the
/// output right after its product, while the tile is still in cache (checked by the caller).
pub(crate) fn matmul<E: Float>(
    a: &[E],
    la: &Layout,
    b: &[E],
    lb: &Layout,
    addend: Option<(&[E], &Layout)>,
) -> Result<CpuStorage<E>> {
    let rank = la.rank();
    let (m, k, n) = (
        la.dims()[rank - 2],
        la.dims()[rank - 1],
        lb.dims()[rank - 1],
    );
    let batch = la.dims()[..rank - 2].iter().product::<usize>();
    // One shared right operand (a broadcast weight: `x·Wᵀ` on `[batch, m, k]`) and left rows
    // evenly spaced across the batch: the batch is one tall GEMM `[batch·m, k] @ [k, n]`, whose
    // `[batch·m, n]` output is the `[batch, m, n]` one. B is packed once instead of once per
    // batch, and the tiles are cut from all the rows (a GPT step: 16 GEMMs of 64 rows became
    // one of 1024). Each output element is the same dot product over the same k-blocks, so
    // the bits do not change.
    if rank == 3
        && batch > 1
        && lb.strides()[0] == 0
        && m.checked_mul(la.strides()[1]) == Some(la.strides()[0])
    {
        if let Some(rows) = batch.checked_mul(m) {
            let la1 = Layout::new(
                vec![1, rows, k],
                vec![0, la.strides()[1], la.strides()[2]],
                la.offset(),
            );
            let lb1 = Layout::new(
                vec![1, k, n],
                vec![0, lb.strides()[1], lb.strides()[2]],
                lb.offset(),
            );
            let merged = addend.map(|(d, l)| {
                let flat = Shape::from([1, rows, n]);
                l.reshape("matmul", &flat).ok().map(|l| (d, l))
            });
            match merged {
                None => return matmul(a, &la1, b, &lb1, None),
                Some(Some((d, l))) => return matmul(a, &la1, b, &lb1, Some((d, &l))),
                // An addend whose batches cannot be laid end to end: keep the batch.
                Some(None) => {}
            }
        }
    }
    let too_big = || {
        Error::invalid(
            "matmul",
            "the product has more elements than a usize counts",
            la.shape(),
        )
    };
    let len = batch
        .checked_mul(m)
        .and_then(|bm| bm.checked_mul(n))
        .ok_or_else(too_big)?;
    let macs = len.checked_mul(k).ok_or_else(too_big)?;
    // matrixmultiply takes isize strides; bounds-checked layouts of real storages always fit,
    // but a stride on a size-1 axis is not bounded by the storage.
    if la
        .strides()
        .iter()
        .chain(lb.strides())
        .any(|&s| s > isize::MAX as usize)
    {
        return Err(Error::invalid(
            "matmul",
            "a stride does not fit in isize",
            la.shape(),
        ));
    }
    if len == 0 {
        return Ok(CpuStorage::build(0, |_| {}));
    }
    if k == 0 {
        let zeros = crate::kernels::generate(len, 1, |_| E::ZERO);
        return match addend {
            None => Ok(zeros),
            // `0 + v`, as the add after an empty product gives (−0 becomes +0).
            Some((d, l)) => Ok(crate::kernels::map1(d, l, 1, |v: E| E::ZERO + v)),
        };
    }
    if E::DTYPE != DType::F32 && E::DTYPE != DType::F64 {
        return Err(Error::Backend {
            backend: "cpu",
            msg: format!("matmul: unsupported dtype {}", E::DTYPE),
        });
    }
    let (sa, sb) = (&la.strides()[rank - 2..], &lb.strides()[rank - 2..]);
    let (a_at, b_at) = (checks::batch_offsets(la), checks::batch_offsets(lb));
    let addend = addend.map(|(d, l)| (d, &l.strides()[rank - 2..], checks::batch_offsets(l)));
    let mut out = crate::storage::take_vec::<E>(len);
    // Addresses as integers so the tile closure is `Sync`; each tile writes a disjoint block.
    let c = out.spare_capacity_mut().as_mut_ptr() as usize;
    let run_tile = |t: Tile| {
        let (r0, r1) = t.rows;
        let (c0, c1) = t.cols;
        let pa = a_at[t.batch] + r0 * sa[0];
        let pb = b_at[t.batch] + c0 * sb[1];
        let pc = t.batch * m * n + r0 * n + c0;
        // SAFETY: `check_fits` verified both layouts lie inside their storage, so every element
        // read (rows r0..r1 × k of a, k × cols c0..c1 of b) is in bounds; `out` has room for
        // `len` elements and this tile writes only rows r0..r1 × cols c0..c1 of batch
        // `t.batch`, which no other tile touches. With beta = 0 matrixmultiply never reads C,
        // so the uninitialised output is fine.
        unsafe {
            gemm::<E>(
                (r1 - r0, k, c1 - c0),
                a.as_ptr().add(pa),
                (sa[0], sa[1]),
                b.as_ptr().add(pb),
                (sb[0], sb[1]),
                (c as *mut E).add(pc),
                n,
            )
        }
        if let Some((d, sd, d_at)) = &addend {
            // SAFETY: as above, for the tile's block of C, which the product has just written.
            unsafe {
                add_block(
                    (c as *mut E).add(pc),
                    n,
                    (r1 - r0, c1 - c0),
                    d,
                    d_at[t.batch] + r0 * sd[0] + c0 * sd[1],
                    (sd[0], sd[1]),
                )
            };
        }
    };
    let threads = crate::parallel::num_threads();
    // A short-k product is memory-bound: count its work by the output it writes.
    let short = dot::short_k(k, n, (sb[0], sb[1]));
    let work = if short { len * dot::SHORT_K } else { macs };
    if threads <= 1 || work < par_macs() {
        for batch_index in 0..batch {
            run_tile(Tile {
                batch: batch_index,
                rows: (0, m),
                cols: (0, n),
            });
        }
    } else {
        // The dot kernel works on 2×2 blocks of C, so its tiles may be that narrow.
        let dot = dot::dot_shaped((m, k, n), (sa[0], sa[1]), (sb[0], sb[1]));
        let tiles = tiles(batch, m, n, threads, if dot { 2 } else { MIN_TILE });
        crate::parallel::par_for(tiles.len(), |i| run_tile(tiles[i]));
    }
    // SAFETY: the tiles cover every batch's m·n outputs (k > 0 here).
    unsafe { out.set_len(len) };
    Ok(CpuStorage::from_vec(out))
}

/// `C = A·B` for one block: our AVX-512 kernels where the CPU has them, else `matrixmultiply`
/// (f32 or f64; `E` is one of them, checked by the caller). Strides are in elements; C is
/// row-major with row stride `ldc`.
///
/// # Safety
/// The pointers must address `m×k`, `k×n` and `m×n` blocks that are in bounds at the given
/// strides, `k > 0`, and no other thread may write the C block.
pub(crate) unsafe fn gemm<E: Float>(
    (m, k, n): (usize, usize, usize),
    a: *const E,
    (rsa, csa): (usize, usize),
    b: *const E,
    (rsb, csb): (usize, usize),
    c: *mut E,
    ldc: usize,
) {
    if dot::dot_shaped((m, k, n), (rsa, csa), (rsb, csb)) && use_own_kernels() {
        return if E::DTYPE == DType::F32 {
            let (a, b, c) = (a as *const f32, b as *const f32, c as *mut f32);
            dot::dot_gemm((m, k, n), (a, (rsa, csa)), (b, (rsb, csb)), c, ldc)
        } else {
            let (a, b, c) = (a as *const f64, b as *const f64, c as *mut f64);
            dot::dot_gemm((m, k, n), (a, (rsa, csa)), (b, (rsb, csb)), c, ldc)
        };
    }
    #[cfg(target_arch = "x86_64")]
    match packed() {
        // At most one 512-bit vector of columns: the narrow tile wastes no FMAs on padding.
        Packed::Avx512 if n * std::mem::size_of::<E>() <= 64 => {
            return blocked_gemm::<E, avx512::Avx512Narrow>(
                (m, k, n),
                a,
                (rsa, csa),
                b,
                (rsb, csb),
                c,
                ldc,
            )
        }
        Packed::Avx512 => {
            return blocked_gemm::<E, avx512::Avx512>(
                (m, k, n),
                a,
                (rsa, csa),
                b,
                (rsb, csb),
                c,
                ldc,
            )
        }
        Packed::Avx2 => {
            return blocked_gemm::<E, avx2::Avx2>((m, k, n), a, (rsa, csa), b, (rsb, csb), c, ldc)
        }
        Packed::Portable => {}
    }
    portable_gemm((m, k, n), a, (rsa, csa), b, (rsb, csb), c, ldc)
}

/// [`gemm`] through our loop nest (`blocked.rs`) and the micro-kernels `K`.
///
/// # Safety
/// As [`gemm`], and the CPU has `K`'s instruction set.
#[cfg(target_arch = "x86_64")]
unsafe fn blocked_gemm<E: Float, K: blocked::Micro<f32> + blocked::Micro<f64>>(
    shape: (usize, usize, usize),
    a: *const E,
    sa: (usize, usize),
    b: *const E,
    sb: (usize, usize),
    c: *mut E,
    ldc: usize,
) {
    if E::DTYPE == DType::F32 {
        let (a, b, c) = (a as *const f32, b as *const f32, c as *mut f32);
        blocked::gemm::<f32, K>(shape, a, sa, b, sb, c, ldc)
    } else {
        let (a, b, c) = (a as *const f64, b as *const f64, c as *mut f64);
        blocked::gemm::<f64, K>(shape, a, sa, b, sb, c, ldc)
    }
}

/// [`gemm`] through `matrixmultiply`.
///
/// # Safety
/// As [`gemm`].
unsafe fn portable_gemm<E: Float>(
    (m, k, n): (usize, usize, usize),
    a: *const E,
    (rsa, csa): (usize, usize),
    b: *const E,
    (rsb, csb): (usize, usize),
    c: *mut E,
    ldc: usize,
) {
    // Strides fit isize: they index storages that fit in memory.
    let (rsa, csa, rsb, csb, ldc) = (
        rsa as isize,
        csa as isize,
        rsb as isize,
        csb as isize,
        ldc as isize,
    );
    if E::DTYPE == DType::F32 {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a as *const f32,
            rsa,
            csa,
            b as *const f32,
            rsb,
            csb,
            0.0,
            c as *mut f32,
            ldc,
            1,
        );
    } else {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            1.0,
            a as *const f64,
            rsa,
            csa,
            b as *const f64,
            rsb,
            csb,
            0.0,
            c as *mut f64,
            ldc,
            1,
        );
    }
}

#[cfg(test)]
mod tests;

/// `C[r][j] += d[at + r·rs + j·cs]` for a `rows × cols` block of C (row stride `ldc`).
///
/// # Safety
/// `c` addresses the block, which no other thread touches; every index of `d` read is in
/// bounds (the caller checked the addend's layout against its storage).
unsafe fn add_block<E: Float>(
    c: *mut E,
    ldc: usize,
    (rows, cols): (usize, usize),
    d: &[E],
    at: usize,
    (rs, cs): (usize, usize),
) {
    for r in 0..rows {
        let out = std::slice::from_raw_parts_mut(c.add(r * ldc), cols);
        let start = at + r * rs;
        if cs == 1 {
            // A bias row (or any row-contiguous addend): a loop the compiler vectorises.
            for (o, &v) in out.iter_mut().zip(&d[start..start + cols]) {
                *o = *o + v;
            }
        } else {
            for (j, o) in out.iter_mut().enumerate() {
                *o = *o + d[start + j * cs];
            }
        }
    }
}
