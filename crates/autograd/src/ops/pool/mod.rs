//! Pooling: max, average, adaptive and unpooling over the last one or two axes of `[n, c, l]` /
//! `[n, c, h, w]` tensors, with PyTorch's padding, dilation, `ceil_mode` and index conventions.
//!
//! Every pooling op here is a gather: a table built on the host lists, for each output position
//! and each window slot, the flat input position `h·W + w` it reads (or a sentinel past the end
//! for padding). Values are gathered from the input with one extra column holding the padding
//! value, so the backward pass is gather's own (a scatter-add to exactly the positions read):
//! max pooling sends each output's whole gradient to its returned index, as PyTorch does.

mod adaptive;
mod avg;
mod geometry;
mod lp;
mod max;
mod unpool;

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Float, Result};

/// The pooling ops of this folder, by name: `tests/gradcheck.rs` fails if one has no gradcheck case.
pub const POOL_OPS: &[&str] = &[
    "max_pool2d",
    "avg_pool2d",
    "max_pool1d",
    "avg_pool1d",
    "max_pool2d_with",
    "max_pool1d_with",
    "avg_pool2d_with",
    "avg_pool1d_with",
    "adaptive_avg_pool2d",
    "adaptive_avg_pool1d",
    "adaptive_max_pool2d",
    "adaptive_max_pool1d",
    "max_unpool2d",
    "max_unpool1d",
    "lp_pool2d",
    "lp_pool1d",
];

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Max pooling over `kernel` windows of a `[n, c, h, w]` tensor, without padding
    /// (`F.max_pool2d(x, kernel, stride)`). Each output's gradient goes whole to the first
    /// maximum of its window, as in PyTorch; [`Tensor::max_pool2d_with`] takes every option.
    #[track_caller]
    pub fn max_pool2d(&self, kernel: (usize, usize), stride: (usize, usize)) -> Result<Self> {
        self.max_pool2d_with(kernel, stride, (0, 0), (1, 1), false)
    }

    /// Average pooling over `kernel` windows of a `[n, c, h, w]` tensor, without padding
    /// (`F.avg_pool2d(x, kernel, stride)`); [`Tensor::avg_pool2d_with`] takes every option.
    #[track_caller]
    pub fn avg_pool2d(&self, kernel: (usize, usize), stride: (usize, usize)) -> Result<Self> {
        self.avg_pool2d_with(kernel, stride, (0, 0), false, true, None)
    }

    /// Max pooling over `kernel` windows of a `[n, c, l]` tensor, without padding
    /// (`F.max_pool1d(x, kernel, stride)`).
    #[track_caller]
    pub fn max_pool1d(&self, kernel: usize, stride: usize) -> Result<Self> {
        self.max_pool1d_with(kernel, stride, 0, 1, false)
    }

    /// Average pooling over `kernel` windows of a `[n, c, l]` tensor, without padding
    /// (`F.avg_pool1d(x, kernel, stride)`).
    #[track_caller]
    pub fn avg_pool1d(&self, kernel: usize, stride: usize) -> Result<Self> {
        self.avg_pool1d_with(kernel, stride, 0, false, true)
    }
}
