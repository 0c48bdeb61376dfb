//! A right operand packed once for many products: a recurrent layer multiplies by the same
//! weight at every time step. Packed per call, the weight's copy cost as much as half of each
//! step's small product; read where it lies, its rows (2 KiB apart for a hidden size of 128)
//! fall on a handful of L1 sets and evict each other. Packed once per sequence, each step reads
//! it as the micro-kernel wants it.

use super::{blocked, packed, portable_gemm, Packed};
use nanotorch_ndarray_core::{DType, Float};

#[cfg(target_arch = "x86_64")]
use super::{avx2::Avx2, avx512::Avx512, avx512::Avx512Narrow};

/// Which kernel a packed operand was packed for.
#[derive(Clone, Copy)]
enum Kernel {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx512Narrow,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// matrixmultiply packs for itself: the operand is kept as a row-major copy.
    Portable,
}

/// A `k×n` right operand packed for this CPU's GEMM kernel (see the module comment).
pub(crate) struct PackedRhs<E> {
    data: Vec<E>,
    k: usize,
    n: usize,
    kernel: Kernel,
}

/// Something to do with a kernel `K` on element type `T` (f32 or f64, `E` at run time).
trait WithKernel {
    type Out;
    /// # Safety
    /// The CPU has `K`'s instruction set and `T` is the element type the caller's pointers
    /// address.
    unsafe fn call<T: Copy + 'static, K: blocked::Micro<T>>(self) -> Self::Out;
}

/// Runs `w` with the kernel `kernel` and `E`'s element type.
///
/// # Safety
/// `E` is f32 or f64 and `kernel` is one this CPU runs (as [`PackedRhs::new`] chose it).
unsafe fn dispatch<E: Float, W: WithKernel>(kernel: Kernel, w: W) -> Option<W::Out> {
    let f32 = E::DTYPE == DType::F32;
    // SAFETY: forwarded to the caller.
    unsafe {
        Some(match (kernel, f32) {
            #[cfg(target_arch = "x86_64")]
            (Kernel::Avx512, true) => w.call::<f32, Avx512>(),
            #[cfg(target_arch = "x86_64")]
            (Kernel::Avx512, false) => w.call::<f64, Avx512>(),
            #[cfg(target_arch = "x86_64")]
            (Kernel::Avx512Narrow, true) => w.call::<f32, Avx512Narrow>(),
            #[cfg(target_arch = "x86_64")]
            (Kernel::Avx512Narrow, false) => w.call::<f64, Avx512Narrow>(),
            #[cfg(target_arch = "x86_64")]
            (Kernel::Avx2, true) => w.call::<f32, Avx2>(),
            #[cfg(target_arch = "x86_64")]
            (Kernel::Avx2, false) => w.call::<f64, Avx2>(),
            (Kernel::Portable, _) => return None,
        })
    }
}

impl<E: Float> PackedRhs<E> {
    /// Packs the `k×n` block at `b` (element strides `sb`) for products `C = A·B`.
    ///
    /// # Safety
    /// `b` addresses a `k×n` block in bounds at strides `sb`; `E` is f32 or f64; `k > 0`.
    pub(crate) unsafe fn new((k, n): (usize, usize), b: *const E, sb: (usize, usize)) -> Self {
        let kernel = match packed() {
            #[cfg(target_arch = "x86_64")]
            Packed::Avx512 if n * std::mem::size_of::<E>() <= 64 => Kernel::Avx512Narrow,
            #[cfg(target_arch = "x86_64")]
            Packed::Avx512 => Kernel::Avx512,
            #[cfg(target_arch = "x86_64")]
            Packed::Avx2 => Kernel::Avx2,
            _ => Kernel::Portable,
        };
        struct Pack<E> {
            shape: (usize, usize),
            b: *const E,
            sb: (usize, usize),
        }
        impl<E> WithKernel for Pack<E> {
            type Out = Vec<E>;
            unsafe fn call<T: Copy + 'static, K: blocked::Micro<T>>(self) -> Vec<E> {
                let len = blocked::packed_rhs_len::<T, K>(self.shape.0, self.shape.1);
                let mut out = Vec::<E>::with_capacity(len);
                // SAFETY: `T` is `E` (the caller's promise); `pack_rhs` writes all `len`
                // elements (every sliver in full, padding zeroed).
                unsafe {
                    let to = out.as_mut_ptr().cast::<T>();
                    blocked::pack_rhs::<T, K>(self.shape, self.b.cast::<T>(), self.sb, to);
                    out.set_len(len);
                }
                out
            }
        }
        let pack = Pack {
            shape: (k, n),
            b,
            sb,
        };
        // SAFETY: forwarded to the caller; `kernel` was chosen from this CPU's.
        let data = unsafe { dispatch::<E, _>(kernel, pack) }.unwrap_or_else(|| {
            // A row-major copy for matrixmultiply.
            let mut rows = Vec::with_capacity(k * n);
            for p in 0..k {
                // SAFETY: in bounds (the caller's promise).
                rows.extend((0..n).map(|j| unsafe { *b.add(p * sb.0 + j * sb.1) }));
            }
            rows
        });
        PackedRhs { data, k, n, kernel }
    }

    /// `C = A·B` for an `m×k` A at element strides `sa` into a row-major C (row stride `ldc`),
    /// on this thread.
    ///
    /// # Safety
    /// `a` addresses an `m×k` block in bounds at `sa`; `c` addresses `m` rows of `n` elements
    /// at `ldc` that no other thread touches meanwhile.
    pub(crate) unsafe fn product(
        &self,
        m: usize,
        a: *const E,
        sa: (usize, usize),
        c: *mut E,
        ldc: usize,
    ) {
        struct Product<E> {
            shape: (usize, usize, usize),
            a: *const E,
            sa: (usize, usize),
            packed: *const E,
            c: *mut E,
            ldc: usize,
        }
        impl<E> WithKernel for Product<E> {
            type Out = ();
            unsafe fn call<T: Copy + 'static, K: blocked::Micro<T>>(self) {
                // SAFETY: `T` is `E`, the operand was packed for `K` (the caller's promises).
                unsafe {
                    blocked::gemm_packed_rhs::<T, K>(
                        self.shape,
                        self.a.cast::<T>(),
                        self.sa,
                        self.packed.cast::<T>(),
                        self.c.cast::<T>(),
                        self.ldc,
                    )
                }
            }
        }
        let (k, n) = (self.k, self.n);
        let product = Product {
            shape: (m, k, n),
            a,
            sa,
            packed: self.data.as_ptr(),
            c,
            ldc,
        };
        // SAFETY: forwarded to the caller; the data was packed for `self.kernel`.
        if unsafe { dispatch::<E, _>(self.kernel, product) }.is_none() {
            // SAFETY: as above; the data is a row-major `k×n` copy.
            unsafe { portable_gemm((m, k, n), a, sa, self.data.as_ptr(), (n, 1), c, ldc) }
        }
    }
}
