//! Sliding-window pooling layers: `MaxPool1d/2d` and `AvgPool1d/2d`.

use crate::conv::check_positive;
use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Float, Result};

/// A window size in one axis (`usize`) or two (`(usize, usize)`), as a list for error messages.
pub(super) trait Sizes: Copy + std::fmt::Debug {
    fn list(self) -> Vec<usize>;
}

impl Sizes for usize {
    fn list(self) -> Vec<usize> {
        vec![self]
    }
}

impl Sizes for (usize, usize) {
    fn list(self) -> Vec<usize> {
        vec![self.0, self.1]
    }
}

/// Max pooling over `[n, c, h, w]` (or `[c, h, w]`), `nn.MaxPool2d`: padding counts as −∞, the
/// first maximum of a window wins (a NaN beats every number) and its whole gradient goes there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool2d {
    /// Window size.
    pub kernel: (usize, usize),
    /// Step between windows (PyTorch's default is the kernel size: [`MaxPool2d::new`]).
    pub stride: (usize, usize),
    /// −∞ added on both sides of each axis (at most half the kernel).
    pub padding: (usize, usize),
    /// Spacing between the window's taps.
    pub dilation: (usize, usize),
    /// Keep a last partial window that starts inside the input or its left padding.
    pub ceil_mode: bool,
}

/// Max pooling over `[n, c, l]` (or `[c, l]`), `nn.MaxPool1d`; conventions of [`MaxPool2d`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool1d {
    /// Window size.
    pub kernel: usize,
    /// Step between windows (PyTorch's default is the kernel size: [`MaxPool1d::new`]).
    pub stride: usize,
    /// −∞ added on both sides (at most half the kernel).
    pub padding: usize,
    /// Spacing between the window's taps.
    pub dilation: usize,
    /// Keep a last partial window that starts inside the input or its left padding.
    pub ceil_mode: bool,
}

/// Average pooling over `[n, c, h, w]` (or `[c, h, w]`), `nn.AvgPool2d`: padding reads 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvgPool2d {
    /// Window size.
    pub kernel: (usize, usize),
    /// Step between windows (PyTorch's default is the kernel size: [`AvgPool2d::new`]).
    pub stride: (usize, usize),
    /// Zeros added on both sides of each axis (at most half the kernel).
    pub padding: (usize, usize),
    /// Keep a last partial window that starts inside the input or its left padding.
    pub ceil_mode: bool,
    /// Divide by the window's size within the padded input (PyTorch's default, `true`) or
    /// within the input alone.
    pub count_include_pad: bool,
    /// Divide every window's sum by this instead.
    pub divisor_override: Option<usize>,
}

/// Average pooling over `[n, c, l]` (or `[c, l]`), `nn.AvgPool1d`; conventions of
/// [`AvgPool2d`] (PyTorch's 1-d layer has no `divisor_override`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvgPool1d {
    /// Window size.
    pub kernel: usize,
    /// Step between windows (PyTorch's default is the kernel size: [`AvgPool1d::new`]).
    pub stride: usize,
    /// Zeros added on both sides (at most half the kernel).
    pub padding: usize,
    /// Keep a last partial window that starts inside the input or its left padding.
    pub ceil_mode: bool,
    /// Divide by the window's size within the padded input (PyTorch's default, `true`) or
    /// within the input alone.
    pub count_include_pad: bool,
}

/// Constructor and builder methods shared by the four layers.
macro_rules! builders {
    ($name:ident, $size:ty, $zero:expr, { $($extra:ident: $value:expr),* }) => {
        impl $name {
            /// PyTorch's defaults: stride equal to the kernel, no padding, no dilation, floor
            /// mode.
            pub fn new(kernel: $size) -> Self {
                $name {
                    kernel,
                    stride: kernel,
                    padding: $zero,
                    ceil_mode: false,
                    $($extra: $value),*
                }
            }

            /// With `stride` (builder style).
            pub fn stride(mut self, stride: $size) -> Self {
                self.stride = stride;
                self
            }

            /// With `padding` on both sides of each axis (builder style).
            pub fn padding(mut self, padding: $size) -> Self {
                self.padding = padding;
                self
            }

            /// With `ceil_mode` (builder style).
            pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
                self.ceil_mode = ceil_mode;
                self
            }

            /// Kernel and stride of 0 are errors naming the layer (PyTorch refuses both).
            fn check(&self) -> Result<()> {
                check_positive(
                    stringify!($name),
                    &[
                        ("kernel_size", &self.kernel.list()),
                        ("stride", &self.stride.list()),
                    ],
                )
            }
        }
    };
}

builders!(MaxPool2d, (usize, usize), (0, 0), { dilation: (1, 1) });
builders!(MaxPool1d, usize, 0, { dilation: 1 });
builders!(AvgPool2d, (usize, usize), (0, 0), {
    count_include_pad: true,
    divisor_override: None
});
builders!(AvgPool1d, usize, 0, { count_include_pad: true });

macro_rules! max_pool {
    ($name:ident, $size:ty, $op:ident) => {
        impl $name {
            /// With `dilation` (builder style).
            pub fn dilation(mut self, dilation: $size) -> Self {
                self.dilation = dilation;
                self
            }

            /// The forward pass: the window maxima.
            pub fn forward<E: Float, B: Backend>(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
                Ok(self.forward_with_indices(x)?.0)
            }

            /// The forward pass with `return_indices=True`: the maxima and their flat positions
            /// in each input plane (`h·W + w`, or the position along `l`), as
            /// [`MaxUnpool2d`](crate::MaxUnpool2d) takes them.
            pub fn forward_with_indices<E: Float, B: Backend>(
                &self,
                x: &Tensor<E, B>,
            ) -> Result<(Tensor<E, B>, Tensor<i64, B>)> {
                self.check()?;
                check_positive(stringify!($name), &[("dilation", &self.dilation.list())])?;
                x.$op(
                    self.kernel,
                    self.stride,
                    self.padding,
                    self.dilation,
                    self.ceil_mode,
                )
            }

            fn describe(&self) -> String {
                format!(
                    "kernel_size={:?}, stride={:?}, padding={:?}, dilation={:?}, ceil_mode={}",
                    self.kernel, self.stride, self.padding, self.dilation, self.ceil_mode
                )
            }
        }
    };
}

max_pool!(MaxPool2d, (usize, usize), max_pool2d_with_indices);
max_pool!(MaxPool1d, usize, max_pool1d_with_indices);

impl AvgPool2d {
    /// With `count_include_pad` (builder style).
    pub fn count_include_pad(mut self, count_include_pad: bool) -> Self {
        self.count_include_pad = count_include_pad;
        self
    }

    /// With `divisor_override` (builder style).
    pub fn divisor_override(mut self, divisor: usize) -> Self {
        self.divisor_override = Some(divisor);
        self
    }

    /// The forward pass: `[n, c, h, w]` → `[n, c, h', w']`, the window means.
    pub fn forward<E: Float, B: Backend>(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        self.check()?;
        x.avg_pool2d_with(
            self.kernel,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )
    }

    fn describe(&self) -> String {
        format!(
            "kernel_size={:?}, stride={:?}, padding={:?}",
            self.kernel, self.stride, self.padding
        )
    }
}

impl AvgPool1d {
    /// With `count_include_pad` (builder style).
    pub fn count_include_pad(mut self, count_include_pad: bool) -> Self {
        self.count_include_pad = count_include_pad;
        self
    }

    /// The forward pass: `[n, c, l]` → `[n, c, l']`, the window means.
    pub fn forward<E: Float, B: Backend>(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        self.check()?;
        x.avg_pool1d_with(
            self.kernel,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
        )
    }

    fn describe(&self) -> String {
        format!(
            "kernel_size={}, stride={}, padding={}",
            self.kernel, self.stride, self.padding
        )
    }
}

stateless_layer!(MaxPool2d, MaxPool1d, AvgPool2d, AvgPool1d);
