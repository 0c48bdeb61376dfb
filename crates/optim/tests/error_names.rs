//! Bad arguments to an optimizer or to clipping are errors that name the method and the value
//! (issue 13, items 6 and 7), never a panic and never a silent acceptance.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_optim::*;

fn param(grad: &[f64]) -> Tensor<f64, Cpu> {
    let p = Tensor::<f64, Cpu>::zeros([grad.len()], &Cpu)
        .unwrap()
        .requires_grad_(true);
    p.set_grad(Some(
        Tensor::from_vec(grad.to_vec(), [grad.len()], &Cpu).unwrap(),
    ));
    p
}

fn grad_of(p: &Tensor<f64, Cpu>) -> Vec<f64> {
    p.grad().unwrap().to_vec().unwrap()
}

fn sgd() -> SGD<f64, Cpu> {
    SGD::new(
        [param(&[1.0])],
        SgdOptions {
            lr: 0.1,
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn a_group_past_the_last_is_an_error_naming_it() {
    let mut opt = sgd();
    // `set_lr(5, …)` panicked with an index error; now it is an error that says what is wrong.
    let err = opt.set_lr(5, 0.01).unwrap_err().to_string();
    assert_eq!(
        err,
        "SGD set_lr: there is no parameter group 5 (the optimizer has 1 group)"
    );
    let err = opt.try_lr(1).unwrap_err().to_string();
    assert!(
        err.starts_with("SGD lr: there is no parameter group 1"),
        "{err}"
    );
    let err = opt.set_momentum(3, 0.5).unwrap_err().to_string();
    assert!(
        err.starts_with("SGD set_momentum: there is no parameter group 3"),
        "{err}"
    );
    assert_eq!(opt.lr(0), 0.1, "nothing changed");
    opt.set_lr(0, 0.05).unwrap();
    assert_eq!(opt.try_lr(0).unwrap(), 0.05);
}

#[test]
fn clip_grad_norm_refuses_a_nan_or_negative_max_norm() {
    for bad in [f64::NAN, -1.0, f64::NEG_INFINITY] {
        let p = param(&[3.0, 4.0]);
        // Was accepted: NaN made every gradient NaN (in PyTorch too), -1 flipped their sign.
        let err = clip_grad_norm_(std::slice::from_ref(&p), bad, 2.0)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("clip_grad_norm_: max_norm must be >= 0"),
            "{err}"
        );
        assert_eq!(grad_of(&p), [3.0, 4.0], "the gradient is untouched");
    }
}

#[test]
fn clip_grad_norm_with_an_infinite_or_zero_max_norm_behaves_as_pytorch() {
    // Infinity clips nothing and returns the norm (how PyTorch code logs it).
    let p = param(&[3.0, 4.0]);
    assert_eq!(
        clip_grad_norm_(std::slice::from_ref(&p), f64::INFINITY, 2.0).unwrap(),
        5.0
    );
    assert_eq!(grad_of(&p), [3.0, 4.0]);
    // Zero zeroes the gradients.
    assert_eq!(
        clip_grad_norm_(std::slice::from_ref(&p), 0.0, 2.0).unwrap(),
        5.0
    );
    assert_eq!(grad_of(&p), [0.0, 0.0]);
}
