//! The driver side of [`crate::Cuda`]: context, kernel modules, the one stream every launch and
//! copy goes to, and the caching allocator, with every driver error mapped into the workspace
//! [`Error`].

use crate::{Error, Result, BACKEND_NAME};
use cust::context::Context;
use cust::device::Device;
use cust::module::Module;
use cust::stream::{Stream, StreamFlags};

/// Maps a driver error into the workspace error, naming what was being done.
pub(crate) fn driver_err(what: &str, e: cust::error::CudaError) -> Error {
    Error::Backend {
        backend: BACKEND_NAME,
        // Debug, not Display: cust's Display asks the driver (cuGetErrorString), which can
        // itself fail, and a formatting error would panic.
        msg: format!("{what}: {e:?}"),
    }
}

/// The state shared by every clone of a [`crate::Cuda`]: the primary context of one device.
pub(crate) struct DeviceInner {
    /// The device name the driver reports.
    pub(crate) name: String,
    /// The `unary_*` kernels (kernels/unary.cu), loaded once per context.
    pub(crate) unary: Module,
    /// The fill, copy and cast kernels (kernels/fill_copy.cu).
    pub(crate) fill_copy: Module,
    /// The two-argument kernels (kernels/binary.cu).
    pub(crate) binary: Module,
    /// The reductions over axes (kernels/reduce.cu).
    pub(crate) reduce: Module,
    /// The tiled batched matmul (kernels/matmul.cu).
    pub(crate) matmul: Module,
    /// The counter-based random fills (kernels/random.cu).
    pub(crate) random: Module,
    /// argmax / argmin along one axis (kernels/arg_reduce.cu).
    pub(crate) arg_reduce: Module,
    /// The index check, gather, scatter-add and index-select (kernels/index.cu).
    pub(crate) index: Module,
    /// im2col and col2im (kernels/im2col.cu).
    pub(crate) im2col: Module,
    /// The stream every launch and copy goes to, so that all device work runs in the order it
    /// was queued (what makes the caching allocator's reuse safe, see `alloc.rs`). Blocking
    /// with respect to the legacy default stream, so even a synchronous driver copy orders
    /// after queued kernels.
    pub(crate) stream: Stream,
    /// The caching allocator every storage of this device comes from.
    pub(crate) pool: crate::alloc::Pool,
    /// Kept alive for as long as any handle exists; declared last so it is dropped last.
    _context: Context,
}

impl std::fmt::Debug for DeviceInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceInner")
            .field("name", &self.name)
            .finish()
    }
}

// SAFETY: a CUDA context may be used from any thread once made current there; every use goes
// through `Context` methods that set it current first.
unsafe impl Send for DeviceInner {}
// SAFETY: as above; the only state mutated after creation is the pool, behind its mutex.
unsafe impl Sync for DeviceInner {}

impl DeviceInner {
    /// Initialises the driver and creates a context on device `ordinal`.
    pub(crate) fn open(ordinal: usize) -> Result<DeviceInner> {
        cust::init(cust::CudaFlags::empty()).map_err(|e| {
            driver_err(
                "initialising the CUDA driver (is a GPU and driver present?)",
                e,
            )
        })?;
        let count = Device::num_devices().map_err(|e| driver_err("counting devices", e))?;
        if ordinal >= count as usize {
            return Err(Error::Backend {
                backend: BACKEND_NAME,
                msg: format!("no CUDA device with ordinal {ordinal} ({count} present)"),
            });
        }
        let device =
            Device::get_device(ordinal as u32).map_err(|e| driver_err("getting the device", e))?;
        let name = device
            .name()
            .map_err(|e| driver_err("reading the device name", e))?;
        let context = Context::new(device).map_err(|e| driver_err("creating a context", e))?;
        let unary = Module::from_ptx(crate::ptx::UNARY, &[])
            .map_err(|e| driver_err("loading kernels/unary.cu's PTX", e))?;
        let fill_copy = Module::from_ptx(crate::ptx::FILL_COPY, &[])
            .map_err(|e| driver_err("loading kernels/fill_copy.cu's PTX", e))?;
        let binary = Module::from_ptx(crate::ptx::BINARY, &[])
            .map_err(|e| driver_err("loading kernels/binary.cu's PTX", e))?;
        let reduce = Module::from_ptx(crate::ptx::REDUCE, &[])
            .map_err(|e| driver_err("loading kernels/reduce.cu's PTX", e))?;
        let matmul = Module::from_ptx(crate::ptx::MATMUL, &[])
            .map_err(|e| driver_err("loading kernels/matmul.cu's PTX", e))?;
        let random = Module::from_ptx(crate::ptx::RANDOM, &[])
            .map_err(|e| driver_err("loading kernels/random.cu's PTX", e))?;
        let arg_reduce = Module::from_ptx(crate::ptx::ARG_REDUCE, &[])
            .map_err(|e| driver_err("loading kernels/arg_reduce.cu's PTX", e))?;
        let index = Module::from_ptx(crate::ptx::INDEX, &[])
            .map_err(|e| driver_err("loading kernels/index.cu's PTX", e))?;
        let im2col = Module::from_ptx(crate::ptx::IM2COL, &[])
            .map_err(|e| driver_err("loading kernels/im2col.cu's PTX", e))?;
        let stream = Stream::new(StreamFlags::DEFAULT, None)
            .map_err(|e| driver_err("creating a stream", e))?;
        Ok(DeviceInner {
            name,
            unary,
            fill_copy,
            binary,
            reduce,
            matmul,
            random,
            arg_reduce,
            index,
            im2col,
            stream,
            pool: crate::alloc::Pool::default(),
            _context: context,
        })
    }
}

impl DeviceInner {
    /// Every loaded module, for kernel look-ups by name.
    pub(crate) fn modules(&self) -> [&Module; 9] {
        [
            &self.unary,
            &self.fill_copy,
            &self.binary,
            &self.reduce,
            &self.matmul,
            &self.random,
            &self.arg_reduce,
            &self.index,
            &self.im2col,
        ]
    }

    /// Makes this context current on the calling thread (kernels may be launched from any
    /// thread that holds a handle).
    pub(crate) fn bind(&self) -> Result<()> {
        cust::context::CurrentContext::set_current(&self._context)
            .map_err(|e| driver_err("making the context current", e))
    }

    /// Blocks until all work queued on this device's stream has finished (the context must be
    /// current). Kernel faults of earlier asynchronous launches are reported here.
    pub(crate) fn synchronize(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(|e| driver_err("waiting for the device's queued work", e))
    }

    /// Waits for queued work, then returns every cached block to the driver.
    pub(crate) fn empty_cache(&self) -> Result<()> {
        self.bind()?;
        self.synchronize()?;
        self.pool.release_cached()
    }
}

impl Drop for DeviceInner {
    fn drop(&mut self) {
        // Every storage holds an `Arc` of this, so all blocks are back in the free lists now.
        // Errors cannot be reported from a drop; the context's destruction frees the memory
        // anyway.
        let _ = self.empty_cache();
    }
}
