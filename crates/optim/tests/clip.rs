//! `clip_grad_norm_` against norms and scales worked out by hand from PyTorch's definition
//! (`total = (Σ‖g‖ₚᵖ)^(1/p)`, `coef = max_norm / (total + 1e-6)`, applied when below 1), and the
//! case that makes in-place scaling dangerous: one gradient shared by two parameters.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_optim::{clip_grad_norm_, clip_grad_value_};

type T = Tensor<f64, Cpu>;

fn with_grad(values: &[f64], grad: &[f64]) -> T {
    let p = T::from_slice(values, [values.len()], &Cpu)
        .unwrap()
        .requires_grad_(true);
    p.set_grad(Some(T::from_slice(grad, [grad.len()], &Cpu).unwrap()));
    p
}

fn grad(p: &T) -> Vec<f64> {
    p.grad().unwrap().to_vec().unwrap()
}

#[test]
fn norms_and_scales_follow_pytorchs_definition() {
    // ‖(3, -4, 12)‖: 2-norm 13, 1-norm 19, ∞-norm 12, 3-norm (27 + 64 + 1728)^(1/3).
    let cases = [
        (2.0, 13.0),
        (1.0, 19.0),
        (f64::INFINITY, 12.0),
        (3.0, 1819f64.powf(1.0 / 3.0)),
    ];
    for (norm_type, total) in cases {
        let ps = [
            with_grad(&[0.0, 0.0], &[3.0, -4.0]),
            with_grad(&[0.0], &[12.0]),
        ];
        let got = clip_grad_norm_(&ps, 2.0, norm_type).unwrap();
        assert!(
            (got - total).abs() < 1e-12,
            "norm {norm_type}: {got} vs {total}"
        );
        let coef = 2.0 / (total + 1e-6);
        let want = [3.0 * coef, -4.0 * coef, 12.0 * coef];
        let have = [grad(&ps[0]), grad(&ps[1])].concat();
        for (h, w) in have.iter().zip(want) {
            assert!(
                (h - w).abs() < 1e-12,
                "norm {norm_type}: {have:?} vs {want:?}"
            );
        }
    }
}

#[test]
fn a_gradient_shared_by_two_parameters_is_scaled_once() {
    // y = Σ(a + b): backward hands a and b the same gradient tensor of ones.
    let a = T::from_slice(&[1.0, 2.0], [2], &Cpu)
        .unwrap()
        .requires_grad_(true);
    let b = T::from_slice(&[3.0, 4.0], [2], &Cpu)
        .unwrap()
        .requires_grad_(true);
    a.add(&b).unwrap().sum_all().unwrap().backward().unwrap();
    let total = clip_grad_norm_(&[a.clone(), b.clone()], 1.0, 2.0).unwrap();
    assert!((total - 2.0).abs() < 1e-12, "{total}");
    let coef = 1.0 / (2.0 + 1e-6);
    for p in [&a, &b] {
        for g in grad(p) {
            assert!((g - coef).abs() < 1e-12, "{g} vs {coef}");
        }
    }
}

#[test]
fn a_gradient_the_caller_still_holds_is_not_changed_under_it() {
    let p = with_grad(&[0.0, 0.0], &[3.0, 4.0]);
    let held = p.grad().unwrap();
    clip_grad_norm_(std::slice::from_ref(&p), 1.0, 2.0).unwrap();
    assert_eq!(held.to_vec().unwrap(), vec![3.0, 4.0]);
    let coef = 1.0 / (5.0 + 1e-6);
    assert!((grad(&p)[1] - 4.0 * coef).abs() < 1e-12);
}

#[test]
fn clipping_by_value_clamps_each_element_and_each_shared_gradient_once() {
    let p = with_grad(&[0.0; 4], &[-3.0, -0.5, 0.25, 7.0]);
    clip_grad_value_(std::slice::from_ref(&p), 1.0).unwrap();
    assert_eq!(grad(&p), vec![-1.0, -0.5, 0.25, 1.0]);
    // A gradient the caller holds keeps its values; the parameter gets a clamped copy.
    let q = with_grad(&[0.0; 2], &[2.0, -2.0]);
    let held = q.grad().unwrap();
    clip_grad_value_(std::slice::from_ref(&q), 0.5).unwrap();
    assert_eq!(held.to_vec().unwrap(), vec![2.0, -2.0]);
    assert_eq!(grad(&q), vec![0.5, -0.5]);
}
