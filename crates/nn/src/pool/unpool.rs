//! Max unpooling layers: `MaxUnpool1d/2d`, the partial inverses of `MaxPool1d/2d`.

use crate::conv::check_positive;
use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Float, Result};

/// Max unpooling over `[n, c, h, w]` (or `[c, h, w]`), `nn.MaxUnpool2d`: the values go to
/// their indices (from [`MaxPool2d::forward_with_indices`](crate::MaxPool2d::forward_with_indices))
/// in a zero output; see [`Tensor::max_unpool2d`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxUnpool2d {
    /// Window size of the max pooling undone.
    pub kernel: (usize, usize),
    /// Its stride (PyTorch's default is the kernel size: [`MaxUnpool2d::new`]).
    pub stride: (usize, usize),
    /// Its padding.
    pub padding: (usize, usize),
}

/// Max unpooling over `[n, c, l]` (or `[c, l]`), `nn.MaxUnpool1d`; see [`MaxUnpool2d`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxUnpool1d {
    /// Window size of the max pooling undone.
    pub kernel: usize,
    /// Its stride (PyTorch's default is the kernel size: [`MaxUnpool1d::new`]).
    pub stride: usize,
    /// Its padding.
    pub padding: usize,
}

impl MaxUnpool2d {
    /// Undoes `MaxPool2d::new(kernel)`: stride equal to the kernel, no padding.
    pub fn new(kernel: (usize, usize)) -> Self {
        MaxUnpool2d {
            kernel,
            stride: kernel,
            padding: (0, 0),
        }
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

    /// The forward pass: `x` `[n, c, h, w]` and its `indices` (same shape) → `[n, c, H, W]`,
    /// `H = (h − 1)·stride − 2·padding + kernel` unless `output_size` gives another size within
    /// one stride of it (PyTorch's `output_size` argument).
    pub fn forward<E: Float, B: Backend>(
        &self,
        x: &Tensor<E, B>,
        indices: &Tensor<i64, B>,
        output_size: Option<(usize, usize)>,
    ) -> Result<Tensor<E, B>> {
        let (k, s) = (self.kernel, self.stride);
        check_positive(
            "MaxUnpool2d",
            &[("kernel_size", &[k.0, k.1]), ("stride", &[s.0, s.1])],
        )?;
        x.max_unpool2d(indices, k, s, self.padding, output_size)
    }

    fn describe(&self) -> String {
        format!(
            "kernel_size={:?}, stride={:?}, padding={:?}",
            self.kernel, self.stride, self.padding
        )
    }
}

impl MaxUnpool1d {
    /// Undoes `MaxPool1d::new(kernel)`: stride equal to the kernel, no padding.
    pub fn new(kernel: usize) -> Self {
        MaxUnpool1d {
            kernel,
            stride: kernel,
            padding: 0,
        }
    }

    /// With `stride` (builder style).
    pub fn stride(mut self, stride: usize) -> Self {
        self.stride = stride;
        self
    }

    /// With `padding` (builder style).
    pub fn padding(mut self, padding: usize) -> Self {
        self.padding = padding;
        self
    }

    /// The forward pass: `x` `[n, c, l]` and its `indices` → `[n, c, L]`, `L = (l − 1)·stride
    /// − 2·padding + kernel` unless `output_size` gives another length within one stride.
    pub fn forward<E: Float, B: Backend>(
        &self,
        x: &Tensor<E, B>,
        indices: &Tensor<i64, B>,
        output_size: Option<usize>,
    ) -> Result<Tensor<E, B>> {
        check_positive(
            "MaxUnpool1d",
            &[("kernel_size", &[self.kernel]), ("stride", &[self.stride])],
        )?;
        x.max_unpool1d(indices, self.kernel, self.stride, self.padding, output_size)
    }

    fn describe(&self) -> String {
        format!(
            "kernel_size={}, stride={}, padding={}",
            self.kernel, self.stride, self.padding
        )
    }
}

stateless_module!(MaxUnpool2d, MaxUnpool1d);
