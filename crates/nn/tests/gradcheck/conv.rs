//! Gradient checks of the convolution layers (`CONV_LAYERS`); their parameters are inputs too.

use super::*;
use nanotorch_autograd::PadMode;
use nanotorch_nn::{ConvTranspose1d, ConvTranspose2d};

/// The convolution cases, one or more per name in `CONV_LAYERS`.
pub(super) fn cases() -> Vec<Case> {
    vec![
        (
            "Conv2d",
            || vec![randn(&[2, 2, 5, 4]), randn(&[3, 2, 3, 2]), randn(&[3])],
            |x| {
                manual_seed(14);
                let mut conv = Conv2d::new(2, 3, (3, 2), &Cpu)?
                    .stride((2, 1))
                    .padding((1, 1))
                    .dilation((1, 2));
                // the parameters are inputs too, so their gradients are checked
                conv.weight = x[1].clone();
                conv.bias = Some(x[2].clone());
                conv.forward(&x[0])
            },
        ),
        // Grouped, 'same' with an even kernel, reflect padding.
        (
            "Conv2d",
            || vec![randn(&[1, 4, 4, 5]), randn(&[6, 2, 2, 3]), randn(&[6])],
            |x| {
                let mut conv = Conv2d::new(4, 6, (2, 3), &Cpu)?
                    .groups(2)?
                    .padding_same()
                    .padding_mode(PadMode::Reflect);
                conv.weight = x[1].clone();
                conv.bias = Some(x[2].clone());
                conv.forward(&x[0])
            },
        ),
        (
            "Conv1d",
            || vec![randn(&[2, 2, 7]), randn(&[3, 2, 3]), randn(&[3])],
            |x| {
                let mut conv = Conv1d::new(2, 3, 3, &Cpu)?.stride(2).padding(1).dilation(2);
                conv.weight = x[1].clone();
                conv.bias = Some(x[2].clone());
                conv.forward(&x[0])
            },
        ),
        // Depthwise with circular padding.
        (
            "Conv1d",
            || vec![randn(&[2, 3, 6]), randn(&[3, 1, 3])],
            |x| {
                let mut conv = Conv1d::new(3, 3, 3, &Cpu)?
                    .groups(3)?
                    .padding(2)
                    .padding_mode(PadMode::Circular)
                    .without_bias();
                conv.weight = x[1].clone();
                conv.forward(&x[0])
            },
        ),
        (
            "ConvTranspose2d",
            || vec![randn(&[2, 4, 3, 2]), randn(&[4, 1, 3, 2]), randn(&[2])],
            |x| {
                let mut conv = ConvTranspose2d::new(4, 2, (3, 2), &Cpu)?
                    .groups(2)?
                    .stride((2, 2))
                    .padding((1, 0))
                    .output_padding((1, 1));
                conv.weight = x[1].clone();
                conv.bias = Some(x[2].clone());
                conv.forward(&x[0])
            },
        ),
        (
            "ConvTranspose1d",
            || vec![randn(&[2, 2, 4]), randn(&[2, 3, 2]), randn(&[3])],
            |x| {
                let mut conv = ConvTranspose1d::new(2, 3, 2, &Cpu)?
                    .stride(1)
                    .dilation(2)
                    .output_padding(1);
                conv.weight = x[1].clone();
                conv.bias = Some(x[2].clone());
                conv.forward(&x[0])
            },
        ),
    ]
}
