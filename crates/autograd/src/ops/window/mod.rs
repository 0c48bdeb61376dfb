//! Sliding-window ops: im2col, col2im and the convolutions built on them.
//!
//! im2col copies every window of the input into a column, so a convolution is one batched matrix
//! product with the flattened kernels, and pooling is a reduction over each column. col2im is
//! im2col's adjoint (it sums overlapping windows back), so each is the other's backward, and a
//! transposed convolution is the same matrix product read the other way: columns = Wᵀ·x, then
//! col2im.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Float, Result, Window2d};

mod conv;
mod geometry;
mod live_taps;
mod transpose;

pub use conv::{Conv1dOptions, Conv2dOptions, ConvOptions, ConvPadding};
pub use transpose::{ConvTranspose1dOptions, ConvTranspose2dOptions, ConvTransposeOptions};

/// The convolution-family ops of this folder and `pad.rs`, by name: `tests/gradcheck.rs` fails
/// if one has no gradcheck case (the list sits beside the code so that adding an op and listing
/// it happen in one place).
pub const CONV_OPS: &[&str] = &[
    "im2col",
    "col2im",
    "conv2d",
    "conv1d",
    "conv_transpose2d",
    "conv_transpose1d",
    "pad",
];

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Windows of a `[n, c, h, w]` tensor as columns `[n, c·kh·kw, oh·ow]`.
    #[track_caller]
    pub fn im2col(&self, window: Window2d) -> Result<Self> {
        let out = self.array().im2col(&window)?;
        let (c, h, w) = (self.dims()[1], self.dims()[2], self.dims()[3]);
        Tensor::try_from_op(out, "im2col", &[self], move |_, _, g| {
            Ok(vec![Some(g.col2im(c, (h, w), window)?)])
        })
    }

    /// Sums columns `[n, c·kh·kw, oh·ow]` back into a `[n, c, h, w]` image.
    #[track_caller]
    pub fn col2im(
        &self,
        channels: usize,
        image_hw: (usize, usize),
        window: Window2d,
    ) -> Result<Self> {
        let out = self.array().col2im(channels, image_hw, &window)?;
        Tensor::try_from_op(out, "col2im", &[self], move |_, _, g| {
            Ok(vec![Some(g.im2col(window)?)])
        })
    }
}
