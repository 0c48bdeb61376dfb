//! The one way this crate launches a kernel: a builder that collects the arguments in the
//! kernel's C order, picks the grid, and queues the launch on the device's stream.
//!
//! ```text
//! Launch::new(dev, &dev.inner.fill_copy, format!("copy_strided_{dt}"))
//!     .ptr(&src).ptr(&out).len(n)            // T* src, T* out, long long n
//!     .rank(layout).view(layout)?            // int rank, const long long* dims, long long off
//!     .items(n)                              // grid-stride shape over n items
//!     .run()?;                               // queued; nothing waits
//! ```
//!
//! Every argument is held as the bits of a 64-bit slot; the driver copies as many bytes from
//! each slot as the kernel's parameter has (4 for `int`/`float`, 8 otherwise), which on a
//! little-endian host are the value's own bytes. Layouts travel as a small device array
//! (shape then strides, from the caching allocator) that is queued before the kernel and
//! returned to the pool as soon as the launch is queued: stream order keeps it intact until the
//! kernel has read it.
//!
//! Launches never synchronize. Argument values are copied by the driver when the launch is
//! queued; buffers are kept valid by stream order (see `alloc.rs`). A kernel fault therefore
//! shows up at the next point where the host waits (`to_vec`, a scalar read, `synchronize`).

#[cfg(target_endian = "big")]
compile_error!("the launch builder passes arguments as little-endian 64-bit slots");

use crate::device::driver_err;
use crate::{Cuda, CudaStorage, Result};
use cust::module::Module;
use nanotorch_ndarray_core::{Element, Layout};
use std::ffi::c_void;

/// Threads per block for element-wise (grid-stride) launches.
pub(crate) const BLOCK: u32 = 256;

/// Blocks for `n` items with a grid-stride loop: enough to cover them, capped at the 1-D grid
/// limit of older GPUs (the loop covers the rest).
fn grid_for(n: usize) -> u32 {
    n.div_ceil(BLOCK as usize).clamp(1, 65_535) as u32
}

/// A kernel launch being built (see the module docs).
#[must_use = "a launch does nothing until `run`"]
pub(crate) struct Launch<'a> {
    dev: &'a Cuda,
    module: &'a Module,
    name: String,
    /// One 64-bit slot per kernel parameter, in order.
    args: Vec<u64>,
    /// Layout arrays uploaded for this launch, kept until it is queued.
    uploads: Vec<CudaStorage<i64>>,
    grid: (u32, u32, u32),
    block: (u32, u32, u32),
}

impl<'a> Launch<'a> {
    /// A launch of kernel `name` from `module`, with no arguments yet and one block.
    pub(crate) fn new(dev: &'a Cuda, module: &'a Module, name: String) -> Self {
        Launch {
            dev,
            module,
            name,
            args: Vec::with_capacity(16),
            uploads: Vec::new(),
            grid: (1, 1, 1),
            block: (BLOCK, 1, 1),
        }
    }

    fn slot(mut self, bits: u64) -> Self {
        self.args.push(bits);
        self
    }

    /// A `T*` argument: the storage's device address.
    pub(crate) fn ptr<E: Element>(self, s: &CudaStorage<E>) -> Self {
        let addr = s.addr();
        self.slot(addr)
    }

    /// A `long long` argument.
    pub(crate) fn i64(self, v: i64) -> Self {
        self.slot(v as u64)
    }

    /// A `long long` argument holding a size or count.
    pub(crate) fn len(self, v: usize) -> Self {
        // Device counts are 64-bit signed; no host allocation can exceed i64::MAX bytes.
        self.i64(v as i64)
    }

    /// An `int` argument.
    pub(crate) fn i32(self, v: i32) -> Self {
        self.slot(u64::from(v as u32))
    }

    /// An `int` argument that is 0 or 1.
    pub(crate) fn flag(self, b: bool) -> Self {
        self.i32(i32::from(b))
    }

    /// A `double` argument.
    pub(crate) fn f64(self, v: f64) -> Self {
        self.slot(v.to_bits())
    }

    /// An `unsigned long long` argument.
    pub(crate) fn u64(self, v: u64) -> Self {
        self.slot(v)
    }

    /// A `T` argument (the element type of the kernel: `float`, `double` or `long long`).
    pub(crate) fn scalar<E: Element>(self, v: E) -> Self {
        let mut bytes = [0u8; 8];
        let b = bytemuck::bytes_of(&v);
        bytes[..b.len()].copy_from_slice(b);
        self.slot(u64::from_le_bytes(bytes))
    }

    /// An `int rank` argument: the layout's number of axes.
    pub(crate) fn rank(self, l: &Layout) -> Self {
        self.i32(l.rank() as i32)
    }

    /// A `const long long* dims` argument: the layout's shape then strides, uploaded.
    pub(crate) fn dims(mut self, l: &Layout) -> Result<Self> {
        let mut dims: Vec<i64> = l.dims().iter().map(|&d| d as i64).collect();
        dims.extend(l.strides().iter().map(|&s| s as i64));
        if dims.is_empty() {
            dims.push(0); // a valid pointer even for rank 0
        }
        let buf = self.dev.upload(&dims)?;
        self = self.ptr(&buf);
        self.uploads.push(buf);
        Ok(self)
    }

    /// The `const long long* dims, long long offset` pair through which kernels read a view.
    pub(crate) fn view(self, l: &Layout) -> Result<Self> {
        let off = l.offset();
        Ok(self.dims(l)?.len(off))
    }

    /// The grid-stride shape over `n` items (blocks of [`BLOCK`] threads).
    pub(crate) fn items(mut self, n: usize) -> Self {
        self.grid = (grid_for(n), 1, 1);
        self.block = (BLOCK, 1, 1);
        self
    }

    /// An explicit grid and block shape (tiled kernels).
    pub(crate) fn shape(mut self, grid: (u32, u32, u32), block: (u32, u32, u32)) -> Self {
        self.grid = grid;
        self.block = block;
        self
    }

    /// Queues the launch on the device's stream. Does not wait for it.
    pub(crate) fn run(mut self) -> Result<()> {
        self.dev.bind()?;
        let name = &self.name;
        let func = self
            .module
            .get_function(name)
            .map_err(|e| driver_err(&format!("finding kernel {name}"), e))?;
        let params: Vec<*mut c_void> = self
            .args
            .iter_mut()
            .map(|a| (a as *mut u64).cast())
            .collect();
        // SAFETY: each caller pushes one slot per parameter of the kernel's C signature, in
        // order, with device addresses of live storages sized for the items the kernel touches
        // (the op families check layouts against their storages first). The driver copies the
        // parameter values while queuing; the buffers stay valid until the kernel has run
        // because blocks are reused only by work queued later on this same stream.
        unsafe {
            self.dev
                .inner
                .stream
                .launch(&func, self.grid, self.block, 0, &params)
        }
        .map_err(|e| driver_err(&format!("launching {name}"), e))?;
        // The uploaded layouts go back to the pool now; stream order protects them.
        self.uploads.clear();
        Ok(())
    }
}
