//! What the CUDA tests and device benchmarks share: opening device 0 or skipping, saying why.
//!
//! A test that finds no GPU skips (prints `SKIPPED <test>: …` and returns) unless the
//! environment variable `NANOTORCH_REQUIRE_GPU` is `1`: then it fails, so a run on a GPU machine
//! (the bundle's `run.sh` sets it) cannot pass by skipping everything.

use crate::Cuda;

/// The environment variable that turns "no GPU" from a skip into a failure.
pub const REQUIRE_GPU_ENV: &str = "NANOTORCH_REQUIRE_GPU";

/// Whether `NANOTORCH_REQUIRE_GPU=1` is set.
pub fn gpu_required() -> bool {
    std::env::var(REQUIRE_GPU_ENV).is_ok_and(|v| v.trim() == "1")
}

/// Device 0, or `None` after printing `SKIPPED <test>: no CUDA device: <why>`.
///
/// # Panics
/// When no device opens and [`gpu_required`] is true (a test is meant to fail then).
pub fn device_or_skip(test: &str) -> Option<Cuda> {
    match Cuda::new(0) {
        Ok(dev) => Some(dev),
        Err(e) => {
            assert!(
                !gpu_required(),
                "{test}: {REQUIRE_GPU_ENV}=1 but no CUDA device opened: {e}"
            );
            println!("SKIPPED {test}: no CUDA device: {e}");
            None
        }
    }
}
