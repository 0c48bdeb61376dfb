//! CUDA tasks: `ptx` (kernels/*.cu to PTX) and `test-cuda`. Owned by the backend-cuda work.

use crate::util::Result;

/// `cargo xtask ptx [--check] [--install-nvcc]`.
pub fn ptx(_args: &[String]) -> Result<()> {
    Err("ptx: not built yet".into())
}

/// `cargo xtask test-cuda [--build-only]`.
pub fn test_cuda(_args: &[String]) -> Result<()> {
    Err("test-cuda: not built yet".into())
}

/// The CUDA steps of `test-all`: the PTX freshness check when nvcc is at hand (saying plainly
/// when it is skipped) and a type-check of `nanotorch-backend-cuda --features cuda`.
pub fn test_all_steps() -> Result<()> {
    Ok(())
}
