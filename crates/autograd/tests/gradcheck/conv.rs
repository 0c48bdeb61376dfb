//! Gradient checks of the convolution family (`CONV_OPS`): im2col, col2im, convolutions, pad.

use super::*;
use nanotorch_autograd::{
    Conv1dOptions, Conv2dOptions, ConvPadding, ConvTranspose1dOptions, ConvTranspose2dOptions,
    PadMode,
};

/// The convolution-family cases, one or more per name in `CONV_OPS`.
pub(super) fn cases() -> Vec<(&'static str, Inputs, OpFn)> {
    use Inputs::*;
    vec![
        ("im2col", Custom(|r| vec![leaf(r, &[2, 2, 4, 3])]), |x| {
            x[0].im2col(Window2d {
                kernel: (2, 2),
                stride: (2, 1),
                padding: (1, 0),
                dilation: (1, 1),
            })
        }),
        ("col2im", Custom(|r| vec![leaf(r, &[1, 8, 6])]), |x| {
            x[0].col2im(
                2,
                (3, 4),
                Window2d {
                    kernel: (2, 2),
                    stride: (1, 1),
                    padding: (0, 0),
                    dilation: (1, 1),
                },
            )
        }),
        (
            "conv2d",
            Custom(|r| {
                vec![
                    leaf(r, &[2, 2, 5, 4]),
                    leaf(r, &[3, 2, 3, 2]),
                    leaf(r, &[3]),
                ]
            }),
            |x| x[0].conv2d(&x[1], Some(&x[2]), (2, 1), (1, 1), (1, 2)),
        ),
        (
            "conv1d",
            Custom(|r| vec![leaf(r, &[2, 3, 7]), leaf(r, &[2, 3, 3])]),
            |x| x[0].conv1d(&x[1], None, 2, 1, 1),
        ),
        (
            "conv2d",
            Custom(|r| {
                vec![
                    leaf(r, &[2, 4, 5, 4]),
                    leaf(r, &[6, 2, 3, 2]),
                    leaf(r, &[6]),
                ]
            }),
            |x| {
                let options = Conv2dOptions::default()
                    .stride((2, 1))
                    .padding((1, 0))
                    .dilation((1, 2))
                    .groups(2);
                x[0].conv2d_with(&x[1], Some(&x[2]), &options)
            },
        ),
        // Depthwise, 'same' with an even kernel (uneven padding), reflect mode.
        (
            "conv2d",
            Custom(|r| vec![leaf(r, &[1, 3, 4, 5]), leaf(r, &[3, 1, 2, 3])]),
            |x| {
                let options = Conv2dOptions::default()
                    .padding(ConvPadding::Same)
                    .groups(3)
                    .padding_mode(PadMode::Reflect);
                x[0].conv2d_with(&x[1], None, &options)
            },
        ),
        (
            "conv1d",
            Custom(|r| vec![leaf(r, &[2, 4, 6]), leaf(r, &[2, 2, 3]), leaf(r, &[2])]),
            |x| {
                let options = Conv1dOptions::default()
                    .padding(2)
                    .dilation(2)
                    .groups(2)
                    .padding_mode(PadMode::Circular);
                x[0].conv1d_with(&x[1], Some(&x[2]), &options)
            },
        ),
        // Planes so small that some taps see only padding: the kernel is cut to the others,
        // and the cut taps' gradients are zeros.
        (
            "conv2d",
            Custom(|r| {
                vec![
                    leaf(r, &[2, 3, 1, 1]),
                    leaf(r, &[4, 3, 3, 3]),
                    leaf(r, &[4]),
                ]
            }),
            |x| x[0].conv2d(&x[1], Some(&x[2]), (1, 1), (1, 1), (1, 1)),
        ),
        (
            "conv2d",
            Custom(|r| vec![leaf(r, &[1, 4, 2, 3]), leaf(r, &[4, 2, 3, 3])]),
            |x| {
                let options = Conv2dOptions::default()
                    .stride((2, 2))
                    .padding((1, 1))
                    .groups(2);
                x[0].conv2d_with(&x[1], None, &options)
            },
        ),
        (
            "conv1d",
            Custom(|r| vec![leaf(r, &[2, 3, 1]), leaf(r, &[2, 3, 3])]),
            |x| x[0].conv1d(&x[1], None, 1, 1, 1),
        ),
        (
            "conv_transpose2d",
            Custom(|r| {
                vec![
                    leaf(r, &[2, 4, 3, 2]),
                    leaf(r, &[4, 1, 3, 2]),
                    leaf(r, &[2]),
                ]
            }),
            |x| {
                let options = ConvTranspose2dOptions::default()
                    .stride((2, 2))
                    .padding((1, 0))
                    .output_padding((1, 1))
                    .groups(2);
                x[0].conv_transpose2d(&x[1], Some(&x[2]), &options)
            },
        ),
        (
            "conv_transpose2d",
            Custom(|r| vec![leaf(r, &[1, 2, 3, 3]), leaf(r, &[2, 3, 2, 2])]),
            |x| {
                let options = ConvTranspose2dOptions::default()
                    .stride((1, 2))
                    .dilation((2, 1))
                    .output_padding((1, 0));
                x[0].conv_transpose2d(&x[1], None, &options)
            },
        ),
        (
            "conv_transpose1d",
            Custom(|r| vec![leaf(r, &[2, 3, 4]), leaf(r, &[3, 2, 3]), leaf(r, &[2])]),
            |x| {
                let options = ConvTranspose1dOptions::default()
                    .stride(3)
                    .padding(1)
                    .output_padding(2);
                x[0].conv_transpose1d(&x[1], Some(&x[2]), &options)
            },
        ),
        ("pad", Custom(|r| vec![leaf(r, &[2, 3, 4])]), |x| {
            x[0].pad(&[3, 2, 2, 1], PadMode::Reflect, 0.0)
        }),
        ("pad", Custom(|r| vec![leaf(r, &[2, 3, 4])]), |x| {
            x[0].pad(&[2, 3, 1, 0, 1, 1], PadMode::Replicate, 0.0)
        }),
        ("pad", Custom(|r| vec![leaf(r, &[2, 3, 4])]), |x| {
            x[0].pad(&[4, -1, 3, 2], PadMode::Circular, 0.0)
        }),
        ("pad", Custom(|r| vec![leaf(r, &[2, 3, 4])]), |x| {
            x[0].pad(&[-1, 2, 1, -2], PadMode::Constant, 0.7)
        }),
    ]
}
