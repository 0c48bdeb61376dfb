//! `impl Backend for Cuda`: device buffers as storage, kernels launched from the embedded PTX.
//!
//! Every primitive of the trait runs on the device (no silent host fallback): host transfers,
//! fills and counter-based random fills, strided copies and casts, element-wise unary and
//! binary ops (scalar, in-place and `where` forms), reductions and arg-reductions over axes,
//! the tiled matmul, gather / scatter-add / index-select (indices checked on the device first
//! and reported as [`Error::IndexOutOfBounds`]), and im2col / col2im. Driver errors become
//! [`Error::Backend`]; nothing panics.

use crate::device::driver_err;
use crate::{Cuda, Error, Result, BACKEND_NAME};
use cust::memory::{CopyDestination, DeviceBuffer, DeviceCopy};
use cust::module::Module;
use cust::prelude::*;
use nanotorch_ndarray_core::{
    ArgReduceOp, Backend, BinaryOp, DType, Element, Float, Layout, RandomDist, ReduceOp,
    ScalarSide, UnaryOp, Window2d,
};
use std::ffi::c_void;
use std::marker::PhantomData;

/// A buffer of `len` elements of `E` in device memory, held as raw bytes.
pub struct CudaStorage<E: Element> {
    bytes: DeviceBuffer<u8>,
    len: usize,
    _elem: PhantomData<E>,
}

impl<E: Element> std::fmt::Debug for CudaStorage<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaStorage<{:?}>(len {})", E::DTYPE, self.len)
    }
}

// SAFETY: a device allocation is not tied to a host thread; the buffer is only touched through
// driver calls made with the owning context current.
unsafe impl<E: Element> Send for CudaStorage<E> {}
// SAFETY: shared references only read the buffer (kernels that write take `&mut`).
unsafe impl<E: Element> Sync for CudaStorage<E> {}

/// The kernel-name suffix of a dtype.
fn suffix(d: DType) -> &'static str {
    match d {
        DType::F32 => "f32",
        DType::F64 => "f64",
        DType::I64 => "i64",
    }
}

/// One kernel argument, held by value so that the driver can be handed a pointer to it.
#[derive(Debug, Clone, Copy)]
enum Arg {
    /// A device pointer (as its raw address) or an `unsigned long long`.
    U64(u64),
    /// A `long long`.
    I64(i64),
    /// An `int`.
    I32(i32),
    /// A `double`.
    F64(f64),
}

/// The device address of a storage, as a kernel argument.
fn storage_arg<E: Element>(s: &CudaStorage<E>) -> Arg {
    Arg::U64(s.bytes.as_device_ptr().as_raw())
}

/// The device address of a buffer, as a kernel argument.
fn buffer_arg<T: DeviceCopy>(b: &DeviceBuffer<T>) -> Arg {
    Arg::U64(b.as_device_ptr().as_raw())
}

/// The output height and width of `window` over `dims = [n, c, h, w]`, or the CPU's error.
fn window_output(op: &'static str, dims: [usize; 4], window: &Window2d) -> Result<(usize, usize)> {
    let [_, _, h, w] = dims;
    window.output_size(h, w).ok_or_else(|| {
        Error::invalid(
            op,
            format!("window {window:?} does not fit"),
            &dims.to_vec().into(),
        )
    })
}

/// The window arguments shared by `im2col_*` and `col2im_*`, in their order:
/// `kh, kw, oh, ow, sh, sw, ph, pw, dh, dw`.
fn window_args(window: &Window2d, oh: usize, ow: usize) -> [Arg; 10] {
    [
        window.kernel.0,
        window.kernel.1,
        oh,
        ow,
        window.stride.0,
        window.stride.1,
        window.padding.0,
        window.padding.1,
        window.dilation.0,
        window.dilation.1,
    ]
    .map(|v| Arg::I64(v as i64))
}

/// A kernel argument as the driver wants it: a pointer to the value.
fn ptr<T>(v: &mut T) -> *mut c_void {
    (v as *mut T).cast()
}

/// Threads per block for element-wise launches.
const BLOCK: u32 = 256;

/// Grid size for `n` items with a grid-stride loop (capped; the loop covers the rest).
fn grid_for(n: usize) -> u32 {
    n.div_ceil(BLOCK as usize).clamp(1, 65_535) as u32
}

impl Cuda {
    /// Makes this device's context current on the calling thread.
    fn bind(&self) -> Result<()> {
        self.inner.bind()
    }

    /// Uninitialised storage for `len` elements.
    fn alloc<E: Element>(&self, len: usize) -> Result<CudaStorage<E>> {
        let nbytes = len
            .checked_mul(std::mem::size_of::<E>())
            .ok_or_else(|| Error::Backend {
                backend: BACKEND_NAME,
                msg: format!(
                    "cannot allocate {len} elements of {:?}: too many bytes",
                    E::DTYPE
                ),
            })?;
        // SAFETY: u8 has no invalid bit patterns; every caller writes all elements before
        // they are read.
        let bytes = unsafe { DeviceBuffer::<u8>::uninitialized(nbytes) }
            .map_err(|e| driver_err("allocating device memory", e))?;
        Ok(CudaStorage {
            bytes,
            len,
            _elem: PhantomData,
        })
    }

    /// Launches `name` from `module` over `n` items with the grid-stride block shape, then waits
    /// for it, mapping every driver error. `args` point at the kernel's arguments, in order.
    fn launch_n(&self, module: &Module, name: &str, n: usize, args: &[*mut c_void]) -> Result<()> {
        let func = module
            .get_function(name)
            .map_err(|e| driver_err(&format!("finding kernel {name}"), e))?;
        let stream = &self.inner.stream;
        // SAFETY: each caller passes pointers to live values whose types match the kernel's
        // C signature, and device buffers sized for `n` items; we wait for the kernel before
        // any of them can be dropped.
        unsafe { stream.launch(&func, grid_for(n), BLOCK, 0, args) }
            .map_err(|e| driver_err(&format!("launching {name}"), e))?;
        stream
            .synchronize()
            .map_err(|e| driver_err(&format!("running {name}"), e))
    }

    /// [`Cuda::launch_n`] with the arguments given by value.
    fn launch_args(&self, module: &Module, name: &str, n: usize, args: &mut [Arg]) -> Result<()> {
        let params: Vec<*mut c_void> = args
            .iter_mut()
            .map(|a| match a {
                Arg::U64(v) => ptr(v),
                Arg::I64(v) => ptr(v),
                Arg::I32(v) => ptr(v),
                Arg::F64(v) => ptr(v),
            })
            .collect();
        self.launch_n(module, name, n, &params)
    }

    /// Checks every element of `index` (read through `layout`) against `0..size` on the device
    /// (`index_check`) and reports the first one outside, in row-major order, as
    /// [`Error::IndexOutOfBounds`], exactly as the CPU backend does.
    fn check_indices(
        &self,
        op: &'static str,
        index: &CudaStorage<i64>,
        layout: &Layout,
        axis: usize,
        size: usize,
    ) -> Result<()> {
        let n = layout.numel();
        if n == 0 {
            return Ok(());
        }
        let bad = DeviceBuffer::from_slice(&[u64::MAX])
            .map_err(|e| driver_err("allocating the index-check flag", e))?;
        let dims = self.upload_dims(layout)?;
        let mut args = [
            storage_arg(index),
            Arg::I64(n as i64),
            Arg::I32(layout.rank() as i32),
            buffer_arg(&dims),
            Arg::I64(layout.offset() as i64),
            Arg::I64(size as i64),
            buffer_arg(&bad),
        ];
        self.launch_args(&self.inner.index, "index_check", n, &mut args)?;
        let mut first = [0u64];
        bad.copy_to(&mut first[..])
            .map_err(|e| driver_err("reading the index-check flag", e))?;
        if first[0] == u64::MAX {
            return Ok(());
        }
        // The error path: fetch the offending value to name it.
        let values = self.to_vec(index, layout)?;
        Err(Error::IndexOutOfBounds {
            op,
            index: values.get(first[0] as usize).copied().unwrap_or(-1),
            axis,
            size,
        })
    }

    /// Fills `out[0..len]` with zeros (`full_<dt>`).
    fn launch_full_zero<E: Element>(&self, out: &CudaStorage<E>, len: usize) -> Result<()> {
        let name = format!("full_{}", suffix(E::DTYPE));
        let (mut p, mut n, mut v) = (out.bytes.as_device_ptr(), len as i64, E::zeroed());
        self.launch_n(
            &self.inner.fill_copy,
            &name,
            len,
            &[ptr(&mut p), ptr(&mut n), ptr(&mut v)],
        )
    }

    /// Fails unless two layouts have the same shape.
    fn check_same_shape(op: &'static str, a: &Layout, b: &Layout) -> Result<()> {
        if a.shape() != b.shape() {
            return Err(Error::ShapeMismatch {
                op,
                what: "operand shapes differ",
                lhs: a.shape().clone(),
                rhs: b.shape().clone(),
            });
        }
        Ok(())
    }

    /// Fails unless `layout` stays inside a storage of `len` elements.
    fn check_fits(op: &str, layout: &Layout, len: usize) -> Result<()> {
        if layout.storage_extent() > len {
            return Err(Error::Backend {
                backend: BACKEND_NAME,
                msg: format!(
                    "{op}: layout of shape {} needs {} elements but the storage holds {len}",
                    layout.shape(),
                    layout.storage_extent()
                ),
            });
        }
        Ok(())
    }

    /// The layout's shape followed by its strides, uploaded for a kernel.
    fn upload_dims(&self, layout: &Layout) -> Result<DeviceBuffer<i64>> {
        let mut dims: Vec<i64> = layout.dims().iter().map(|&d| d as i64).collect();
        dims.extend(layout.strides().iter().map(|&s| s as i64));
        if dims.is_empty() {
            dims.push(0); // a valid pointer even for rank 0
        }
        DeviceBuffer::from_slice(&dims).map_err(|e| driver_err("uploading a layout", e))
    }
}

impl Cuda {
    /// A new storage holding a copy of all of `src`, made by the driver's device-to-device
    /// memcpy (`cuMemcpyDtoD`), no kernel involved. Benchmarks use it for the device's copy
    /// bandwidth, the ceiling every memory-bound kernel is measured against.
    ///
    /// # Errors
    /// [`Error::Backend`] with the driver's error.
    pub fn copy_device<E: Element>(&self, src: &CudaStorage<E>) -> Result<CudaStorage<E>> {
        self.bind()?;
        let mut out = self.alloc::<E>(src.len)?;
        if src.len > 0 {
            out.bytes
                .copy_from(&src.bytes)
                .map_err(|e| driver_err("copying device to device", e))?;
        }
        Ok(out)
    }
}

impl Backend for Cuda {
    type Storage<E: Element> = CudaStorage<E>;

    fn name(&self) -> String {
        format!("cuda:{}", self.ordinal)
    }

    fn same_device(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.inner, &other.inner)
    }

    fn storage_len<E: Element>(&self, storage: &CudaStorage<E>) -> usize {
        storage.len
    }

    fn from_slice<E: Element>(&self, data: &[E]) -> Result<CudaStorage<E>> {
        self.bind()?;
        let bytes = DeviceBuffer::from_slice(bytemuck::cast_slice::<E, u8>(data))
            .map_err(|e| driver_err("copying host data to the device", e))?;
        Ok(CudaStorage {
            bytes,
            len: data.len(),
            _elem: PhantomData,
        })
    }

    fn to_vec<E: Element>(&self, storage: &CudaStorage<E>, layout: &Layout) -> Result<Vec<E>> {
        self.bind()?;
        let mut host = vec![E::zeroed(); storage.len];
        storage
            .bytes
            .copy_to(bytemuck::cast_slice_mut::<E, u8>(&mut host))
            .map_err(|e| driver_err("copying device data to the host", e))?;
        if layout.is_contiguous() && layout.offset() == 0 && layout.numel() == host.len() {
            return Ok(host);
        }
        layout
            .strided_index()
            .map(|i| {
                host.get(i).copied().ok_or_else(|| Error::Backend {
                    backend: BACKEND_NAME,
                    msg: format!(
                        "to_vec: layout reaches element {i} of a storage of {}",
                        host.len()
                    ),
                })
            })
            .collect()
    }

    fn full<E: Element>(&self, len: usize, value: E) -> Result<CudaStorage<E>> {
        self.bind()?;
        let out = self.alloc::<E>(len)?;
        if len > 0 {
            let name = format!("full_{}", suffix(E::DTYPE));
            let (mut p, mut n, mut v) = (out.bytes.as_device_ptr(), len as i64, value);
            self.launch_n(
                &self.inner.fill_copy,
                &name,
                len,
                &[ptr(&mut p), ptr(&mut n), ptr(&mut v)],
            )?;
        }
        Ok(out)
    }

    fn arange<E: Element>(&self, start: f64, step: f64, len: usize) -> Result<CudaStorage<E>> {
        self.bind()?;
        let out = self.alloc::<E>(len)?;
        if len > 0 {
            let name = format!("arange_{}", suffix(E::DTYPE));
            let (mut p, mut n, mut a, mut d) = (out.bytes.as_device_ptr(), len as i64, start, step);
            self.launch_n(
                &self.inner.fill_copy,
                &name,
                len,
                &[ptr(&mut p), ptr(&mut n), ptr(&mut a), ptr(&mut d)],
            )?;
        }
        Ok(out)
    }

    fn random<E: Float>(&self, len: usize, dist: RandomDist, seed: u64) -> Result<CudaStorage<E>> {
        self.bind()?;
        let out = self.alloc::<E>(len)?;
        if len == 0 {
            return Ok(out);
        }
        let (kind, params) = match dist {
            RandomDist::Uniform { low, high } => ("uniform", vec![Arg::F64(low), Arg::F64(high)]),
            RandomDist::Normal { mean, std } => ("normal", vec![Arg::F64(mean), Arg::F64(std)]),
            RandomDist::Bernoulli { p } => ("bernoulli", vec![Arg::F64(p)]),
        };
        let mut args = vec![storage_arg(&out), Arg::I64(len as i64), Arg::U64(seed)];
        args.extend(params);
        let name = format!("random_{kind}_{}", suffix(E::DTYPE));
        self.launch_args(&self.inner.random, &name, len, &mut args)?;
        Ok(out)
    }

    fn copy_strided<E: Element>(
        &self,
        src: &CudaStorage<E>,
        layout: &Layout,
    ) -> Result<CudaStorage<E>> {
        Self::check_fits("copy_strided", layout, src.len)?;
        self.bind()?;
        let len = layout.numel();
        let out = self.alloc::<E>(len)?;
        if len > 0 {
            let name = format!("copy_strided_{}", suffix(E::DTYPE));
            let dims = self.upload_dims(layout)?;
            let mut s_ptr = src.bytes.as_device_ptr();
            let mut o_ptr = out.bytes.as_device_ptr();
            let mut n = len as i64;
            let mut rank = layout.rank() as i32;
            let mut d_ptr = dims.as_device_ptr();
            let mut off = layout.offset() as i64;
            self.launch_n(
                &self.inner.fill_copy,
                &name,
                len,
                &[
                    ptr(&mut s_ptr),
                    ptr(&mut o_ptr),
                    ptr(&mut n),
                    ptr(&mut rank),
                    ptr(&mut d_ptr),
                    ptr(&mut off),
                ],
            )?;
        }
        Ok(out)
    }

    fn assign<E: Element>(
        &self,
        dst: &mut CudaStorage<E>,
        dst_layout: &Layout,
        src: &CudaStorage<E>,
        src_layout: &Layout,
    ) -> Result<()> {
        Self::check_same_shape("assign", dst_layout, src_layout)?;
        Self::check_fits("assign", dst_layout, dst.len)?;
        Self::check_fits("assign", src_layout, src.len)?;
        let len = dst_layout.numel();
        if len == 0 {
            return Ok(());
        }
        self.bind()?;
        let name = format!("assign_{}", suffix(E::DTYPE));
        let (dd, sd) = (self.upload_dims(dst_layout)?, self.upload_dims(src_layout)?);
        let mut d_ptr = dst.bytes.as_device_ptr();
        let mut n = len as i64;
        let mut rank = dst_layout.rank() as i32;
        let mut dd_ptr = dd.as_device_ptr();
        let mut doff = dst_layout.offset() as i64;
        let mut s_ptr = src.bytes.as_device_ptr();
        let mut sd_ptr = sd.as_device_ptr();
        let mut soff = src_layout.offset() as i64;
        self.launch_n(
            &self.inner.fill_copy,
            &name,
            len,
            &[
                ptr(&mut d_ptr),
                ptr(&mut n),
                ptr(&mut rank),
                ptr(&mut dd_ptr),
                ptr(&mut doff),
                ptr(&mut s_ptr),
                ptr(&mut sd_ptr),
                ptr(&mut soff),
            ],
        )
    }

    fn cast<E: Element, T: Element>(
        &self,
        src: &CudaStorage<E>,
        layout: &Layout,
    ) -> Result<CudaStorage<T>> {
        if E::DTYPE == T::DTYPE {
            // The same type: a bit-exact copy (i64 must not round-trip through f64).
            let copy = self.copy_strided(src, layout)?;
            return Ok(CudaStorage {
                bytes: copy.bytes,
                len: copy.len,
                _elem: PhantomData,
            });
        }
        Self::check_fits("cast", layout, src.len)?;
        self.bind()?;
        let len = layout.numel();
        let out = self.alloc::<T>(len)?;
        if len > 0 {
            let name = format!("cast_{}_{}", suffix(E::DTYPE), suffix(T::DTYPE));
            let dims = self.upload_dims(layout)?;
            let mut s_ptr = src.bytes.as_device_ptr();
            let mut o_ptr = out.bytes.as_device_ptr();
            let mut n = len as i64;
            let mut rank = layout.rank() as i32;
            let mut d_ptr = dims.as_device_ptr();
            let mut off = layout.offset() as i64;
            let mut contiguous = i32::from(layout.is_contiguous());
            self.launch_n(
                &self.inner.fill_copy,
                &name,
                len,
                &[
                    ptr(&mut s_ptr),
                    ptr(&mut o_ptr),
                    ptr(&mut n),
                    ptr(&mut rank),
                    ptr(&mut d_ptr),
                    ptr(&mut off),
                    ptr(&mut contiguous),
                ],
            )?;
        }
        Ok(out)
    }

    fn unary<E: Float>(
        &self,
        op: UnaryOp,
        x: &CudaStorage<E>,
        layout: &Layout,
    ) -> Result<CudaStorage<E>> {
        Self::check_fits("unary", layout, x.len)?;
        self.bind()?;
        let n = layout.numel();
        let out = self.alloc::<E>(n)?;
        if n == 0 {
            return Ok(out);
        }
        let name = format!("unary_{}_{}", op.name(), suffix(E::DTYPE));
        let func = self
            .inner
            .unary
            .get_function(&name)
            .map_err(|e| driver_err(&format!("finding kernel {name}"), e))?;
        let dims = self.upload_dims(layout)?;
        let stream = &self.inner.stream;
        let contiguous = i32::from(layout.is_contiguous());
        // SAFETY: the kernel reads `n` elements of `x` at offsets inside the layout's extent
        // (checked by the caller against the storage) and writes `out[0..n]`; both buffers and
        // `dims` outlive the launch because we synchronise the stream before returning.
        unsafe {
            launch!(func<<<grid_for(n), BLOCK, 0, stream>>>(
                x.bytes.as_device_ptr(),
                out.bytes.as_device_ptr(),
                n as i64,
                layout.rank() as i32,
                dims.as_device_ptr(),
                layout.offset() as i64,
                contiguous
            ))
            .map_err(|e| driver_err(&format!("launching {name}"), e))?;
        }
        stream
            .synchronize()
            .map_err(|e| driver_err(&format!("running {name}"), e))?;
        Ok(out)
    }

    fn binary<E: Element>(
        &self,
        op: BinaryOp,
        lhs: &CudaStorage<E>,
        lhs_layout: &Layout,
        rhs: &CudaStorage<E>,
        rhs_layout: &Layout,
    ) -> Result<CudaStorage<E>> {
        Self::check_same_shape("binary", lhs_layout, rhs_layout)?;
        Self::check_fits("binary", lhs_layout, lhs.len)?;
        Self::check_fits("binary", rhs_layout, rhs.len)?;
        self.bind()?;
        let len = lhs_layout.numel();
        let out = self.alloc::<E>(len)?;
        if len > 0 {
            let name = format!("binary_{}_{}", op.name(), suffix(E::DTYPE));
            let (ld, rd) = (self.upload_dims(lhs_layout)?, self.upload_dims(rhs_layout)?);
            let mut l_ptr = lhs.bytes.as_device_ptr();
            let mut r_ptr = rhs.bytes.as_device_ptr();
            let mut o_ptr = out.bytes.as_device_ptr();
            let mut n = len as i64;
            let mut rank = lhs_layout.rank() as i32;
            let (mut ld_ptr, mut rd_ptr) = (ld.as_device_ptr(), rd.as_device_ptr());
            let mut loff = lhs_layout.offset() as i64;
            let mut roff = rhs_layout.offset() as i64;
            self.launch_n(
                &self.inner.binary,
                &name,
                len,
                &[
                    ptr(&mut l_ptr),
                    ptr(&mut r_ptr),
                    ptr(&mut o_ptr),
                    ptr(&mut n),
                    ptr(&mut rank),
                    ptr(&mut ld_ptr),
                    ptr(&mut loff),
                    ptr(&mut rd_ptr),
                    ptr(&mut roff),
                ],
            )?;
        }
        Ok(out)
    }

    fn binary_scalar<E: Element>(
        &self,
        op: BinaryOp,
        x: &CudaStorage<E>,
        layout: &Layout,
        scalar: E,
        side: ScalarSide,
    ) -> Result<CudaStorage<E>> {
        Self::check_fits("binary_scalar", layout, x.len)?;
        self.bind()?;
        let len = layout.numel();
        let out = self.alloc::<E>(len)?;
        if len > 0 {
            let name = format!("binary_scalar_{}_{}", op.name(), suffix(E::DTYPE));
            let dims = self.upload_dims(layout)?;
            let mut x_ptr = x.bytes.as_device_ptr();
            let mut o_ptr = out.bytes.as_device_ptr();
            let mut n = len as i64;
            let mut rank = layout.rank() as i32;
            let mut d_ptr = dims.as_device_ptr();
            let mut off = layout.offset() as i64;
            let mut v = scalar;
            let mut left = i32::from(matches!(side, ScalarSide::Left));
            self.launch_n(
                &self.inner.binary,
                &name,
                len,
                &[
                    ptr(&mut x_ptr),
                    ptr(&mut o_ptr),
                    ptr(&mut n),
                    ptr(&mut rank),
                    ptr(&mut d_ptr),
                    ptr(&mut off),
                    ptr(&mut v),
                    ptr(&mut left),
                ],
            )?;
        }
        Ok(out)
    }

    fn binary_inplace<E: Element>(
        &self,
        op: BinaryOp,
        dst: &mut CudaStorage<E>,
        dst_layout: &Layout,
        rhs: &CudaStorage<E>,
        rhs_layout: &Layout,
    ) -> Result<()> {
        Self::check_same_shape("binary_inplace", dst_layout, rhs_layout)?;
        Self::check_fits("binary_inplace", dst_layout, dst.len)?;
        Self::check_fits("binary_inplace", rhs_layout, rhs.len)?;
        let len = dst_layout.numel();
        if len == 0 {
            return Ok(());
        }
        self.bind()?;
        let name = format!("binary_inplace_{}_{}", op.name(), suffix(E::DTYPE));
        let (dd, rd) = (self.upload_dims(dst_layout)?, self.upload_dims(rhs_layout)?);
        let mut d_ptr = dst.bytes.as_device_ptr();
        let mut n = len as i64;
        let mut rank = dst_layout.rank() as i32;
        let mut dd_ptr = dd.as_device_ptr();
        let mut doff = dst_layout.offset() as i64;
        let mut r_ptr = rhs.bytes.as_device_ptr();
        let mut rd_ptr = rd.as_device_ptr();
        let mut roff = rhs_layout.offset() as i64;
        self.launch_n(
            &self.inner.binary,
            &name,
            len,
            &[
                ptr(&mut d_ptr),
                ptr(&mut n),
                ptr(&mut rank),
                ptr(&mut dd_ptr),
                ptr(&mut doff),
                ptr(&mut r_ptr),
                ptr(&mut rd_ptr),
                ptr(&mut roff),
            ],
        )
    }

    fn scalar_inplace<E: Element>(
        &self,
        op: BinaryOp,
        dst: &mut CudaStorage<E>,
        dst_layout: &Layout,
        scalar: E,
    ) -> Result<()> {
        Self::check_fits("scalar_inplace", dst_layout, dst.len)?;
        let len = dst_layout.numel();
        if len == 0 {
            return Ok(());
        }
        self.bind()?;
        let name = format!("scalar_inplace_{}_{}", op.name(), suffix(E::DTYPE));
        let dd = self.upload_dims(dst_layout)?;
        let mut d_ptr = dst.bytes.as_device_ptr();
        let mut n = len as i64;
        let mut rank = dst_layout.rank() as i32;
        let mut dd_ptr = dd.as_device_ptr();
        let mut doff = dst_layout.offset() as i64;
        let mut v = scalar;
        self.launch_n(
            &self.inner.binary,
            &name,
            len,
            &[
                ptr(&mut d_ptr),
                ptr(&mut n),
                ptr(&mut rank),
                ptr(&mut dd_ptr),
                ptr(&mut doff),
                ptr(&mut v),
            ],
        )
    }

    fn where_cond<E: Element>(
        &self,
        cond: &CudaStorage<E>,
        cond_layout: &Layout,
        on_true: &CudaStorage<E>,
        true_layout: &Layout,
        on_false: &CudaStorage<E>,
        false_layout: &Layout,
    ) -> Result<CudaStorage<E>> {
        Self::check_same_shape("where", cond_layout, true_layout)?;
        Self::check_same_shape("where", cond_layout, false_layout)?;
        Self::check_fits("where", cond_layout, cond.len)?;
        Self::check_fits("where", true_layout, on_true.len)?;
        Self::check_fits("where", false_layout, on_false.len)?;
        self.bind()?;
        let len = cond_layout.numel();
        let out = self.alloc::<E>(len)?;
        if len > 0 {
            let name = format!("where_{}", suffix(E::DTYPE));
            let cd = self.upload_dims(cond_layout)?;
            let td = self.upload_dims(true_layout)?;
            let fd = self.upload_dims(false_layout)?;
            let mut c_ptr = cond.bytes.as_device_ptr();
            let mut t_ptr = on_true.bytes.as_device_ptr();
            let mut f_ptr = on_false.bytes.as_device_ptr();
            let mut o_ptr = out.bytes.as_device_ptr();
            let mut n = len as i64;
            let mut rank = cond_layout.rank() as i32;
            let (mut cd_ptr, mut td_ptr, mut fd_ptr) =
                (cd.as_device_ptr(), td.as_device_ptr(), fd.as_device_ptr());
            let mut coff = cond_layout.offset() as i64;
            let mut toff = true_layout.offset() as i64;
            let mut foff = false_layout.offset() as i64;
            self.launch_n(
                &self.inner.binary,
                &name,
                len,
                &[
                    ptr(&mut c_ptr),
                    ptr(&mut t_ptr),
                    ptr(&mut f_ptr),
                    ptr(&mut o_ptr),
                    ptr(&mut n),
                    ptr(&mut rank),
                    ptr(&mut cd_ptr),
                    ptr(&mut coff),
                    ptr(&mut td_ptr),
                    ptr(&mut toff),
                    ptr(&mut fd_ptr),
                    ptr(&mut foff),
                ],
            )?;
        }
        Ok(out)
    }

    fn reduce<E: Element>(
        &self,
        op: ReduceOp,
        x: &CudaStorage<E>,
        layout: &Layout,
        axes: &[usize],
    ) -> Result<CudaStorage<E>> {
        Self::check_fits("reduce", layout, x.len)?;
        let rank = layout.rank();
        if let Some(&bad) = axes.iter().find(|&&a| a >= rank) {
            return Err(Error::AxisOutOfRange {
                op: "reduce",
                axis: bad as isize,
                shape: layout.shape().clone(),
            });
        }
        // Split the layout: kept axes (reduced ones set to size 1) and the reduced axes alone.
        let mut kept_shape = layout.dims().to_vec();
        let (mut red_shape, mut red_strides) = (Vec::new(), Vec::new());
        for &a in axes {
            kept_shape[a] = 1;
            red_shape.push(layout.dims()[a]);
            red_strides.push(layout.strides()[a]);
        }
        let kept = Layout::new(kept_shape, layout.strides().to_vec(), layout.offset());
        let reduced = Layout::new(red_shape, red_strides, 0);
        self.bind()?;
        let n_out = kept.numel();
        let out = self.alloc::<E>(n_out)?;
        if n_out > 0 {
            let name = format!("reduce_{}_{}", op.name(), suffix(E::DTYPE));
            let (kd, rd) = (self.upload_dims(&kept)?, self.upload_dims(&reduced)?);
            let mut x_ptr = x.bytes.as_device_ptr();
            let mut o_ptr = out.bytes.as_device_ptr();
            let mut n = n_out as i64;
            let mut krank = rank as i32;
            let mut kd_ptr = kd.as_device_ptr();
            let mut off = layout.offset() as i64;
            let mut rrank = reduced.rank() as i32;
            let mut rd_ptr = rd.as_device_ptr();
            let mut n_red = reduced.numel() as i64;
            self.launch_n(
                &self.inner.reduce,
                &name,
                n_out,
                &[
                    ptr(&mut x_ptr),
                    ptr(&mut o_ptr),
                    ptr(&mut n),
                    ptr(&mut krank),
                    ptr(&mut kd_ptr),
                    ptr(&mut off),
                    ptr(&mut rrank),
                    ptr(&mut rd_ptr),
                    ptr(&mut n_red),
                ],
            )?;
        }
        Ok(out)
    }

    fn arg_reduce<E: Element>(
        &self,
        op: ArgReduceOp,
        x: &CudaStorage<E>,
        layout: &Layout,
        axis: usize,
    ) -> Result<CudaStorage<i64>> {
        Self::check_fits(op.name(), layout, x.len)?;
        if axis >= layout.rank() || layout.dims()[axis] == 0 {
            return Err(Error::invalid(
                op.name(),
                format!("axis {axis} must exist and be non-empty"),
                layout.shape(),
            ));
        }
        // The layout without the reduced axis maps output i to the start of its row.
        let mut dims = layout.dims().to_vec();
        let mut strides = layout.strides().to_vec();
        let len = dims.remove(axis);
        let stride = strides.remove(axis);
        let outer = Layout::new(dims, strides, layout.offset());
        self.bind()?;
        let n_out = outer.numel();
        let out = self.alloc::<i64>(n_out)?;
        if n_out > 0 {
            let name = format!("arg_reduce_{}_{}", op.name(), suffix(E::DTYPE));
            let od = self.upload_dims(&outer)?;
            let mut args = [
                storage_arg(x),
                storage_arg(&out),
                Arg::I64(n_out as i64),
                Arg::I32(outer.rank() as i32),
                buffer_arg(&od),
                Arg::I64(layout.offset() as i64),
                Arg::I64(len as i64),
                Arg::I64(stride as i64),
            ];
            self.launch_args(&self.inner.arg_reduce, &name, n_out, &mut args)?;
        }
        Ok(out)
    }

    fn matmul<E: Float>(
        &self,
        lhs: &CudaStorage<E>,
        lhs_layout: &Layout,
        rhs: &CudaStorage<E>,
        rhs_layout: &Layout,
    ) -> Result<CudaStorage<E>> {
        let (ld, rd) = (lhs_layout.dims(), rhs_layout.dims());
        if ld.len() != 3 || rd.len() != 3 || ld[0] != rd[0] || ld[2] != rd[1] {
            return Err(Error::ShapeMismatch {
                op: "matmul",
                what: "expected [b, m, k] and [b, k, n]",
                lhs: lhs_layout.shape().clone(),
                rhs: rhs_layout.shape().clone(),
            });
        }
        Self::check_fits("matmul", lhs_layout, lhs.len)?;
        Self::check_fits("matmul", rhs_layout, rhs.len)?;
        let (batch, m, k, n) = (ld[0], ld[1], ld[2], rd[2]);
        const TILE: usize = 16;
        let (gx, gy) = (n.div_ceil(TILE), m.div_ceil(TILE));
        if gy > 65_535 || gx > i32::MAX as usize {
            return Err(Error::Backend {
                backend: BACKEND_NAME,
                msg: format!("matmul: {m}x{n} output is too large for one launch"),
            });
        }
        self.bind()?;
        let out = self.alloc::<E>(batch * m * n)?;
        if batch * m * n == 0 {
            return Ok(out);
        }
        if k == 0 {
            // An empty inner dimension: the product is all zeros.
            self.launch_full_zero(&out, batch * m * n)?;
            return Ok(out);
        }
        let name = format!("matmul_{}", suffix(E::DTYPE));
        let func = self
            .inner
            .matmul
            .get_function(&name)
            .map_err(|e| driver_err(&format!("finding kernel {name}"), e))?;
        let (ls, rs) = (lhs_layout.strides(), rhs_layout.strides());
        let mut args: [i64; 8] = [
            lhs_layout.offset() as i64,
            ls[0] as i64,
            ls[1] as i64,
            ls[2] as i64,
            rhs_layout.offset() as i64,
            rs[0] as i64,
            rs[1] as i64,
            rs[2] as i64,
        ];
        let mut sizes: [i64; 4] = [batch as i64, m as i64, k as i64, n as i64];
        let mut l_ptr = lhs.bytes.as_device_ptr();
        let mut r_ptr = rhs.bytes.as_device_ptr();
        let mut o_ptr = out.bytes.as_device_ptr();
        let [a0, a1, a2, a3, a4, a5, a6, a7] = &mut args;
        let [b0, b1, b2, b3] = &mut sizes;
        let params = [
            ptr(&mut l_ptr),
            ptr(a0),
            ptr(a1),
            ptr(a2),
            ptr(a3),
            ptr(&mut r_ptr),
            ptr(a4),
            ptr(a5),
            ptr(a6),
            ptr(a7),
            ptr(&mut o_ptr),
            ptr(b0),
            ptr(b1),
            ptr(b2),
            ptr(b3),
        ];
        let grid = (gx as u32, gy as u32, batch.min(65_535) as u32);
        let block = (TILE as u32, TILE as u32, 1u32);
        let stream = &self.inner.stream;
        // SAFETY: the arguments match the kernel's C signature; the kernel reads only inside
        // the checked layouts and writes `out[0..batch*m*n]`; we wait before returning.
        unsafe { stream.launch(&func, grid, block, 0, &params) }
            .map_err(|e| driver_err(&format!("launching {name}"), e))?;
        stream
            .synchronize()
            .map_err(|e| driver_err(&format!("running {name}"), e))?;
        Ok(out)
    }

    fn gather<E: Element>(
        &self,
        src: &CudaStorage<E>,
        src_layout: &Layout,
        index: &CudaStorage<i64>,
        index_layout: &Layout,
        axis: usize,
    ) -> Result<CudaStorage<E>> {
        Self::check_fits("gather", src_layout, src.len)?;
        Self::check_fits("gather", index_layout, index.len)?;
        let view = src_layout.index_companion("gather", index_layout, axis)?;
        let size = src_layout.dims()[axis];
        self.bind()?;
        self.check_indices("gather", index, index_layout, axis, size)?;
        let n = index_layout.numel();
        let out = self.alloc::<E>(n)?;
        if n > 0 {
            let (id, vd) = (self.upload_dims(index_layout)?, self.upload_dims(&view)?);
            let mut args = [
                storage_arg(src),
                storage_arg(&out),
                Arg::I64(n as i64),
                Arg::I32(index_layout.rank() as i32),
                buffer_arg(&id),
                Arg::I64(index_layout.offset() as i64),
                storage_arg(index),
                buffer_arg(&vd),
                Arg::I64(view.offset() as i64),
                Arg::I64(src_layout.strides()[axis] as i64),
            ];
            let name = format!("gather_{}", suffix(E::DTYPE));
            self.launch_args(&self.inner.index, &name, n, &mut args)?;
        }
        Ok(out)
    }

    fn scatter_add<E: Element>(
        &self,
        dst: &mut CudaStorage<E>,
        dst_layout: &Layout,
        index: &CudaStorage<i64>,
        index_layout: &Layout,
        src: &CudaStorage<E>,
        src_layout: &Layout,
        axis: usize,
    ) -> Result<()> {
        Self::check_fits("scatter_add", dst_layout, dst.len)?;
        Self::check_fits("scatter_add", index_layout, index.len)?;
        Self::check_fits("scatter_add", src_layout, src.len)?;
        Self::check_same_shape("scatter_add", index_layout, src_layout)?;
        let view = dst_layout.index_companion("scatter_add", index_layout, axis)?;
        let size = dst_layout.dims()[axis];
        self.bind()?;
        // Every index is checked before anything is added, so an error leaves `dst` untouched.
        self.check_indices("scatter_add", index, index_layout, axis, size)?;
        let n = index_layout.numel();
        if n == 0 {
            return Ok(());
        }
        let id = self.upload_dims(index_layout)?;
        let sd = self.upload_dims(src_layout)?;
        let vd = self.upload_dims(&view)?;
        let mut args = [
            storage_arg(dst),
            Arg::I64(n as i64),
            Arg::I32(index_layout.rank() as i32),
            buffer_arg(&id),
            Arg::I64(index_layout.offset() as i64),
            storage_arg(index),
            buffer_arg(&sd),
            Arg::I64(src_layout.offset() as i64),
            storage_arg(src),
            buffer_arg(&vd),
            Arg::I64(view.offset() as i64),
            Arg::I64(dst_layout.strides()[axis] as i64),
        ];
        let name = format!("scatter_add_{}", suffix(E::DTYPE));
        self.launch_args(&self.inner.index, &name, n, &mut args)
    }

    fn index_select<E: Element>(
        &self,
        src: &CudaStorage<E>,
        src_layout: &Layout,
        index: &CudaStorage<i64>,
        index_layout: &Layout,
        axis: usize,
    ) -> Result<CudaStorage<E>> {
        Self::check_fits("index_select", src_layout, src.len)?;
        Self::check_fits("index_select", index_layout, index.len)?;
        if axis >= src_layout.rank() || index_layout.rank() != 1 {
            return Err(Error::invalid(
                "index_select",
                "needs a 1-D index and an axis in range",
                src_layout.shape(),
            ));
        }
        let size = src_layout.dims()[axis];
        self.bind()?;
        self.check_indices("index_select", index, index_layout, axis, size)?;
        let nidx = index_layout.numel();
        // Read through the source with the axis stride 0, then add `index[j] * stride`.
        let mut dims = src_layout.dims().to_vec();
        dims[axis] = nidx;
        let mut strides = src_layout.strides().to_vec();
        strides[axis] = 0;
        let inner: usize = dims[axis + 1..].iter().product();
        let view = Layout::new(dims, strides, src_layout.offset());
        let len = view.numel();
        let out = self.alloc::<E>(len)?;
        if len > 0 {
            let vd = self.upload_dims(&view)?;
            let mut args = [
                storage_arg(src),
                storage_arg(&out),
                Arg::I64(len as i64),
                Arg::I32(view.rank() as i32),
                buffer_arg(&vd),
                Arg::I64(view.offset() as i64),
                storage_arg(index),
                Arg::I64(index_layout.offset() as i64),
                Arg::I64(index_layout.strides()[0] as i64),
                Arg::I64(inner.max(1) as i64),
                Arg::I64(nidx.max(1) as i64),
                Arg::I64(src_layout.strides()[axis] as i64),
            ];
            let name = format!("index_select_{}", suffix(E::DTYPE));
            self.launch_args(&self.inner.index, &name, len, &mut args)?;
        }
        Ok(out)
    }

    fn im2col<E: Float>(
        &self,
        x: &CudaStorage<E>,
        layout: &Layout,
        window: &Window2d,
    ) -> Result<CudaStorage<E>> {
        Self::check_fits("im2col", layout, x.len)?;
        let dims: [usize; 4] = layout.dims().try_into().map_err(|_| {
            Error::invalid("im2col", "expects a [n, c, h, w] array", layout.shape())
        })?;
        let [n, c, h, w] = dims;
        let (oh, ow) = window_output("im2col", dims, window)?;
        let (kh, kw) = window.kernel;
        let len = n * c * kh * kw * oh * ow;
        self.bind()?;
        let out = self.alloc::<E>(len)?;
        if len > 0 {
            let st = layout.strides();
            let mut args = vec![
                storage_arg(x),
                storage_arg(&out),
                Arg::I64(len as i64),
                Arg::I64(layout.offset() as i64),
            ];
            args.extend([st[0], st[1], st[2], st[3], c, h, w].map(|v| Arg::I64(v as i64)));
            args.extend(window_args(window, oh, ow));
            let name = format!("im2col_{}", suffix(E::DTYPE));
            self.launch_args(&self.inner.im2col, &name, len, &mut args)?;
        }
        Ok(out)
    }

    fn col2im<E: Float>(
        &self,
        cols: &CudaStorage<E>,
        cols_layout: &Layout,
        channels: usize,
        image_hw: (usize, usize),
        window: &Window2d,
    ) -> Result<CudaStorage<E>> {
        Self::check_fits("col2im", cols_layout, cols.len)?;
        let (h, w) = image_hw;
        let n = cols_layout.dims().first().copied().unwrap_or(0);
        let (oh, ow) = window_output("col2im", [n, channels, h, w], window)?;
        let (kh, kw) = window.kernel;
        let cd = cols_layout.dims();
        if !(cols_layout.rank() == 3 && cd[1] == channels * kh * kw && cd[2] == oh * ow) {
            return Err(Error::invalid(
                "col2im",
                format!("columns do not match {channels} channels of {h}x{w} with {window:?}"),
                cols_layout.shape(),
            ));
        }
        let len = n * channels * h * w;
        self.bind()?;
        let out = self.alloc::<E>(len)?;
        if len > 0 {
            let st = cols_layout.strides();
            let mut args = vec![
                storage_arg(cols),
                storage_arg(&out),
                Arg::I64(len as i64),
                Arg::I64(cols_layout.offset() as i64),
            ];
            args.extend([st[0], st[1], st[2], channels, h, w].map(|v| Arg::I64(v as i64)));
            args.extend(window_args(window, oh, ow));
            let name = format!("col2im_{}", suffix(E::DTYPE));
            self.launch_args(&self.inner.im2col, &name, len, &mut args)?;
        }
        Ok(out)
    }

    fn synchronize(&self) -> Result<()> {
        self.bind()?;
        self.inner.synchronize()
    }
}
