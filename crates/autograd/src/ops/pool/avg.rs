//! Average pooling (`F.avg_pool1d/2d` with padding, `ceil_mode`, `count_include_pad` and
//! `divisor_override`).

use super::geometry::{gather_windows, sliding, split_dims, Axis, Sliding, Table};
use crate::{in_op, Tensor};
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// The window sums of `x` over `axes` (padding reads 0) divided by `divisors` (one per output,
/// row-major), shaped `[...lead, ...out]`.
pub(super) fn mean_over<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    lead: &[usize],
    axes: &[Axis],
    divisors: Vec<E>,
) -> Result<Tensor<E, B>> {
    let table = match axes {
        [row, col] => Table::new(row, col),
        [col] => Table::new(&Axis::unit(), col),
        _ => unreachable!("pooling has one or two spatial axes"),
    };
    in_op(op, || {
        let sums = gather_windows(x, E::ZERO, &table)?.sum_dims(&[1], false)?; // [nc, L]
        let divisors = Tensor::from_vec(divisors, [1, table.l], x.backend())?;
        let shape: Vec<usize> = lead
            .iter()
            .copied()
            .chain(axes.iter().map(Axis::out))
            .collect();
        sums.div(&divisors)?.reshape(shape)
    })
}

/// Per output, the number of positions PyTorch divides by: those of the window inside the input
/// padded on both sides (`count_include_pad`) or inside the input only; row-major over outputs.
fn divisors<E: Float>(axes: &[Axis], specs: &[Sliding], count_include_pad: bool) -> Vec<E> {
    let per_axis: Vec<Vec<usize>> = axes
        .iter()
        .zip(specs)
        .map(|(axis, s)| {
            let (size, k, p) = (axis.size as isize, s.kernel as isize, s.padding as isize);
            axis.starts
                .iter()
                .map(|&start| {
                    let end = (start + k).min(size + p);
                    let n = if count_include_pad {
                        end - start
                    } else {
                        end.min(size) - start.max(0)
                    };
                    n.max(0) as usize
                })
                .collect()
        })
        .collect();
    let mut out = vec![1usize];
    for counts in per_axis {
        out = out
            .iter()
            .flat_map(|&a| counts.iter().map(move |&c| a * c))
            .collect();
    }
    out.into_iter().map(|n| E::from_f64(n as f64)).collect()
}

fn avg_pool<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    specs: &[Sliding],
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<usize>,
) -> Result<Tensor<E, B>> {
    if divisor_override == Some(0) {
        return Err(Error::invalid(op, "divisor must be not zero", x.shape()));
    }
    let (lead, sizes) = split_dims(op, x, specs.len())?;
    let axes = sliding(op, x.shape(), &sizes, specs, ceil_mode)?;
    let divisors = match divisor_override {
        Some(d) => vec![E::from_f64(d as f64); axes.iter().map(Axis::out).product()],
        None => divisors(&axes, specs, count_include_pad),
    };
    mean_over(op, x, &lead, &axes, divisors)
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Average pooling of a `[n, c, h, w]` (or `[c, h, w]`) tensor with PyTorch's options
    /// (`F.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad,
    /// divisor_override)`). Padding reads 0; each window's sum is divided by `divisor_override`
    /// if given, else by the number of its positions inside the padded input
    /// (`count_include_pad`, PyTorch's default) or inside the input alone.
    ///
    /// Errors as PyTorch: a kernel or stride of 0, padding over half the kernel, a divisor of 0,
    /// or windows that do not fit.
    #[track_caller]
    pub fn avg_pool2d_with(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        ceil_mode: bool,
        count_include_pad: bool,
        divisor_override: Option<usize>,
    ) -> Result<Self> {
        let spec = |k, s, p| Sliding {
            kernel: k,
            stride: s,
            padding: p,
            dilation: 1,
        };
        let specs = [
            spec(kernel.0, stride.0, padding.0),
            spec(kernel.1, stride.1, padding.1),
        ];
        avg_pool(
            "avg_pool2d",
            self,
            &specs,
            ceil_mode,
            count_include_pad,
            divisor_override,
        )
    }

    /// Average pooling of a `[n, c, l]` (or `[c, l]`) tensor with PyTorch's options
    /// (`F.avg_pool1d(x, kernel, stride, padding, ceil_mode, count_include_pad)`); the
    /// conventions of [`Tensor::avg_pool2d_with`].
    #[track_caller]
    pub fn avg_pool1d_with(
        &self,
        kernel: usize,
        stride: usize,
        padding: usize,
        ceil_mode: bool,
        count_include_pad: bool,
    ) -> Result<Self> {
        let spec = Sliding {
            kernel,
            stride,
            padding,
            dilation: 1,
        };
        avg_pool(
            "avg_pool1d",
            self,
            &[spec],
            ceil_mode,
            count_include_pad,
            None,
        )
    }
}
