//! `nanotorch-backend-cuda`: the [`Cuda`] device for nanotorch.
//!
//! Layer 3 of the architecture. Kernels live in `kernels/*.cu` at the workspace root;
//! `cargo xtask ptx` compiles them to PTX that this crate embeds, so building the crate needs
//! no CUDA toolkit. Everything that talks to the driver (through `cust`) sits behind the
//! `cuda` cargo feature: without it the crate still builds, and [`Cuda::new`] returns an
//! [`Error::Backend`] saying the crate was built without CUDA.
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

    /// Blocks until every kernel queued on this device has finished.
    ///
    /// # Errors
    /// [`Error::Backend`] with the driver's error.
    #[cfg(feature = "cuda")]
    pub fn synchronize_device(&self) -> Result<()> {
        self.inner.synchronize()
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
mod backend;
#[cfg(feature = "cuda")]
mod device;
#[cfg(feature = "cuda")]
pub use backend::CudaStorage;
pub mod ptx;

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
