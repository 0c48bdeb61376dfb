//! Adaptive pooling layers: the output size is fixed and the windows follow from the input's.

use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Float, Result};

/// Adaptive average pooling over `[n, c, h, w]` (or `[c, h, w]`) to a fixed output size,
/// `nn.AdaptiveAvgPool2d`: `AdaptiveAvgPool2d::new((1, 1))` is global average pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdaptiveAvgPool2d {
    /// Output `(h, w)`; `None` keeps that axis's input size, as PyTorch's `None`.
    pub output_size: (Option<usize>, Option<usize>),
}

/// Adaptive max pooling over `[n, c, h, w]` (or `[c, h, w]`), `nn.AdaptiveMaxPool2d`; ties and
/// gradients as [`MaxPool2d`](crate::MaxPool2d).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdaptiveMaxPool2d {
    /// Output `(h, w)`; `None` keeps that axis's input size, as PyTorch's `None`.
    pub output_size: (Option<usize>, Option<usize>),
}

/// Adaptive average pooling over `[n, c, l]` (or `[c, l]`), `nn.AdaptiveAvgPool1d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdaptiveAvgPool1d {
    /// Output length.
    pub output_size: usize,
}

/// Adaptive max pooling over `[n, c, l]` (or `[c, l]`), `nn.AdaptiveMaxPool1d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdaptiveMaxPool1d {
    /// Output length.
    pub output_size: usize,
}

/// `output_size` with each `None` replaced by the input's size in that axis (the last two axes).
fn resolve<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    (h, w): (Option<usize>, Option<usize>),
) -> (usize, usize) {
    let dims = x.dims();
    let size = |back: usize| dims.len().checked_sub(back).map_or(0, |i| dims[i]);
    (h.unwrap_or_else(|| size(2)), w.unwrap_or_else(|| size(1)))
}

impl AdaptiveAvgPool2d {
    /// Pools to `output_size` `(h, w)`.
    pub fn new(output_size: (usize, usize)) -> Self {
        AdaptiveAvgPool2d {
            output_size: (Some(output_size.0), Some(output_size.1)),
        }
    }

    /// The forward pass: `[n, c, h, w]` → `[n, c, oh, ow]`.
    pub fn forward<E: Float, B: Backend>(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        x.adaptive_avg_pool2d(resolve(x, self.output_size))
    }

    fn describe(&self) -> String {
        describe_pair(self.output_size)
    }
}

impl AdaptiveMaxPool2d {
    /// Pools to `output_size` `(h, w)`.
    pub fn new(output_size: (usize, usize)) -> Self {
        AdaptiveMaxPool2d {
            output_size: (Some(output_size.0), Some(output_size.1)),
        }
    }

    /// The forward pass: `[n, c, h, w]` → `[n, c, oh, ow]`, the window maxima.
    pub fn forward<E: Float, B: Backend>(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        Ok(self.forward_with_indices(x)?.0)
    }

    /// The forward pass with `return_indices=True`: the maxima and their flat positions
    /// `h·W + w` in each input plane.
    pub fn forward_with_indices<E: Float, B: Backend>(
        &self,
        x: &Tensor<E, B>,
    ) -> Result<(Tensor<E, B>, Tensor<i64, B>)> {
        x.adaptive_max_pool2d_with_indices(resolve(x, self.output_size))
    }

    fn describe(&self) -> String {
        describe_pair(self.output_size)
    }
}

impl AdaptiveAvgPool1d {
    /// Pools to `output_size`.
    pub fn new(output_size: usize) -> Self {
        AdaptiveAvgPool1d { output_size }
    }

    /// The forward pass: `[n, c, l]` → `[n, c, output_size]`.
    pub fn forward<E: Float, B: Backend>(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        x.adaptive_avg_pool1d(self.output_size)
    }

    fn describe(&self) -> String {
        format!("output_size={}", self.output_size)
    }
}

impl AdaptiveMaxPool1d {
    /// Pools to `output_size`.
    pub fn new(output_size: usize) -> Self {
        AdaptiveMaxPool1d { output_size }
    }

    /// The forward pass: `[n, c, l]` → `[n, c, output_size]`, the window maxima.
    pub fn forward<E: Float, B: Backend>(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        Ok(self.forward_with_indices(x)?.0)
    }

    /// The forward pass with `return_indices=True`: the maxima and their positions along `l`.
    pub fn forward_with_indices<E: Float, B: Backend>(
        &self,
        x: &Tensor<E, B>,
    ) -> Result<(Tensor<E, B>, Tensor<i64, B>)> {
        x.adaptive_max_pool1d_with_indices(self.output_size)
    }

    fn describe(&self) -> String {
        format!("output_size={}", self.output_size)
    }
}

/// PyTorch's `output_size=(1, 1)` / `output_size=(None, 7)`.
fn describe_pair((h, w): (Option<usize>, Option<usize>)) -> String {
    let show = |v: Option<usize>| v.map_or("None".to_string(), |v| v.to_string());
    format!("output_size=({}, {})", show(h), show(w))
}

stateless_layer!(
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AdaptiveAvgPool1d,
    AdaptiveMaxPool1d
);
