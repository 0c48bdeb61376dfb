//! Gradient checks of every layer and loss in `DIFFERENTIABLE_LAYERS`, in f64 against central
//! differences. Layer parameters are checked by passing them in as inputs.

use nanotorch_autograd::{gradcheck, manual_seed, GradcheckOptions, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::Result;
use nanotorch_nn::functional::{
    batch_norm, cross_entropy, embedding, huber_loss, l1_loss, layer_norm, linear, mse_loss,
    nll_loss, smooth_l1_loss, RunningStats,
};
use nanotorch_nn::{
    BatchNorm1d, Dropout, Embedding, Flatten, Identity, LayerNorm, LeakyReLU, Linear, LogSoftmax,
    Module, ReLU, Reduction, Sequential, SiLU, Sigmoid, Softmax, Tanh, DIFFERENTIABLE_LAYERS, GELU,
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

/// Ids with repeats (gradients accumulate).
fn ids() -> Tensor<i64, Cpu> {
    Tensor::from_vec(vec![0i64, 3, 1, 3, 4, 0], [2, 3], &Cpu).unwrap()
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
        (
            "GELU",
            || vec![randn(&[3, 4])],
            |x| {
                GELU::new()
                    .forward(&x[0])?
                    .add(&GELU::tanh().forward(&x[0])?)
            },
        ),
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
            "LayerNorm",
            || vec![randn(&[3, 2, 4])],
            |x| {
                manual_seed(13);
                let norm = LayerNorm::new([2, 4], &Cpu)?;
                // random affine parameters so their gradients are not trivial
                norm.weight
                    .as_ref()
                    .unwrap()
                    .array()
                    .assign(randn(&[2, 4]).array())?;
                norm.bias
                    .as_ref()
                    .unwrap()
                    .array()
                    .assign(randn(&[2, 4]).array())?;
                norm.forward(&x[0])?.mul(&x[0])
            },
        ),
        (
            "layer_norm",
            || vec![randn(&[3, 5]), randn(&[5]), randn(&[5])],
            // weighting by the input keeps the gradient of the normalised part non-zero
            |x| layer_norm(&x[0], &[5], Some(&x[1]), Some(&x[2]), 1e-5)?.mul(&x[0]),
        ),
        (
            "BatchNorm1d",
            || vec![randn(&[4, 3, 2])],
            |x| {
                let norm = BatchNorm1d::new(3, &Cpu)?;
                norm.forward(&x[0])?.mul(&x[0])
            },
        ),
        (
            "batch_norm",
            || vec![randn(&[5, 3]), randn(&[3]), randn(&[3])],
            |x| {
                let (mean, var) = (T::zeros([3], &Cpu)?, T::ones([3], &Cpu)?);
                let stats = RunningStats {
                    mean: &mean,
                    var: &var,
                    momentum: 0.1,
                };
                batch_norm(&x[0], Some(stats), Some(&x[1]), Some(&x[2]), true, 1e-5)?.mul(&x[0])
            },
        ),
        (
            "Embedding",
            || vec![randn(&[5, 3])],
            |x| {
                // padding id 2 is not looked up: its row has no gradient by design, numeric or not
                let table = Embedding::from_pretrained(x[0].clone(), Some(2))?;
                table.lookup(&ids())
            },
        ),
        (
            "embedding",
            || vec![randn(&[5, 3])],
            |x| embedding(&ids(), &x[0], None),
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
        (
            // probabilities from sigmoids, so the input stays inside (0, 1); weight [4] broadcasts
            "binary_cross_entropy",
            || vec![randn(&[3, 4]), randn(&[3, 4]), randn(&[4])],
            |x| {
                nanotorch_nn::functional::binary_cross_entropy(
                    &x[0].sigmoid()?,
                    &x[1].sigmoid()?,
                    Some(&x[2]),
                    Reduction::Mean,
                )
            },
        ),
        (
            "binary_cross_entropy_with_logits",
            || vec![randn(&[3, 4]), randn(&[3, 4]), randn(&[3, 4]), randn(&[4])],
            |x| {
                // pos_weight = e^x > 0, one per class
                nanotorch_nn::functional::binary_cross_entropy_with_logits(
                    &x[0],
                    &x[1].sigmoid()?,
                    Some(&x[2]),
                    Some(&x[3].exp()?),
                    Reduction::Sum,
                )
            },
        ),
        (
            "kl_div",
            || vec![randn(&[3, 4]), randn(&[3, 4])],
            |x| {
                use nanotorch_nn::functional::{kl_div, KlReduction};
                let input = x[0].log_softmax(1)?;
                let probs = kl_div(&input, &x[1].softmax(1)?, KlReduction::BatchMean, false)?;
                let logs = kl_div(&input, &x[1].log_softmax(1)?, KlReduction::Mean, true)?;
                probs.add(&logs)
            },
        ),
        (
            // [n, C, d] logits, a weight, an ignored position and label smoothing at once
            "cross_entropy_opts",
            || vec![randn(&[3, 4, 2])],
            |x| {
                use nanotorch_nn::functional::{cross_entropy_opts, CrossEntropyOptions};
                let y = Tensor::from_vec(vec![0i64, 3, -100, 1, 2, 2], [3, 2], &Cpu)?;
                let opts = CrossEntropyOptions::new()
                    .weight(T::from_vec(vec![0.5, 2.0, 1.0, 1.5], [4], &Cpu)?)
                    .label_smoothing(0.2);
                cross_entropy_opts(&x[0], &y, &opts)
            },
        ),
        (
            "cross_entropy_probs",
            || vec![randn(&[4, 3]), randn(&[4, 3])],
            |x| {
                use nanotorch_nn::functional::{cross_entropy_probs, CrossEntropyOptions};
                let opts = CrossEntropyOptions::new()
                    .weight(T::from_vec(vec![0.5, 2.0, 1.0], [3], &Cpu)?)
                    .label_smoothing(0.1);
                cross_entropy_probs(&x[0], &x[1].softmax(1)?, &opts)
            },
        ),
        (
            "nll_loss_opts",
            || vec![randn(&[4, 3])],
            |x| {
                use nanotorch_nn::functional::{nll_loss_opts, NllLossOptions};
                let y = Tensor::from_vec(vec![2i64, 7, 1, 0], [4], &Cpu)?;
                let opts = NllLossOptions::new()
                    .weight(T::from_vec(vec![0.5, 2.0, 1.0], [3], &Cpu)?)
                    .ignore_index(7);
                nll_loss_opts(&x[0].log_softmax(1)?, &y, &opts)
            },
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
