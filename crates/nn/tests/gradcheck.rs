//! Gradient checks of every layer and loss in `DIFFERENTIABLE_LAYERS`, in f64 against central
//! differences. Layer parameters are checked by passing them in as inputs.

use nanotorch_autograd::{gradcheck, manual_seed, GradcheckOptions, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::Result;
use nanotorch_nn::functional::{
    cross_entropy, huber_loss, l1_loss, linear, mse_loss, nll_loss, smooth_l1_loss,
};
use nanotorch_nn::{
    Dropout, Flatten, Identity, LeakyReLU, Linear, LogSoftmax, Module, ReLU, Reduction, Sequential,
    SiLU, Sigmoid, Softmax, Tanh, DIFFERENTIABLE_LAYERS, GELU,
};

type T = Tensor<f64, Cpu>;
type Case = (&'static str, fn() -> Vec<T>, fn(&[T]) -> Result<T>);

fn randn(shape: &[usize]) -> T {
    Tensor::randn(shape.to_vec(), &Cpu)
        .unwrap()
        .requires_grad_(true)
}

fn targets() -> Tensor<i64, Cpu> {
    Tensor::from_vec(vec![2i64, 0, 1, 2], [4], &Cpu).unwrap()
}

fn cases() -> Vec<Case> {
    vec![
        (
            "Linear",
            || vec![randn(&[4, 3]), randn(&[2, 3]), randn(&[2])],
            |x| linear(&x[0], &x[1], Some(&x[2])),
        ),
        (
            "Sequential",
            || vec![randn(&[4, 3])],
            |x| {
                manual_seed(11);
                let model = Sequential::new()
                    .append(Linear::new(3, 5, &Cpu)?)
                    .append(Tanh)
                    .append(Linear::new(5, 2, &Cpu)?);
                model.forward(&x[0])
            },
        ),
        ("ReLU", || vec![randn(&[3, 4])], |x| ReLU.forward(&x[0])),
        ("Tanh", || vec![randn(&[3, 4])], |x| Tanh.forward(&x[0])),
        (
            "Sigmoid",
            || vec![randn(&[3, 4])],
            |x| Sigmoid.forward(&x[0]),
        ),
        ("GELU", || vec![randn(&[3, 4])], |x| GELU.forward(&x[0])),
        ("SiLU", || vec![randn(&[3, 4])], |x| SiLU.forward(&x[0])),
        (
            "LeakyReLU",
            || vec![randn(&[3, 4])],
            |x| LeakyReLU::new(0.2).forward(&x[0]),
        ),
        (
            "Softmax",
            || vec![randn(&[3, 4])],
            // weight the outputs so the gradient is not identically zero (softmax sums to 1)
            |x| Softmax::new(0).forward(&x[0])?.mul(&x[0]),
        ),
        (
            "LogSoftmax",
            || vec![randn(&[3, 4])],
            |x| LogSoftmax::new(-1).forward(&x[0]),
        ),
        (
            "Flatten",
            || vec![randn(&[2, 3, 2])],
            |x| Flatten.forward(&x[0]),
        ),
        (
            "Identity",
            || vec![randn(&[2, 3])],
            |x| Identity.forward(&x[0]),
        ),
        (
            "Dropout",
            || vec![randn(&[4, 5])],
            |x| {
                manual_seed(12); // the same mask on every evaluation
                Dropout::new(0.4).forward(&x[0])
            },
        ),
        (
            "cross_entropy",
            || vec![randn(&[4, 3])],
            |x| cross_entropy(&x[0], &targets()),
        ),
        (
            "nll_loss",
            || vec![randn(&[4, 3])],
            |x| nll_loss(&x[0].log_softmax(1)?, &targets(), Reduction::Sum),
        ),
        (
            "mse_loss",
            || vec![randn(&[3, 2]), randn(&[3, 2])],
            |x| mse_loss(&x[0], &x[1], Reduction::Mean),
        ),
        (
            "l1_loss",
            || vec![randn(&[3, 2]), randn(&[3, 2])],
            |x| l1_loss(&x[0], &x[1], Reduction::None),
        ),
        (
            // beta 0.7 and randn inputs: both branches are hit; a kink at |d| = beta is far
            // from every sample with probability ~1 (the gradient is continuous there anyway).
            "smooth_l1_loss",
            || vec![randn(&[3, 4]), randn(&[3, 4])],
            |x| smooth_l1_loss(&x[0], &x[1], Reduction::Mean, 0.7),
        ),
        (
            "huber_loss",
            || vec![randn(&[3, 4]), randn(&[3, 4])],
            |x| huber_loss(&x[0], &x[1], Reduction::Sum, 1.3),
        ),
    ]
}

#[test]
fn every_listed_layer_has_a_case() {
    let names: Vec<&str> = cases().iter().map(|c| c.0).collect();
    let missing: Vec<&&str> = DIFFERENTIABLE_LAYERS
        .iter()
        .filter(|n| !names.contains(n))
        .collect();
    assert!(
        missing.is_empty(),
        "layers without a gradcheck case: {missing:?}"
    );
}

#[test]
fn gradcheck_every_layer() {
    for seed in 0..4 {
        for (name, make, f) in cases() {
            manual_seed(100 + seed);
            let inputs = make();
            if let Err(e) = gradcheck(f, &inputs, GradcheckOptions::default()) {
                panic!("gradcheck of {name} (seed {seed}) failed: {e}");
            }
        }
    }
}
