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

/// `unary` on a transposed (non-contiguous) f32 and a contiguous f64 view, against
/// `UnaryOp::eval_f64`.
#[cfg(feature = "cuda")]
#[test]
fn unary_matches_reference_on_strided_views() {
    use nanotorch_ndarray_core::{Backend, Layout, UnaryOp};
    let Some(dev) = device_or_skip("unary_matches_reference_on_strided_views") else {
        return;
    };
    let data: Vec<f64> = (0..12).map(|i| (i as f64 - 5.5) * 0.37).collect();
    let base = Layout::contiguous(vec![3, 4]);
    let transposed = base.transpose(0, 1).unwrap();
    for op in [
        UnaryOp::Exp,
        UnaryOp::Tanh,
        UnaryOp::GeluErf,
        UnaryOp::Round,
        UnaryOp::Sign,
    ] {
        let host32: Vec<f32> = data.iter().map(|&v| v as f32).collect();
        let s32 = dev.from_slice(&host32).unwrap();
        let out = dev.unary(op, &s32, &transposed).unwrap();
        let got = dev.to_vec(&out, &Layout::contiguous(vec![4, 3])).unwrap();
        let want: Vec<f64> = transposed
            .strided_index()
            .map(|i| op.eval_f64(host32[i] as f64))
            .collect();
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (*g as f64 - w).abs() <= 1e-5 * (1.0 + w.abs()),
                "{op:?}: {g} vs {w}"
            );
        }
        let s64 = dev.from_slice(&data).unwrap();
        let out = dev.unary(op, &s64, &base).unwrap();
        let got = dev.to_vec(&out, &base).unwrap();
        for (g, x) in got.iter().zip(&data) {
            let w = op.eval_f64(*x);
            assert!(
                (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
                "{op:?}: {g} vs {w}"
            );
        }
    }
    dev.synchronize().unwrap();
}
