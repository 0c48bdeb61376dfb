//! Power-average pooling (`F.lp_pool1d/2d`), composed as PyTorch composes it.

use crate::{in_op, Tensor};
use nanotorch_ndarray_core::{Backend, Float, Result};

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Power-average pooling of a `[n, c, h, w]` (or `[c, h, w]`) tensor (`F.lp_pool2d`):
    /// `(Σ_window xᵖ)^(1/p)` with `p = norm_type`, no padding. Built as PyTorch builds it, from
    /// an average pool of `xᵖ` times the kernel area, so a `ceil_mode` partial window matches
    /// PyTorch's (which scales its smaller mean by the full area). `p = 1` is sum pooling; a
    /// negative input with a fractional `p` gives NaN, as in PyTorch.
    #[track_caller]
    pub fn lp_pool2d(
        &self,
        norm_type: f64,
        kernel: (usize, usize),
        stride: (usize, usize),
        ceil_mode: bool,
    ) -> Result<Self> {
        in_op("lp_pool2d", || {
            let xp = self.pow_scalar(E::from_f64(norm_type))?;
            let mean = xp.avg_pool2d_with(kernel, stride, (0, 0), ceil_mode, true, None)?;
            lp_finish(&mean, norm_type, kernel.0 * kernel.1)
        })
    }

    /// Power-average pooling of a `[n, c, l]` (or `[c, l]`) tensor (`F.lp_pool1d`); see
    /// [`Tensor::lp_pool2d`].
    #[track_caller]
    pub fn lp_pool1d(
        &self,
        norm_type: f64,
        kernel: usize,
        stride: usize,
        ceil_mode: bool,
    ) -> Result<Self> {
        in_op("lp_pool1d", || {
            let xp = self.pow_scalar(E::from_f64(norm_type))?;
            let mean = xp.avg_pool1d_with(kernel, stride, 0, ceil_mode, true)?;
            lp_finish(&mean, norm_type, kernel)
        })
    }
}

/// PyTorch's last step: `(sign(m)·relu(|m|)·area)^(1/p)` of the window means `m`.
fn lp_finish<E: Float, B: Backend>(
    mean: &Tensor<E, B>,
    norm_type: f64,
    area: usize,
) -> Result<Tensor<E, B>> {
    mean.sign()?
        .mul(&mean.abs()?.relu()?)?
        .mul_scalar(E::from_f64(area as f64))?
        .pow_scalar(E::from_f64(1.0 / norm_type))
}
