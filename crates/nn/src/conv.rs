//! Convolution and pooling layers: thin modules over autograd's `conv2d`, `conv1d`,
//! `max_pool2d` and `avg_pool2d`, holding PyTorch's parameter layout and default init.

use crate::module::weight_and_bias;
use crate::{init, Module};
use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Float, Result};

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
pub struct Conv2d<E: Float, B: Backend> {
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
    /// `nn.Conv2d(in, out, kernel_size)`: stride 1, no padding, with a bias; change the public
    /// fields (or use the builder methods) for the rest.
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

    /// With `stride` (builder style).
    pub fn stride(mut self, stride: (usize, usize)) -> Self {
        self.stride = stride;
        self
    }

    /// With `padding` (builder style).
    pub fn padding(mut self, padding: (usize, usize)) -> Self {
        self.padding = padding;
        self
    }

    /// With `dilation` (builder style).
    pub fn dilation(mut self, dilation: (usize, usize)) -> Self {
        self.dilation = dilation;
        self
    }

    /// Without a bias (`bias=False`).
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }
}

impl<E: Float, B: Backend> Module<E, B> for Conv2d<E, B> {
    fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        x.conv2d(
            &self.weight,
            self.bias.as_ref(),
            self.stride,
            self.padding,
            self.dilation,
        )
    }

    fn named_parameters(&self) -> Vec<(String, Tensor<E, B>)> {
        weight_and_bias(Some(&self.weight), self.bias.as_ref())
    }
}

impl<E: Float, B: Backend> std::fmt::Display for Conv2d<E, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.weight.dims();
        write!(
            f,
            "Conv2d({}, {}, kernel_size={:?}, stride={:?}, padding={:?})",
            d.get(1).unwrap_or(&0),
            d.first().unwrap_or(&0),
            (d.get(2).unwrap_or(&0), d.get(3).unwrap_or(&0)),
            self.stride,
            self.padding
        )
    }
}

/// 1-D convolution (`nn.Conv1d` without groups): input `[n, in, l]`, weight `[out, in, k]`.
pub struct Conv1d<E: Float, B: Backend> {
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
    /// `nn.Conv1d(in, out, kernel_size)`: stride 1, no padding, with a bias.
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
}

impl<E: Float, B: Backend> Module<E, B> for Conv1d<E, B> {
    fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        x.conv1d(
            &self.weight,
            self.bias.as_ref(),
            self.stride,
            self.padding,
            self.dilation,
        )
    }

    fn named_parameters(&self) -> Vec<(String, Tensor<E, B>)> {
        weight_and_bias(Some(&self.weight), self.bias.as_ref())
    }
}

impl<E: Float, B: Backend> std::fmt::Display for Conv1d<E, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.weight.dims();
        write!(
            f,
            "Conv1d({}, {}, kernel_size={}, stride={}, padding={})",
            d.get(1).unwrap_or(&0),
            d.first().unwrap_or(&0),
            d.get(2).unwrap_or(&0),
            self.stride,
            self.padding
        )
    }
}

/// Max pooling over `[n, c, h, w]` (`nn.MaxPool2d(kernel, stride)` without padding).
#[derive(Debug, Clone, Copy)]
pub struct MaxPool2d {
    /// Window size.
    pub kernel: (usize, usize),
    /// Step between windows (PyTorch's default is the kernel size: [`MaxPool2d::new`]).
    pub stride: (usize, usize),
}

/// Average pooling over `[n, c, h, w]` (`nn.AvgPool2d(kernel, stride)` without padding).
#[derive(Debug, Clone, Copy)]
pub struct AvgPool2d {
    /// Window size.
    pub kernel: (usize, usize),
    /// Step between windows (PyTorch's default is the kernel size: [`AvgPool2d::new`]).
    pub stride: (usize, usize),
}

macro_rules! pooling {
    ($($name:ident => $method:ident;)*) => {$(
        impl $name {
            /// Non-overlapping windows: the stride equals the kernel, as PyTorch's default.
            pub fn new(kernel: (usize, usize)) -> Self {
                $name { kernel, stride: kernel }
            }
        }

        impl<E: Float, B: Backend> Module<E, B> for $name {
            fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
                x.$method(self.kernel, self.stride)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(
                    f,
                    "{}(kernel_size={:?}, stride={:?})",
                    stringify!($name),
                    self.kernel,
                    self.stride
                )
            }
        }
    )*};
}

pooling! {
    MaxPool2d => max_pool2d;
    AvgPool2d => avg_pool2d;
}
