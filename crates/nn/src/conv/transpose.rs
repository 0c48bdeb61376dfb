//! Transposed convolution layers (`nn.ConvTranspose1d`, `nn.ConvTranspose2d`): PyTorch's weight
//! layout `[in, out/groups, k…]`, so its checkpoints load unchanged, and its default init.

use super::{at, check_groups, check_positive, conv_parameters, describe};
use crate::module::layer_traits;
use crate::{Module, Visitor};
use nanotorch_autograd::{ConvTransposeOptions, PadMode, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Float, Result};

/// 2-D transposed convolution (`nn.ConvTranspose2d`): input `[n, in, h, w]`, weight
/// `[in, out/groups, kh, kw]`, bias `[out]`; output height
/// `(h − 1)·stride − 2·padding + dilation·(kh − 1) + output_padding + 1`, and so for the width.
pub struct ConvTranspose2d<E: Float = f32, B: Backend = Cpu> {
    /// `[in_channels, out_channels/groups, kh, kw]`.
    pub weight: Tensor<E, B>,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Tensor<E, B>>,
    /// Step between the patches each input pixel writes, `(rows, columns)`.
    pub stride: (usize, usize),
    /// Cropped from both sides of the output, `(rows, columns)`.
    pub padding: (usize, usize),
    /// Added to the bottom and right of the output (smaller than stride or dilation).
    pub output_padding: (usize, usize),
    /// Spacing between kernel taps, `(rows, columns)`.
    pub dilation: (usize, usize),
    /// Channel groups.
    pub groups: usize,
}

/// 1-D transposed convolution (`nn.ConvTranspose1d`): input `[n, in, l]`, weight
/// `[in, out/groups, k]`, bias `[out]`.
pub struct ConvTranspose1d<E: Float = f32, B: Backend = Cpu> {
    /// `[in_channels, out_channels/groups, k]`.
    pub weight: Tensor<E, B>,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Tensor<E, B>>,
    /// Step between the patches each input position writes.
    pub stride: usize,
    /// Cropped from both ends of the output.
    pub padding: usize,
    /// Added to the end of the output (smaller than stride or dilation).
    pub output_padding: usize,
    /// Spacing between kernel taps.
    pub dilation: usize,
    /// Channel groups.
    pub groups: usize,
}

impl<E: Float, B: Backend> ConvTranspose2d<E, B> {
    /// `nn.ConvTranspose2d(in, out, kernel_size)`: stride 1, no padding, one group, with a
    /// bias; the builder methods set the rest.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: (usize, usize),
        backend: &B,
    ) -> Result<Self> {
        let shape = vec![in_channels, out_channels, kernel.0, kernel.1];
        let (weight, bias) = conv_parameters(shape, out_channels, true, backend)?;
        Ok(ConvTranspose2d {
            weight,
            bias,
            stride: (1, 1),
            padding: (0, 0),
            output_padding: (0, 0),
            dilation: (1, 1),
            groups: 1,
        })
    }

    /// The forward pass: `[n, in, h, w]` → `[n, out, h', w']`.
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let (s, d) = (self.stride, self.dilation);
        check_positive(
            "ConvTranspose2d",
            &[("stride", &[s.0, s.1]), ("dilation", &[d.0, d.1])],
        )?;
        x.conv_transpose2d(&self.weight, self.bias.as_ref(), &self.options())
    }
}

impl<E: Float, B: Backend> ConvTranspose1d<E, B> {
    /// `nn.ConvTranspose1d(in, out, kernel_size)`: stride 1, no padding, one group, with a
    /// bias; the builder methods set the rest.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        backend: &B,
    ) -> Result<Self> {
        let shape = vec![in_channels, out_channels, kernel];
        let (weight, bias) = conv_parameters(shape, out_channels, true, backend)?;
        Ok(ConvTranspose1d {
            weight,
            bias,
            stride: 1,
            padding: 0,
            output_padding: 0,
            dilation: 1,
            groups: 1,
        })
    }

    /// The forward pass: `[n, in, l]` → `[n, out, l']`.
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        check_positive(
            "ConvTranspose1d",
            &[("stride", &[self.stride]), ("dilation", &[self.dilation])],
        )?;
        x.conv_transpose1d(&self.weight, self.bias.as_ref(), &self.options())
    }
}

/// `Module`, the options struct and the builder methods of a transposed convolution.
macro_rules! transpose_layer {
    ($($name:ident: $size:ty;)*) => {$(
        impl<E: Float, B: Backend> $name<E, B> {
            fn options(&self) -> ConvTransposeOptions<$size> {
                ConvTransposeOptions {
                    stride: self.stride,
                    padding: self.padding,
                    output_padding: self.output_padding,
                    dilation: self.dilation,
                    groups: self.groups,
                }
            }

            /// With `padding` cropped from each side (builder style).
            pub fn padding(mut self, padding: $size) -> Self {
                self.padding = padding;
                self
            }

            /// With `output_padding` (builder style).
            pub fn output_padding(mut self, output_padding: $size) -> Self {
                self.output_padding = output_padding;
                self
            }

            /// With `groups`: redraws the weight as `[in, out/groups, k…]` (and the bias, if
            /// any) with that shape's fan-in. An error if `groups` does not divide both channel
            /// counts, as PyTorch's constructor.
            pub fn groups(mut self, groups: usize) -> Result<Self> {
                let mut shape = self.weight.dims().to_vec();
                let (in_channels, out) = (shape[0], shape[1] * self.groups);
                check_groups(stringify!($name), in_channels, out, groups)?;
                shape[1] = out / groups;
                let has_bias = self.bias.is_some();
                let (weight, bias) = conv_parameters(shape, out, has_bias, self.weight.backend())?;
                (self.weight, self.bias, self.groups) = (weight, bias, groups);
                Ok(self)
            }
        }

        impl<E: Float, B: Backend> Module<E, B> for $name<E, B> {
            fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
                v.parameter("weight", &self.weight);
                v.parameter("bias", self.bias.as_ref());
            }

            fn extra_repr(&self) -> String {
                let d = self.weight.dims();
                let shown = format!(
                    "stride={:?}, padding={:?}, output_padding={:?}, dilation={:?}",
                    self.stride, self.padding, self.output_padding, self.dilation
                );
                let channels = (at(d, 0), at(d, 1) * self.groups);
                let bias = self.bias.is_some();
                describe(d, channels, shown, self.groups, bias, PadMode::Constant)
            }
        }
    )*};
}

transpose_layer! {
    ConvTranspose2d: (usize, usize);
    ConvTranspose1d: usize;
}

conv_options! {
    ConvTranspose2d: (usize, usize);
    ConvTranspose1d: usize;
}

layer_traits!(ConvTranspose2d, ConvTranspose1d);
