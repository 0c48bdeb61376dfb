//! Convolution layers: thin modules over autograd's `conv2d` and `conv1d`, holding PyTorch's
//! parameter layout and default init, with one options style (builder methods `stride`,
//! `padding`, `dilation`, `without_bias`) for both.

use crate::module::layer_traits;
use crate::{init, Module, Visitor};
use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// Refuses a zero in any of a layer's options that must be positive (`stride`, `dilation`, the
/// kernel size), naming the layer and the option: the fields are public and the builder methods
/// cannot fail, so the forward pass is the first place a bad value can be reported.
pub(crate) fn check_positive(layer: &'static str, options: &[(&str, &[usize])]) -> Result<()> {
    for (name, values) in options {
        if values.contains(&0) {
            return Err(Error::msg(format!(
                "{layer}: {name} must be positive, got {values:?}"
            )));
        }
    }
    Ok(())
}

/// A layer's weight and optional bias.
type WeightAndBias<E, B> = (Tensor<E, B>, Option<Tensor<E, B>>);

/// Weight `[out, in, k…]` and bias `[out]` drawn from `U(±1/√fan_in)`, `fan_in = in·∏k`: what
/// PyTorch's default `kaiming_uniform_(a=√5)` works out to for convolutions.
fn conv_parameters<E: Float, B: Backend>(
    shape: Vec<usize>,
    bias: bool,
    backend: &B,
) -> Result<WeightAndBias<E, B>> {
    let fan_in: usize = shape[1..].iter().product();
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    let out = shape[0];
    let weight = init::uniform(shape, -bound, bound, backend)?;
    let bias = bias
        .then(|| init::uniform([out], -bound, bound, backend))
        .transpose()?;
    Ok((weight, bias))
}

/// 2-D convolution (`nn.Conv2d` without groups): input `[n, in, h, w]`, weight
/// `[out, in, kh, kw]`, bias `[out]`.
pub struct Conv2d<E: Float = f32, B: Backend = Cpu> {
    /// `[out_channels, in_channels, kh, kw]`.
    pub weight: Tensor<E, B>,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Tensor<E, B>>,
    /// Step between windows, `(rows, columns)`.
    pub stride: (usize, usize),
    /// Zeros added on each side, `(rows, columns)`.
    pub padding: (usize, usize),
    /// Spacing between kernel taps, `(rows, columns)`.
    pub dilation: (usize, usize),
}

impl<E: Float, B: Backend> Conv2d<E, B> {
    /// `nn.Conv2d(in, out, kernel_size)`: stride 1, no padding, with a bias; the builder
    /// methods (`stride`, `padding`, `dilation`, `without_bias`) set the rest.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: (usize, usize),
        backend: &B,
    ) -> Result<Self> {
        let shape = vec![out_channels, in_channels, kernel.0, kernel.1];
        let (weight, bias) = conv_parameters(shape, true, backend)?;
        Ok(Conv2d {
            weight,
            bias,
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
        })
    }

    /// The forward pass: `[n, in, h, w]` → `[n, out, h', w']`. A `stride` or `dilation` of 0
    /// is an error naming the layer (PyTorch refuses both).
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let (s, d) = (self.stride, self.dilation);
        check_positive(
            "Conv2d",
            &[("stride", &[s.0, s.1]), ("dilation", &[d.0, d.1])],
        )?;
        x.conv2d(
            &self.weight,
            self.bias.as_ref(),
            self.stride,
            self.padding,
            self.dilation,
        )
    }
}

impl<E: Float, B: Backend> Module<E, B> for Conv2d<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.parameter("weight", &self.weight);
        v.parameter("bias", self.bias.as_ref());
    }

    fn extra_repr(&self) -> String {
        let d = self.weight.dims();
        format!(
            "{}, {}, kernel_size={:?}, stride={:?}, padding={:?}, dilation={:?}, bias={}",
            at(d, 1),
            at(d, 0),
            (at(d, 2), at(d, 3)),
            self.stride,
            self.padding,
            self.dilation,
            self.bias.is_some()
        )
    }
}

/// 1-D convolution (`nn.Conv1d` without groups): input `[n, in, l]`, weight `[out, in, k]`.
pub struct Conv1d<E: Float = f32, B: Backend = Cpu> {
    /// `[out_channels, in_channels, k]`.
    pub weight: Tensor<E, B>,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Tensor<E, B>>,
    /// Step between windows.
    pub stride: usize,
    /// Zeros added on each side.
    pub padding: usize,
    /// Spacing between kernel taps.
    pub dilation: usize,
}

impl<E: Float, B: Backend> Conv1d<E, B> {
    /// `nn.Conv1d(in, out, kernel_size)`: stride 1, no padding, with a bias; the builder
    /// methods (`stride`, `padding`, `dilation`, `without_bias`) set the rest, as for `Conv2d`.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        backend: &B,
    ) -> Result<Self> {
        let (weight, bias) =
            conv_parameters(vec![out_channels, in_channels, kernel], true, backend)?;
        Ok(Conv1d {
            weight,
            bias,
            stride: 1,
            padding: 0,
            dilation: 1,
        })
    }

    /// The forward pass: `[n, in, l]` → `[n, out, l']`. A `stride` or `dilation` of 0 is an
    /// error naming the layer.
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        check_positive(
            "Conv1d",
            &[("stride", &[self.stride]), ("dilation", &[self.dilation])],
        )?;
        x.conv1d(
            &self.weight,
            self.bias.as_ref(),
            self.stride,
            self.padding,
            self.dilation,
        )
    }
}

impl<E: Float, B: Backend> Module<E, B> for Conv1d<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.parameter("weight", &self.weight);
        v.parameter("bias", self.bias.as_ref());
    }

    fn extra_repr(&self) -> String {
        let d = self.weight.dims();
        format!(
            "{}, {}, kernel_size={}, stride={}, padding={}, dilation={}, bias={}",
            at(d, 1),
            at(d, 0),
            at(d, 2),
            self.stride,
            self.padding,
            self.dilation,
            self.bias.is_some()
        )
    }
}

/// Axis `i` of a weight's shape, 0 if missing (the fields are public, so printing must not
/// trust them).
fn at(dims: &[usize], i: usize) -> usize {
    dims.get(i).copied().unwrap_or(0)
}

/// The options of a convolution as builder methods, the same for every convolution (PyTorch's
/// keyword arguments `stride`, `padding`, `dilation`, `bias=False`).
macro_rules! conv_options {
    ($($name:ident: $size:ty;)*) => {$(
        impl<E: Float, B: Backend> $name<E, B> {
            /// With `stride` (builder style).
            pub fn stride(mut self, stride: $size) -> Self {
                self.stride = stride;
                self
            }

            /// With zero `padding` on each side (builder style).
            pub fn padding(mut self, padding: $size) -> Self {
                self.padding = padding;
                self
            }

            /// With `dilation` (builder style).
            pub fn dilation(mut self, dilation: $size) -> Self {
                self.dilation = dilation;
                self
            }

            /// Without a bias (`bias=False`).
            pub fn without_bias(mut self) -> Self {
                self.bias = None;
                self
            }
        }
    )*};
}

conv_options! {
    Conv2d: (usize, usize);
    Conv1d: usize;
}

layer_traits!(Conv2d, Conv1d);
