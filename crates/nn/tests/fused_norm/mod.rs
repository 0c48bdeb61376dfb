//! What the fused-normalisation tests share: seeded inputs, a scaled closeness check, and the
//! comparison of a fused node's first and second derivatives with the composed definition's.

use nanotorch_autograd::{grad, BackwardOptions, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Float, NDArray, RandomDist};

/// A seeded array as a tensor that does not require a gradient.
pub fn random<E: Float>(dims: &[usize], seed: u64, dist: RandomDist) -> Tensor<E, Cpu> {
    Tensor::from_ndarray(NDArray::random(dims.to_vec(), dist, seed, &Cpu).unwrap())
}

/// Normal(0.5, 1.5) values that require a gradient: a leaf.
pub fn randn<E: Float>(dims: &[usize], seed: u64) -> Tensor<E, Cpu> {
    let dist = RandomDist::Normal {
        mean: 0.5,
        std: 1.5,
    };
    random::<E>(dims, seed, dist).requires_grad_(true)
}

/// Uniform(−1, 1) values: the gradient flowing into the output.
pub fn upstream<E: Float>(dims: &[usize], seed: u64) -> Tensor<E, Cpu> {
    let dist = RandomDist::Uniform {
        low: -1.0,
        high: 1.0,
    };
    random::<E>(dims, seed, dist)
}

/// Every element within `tol` times the largest magnitude of `want` (at least 1).
pub fn close<E: Float>(got: &Tensor<E, Cpu>, want: &Tensor<E, Cpu>, tol: f64, what: &str) {
    assert_eq!(got.dims(), want.dims(), "{what}: shapes");
    let (g, w) = (got.to_vec().unwrap(), want.to_vec().unwrap());
    let scale = w.iter().fold(1.0f64, |m, v| m.max(v.to_f64().abs()));
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let (a, b) = (a.to_f64(), b.to_f64());
        assert!(
            (a - b).abs() <= tol * scale,
            "{what}: element {i}: {a} vs {b} (tolerance {tol} × {scale})"
        );
    }
}

/// The gradients of `Σ y·upstream` with respect to `leaves` (the input first) through the fused
/// output and through the reference, at `tol`; then of the squared norm of the input's
/// gradient (second order, under `create_graph`) at `10·tol`.
pub fn same_derivatives<E: Float>(
    (fused, reference): (&Tensor<E, Cpu>, &Tensor<E, Cpu>),
    leaves: &[&Tensor<E, Cpu>],
    upstream: &Tensor<E, Cpu>,
    tol: f64,
    what: &str,
) {
    let first = |y: &Tensor<E, Cpu>, create_graph: bool| {
        let loss = y.mul(upstream).unwrap().sum_all().unwrap();
        let options = BackwardOptions {
            retain_graph: true,
            create_graph,
        };
        grad(&loss, None, leaves, options).unwrap()
    };
    for (g, r) in first(fused, false).iter().zip(&first(reference, false)) {
        close(
            g.as_ref().unwrap(),
            r.as_ref().unwrap(),
            tol,
            &format!("gradients, {what}"),
        );
    }
    let second = |y: &Tensor<E, Cpu>| {
        let gx = first(y, true).remove(0).unwrap();
        let s = gx.square().unwrap().sum_all().unwrap();
        grad(&s, None, leaves, BackwardOptions::default()).unwrap()
    };
    // (The bias does not reach the input's gradient: no gradient, or zeros, either way.)
    for (g, r) in second(fused).iter().zip(&second(reference)) {
        let what = format!("second order, {what}");
        match (g, r) {
            (Some(g), Some(r)) => close(g, r, tol * 10.0, &what),
            (Some(z), None) | (None, Some(z)) => {
                close(z, &Tensor::zeros_like(z).unwrap(), 0.0, &what)
            }
            (None, None) => {}
        }
    }
}
