//! Device-level tests. Each opens device 0 and skips, saying why, when that fails (no GPU, no
//! driver, or the crate built without the `cuda` feature); with `NANOTORCH_REQUIRE_GPU=1` it
//! fails instead.

use nanotorch_backend_cuda::testing::device_or_skip;
use nanotorch_backend_cuda::Cuda;

#[test]
fn open_device_or_clear_error() {
    if let Err(e) = Cuda::new(0) {
        let msg = e.to_string();
        assert!(msg.starts_with("cuda backend: "), "unclear error: {msg}");
    }
    if let Some(dev) = device_or_skip("open_device_or_clear_error") {
        assert_eq!(dev.ordinal(), 0);
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
    dev.synchronize().expect("synchronize");
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

/// One "training step" through the backend: a linear layer's forward and backward on a batch
/// (matmul, bias add, activation, a reduction, an index gather for the loss, and the in-place
/// SGD update), with every temporary dropped at the end of the step.
#[cfg(feature = "cuda")]
fn training_step(
    dev: &Cuda,
    w: &mut nanotorch_backend_cuda::CudaStorage<f32>,
    x: &nanotorch_backend_cuda::CudaStorage<f32>,
    labels: &nanotorch_backend_cuda::CudaStorage<i64>,
) -> f32 {
    use nanotorch_ndarray_core::{Backend, BinaryOp, Layout, ReduceOp, ScalarSide, UnaryOp};
    let (b, i, o) = (32, 64, 10);
    let xl = Layout::contiguous(vec![1, b, i]);
    let wl = Layout::contiguous(vec![1, i, o]);
    let h = dev.matmul(x, &xl, w, &wl).unwrap();
    let hl = Layout::contiguous(vec![b, o]);
    let a = dev.unary(UnaryOp::Tanh, &h, &hl).unwrap();
    let picked = dev
        .gather(&a, &hl, labels, &Layout::contiguous(vec![b, 1]), 1)
        .unwrap();
    let loss = dev
        .reduce(
            ReduceOp::Sum,
            &picked,
            &Layout::contiguous(vec![b, 1]),
            &[0, 1],
        )
        .unwrap();
    // A gradient-shaped update: w -= 0.01 * xᵀ·a.
    let xt = Layout::contiguous(vec![1, b, i]).transpose(1, 2).unwrap();
    let g = dev
        .matmul(x, &xt, &a, &Layout::contiguous(vec![1, b, o]))
        .unwrap();
    let g = dev
        .binary_scalar(BinaryOp::Mul, &g, &wl, 0.01, ScalarSide::Right)
        .unwrap();
    dev.binary_inplace(BinaryOp::Sub, w, &wl, &g, &wl).unwrap();
    dev.to_vec(&loss, &Layout::contiguous(vec![1, 1])).unwrap()[0]
}

/// The caching allocator: after the first step has filled the cache, repeated steps make no
/// driver allocation, and `empty_cache` hands the cached blocks back.
#[cfg(feature = "cuda")]
#[test]
fn repeated_training_step_allocates_nothing_new() {
    use nanotorch_ndarray_core::{Backend, RandomDist};
    let Some(dev) = device_or_skip("repeated_training_step_allocates_nothing_new") else {
        return;
    };
    let normal = RandomDist::Normal {
        mean: 0.0,
        std: 0.1,
    };
    let mut w = dev.random::<f32>(64 * 10, normal, 1).unwrap();
    let x = dev.random::<f32>(32 * 64, normal, 2).unwrap();
    let labels = dev
        .from_slice(&(0..32).map(|k| k % 10).collect::<Vec<i64>>())
        .unwrap();
    let first = training_step(&dev, &mut w, &x, &labels);
    assert!(first.is_finite());
    let after_first = dev.memory_stats();
    assert!(after_first.driver_allocations > 0);
    assert!(after_first.cached_bytes > 0, "{after_first:?}");
    for step in 0..5 {
        let loss = training_step(&dev, &mut w, &x, &labels);
        assert!(loss.is_finite());
        let now = dev.memory_stats();
        assert_eq!(
            now.driver_allocations, after_first.driver_allocations,
            "step {step} allocated from the driver: {now:?}"
        );
        assert_eq!(
            now.in_use_bytes, after_first.in_use_bytes,
            "step {step} leaked"
        );
    }
    let before = dev.memory_stats();
    dev.empty_cache().unwrap();
    let after = dev.memory_stats();
    assert_eq!(after.cached_bytes, 0);
    assert!(after.driver_frees > before.driver_frees);
    assert_eq!(
        after.in_use_bytes, before.in_use_bytes,
        "live storages were freed"
    );
    // The weights survived (they are in use, not cached) and the next step refills the cache.
    training_step(&dev, &mut w, &x, &labels);
    assert!(dev.memory_stats().driver_allocations > after.driver_allocations);
}

/// Launches are queued without waiting: many small launches followed by one read give the same
/// values as the host computes, so stream order (not per-launch synchronization) keeps the
/// reuse of cached blocks correct.
#[cfg(feature = "cuda")]
#[test]
fn queued_launches_reuse_blocks_in_order() {
    use nanotorch_ndarray_core::{Backend, BinaryOp, Layout, ScalarSide};
    let Some(dev) = device_or_skip("queued_launches_reuse_blocks_in_order") else {
        return;
    };
    let n = 1 << 16;
    let l = Layout::contiguous(vec![n]);
    let mut acc = dev.full(n, 0.0f64).unwrap();
    for k in 0..200 {
        // A fresh temporary every iteration, dropped (returned to the cache) right after its
        // kernel is queued, then reused by the next iteration's temporary.
        let t = dev.full(n, k as f64).unwrap();
        let t = dev
            .binary_scalar(BinaryOp::Mul, &t, &l, 2.0, ScalarSide::Right)
            .unwrap();
        dev.binary_inplace(BinaryOp::Add, &mut acc, &l, &t, &l)
            .unwrap();
    }
    let got = dev.to_vec(&acc, &l).unwrap();
    let want = (0..200).map(|k| 2.0 * k as f64).sum::<f64>();
    assert!(got.iter().all(|&v| v == want), "{} vs {want}", got[0]);
}
