//! Gradient checks of every layer and loss in `DIFFERENTIABLE_LAYERS`, in f64 against central
//! differences. Layer parameters are checked by passing them in as inputs. `cases()` covers every
//! name on fixed shapes; the `proptest!` block below re-checks the layers whose arithmetic depends
//! on shape (batch axes, normalised axes, broadcasting weights) on proptest-chosen shapes.
//!
//! Case count of the proptest block: `NANOTORCH_PROPTEST_CASES` (default 12 per test).

use nanotorch_autograd::{gradcheck, manual_seed, GradcheckOptions, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::Result;
use nanotorch_nn::functional::{
    batch_norm, cross_entropy, embedding, huber_loss, l1_loss, layer_norm, linear, mse_loss,
    nll_loss, smooth_l1_loss, RunningStats,
};
use nanotorch_nn::{
    AvgPool2d, BatchNorm1d, Conv1d, Conv2d, Dropout, Embedding, Flatten, Identity, LayerNorm,
    LeakyReLU, Linear, LogSoftmax, MaxPool2d, ReLU, Reduction, Sequential, SiLU, Sigmoid, Softmax,
    Tanh, Unflatten, ATTENTION_LAYERS, CONV_LAYERS, DIFFERENTIABLE_LAYERS, GELU, NORM_LAYERS,
    POOL_LAYERS, RECURRENT_LAYERS, RESAMPLE_LAYERS,
};

#[path = "gradcheck/attention.rs"]
mod attention_cases;
#[path = "gradcheck/conv.rs"]
mod conv_cases;
#[path = "gradcheck/norm.rs"]
mod norm_cases;
#[path = "gradcheck/pool.rs"]
mod pool_cases;
#[path = "gradcheck/recurrent.rs"]
mod recurrent_cases;
#[path = "gradcheck/resample.rs"]
mod resample_cases;

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

/// Positive loss weights that do not require grad: 0.5, 1, 1.5, … in row-major order.
fn constant_weight(shape: &[usize]) -> T {
    let n: usize = shape.iter().product();
    Tensor::from_vec(
        (0..n).map(|i| 0.5 + 0.5 * i as f64).collect(),
        shape.to_vec(),
        &Cpu,
    )
    .unwrap()
}

/// Ids with repeats (gradients accumulate).
fn ids() -> Tensor<i64, Cpu> {
    Tensor::from_vec(vec![0i64, 3, 1, 3, 4, 0], [2, 3], &Cpu).unwrap()
}

fn cases() -> Vec<Case> {
    let mut cases = core_cases();
    cases.extend(recurrent_cases::cases());
    cases.extend(attention_cases::cases());
    cases.extend(conv_cases::cases());
    cases.extend(pool_cases::cases());
    cases.extend(norm_cases::cases());
    cases.extend(resample_cases::cases());
    cases
}

/// The cases of the layers in `DIFFERENTIABLE_LAYERS`.
fn core_cases() -> Vec<Case> {
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
            |x| Flatten::new().forward(&x[0]),
        ),
        (
            "Unflatten",
            || vec![randn(&[2, 6, 2])],
            |x| {
                Unflatten::new(1, [3, -1])
                    .forward(&x[0])?
                    .mul(&x[0].reshape([2, 3, 2, 2])?)
            },
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
            || vec![randn(&[3, 4]), randn(&[3, 4])],
            |x| {
                // the weight is a constant, as in PyTorch: it gets no gradient
                nanotorch_nn::functional::binary_cross_entropy(
                    &x[0].sigmoid()?,
                    &x[1].sigmoid()?,
                    Some(&constant_weight(&[4])),
                    Reduction::Mean,
                )
            },
        ),
        (
            "binary_cross_entropy_with_logits",
            || vec![randn(&[3, 4]), randn(&[3, 4]), randn(&[4])],
            |x| {
                // pos_weight = e^x > 0, one per class; the weight is a constant
                nanotorch_nn::functional::binary_cross_entropy_with_logits(
                    &x[0],
                    &x[1].sigmoid()?,
                    Some(&constant_weight(&[3, 4])),
                    Some(&x[2].exp()?),
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
        .chain(RECURRENT_LAYERS)
        .chain(ATTENTION_LAYERS)
        .chain(CONV_LAYERS)
        .chain(POOL_LAYERS)
        .chain(NORM_LAYERS)
        .chain(RESAMPLE_LAYERS)
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

fn proptest_cases() -> u32 {
    std::env::var("NANOTORCH_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12)
}

/// Runs gradcheck with inputs drawn from the seeded generator, reporting the shapes on failure.
fn check_drawn(
    name: &str,
    seed: u64,
    shapes: &[Vec<usize>],
    f: impl Fn(&[T]) -> Result<T>,
) -> std::result::Result<(), proptest::test_runner::TestCaseError> {
    manual_seed(seed);
    let inputs: Vec<T> = shapes.iter().map(|s| randn(s)).collect();
    gradcheck(f, &inputs, GradcheckOptions::default()).map_err(|e| {
        proptest::test_runner::TestCaseError::fail(format!("{name} on shapes {shapes:?}: {e}"))
    })
}

mod over_shapes {
    use super::*;
    use nanotorch_nn::functional::{
        binary_cross_entropy_with_logits, cross_entropy_opts, CrossEntropyOptions,
    };
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: proptest_cases(),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn linear_with_batch_axes(
            batch in prop::collection::vec(1usize..=3, 0..=2),
            sizes in (1usize..=4, 1usize..=3),
            seed in 0u64..10_000,
        ) {
            let (inputs, outputs) = sizes;
            let mut x = batch.clone();
            x.push(inputs);
            let shapes = [x, vec![outputs, inputs], vec![outputs]];
            check_drawn("linear", seed, &shapes, |t| linear(&t[0], &t[1], Some(&t[2])))?;
        }

        #[test]
        fn layer_norm_over_trailing_axes(
            shape in prop::collection::vec(1usize..=3, 1..=3),
            normalised in 1usize..=3,
            seed in 0u64..10_000,
        ) {
            let k = normalised.min(shape.len());
            let trailing = shape[shape.len() - k..].to_vec();
            // a single normalised element has a zero output: nothing to check but zeros
            prop_assume!(trailing.iter().product::<usize>() > 1);
            let shapes = [shape, trailing.clone(), trailing.clone()];
            check_drawn("layer_norm", seed, &shapes, |t| {
                layer_norm(&t[0], &trailing, Some(&t[1]), Some(&t[2]), 1e-5)?.mul(&t[0])
            })?;
        }

        #[test]
        fn batch_norm_two_and_three_d(
            n in 2usize..=4,
            c in 1usize..=3,
            length in prop::option::of(1usize..=3),
            seed in 0u64..10_000,
        ) {
            let mut x = vec![n, c];
            x.extend(length);
            let shapes = [x, vec![c], vec![c]];
            check_drawn("batch_norm", seed, &shapes, |t| {
                batch_norm(&t[0], None, Some(&t[1]), Some(&t[2]), true, 1e-5)?.mul(&t[0])
            })?;
        }

        #[test]
        fn embedding_with_any_id_shape(
            table in (1usize..=5, 1usize..=3),
            id_shape in prop::collection::vec(1usize..=3, 0..=2),
            seed in 0u64..10_000,
        ) {
            let (num, dim) = table;
            let count: usize = id_shape.iter().product();
            let ids: Vec<i64> = (0..count).map(|i| ((i as u64 * 7 + seed) % num as u64) as i64).collect();
            let ids = Tensor::from_vec(ids, id_shape, &Cpu).unwrap();
            check_drawn("embedding", seed, &[vec![num, dim]], |t| embedding(&ids, &t[0], None))?;
        }

        #[test]
        fn cross_entropy_with_spatial_axes_and_options(
            n in 1usize..=3,
            classes in 2usize..=4,
            spatial in prop::collection::vec(1usize..=2, 0..=2),
            smoothing in 0.0f64..0.5,
            seed in 0u64..10_000,
        ) {
            let mut logits = vec![n, classes];
            logits.extend(&spatial);
            let mut target_shape = vec![n];
            target_shape.extend(&spatial);
            let count: usize = target_shape.iter().product();
            // every third target is ignored; the first never is, so the mean has a divisor
            let targets: Vec<i64> = (0..count)
                .map(|i| if i % 3 == 2 { -100 } else { ((i as u64 + seed) % classes as u64) as i64 })
                .collect();
            let targets = Tensor::from_vec(targets, target_shape, &Cpu).unwrap();
            // class weights are constants (PyTorch gives them no gradient either), all positive
            let weight: Vec<f64> = (0..classes).map(|c| 0.5 + ((c as u64 + seed) % 3) as f64 * 0.5).collect();
            let opts = CrossEntropyOptions::new()
                .weight(Tensor::from_vec(weight, [classes], &Cpu).unwrap())
                .label_smoothing(smoothing);
            check_drawn("cross_entropy_opts", seed, &[logits], |t| {
                cross_entropy_opts(&t[0], &targets, &opts)
            })?;
        }

        #[test]
        fn cross_entropy_fused_rows(
            n in 0usize..=5,
            classes in 1usize..=5,
            reduction in 0usize..3,
            seed in 0u64..10_000,
        ) {
            // No weight and no smoothing: the fused node (`Tensor::cross_entropy_rows`). Every
            // third target is ignored; with n = 0 or all ignored the mean is NaN, not checked.
            let targets: Vec<i64> = (0..n)
                .map(|i| if i % 3 == 1 { -100 } else { ((i as u64 + seed) % classes as u64) as i64 })
                .collect();
            let counted = targets.iter().filter(|&&t| t != -100).count();
            let reduction = [Reduction::None, Reduction::Sum, Reduction::Mean][reduction];
            prop_assume!(reduction != Reduction::Mean || counted > 0);
            let targets = Tensor::from_vec(targets, [n], &Cpu).unwrap();
            let opts = CrossEntropyOptions::new().reduction(reduction);
            check_drawn("cross_entropy (fused rows)", seed, &[vec![n, classes]], |t| {
                cross_entropy_opts(&t[0], &targets, &opts)
            })?;
        }

        #[test]
        fn bce_with_logits_broadcasting_pos_weight(
            shape in prop::collection::vec(1usize..=3, 1..=3),
            seed in 0u64..10_000,
        ) {
            let classes = *shape.last().unwrap();
            let shapes = [shape.clone(), shape, vec![classes]];
            check_drawn("binary_cross_entropy_with_logits", seed, &shapes, |t| {
                let target = t[1].sigmoid()?; // targets in (0, 1), differentiable too
                binary_cross_entropy_with_logits(&t[0], &target, None, Some(&t[2].exp()?), Reduction::Mean)
            })?;
        }
    }
}
