//! Adaptive pooling (`F.adaptive_avg_pool1d/2d`, `F.adaptive_max_pool1d/2d`): the output size is
//! given and the windows follow from it, PyTorch's `start = ⌊i·in/out⌋`, `end = ⌈(i+1)·in/out⌉`.

use super::avg::mean_over;
use super::geometry::{split_dims, Axis};
use super::max::max_over;
use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// The adaptive windows of `outs` over `sizes`; an input axis of size 0 is an error, as in
/// PyTorch (an output of size 0 is allowed and empty).
fn adaptive<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    outs: &[usize],
) -> Result<(Vec<usize>, Vec<Axis>)> {
    let (lead, sizes) = split_dims(op, x, outs.len())?;
    if sizes.contains(&0) {
        return Err(Error::invalid(
            op,
            "expects a non-zero size in every pooled axis",
            x.shape(),
        ));
    }
    let axes = sizes
        .iter()
        .zip(outs)
        .map(|(&size, &out)| {
            let (starts, lens) = (0..out)
                .map(|i| {
                    let start = i * size / out;
                    let end = ((i + 1) * size).div_ceil(out);
                    (start as isize, end - start)
                })
                .unzip();
            Axis {
                size,
                starts,
                lens,
                dilation: 1,
            }
        })
        .collect();
    Ok((lead, axes))
}

fn adaptive_mean<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    outs: &[usize],
) -> Result<Tensor<E, B>> {
    let (lead, axes) = adaptive(op, x, outs)?;
    let mut divisors = vec![1usize];
    for axis in &axes {
        divisors = divisors
            .iter()
            .flat_map(|&a| axis.lens.iter().map(move |&n| a * n))
            .collect();
    }
    let divisors = divisors
        .into_iter()
        .map(|n| E::from_f64(n as f64))
        .collect();
    mean_over(op, x, &lead, &axes, divisors)
}

fn adaptive_max<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    outs: &[usize],
) -> Result<(Tensor<E, B>, Tensor<i64, B>)> {
    let (lead, axes) = adaptive(op, x, outs)?;
    max_over(op, x, &lead, &axes)
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Adaptive average pooling of a `[n, c, h, w]` (or `[c, h, w]`) tensor to `output_size`
    /// (`F.adaptive_avg_pool2d`): output `(i, j)` averages input rows `⌊i·h/oh⌋..⌈(i+1)·h/oh⌉`
    /// and the columns likewise. `(1, 1)` is global average pooling.
    #[track_caller]
    pub fn adaptive_avg_pool2d(&self, output_size: (usize, usize)) -> Result<Self> {
        adaptive_mean("adaptive_avg_pool2d", self, &[output_size.0, output_size.1])
    }

    /// Adaptive average pooling of a `[n, c, l]` (or `[c, l]`) tensor to `output_size`
    /// (`F.adaptive_avg_pool1d`).
    #[track_caller]
    pub fn adaptive_avg_pool1d(&self, output_size: usize) -> Result<Self> {
        adaptive_mean("adaptive_avg_pool1d", self, &[output_size])
    }

    /// Adaptive max pooling of a `[n, c, h, w]` (or `[c, h, w]`) tensor to `output_size`, with
    /// the flat index `h·W + w` of each maximum in its input plane
    /// (`F.adaptive_max_pool2d(..., return_indices=True)`); ties and NaNs as
    /// [`Tensor::max_pool2d_with_indices`].
    #[track_caller]
    pub fn adaptive_max_pool2d_with_indices(
        &self,
        output_size: (usize, usize),
    ) -> Result<(Self, Tensor<i64, B>)> {
        adaptive_max("adaptive_max_pool2d", self, &[output_size.0, output_size.1])
    }

    /// [`Tensor::adaptive_max_pool2d_with_indices`] without the indices.
    #[track_caller]
    pub fn adaptive_max_pool2d(&self, output_size: (usize, usize)) -> Result<Self> {
        Ok(self.adaptive_max_pool2d_with_indices(output_size)?.0)
    }

    /// Adaptive max pooling of a `[n, c, l]` (or `[c, l]`) tensor to `output_size`, with the
    /// position of each maximum along `l` (`F.adaptive_max_pool1d(..., return_indices=True)`).
    #[track_caller]
    pub fn adaptive_max_pool1d_with_indices(
        &self,
        output_size: usize,
    ) -> Result<(Self, Tensor<i64, B>)> {
        adaptive_max("adaptive_max_pool1d", self, &[output_size])
    }

    /// [`Tensor::adaptive_max_pool1d_with_indices`] without the indices.
    #[track_caller]
    pub fn adaptive_max_pool1d(&self, output_size: usize) -> Result<Self> {
        Ok(self.adaptive_max_pool1d_with_indices(output_size)?.0)
    }
}
