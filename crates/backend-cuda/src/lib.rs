//! `nanotorch-backend-cuda`: the [`Cuda`] device for nanotorch.
//!
//! Layer 3 of the architecture. Kernels live in `kernels/*.cu` at the workspace root;
//! `cargo xtask ptx` compiles them to PTX that this crate embeds, so building the crate needs
//! no CUDA toolkit. Everything that talks to the driver (through `cust`) sits behind the
//! `cuda` cargo feature: without it the crate still builds, and [`Cuda::new`] returns an
//! [`Error::Backend`] saying the crate was built without CUDA.
//!
//! Layout: `device.rs` (context, modules, stream), `alloc.rs` (the caching allocator),
//! `storage.rs` ([`CudaStorage`] and host transfers), `launch.rs` (the one launch builder),
//! `ops/` (one file per op family: element-wise, copy, reduce, matmul, index, window, random) and
//! `backend.rs` (`impl Backend`, which only dispatches to `ops/`).
//!
//! Work is stream-ordered: every launch and copy goes to one stream per device and nothing waits
//! for the GPU except host reads (`to_vec`, the index ops' bounds flag) and
//! [`Cuda::synchronize`]. Memory comes from a caching allocator, so a steady loop allocates from
//! the driver only in its first iteration ([`Cuda::memory_stats`], [`Cuda::empty_cache`]).
//!
//! Status: with the feature, `Cuda` implements every primitive of `Backend` over device buffers
//! with kernels of its own. It is compiled, type-checked and its PTX assembled for sm_80/sm_90,
//! but it has not yet run on a GPU (see the crate README).
#![deny(missing_docs)]

pub use nanotorch_ndarray_core::{Error, Result};

/// Name this backend reports in errors.
pub const BACKEND_NAME: &str = "cuda";

/// A CUDA device, identified by its ordinal.
///
/// Creating one fails with a clear [`Error::Backend`] when the crate was built without the
/// `cuda` feature, or (with the feature) when no driver or GPU is present.
#[derive(Debug, Clone)]
pub struct Cuda {
    ordinal: usize,
    #[cfg(feature = "cuda")]
    inner: std::sync::Arc<device::DeviceInner>,
}

impl Cuda {
    /// Opens CUDA device `ordinal` (0 for the first GPU).
    ///
    /// # Errors
    /// [`Error::Backend`] when the crate was built without the `cuda` feature, when the driver
    /// cannot be loaded or initialised, or when there is no device with that ordinal.
    pub fn new(ordinal: usize) -> Result<Cuda> {
        #[cfg(feature = "cuda")]
        {
            let inner = device::DeviceInner::open(ordinal)?;
            Ok(Cuda {
                ordinal,
                inner: std::sync::Arc::new(inner),
            })
        }
        #[cfg(not(feature = "cuda"))]
        {
            Err(Error::Backend {
                backend: BACKEND_NAME,
                msg: format!(
                    "cannot open device {ordinal}: nanotorch-backend-cuda was built without the \
                     `cuda` feature (enable `nanotorch/cuda` or `nanotorch-backend-cuda/cuda`)"
                ),
            })
        }
    }

    /// The device ordinal this handle was opened with.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// Blocks until every kernel and copy queued on this device has finished. Launches are
    /// asynchronous, so this is what a timer or a host-side clock must call; reads to the host
    /// (`to_vec`) wait by themselves.
    ///
    /// # Errors
    /// [`Error::Backend`] with the driver's error, including a fault of an earlier launch
    /// (asynchronous launches report their faults at the next wait).
    #[cfg(feature = "cuda")]
    pub fn synchronize(&self) -> Result<()> {
        self.inner.bind()?;
        self.inner.synchronize()
    }

    /// Waits for queued work, then returns every cached free block to the driver (PyTorch's
    /// `torch.cuda.empty_cache()`). Memory held by live storages is untouched. Useful before
    /// handing the GPU to another process; never needed for correctness.
    ///
    /// # Errors
    /// [`Error::Backend`] with the driver's error.
    #[cfg(feature = "cuda")]
    pub fn empty_cache(&self) -> Result<()> {
        self.inner.empty_cache()
    }

    /// The caching allocator's counters: driver allocations and frees so far, bytes in use and
    /// bytes cached. A training loop's `driver_allocations` stays flat after its first step.
    #[cfg(feature = "cuda")]
    pub fn memory_stats(&self) -> MemoryStats {
        self.inner.pool.stats()
    }

    /// Whether the loaded PTX modules export a kernel named `name` (e.g. `unary_exp_f32`).
    #[cfg(feature = "cuda")]
    pub fn has_kernel(&self, name: &str) -> bool {
        self.inner
            .modules()
            .iter()
            .any(|m| m.get_function(name).is_ok())
    }

    /// The device's name as the driver reports it.
    #[cfg(feature = "cuda")]
    pub fn device_name(&self) -> &str {
        &self.inner.name
    }
}

#[cfg(feature = "cuda")]
mod alloc;
#[cfg(feature = "cuda")]
mod backend;
#[cfg(feature = "cuda")]
mod device;
#[cfg(feature = "cuda")]
mod launch;
#[cfg(feature = "cuda")]
mod ops;
pub mod ptx;
#[cfg(feature = "cuda")]
mod storage;
pub mod testing;

#[cfg(feature = "cuda")]
pub use alloc::MemoryStats;
#[cfg(feature = "cuda")]
pub use storage::CudaStorage;

#[cfg(all(test, not(feature = "cuda")))]
mod tests {
    use super::*;

    #[test]
    fn new_without_feature_says_so() {
        let err = Cuda::new(0).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("without the `cuda` feature"), "{msg}");
        assert!(matches!(
            err,
            Error::Backend {
                backend: "cuda",
                ..
            }
        ));
    }
}
