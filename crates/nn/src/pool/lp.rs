//! Power-average pooling layers: `LPPool1d/2d`.

use crate::conv::check_positive;
use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Float, Result};

/// Power-average pooling over `[n, c, h, w]` (or `[c, h, w]`), `nn.LPPool2d`: each window gives
/// `(Σ xᵖ)^(1/p)`; see [`Tensor::lp_pool2d`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LPPool2d {
    /// The power `p` (`norm_type`).
    pub norm_type: f64,
    /// Window size.
    pub kernel: (usize, usize),
    /// Step between windows (PyTorch's default is the kernel size: [`LPPool2d::new`]).
    pub stride: (usize, usize),
    /// Keep a last partial window that starts inside the input.
    pub ceil_mode: bool,
}

/// Power-average pooling over `[n, c, l]` (or `[c, l]`), `nn.LPPool1d`; see [`LPPool2d`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LPPool1d {
    /// The power `p` (`norm_type`).
    pub norm_type: f64,
    /// Window size.
    pub kernel: usize,
    /// Step between windows (PyTorch's default is the kernel size: [`LPPool1d::new`]).
    pub stride: usize,
    /// Keep a last partial window that starts inside the input.
    pub ceil_mode: bool,
}

impl LPPool2d {
    /// `p`-power pooling over `kernel` windows with PyTorch's defaults: stride equal to the
    /// kernel, floor mode.
    pub fn new(norm_type: f64, kernel: (usize, usize)) -> Self {
        LPPool2d {
            norm_type,
            kernel,
            stride: kernel,
            ceil_mode: false,
        }
    }

    /// With `stride` (builder style).
    pub fn stride(mut self, stride: (usize, usize)) -> Self {
        self.stride = stride;
        self
    }

    /// With `ceil_mode` (builder style).
    pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }

    /// The forward pass: `[n, c, h, w]` → `[n, c, h', w']`.
    pub fn forward<E: Float, B: Backend>(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let (k, s) = (self.kernel, self.stride);
        check_positive(
            "LPPool2d",
            &[("kernel_size", &[k.0, k.1]), ("stride", &[s.0, s.1])],
        )?;
        x.lp_pool2d(self.norm_type, k, s, self.ceil_mode)
    }

    fn describe(&self) -> String {
        format!(
            "norm_type={}, kernel_size={:?}, stride={:?}, ceil_mode={}",
            self.norm_type, self.kernel, self.stride, self.ceil_mode
        )
    }
}

impl LPPool1d {
    /// `p`-power pooling over `kernel` windows with PyTorch's defaults: stride equal to the
    /// kernel, floor mode.
    pub fn new(norm_type: f64, kernel: usize) -> Self {
        LPPool1d {
            norm_type,
            kernel,
            stride: kernel,
            ceil_mode: false,
        }
    }

    /// With `stride` (builder style).
    pub fn stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }

    /// With `ceil_mode` (builder style).
    pub fn ceil_mode(mut self, ceil_mode: bool) -> Self {
        self.ceil_mode = ceil_mode;
        self
    }

    /// The forward pass: `[n, c, l]` → `[n, c, l']`.
    pub fn forward<E: Float, B: Backend>(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        check_positive(
            "LPPool1d",
            &[("kernel_size", &[self.kernel]), ("stride", &[self.stride])],
        )?;
        x.lp_pool1d(self.norm_type, self.kernel, self.stride, self.ceil_mode)
    }

    fn describe(&self) -> String {
        format!(
            "norm_type={}, kernel_size={}, stride={}, ceil_mode={}",
            self.norm_type, self.kernel, self.stride, self.ceil_mode
        )
    }
}

stateless_layer!(LPPool2d, LPPool1d);
