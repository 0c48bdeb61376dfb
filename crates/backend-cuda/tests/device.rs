//! Device-level tests. Each opens device 0 and skips, saying why, when that fails (no GPU, no
//! driver, or the crate built without the `cuda` feature).

use nanotorch_backend_cuda::Cuda;

/// Device 0, or `None` after printing why the test is skipped.
fn device_or_skip(test: &str) -> Option<Cuda> {
    match Cuda::new(0) {
        Ok(dev) => Some(dev),
        Err(e) => {
            println!("SKIPPED {test}: no CUDA device: {e}");
            None
        }
    }
}

#[test]
fn open_device_or_clear_error() {
    match Cuda::new(0) {
        Ok(dev) => assert_eq!(dev.ordinal(), 0),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("cuda backend: "), "unclear error: {msg}");
            println!("SKIPPED open_device_or_clear_error: {msg}");
        }
    }
}

#[test]
fn bad_ordinal_is_an_error_not_a_panic() {
    if device_or_skip("bad_ordinal_is_an_error_not_a_panic").is_none() {
        return;
    }
    assert!(Cuda::new(1 << 20).is_err());
}

#[cfg(feature = "cuda")]
#[test]
fn kernels_load() {
    let Some(dev) = device_or_skip("kernels_load") else {
        return;
    };
    for op in ["exp", "gelu_erf", "round"] {
        for dt in ["f32", "f64"] {
            let name = format!("unary_{op}_{dt}");
            assert!(dev.has_kernel(&name), "{name} missing from the PTX");
        }
    }
    assert!(!dev.has_kernel("unary_nope_f32"));
    dev.synchronize_device().expect("synchronize");
}
