//! Max pooling (`F.max_pool1d/2d` with padding, dilation, `ceil_mode` and `return_indices`).

use super::geometry::{gather_windows, sliding, split_dims, with_fill, Axis, Sliding, Table};
use crate::{in_op, Tensor};
use nanotorch_ndarray_core::{Backend, Float, Result};

/// The maximum of each window and its flat input index (`[nc, L]` each), by PyTorch's CPU rule
/// (`val > max || isnan(val)` in scan order): the first maximum, unless the window holds a NaN,
/// then its last NaN. Padding reads −∞ and never wins: a window whose values are all −∞ points at
/// its first position inside the input, as PyTorch's does.
fn window_max<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    table: &Table,
) -> Result<(Tensor<E, B>, Tensor<i64, B>)> {
    let b = x.backend();
    let (k, l) = (table.k, table.l);
    if let Some(picked) = fused_window_max(x, table) {
        return picked;
    }
    let cols = gather_windows(&x.detach(), E::MIN, table)?; // [nc, K, L]
    let nc = cols.dims()[0];
    if k == 0 {
        // No windows at all (an adaptive output size of 0): nothing to pick from.
        let index = Tensor::zeros([nc, l], b)?;
        let values = with_fill(x, E::MIN, table.sentinel as usize)?.gather(1, &index)?;
        return Ok((values, index));
    }
    let first_max = cols.argmax(Some(1), true)?;
    // The backend's argmax stops at the first NaN; PyTorch keeps the last. So a window holds a
    // NaN exactly where its first pick is NaN, and only then are the NaN slots ranked 1..=K
    // (the last one the largest), which costs the window tensor's size again.
    let picked = cols.gather(1, &first_max)?;
    let any_nan = picked.numel() > 0 && picked.ne(&picked)?.max_all()?.item()? > E::ZERO;
    let slot = if any_nan {
        let rank = Tensor::arange(1.0, (k + 1) as f64, 1.0, b)?.reshape([1, k, 1])?;
        let nan_rank = cols.ne(&cols)?.mul(&rank)?;
        let has_nan = picked.ne(&picked)?;
        Tensor::where_cond(&has_nan, &nan_rank.argmax(Some(1), true)?, &first_max)?
    } else {
        first_max
    };
    let slots = Tensor::from_vec(table.slots.clone(), [1, k, l], b)?.expand([nc, k, l])?;
    let index = slots.gather(1, &slot)?.reshape([nc, l])?;
    let first_valid = Tensor::from_vec(table.first_valid.clone(), [1, l], b)?;
    let index = Tensor::where_cond(&index.eq(table.sentinel)?, &first_valid, &index)?;
    // Gathering at the chosen index is what makes the backward pass route each output's whole
    // gradient to that one input position.
    let values = with_fill(x, E::MIN, table.sentinel as usize)?.gather(1, &index)?;
    Ok((values, index))
}

/// Each window's maximum and its flat input index.
type Picked<E, B> = (Tensor<E, B>, Tensor<i64, B>);

/// [`window_max`] in one backend pass where the backend has the kernel (`window_argmax`) and
/// every window reads at least one input position; `None` sends the caller down the composed
/// path, which is the reference the kernel is tested against.
fn fused_window_max<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    table: &Table,
) -> Option<Result<Picked<E, B>>> {
    let plane = table.sentinel as usize;
    let every_window_reads = table.first_valid.iter().all(|&f| f < table.sentinel);
    if table.k == 0 || table.l == 0 || plane == 0 || !every_window_reads {
        return None;
    }
    let flat = match x.reshape([x.numel() / plane, plane]) {
        Ok(flat) => flat,
        Err(e) => return Some(Err(e)),
    };
    let index = flat
        .array()
        .window_argmax(&table.slots, &table.first_valid)?;
    Some(index.and_then(|index| {
        let index = Tensor::from_ndarray(index);
        // Gathering at the chosen index routes each output's whole gradient to that position.
        Ok((flat.gather(1, &index)?, index))
    }))
}

/// Max pooling of `x` (`[...lead, ...spatial]`) over the windows of `axes` (one or two spatial
/// axes): values and flat indices `h·W + w` into each input plane, shaped `[...lead, ...out]`.
pub(super) fn max_over<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    lead: &[usize],
    axes: &[Axis],
) -> Result<(Tensor<E, B>, Tensor<i64, B>)> {
    let table = match axes {
        [row, col] => Table::new(row, col),
        [col] => Table::new(&Axis::unit(), col),
        _ => unreachable!("pooling has one or two spatial axes"),
    };
    in_op(op, || {
        let (values, index) = window_max(x, &table)?;
        let shape: Vec<usize> = lead
            .iter()
            .copied()
            .chain(axes.iter().map(Axis::out))
            .collect();
        Ok((values.reshape(shape.clone())?, index.reshape(shape)?))
    })
}

fn max_pool<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    specs: &[Sliding],
    ceil_mode: bool,
) -> Result<(Tensor<E, B>, Tensor<i64, B>)> {
    let (lead, sizes) = split_dims(op, x, specs.len())?;
    let axes = sliding(op, x.shape(), &sizes, specs, ceil_mode)?;
    max_over(op, x, &lead, &axes)
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Max pooling of a `[n, c, h, w]` (or `[c, h, w]`) tensor with PyTorch's options
    /// (`F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode, return_indices=True)`),
    /// returning the maxima and their indices: flat positions `h·W + w` in each `[h, w]` input
    /// plane. Padding counts as −∞. Within a window the first maximum in row-major order wins,
    /// and a NaN beats every number (the last NaN, as PyTorch's CPU kernel); each output's
    /// whole gradient goes to its index.
    ///
    /// Errors as PyTorch: a kernel, stride or dilation of 0, padding over half the kernel, or
    /// windows that do not fit.
    #[track_caller]
    pub fn max_pool2d_with_indices(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        dilation: (usize, usize),
        ceil_mode: bool,
    ) -> Result<(Self, Tensor<i64, B>)> {
        let specs = [
            Sliding {
                kernel: kernel.0,
                stride: stride.0,
                padding: padding.0,
                dilation: dilation.0,
            },
            Sliding {
                kernel: kernel.1,
                stride: stride.1,
                padding: padding.1,
                dilation: dilation.1,
            },
        ];
        max_pool("max_pool2d", self, &specs, ceil_mode)
    }

    /// [`Tensor::max_pool2d_with_indices`] without the indices (`F.max_pool2d` with every
    /// option).
    #[track_caller]
    pub fn max_pool2d_with(
        &self,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        dilation: (usize, usize),
        ceil_mode: bool,
    ) -> Result<Self> {
        Ok(self
            .max_pool2d_with_indices(kernel, stride, padding, dilation, ceil_mode)?
            .0)
    }

    /// Max pooling of a `[n, c, l]` (or `[c, l]`) tensor with PyTorch's options, returning the
    /// maxima and their positions along `l` (`F.max_pool1d(..., return_indices=True)`); the
    /// conventions of [`Tensor::max_pool2d_with_indices`].
    #[track_caller]
    pub fn max_pool1d_with_indices(
        &self,
        kernel: usize,
        stride: usize,
        padding: usize,
        dilation: usize,
        ceil_mode: bool,
    ) -> Result<(Self, Tensor<i64, B>)> {
        let spec = Sliding {
            kernel,
            stride,
            padding,
            dilation,
        };
        max_pool("max_pool1d", self, &[spec], ceil_mode)
    }

    /// [`Tensor::max_pool1d_with_indices`] without the indices.
    #[track_caller]
    pub fn max_pool1d_with(
        &self,
        kernel: usize,
        stride: usize,
        padding: usize,
        dilation: usize,
        ceil_mode: bool,
    ) -> Result<Self> {
        Ok(self
            .max_pool1d_with_indices(kernel, stride, padding, dilation, ceil_mode)?
            .0)
    }
}
