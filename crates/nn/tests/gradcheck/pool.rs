//! Gradient checks of the pooling layers (`POOL_LAYERS`). Inputs are randn values: ties within a
//! window have probability 0, so the max is differentiable at the checked point.

use super::*;
use nanotorch_nn::{
    AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool1d, AdaptiveMaxPool2d, AvgPool1d,
    LPPool1d, LPPool2d, MaxPool1d, MaxUnpool1d, MaxUnpool2d,
};

/// The pooling cases, one or more per name in `POOL_LAYERS`.
pub(super) fn cases() -> Vec<Case> {
    vec![
        (
            "MaxPool2d",
            || vec![randn(&[2, 2, 4, 5])],
            |x| MaxPool2d::new((2, 2)).forward(&x[0]),
        ),
        (
            // ResNet's stem: overlapping windows and −∞ padding
            "MaxPool2d",
            || vec![randn(&[1, 2, 5, 6])],
            |x| {
                MaxPool2d::new((3, 3))
                    .stride((2, 2))
                    .padding((1, 1))
                    .forward(&x[0])
            },
        ),
        (
            "MaxPool2d",
            || vec![randn(&[1, 2, 6, 5])],
            |x| {
                MaxPool2d::new((2, 3))
                    .stride((2, 1))
                    .padding((1, 0))
                    .dilation((2, 1))
                    .ceil_mode(true)
                    .forward(&x[0])
            },
        ),
        (
            "AvgPool2d",
            || vec![randn(&[2, 2, 5, 5])],
            |x| AvgPool2d::new((3, 2)).stride((1, 2)).forward(&x[0]),
        ),
        (
            "AvgPool2d",
            || vec![randn(&[1, 2, 5, 4])],
            |x| {
                AvgPool2d::new((3, 2))
                    .stride((2, 2))
                    .padding((1, 1))
                    .ceil_mode(true)
                    .count_include_pad(false)
                    .forward(&x[0])
            },
        ),
        (
            "AvgPool2d",
            || vec![randn(&[1, 1, 4, 4])],
            |x| AvgPool2d::new((2, 2)).divisor_override(3).forward(&x[0]),
        ),
        (
            "MaxPool1d",
            || vec![randn(&[2, 3, 7])],
            |x| {
                MaxPool1d::new(3)
                    .stride(2)
                    .padding(1)
                    .dilation(2)
                    .ceil_mode(true)
                    .forward(&x[0])
            },
        ),
        (
            "AvgPool1d",
            || vec![randn(&[2, 3, 7])],
            |x| {
                AvgPool1d::new(3)
                    .stride(2)
                    .padding(1)
                    .ceil_mode(true)
                    .forward(&x[0])
            },
        ),
        (
            "AdaptiveAvgPool2d",
            || vec![randn(&[2, 3, 5, 7])],
            |x| AdaptiveAvgPool2d::new((3, 2)).forward(&x[0]),
        ),
        (
            "AdaptiveAvgPool2d",
            || vec![randn(&[2, 3, 4, 3])],
            |x| AdaptiveAvgPool2d::new((1, 1)).forward(&x[0]),
        ),
        (
            "AdaptiveMaxPool2d",
            || vec![randn(&[2, 2, 5, 7])],
            |x| AdaptiveMaxPool2d::new((3, 4)).forward(&x[0]),
        ),
        (
            "AdaptiveAvgPool1d",
            || vec![randn(&[2, 3, 7])],
            |x| AdaptiveAvgPool1d::new(3).forward(&x[0]),
        ),
        (
            "AdaptiveMaxPool1d",
            || vec![randn(&[2, 3, 7])],
            |x| AdaptiveMaxPool1d::new(4).forward(&x[0]),
        ),
        (
            "MaxUnpool2d",
            || vec![randn(&[1, 2, 2, 2])],
            |x| {
                // distinct indices (a shared index keeps one value, not differentiable)
                let idx = Tensor::from_vec(vec![0i64, 3, 9, 14, 5, 6, 8, 15], [1, 2, 2, 2], &Cpu)?;
                MaxUnpool2d::new((2, 2)).forward(&x[0], &idx, None)
            },
        ),
        (
            "MaxUnpool1d",
            || vec![randn(&[1, 2, 3])],
            |x| {
                let idx = Tensor::from_vec(vec![1i64, 2, 5, 0, 3, 6], [1, 2, 3], &Cpu)?;
                MaxUnpool1d::new(2).forward(&x[0], &idx, Some(7))
            },
        ),
        (
            "LPPool2d",
            || vec![randn(&[1, 2, 4, 5])],
            |x| LPPool2d::new(2.0, (2, 3)).stride((2, 1)).forward(&x[0]),
        ),
        (
            "LPPool1d",
            || vec![randn(&[2, 2, 6])],
            |x| {
                LPPool1d::new(2.0, 2)
                    .ceil_mode(true)
                    .stride(2)
                    .forward(&x[0])
            },
        ),
    ]
}
