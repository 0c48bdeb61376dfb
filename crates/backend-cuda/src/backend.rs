//! `impl Backend for Cuda`: device buffers as storage, kernels launched from the embedded PTX.
//!
//! Written so far: host transfers (`from_slice`, `to_vec`), `storage_len`, `full`, `arange`,
//! `copy_strided`, `cast`, `unary`, `binary`, `binary_scalar`, `binary_inplace`,
//! `scalar_inplace`, `assign`, `where_cond`, `reduce` (any strided or broadcast layout),
//! `matmul` (tiled shared-memory kernel) and `synchronize`. Every other primitive
//! returns [`Error::Backend`] saying it is not implemented on this backend yet: no silent
//! host fallback, no panic.

use crate::device::driver_err;
use crate::{Cuda, Error, Result, BACKEND_NAME};
use cust::memory::{CopyDestination, DeviceBuffer};
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

/// The error for a primitive that has no CUDA kernel yet.
fn not_yet(op: &str) -> Error {
    Error::Backend {
        backend: BACKEND_NAME,
        msg: format!("{op} is not implemented on the cuda backend yet"),
    }
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
            .ok_or_else(|| not_yet("allocation over usize::MAX bytes"))?;
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

    fn random<E: Float>(
        &self,
        _len: usize,
        _dist: RandomDist,
        _seed: u64,
    ) -> Result<CudaStorage<E>> {
        Err(not_yet("random"))
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
        _op: ArgReduceOp,
        _x: &CudaStorage<E>,
        _layout: &Layout,
        _axis: usize,
    ) -> Result<CudaStorage<i64>> {
        Err(not_yet("arg_reduce"))
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
        _src: &CudaStorage<E>,
        _src_layout: &Layout,
        _index: &CudaStorage<i64>,
        _index_layout: &Layout,
        _axis: usize,
    ) -> Result<CudaStorage<E>> {
        Err(not_yet("gather"))
    }

    fn scatter_add<E: Element>(
        &self,
        _dst: &mut CudaStorage<E>,
        _dst_layout: &Layout,
        _index: &CudaStorage<i64>,
        _index_layout: &Layout,
        _src: &CudaStorage<E>,
        _src_layout: &Layout,
        _axis: usize,
    ) -> Result<()> {
        Err(not_yet("scatter_add"))
    }

    fn index_select<E: Element>(
        &self,
        _src: &CudaStorage<E>,
        _src_layout: &Layout,
        _index: &CudaStorage<i64>,
        _index_layout: &Layout,
        _axis: usize,
    ) -> Result<CudaStorage<E>> {
        Err(not_yet("index_select"))
    }

    fn im2col<E: Float>(
        &self,
        _x: &CudaStorage<E>,
        _layout: &Layout,
        _window: &Window2d,
    ) -> Result<CudaStorage<E>> {
        Err(not_yet("im2col"))
    }

    fn col2im<E: Float>(
        &self,
        _cols: &CudaStorage<E>,
        _cols_layout: &Layout,
        _channels: usize,
        _image_hw: (usize, usize),
        _window: &Window2d,
    ) -> Result<CudaStorage<E>> {
        Err(not_yet("col2im"))
    }

    fn synchronize(&self) -> Result<()> {
        self.bind()?;
        self.inner.synchronize()
    }
}
