//! Gradient checks of the normalisation layers and functions (`NORM_LAYERS`).

use super::*;
use nanotorch_nn::functional::{group_norm, instance_norm};
use nanotorch_nn::{BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm1d, InstanceNorm2d, Module};

/// The normalisation cases, one or more per name in `NORM_LAYERS`.
pub(super) fn cases() -> Vec<Case> {
    vec![
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
            // evaluation (with running statistics) and training in one sum
            "BatchNorm2d",
            || vec![randn(&[3, 2, 2, 2]), randn(&[2]), randn(&[2])],
            |x| {
                const SHAPE: [usize; 4] = [3, 2, 2, 2];
                let mut norm = BatchNorm2d::new(2, &Cpu)?;
                norm.weight = Some(x[1].clone());
                norm.bias = Some(x[2].clone());
                // Running statistics from a constant batch: the evaluation output must not
                // depend on x through them (they are not differentiated, here or in PyTorch).
                norm.forward(&constant_weight(&SHAPE))?;
                norm.eval();
                let eval = norm.forward(&x[0])?;
                norm.train();
                norm.forward(&x[0])?.mul(&x[0])?.add(&eval)
            },
        ),
        (
            "BatchNorm3d",
            || vec![randn(&[2, 2, 2, 1, 2]), randn(&[2]), randn(&[2])],
            |x| {
                let mut norm = BatchNorm3d::new(2, &Cpu)?;
                norm.weight = Some(x[1].clone());
                norm.bias = Some(x[2].clone());
                norm.forward(&x[0])?.mul(&x[0])
            },
        ),
        (
            "batch_norm",
            || vec![randn(&[2, 3, 2, 2]), randn(&[3]), randn(&[3])],
            |x| batch_norm(&x[0], None, Some(&x[1]), Some(&x[2]), true, 1e-5)?.mul(&x[0]),
        ),
        (
            "GroupNorm",
            || vec![randn(&[2, 4, 3]), randn(&[4]), randn(&[4])],
            |x| {
                let mut norm = GroupNorm::new(2, 4, &Cpu)?;
                norm.weight = Some(x[1].clone());
                norm.bias = Some(x[2].clone());
                norm.forward(&x[0])?.mul(&x[0])
            },
        ),
        (
            "group_norm",
            || vec![randn(&[2, 6, 2, 1]), randn(&[6]), randn(&[6])],
            |x| group_norm(&x[0], 3, Some(&x[1]), Some(&x[2]), 1e-5)?.mul(&x[0]),
        ),
        (
            // batched and unbatched input
            "InstanceNorm1d",
            || vec![randn(&[2, 3, 4]), randn(&[3]), randn(&[3])],
            |x| {
                let mut norm = InstanceNorm1d::with_options(3, 1e-5, Some(0.1), true, false, &Cpu)?;
                norm.weight = Some(x[1].clone());
                norm.bias = Some(x[2].clone());
                let single = norm.forward(&x[0].narrow(0, 1, 1)?.squeeze(0)?)?;
                norm.forward(&x[0])?
                    .mul(&x[0])?
                    .sum_all()?
                    .add(&single.mul(&single)?.sum_all()?)
            },
        ),
        (
            // training and evaluation with running statistics
            "InstanceNorm2d",
            || vec![randn(&[2, 2, 2, 3]), randn(&[2]), randn(&[2])],
            |x| {
                const SHAPE: [usize; 4] = [2, 2, 2, 3];
                let mut norm = InstanceNorm2d::with_options(2, 1e-5, Some(0.1), true, true, &Cpu)?;
                norm.weight = Some(x[1].clone());
                norm.bias = Some(x[2].clone());
                // Running statistics from a constant batch: the evaluation output must not
                // depend on x through them (they are not differentiated, here or in PyTorch).
                norm.forward(&constant_weight(&SHAPE))?;
                norm.eval();
                let eval = norm.forward(&x[0])?;
                norm.train();
                norm.forward(&x[0])?.mul(&x[0])?.add(&eval)
            },
        ),
        (
            "instance_norm",
            || vec![randn(&[2, 3, 4]), randn(&[3]), randn(&[3])],
            |x| instance_norm(&x[0], None, Some(&x[1]), Some(&x[2]), true, 1e-5)?.mul(&x[0]),
        ),
    ]
}

/// The normalisation functions on proptest-chosen shapes: any rank, any divisor as group count.
mod over_shapes {
    use super::super::{check_drawn, proptest_cases};
    use nanotorch_nn::functional::{batch_norm, group_norm, instance_norm};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: proptest_cases(),
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn batch_norm_any_rank(
            n in 1usize..=3,
            c in 1usize..=3,
            spatial in prop::collection::vec(1usize..=2, 0..=3),
            seed in 0u64..10_000,
        ) {
            let mut x = vec![n, c];
            x.extend(&spatial);
            prop_assume!(x.iter().product::<usize>() / c > 1);
            let shapes = [x, vec![c], vec![c]];
            check_drawn("batch_norm", seed, &shapes, |t| {
                batch_norm(&t[0], None, Some(&t[1]), Some(&t[2]), true, 1e-5)?.mul(&t[0])
            })?;
        }

        #[test]
        fn group_norm_any_grouping(
            n in 1usize..=2,
            groups in 1usize..=3,
            per_group in 1usize..=2,
            spatial in prop::collection::vec(1usize..=3, 0..=2),
            seed in 0u64..10_000,
        ) {
            let c = groups * per_group;
            let mut x = vec![n, c];
            x.extend(&spatial);
            // a group of one value normalises to zero: nothing to check but zeros
            prop_assume!(per_group * spatial.iter().product::<usize>() > 1);
            let shapes = [x, vec![c], vec![c]];
            check_drawn("group_norm", seed, &shapes, |t| {
                group_norm(&t[0], groups, Some(&t[1]), Some(&t[2]), 1e-5)?.mul(&t[0])
            })?;
        }

        #[test]
        fn instance_norm_any_spatial_rank(
            n in 1usize..=2,
            c in 1usize..=3,
            spatial in prop::collection::vec(1usize..=3, 1..=3),
            seed in 0u64..10_000,
        ) {
            prop_assume!(spatial.iter().product::<usize>() > 1);
            let mut x = vec![n, c];
            x.extend(&spatial);
            let shapes = [x, vec![c], vec![c]];
            check_drawn("instance_norm", seed, &shapes, |t| {
                instance_norm(&t[0], None, Some(&t[1]), Some(&t[2]), true, 1e-5)?.mul(&t[0])
            })?;
        }
    }
}
