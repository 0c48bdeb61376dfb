//! The activations added through the op tables, at the points where PyTorch makes a choice:
//! gradients at kinks and bounds, parameters, and the errors for parameters PyTorch rejects.
//! (Their forward values are checked in ndarray-core's `documented_values` test, and their
//! gradients away from kinks by the gradcheck suite.)

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;

type T = Tensor<f64, Cpu>;

fn leaf(values: &[f64]) -> T {
    Tensor::from_vec(values.to_vec(), [values.len()], &Cpu)
        .unwrap()
        .requires_grad_(true)
}

/// d(sum f(x))/dx at `values`.
fn grad_of(values: &[f64], f: impl Fn(&T) -> nanotorch_ndarray_core::Result<T>) -> Vec<f64> {
    let x = leaf(values);
    f(&x).unwrap().sum_all().unwrap().backward().unwrap();
    x.grad().unwrap().to_vec().unwrap()
}

#[test]
fn hardtanh_and_clamp_have_zero_gradient_at_their_bounds() {
    // PyTorch 2.15: hardtanh_backward and clamp's backward both pass the gradient only where
    // min < x < max (tests/ties.rs checks both against PyTorch's numbers).
    let at = [-1.0, -0.5, 1.0, 2.0];
    assert_eq!(
        grad_of(&at, |x| x.hardtanh(-1.0, 1.0)),
        [0.0, 1.0, 0.0, 0.0]
    );
    assert_eq!(
        grad_of(&at, |x| x.clamp(Some(-1.0), Some(1.0))),
        [0.0, 1.0, 0.0, 0.0]
    );
    let y = leaf(&at).hardtanh(-1.0, 1.0).unwrap().to_vec().unwrap();
    assert_eq!(y, [-1.0, -0.5, 1.0, 1.0]);
    assert!(leaf(&at).hardtanh(1.0, -1.0).is_err());
}

#[test]
fn hardswish_and_hardsigmoid_gradients_at_the_kinks_follow_pytorch() {
    // hardswish_backward (PyTorch 2.15): 0 for x <= -3, x/3 + 1/2 for -3 < x < 3, 1 from 3 up.
    let at = [-4.0, -3.0, 0.0, 3.0, 4.0];
    assert_eq!(grad_of(&at, |x| x.hardswish()), [0.0, 0.0, 0.5, 1.0, 1.0]);
    // hardsigmoid_backward: 1/6 strictly inside (-3, 3).
    let sixth = 1.0 / 6.0;
    assert_eq!(
        grad_of(&at, |x| x.hardsigmoid()),
        [0.0, 0.0, sixth, 0.0, 0.0]
    );
}

#[test]
fn selu_and_celu_take_the_left_slope_at_zero() {
    use nanotorch_ndarray_core::math::{SELU_ALPHA, SELU_SCALE};
    let g = grad_of(&[0.0, 1.0], |x| x.selu());
    assert!((g[0] - SELU_SCALE * SELU_ALPHA).abs() < 1e-12 && (g[1] - SELU_SCALE).abs() < 1e-12);
    assert_eq!(grad_of(&[0.0, 2.0], |x| x.celu(1.0)), [1.0, 1.0]);
}

#[test]
fn celu_with_alpha_matches_its_definition() {
    // CELU(x) = max(0, x) + min(0, α(exp(x/α) − 1)).
    let alpha = 0.5;
    let at = [-2.0, -0.3, 0.7];
    let got = leaf(&at).celu(alpha).unwrap().to_vec().unwrap();
    for (&x, &y) in at.iter().zip(&got) {
        let want = x.max(0.0) + (alpha * ((x / alpha).exp() - 1.0)).min(0.0);
        assert!((y - want).abs() < 1e-12, "celu({x}) = {y}, want {want}");
    }
    assert!(leaf(&at).celu(0.0).is_err());
}

#[test]
fn softplus_with_beta_and_threshold_matches_its_definition() {
    // softplus(x) = ln(1 + exp(βx))/β, and x itself where βx > threshold.
    let (beta, threshold) = (2.0, 1.0);
    let at = [-1.0, 0.2, 0.6, 3.0];
    let got = leaf(&at)
        .softplus_with(beta, threshold)
        .unwrap()
        .to_vec()
        .unwrap();
    for (&x, &y) in at.iter().zip(&got) {
        let want = if beta * x > threshold {
            x
        } else {
            (beta * x).exp().ln_1p() / beta
        };
        assert!((y - want).abs() < 1e-12, "softplus({x}) = {y}, want {want}");
    }
    let g = grad_of(&at, |x| x.softplus_with(beta, threshold));
    let sigmoid = |z: f64| 1.0 / (1.0 + (-z).exp());
    assert!((g[1] - sigmoid(0.4)).abs() < 1e-12 && g[3] == 1.0);
    // Huge inputs take the linear branch without overflowing into NaN gradients.
    let g = grad_of(&[1e4], |x| x.softplus_with(1.0, 20.0));
    assert_eq!(g, [1.0]);
    assert!(leaf(&at).softplus_with(0.0, 20.0).is_err());
}

#[test]
fn logsigmoid_is_finite_for_large_inputs() {
    let y = leaf(&[-800.0, 800.0])
        .logsigmoid()
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(y, [-800.0, 0.0]);
}

#[test]
fn atan2_is_refused_on_integers_and_has_both_gradients() {
    let a = Tensor::from_vec(vec![1i64, 2], [2], &Cpu).unwrap();
    let err = a.array().atan2(a.array()).unwrap_err().to_string();
    assert!(err.contains("atan2") && err.contains("i64"), "{err}");
    let (y, x) = (leaf(&[1.0]), leaf(&[2.0]));
    y.atan2(&x).unwrap().sum_all().unwrap().backward().unwrap();
    // ∂/∂y = x/(x² + y²) = 0.4, ∂/∂x = −y/(x² + y²) = −0.2
    assert!((y.grad().unwrap().to_vec().unwrap()[0] - 0.4).abs() < 1e-12);
    assert!((x.grad().unwrap().to_vec().unwrap()[0] + 0.2).abs() < 1e-12);
}
