//! Gradient checks of the pooling ops (`POOL_OPS`). Inputs are continuous random draws: ties
//! within a window have probability 0, so each max is differentiable at the checked point.

use super::*;

/// The pooling cases, one or more per name in `POOL_OPS`.
pub(super) fn cases() -> Vec<(&'static str, Inputs, OpFn)> {
    use Inputs::*;
    vec![
        (
            "max_pool2d",
            Custom(|r| vec![leaf(r, &[2, 2, 4, 5])]),
            |x| x[0].max_pool2d((2, 2), (2, 2)),
        ),
        (
            "avg_pool2d",
            Custom(|r| vec![leaf(r, &[1, 2, 4, 5])]),
            |x| x[0].avg_pool2d((3, 2), (1, 2)),
        ),
        ("max_pool1d", Custom(|r| vec![leaf(r, &[2, 2, 7])]), |x| {
            x[0].max_pool1d(2, 1)
        }),
        ("avg_pool1d", Custom(|r| vec![leaf(r, &[2, 2, 7])]), |x| {
            x[0].avg_pool1d(3, 2)
        }),
        (
            // overlapping windows, −∞ padding, dilation and a ceil-mode partial window at once
            "max_pool2d_with",
            Custom(|r| vec![leaf(r, &[1, 2, 6, 5])]),
            |x| x[0].max_pool2d_with((3, 2), (2, 1), (1, 1), (2, 1), true),
        ),
        (
            // unbatched [c, l] input
            "max_pool1d_with",
            Custom(|r| vec![leaf(r, &[3, 8])]),
            |x| x[0].max_pool1d_with(3, 2, 1, 2, true),
        ),
        (
            "avg_pool2d_with",
            Custom(|r| vec![leaf(r, &[1, 2, 5, 4])]),
            |x| x[0].avg_pool2d_with((3, 2), (2, 2), (1, 1), true, false, None),
        ),
        (
            "avg_pool2d_with",
            Custom(|r| vec![leaf(r, &[1, 1, 5, 5])]),
            |x| x[0].avg_pool2d_with((2, 3), (2, 2), (1, 1), true, true, Some(5)),
        ),
        (
            "avg_pool1d_with",
            Custom(|r| vec![leaf(r, &[2, 1, 7])]),
            |x| x[0].avg_pool1d_with(3, 2, 1, true, true),
        ),
        (
            "adaptive_avg_pool2d",
            Custom(|r| vec![leaf(r, &[2, 2, 5, 7])]),
            |x| x[0].adaptive_avg_pool2d((3, 4)),
        ),
        (
            "adaptive_avg_pool1d",
            Custom(|r| vec![leaf(r, &[2, 2, 7])]),
            |x| x[0].adaptive_avg_pool1d(3),
        ),
        (
            "adaptive_max_pool2d",
            Custom(|r| vec![leaf(r, &[2, 2, 5, 7])]),
            |x| x[0].adaptive_max_pool2d((2, 3)),
        ),
        (
            "adaptive_max_pool1d",
            Custom(|r| vec![leaf(r, &[2, 2, 7])]),
            |x| x[0].adaptive_max_pool1d(4),
        ),
        (
            "max_unpool2d",
            Custom(|r| vec![leaf(r, &[1, 2, 2, 2])]),
            |x| {
                // distinct indices (a shared index keeps one value, not differentiable)
                let idx = Tensor::from_vec(vec![0i64, 3, 9, 14, 5, 6, 8, 15], [1, 2, 2, 2], &Cpu)?;
                x[0].max_unpool2d(&idx, (2, 2), (2, 2), (0, 0), Some((4, 5)))
            },
        ),
        ("max_unpool1d", Custom(|r| vec![leaf(r, &[2, 3])]), |x| {
            let idx = Tensor::from_vec(vec![1i64, 2, 5, 0, 3, 4], [2, 3], &Cpu)?;
            x[0].max_unpool1d(&idx, 2, 2, 0, None)
        }),
        ("lp_pool2d", Custom(|r| vec![leaf(r, &[1, 2, 4, 5])]), |x| {
            x[0].lp_pool2d(2.0, (2, 2), (1, 2), true)
        }),
        (
            // |x| ≥ 0.1 keeps the odd power's root real and away from the kink at 0
            "lp_pool1d",
            Custom(|r| vec![leaf(r, &[2, 1, 7])]),
            |x| x[0].abs()?.lp_pool1d(3.0, 3, 2, false),
        ),
    ]
}
