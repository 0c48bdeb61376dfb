//! Max unpooling (`F.max_unpool1d/2d`): the partial inverse of max pooling, which writes each
//! value at its index in an otherwise zero output.

use super::geometry::split_dims;
use crate::{in_op, Tensor};
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// PyTorch's unpooled size `(in − 1)·stride − 2·padding + kernel` per axis, or `requested`
/// if it lies strictly within one stride of it (PyTorch's rule).
fn output_sizes<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    sizes: &[usize],
    (kernel, stride, padding): (&[usize], &[usize], &[usize]),
    requested: Option<Vec<usize>>,
) -> Result<Vec<usize>> {
    if kernel.contains(&0) || stride.contains(&0) {
        return Err(Error::invalid(
            op,
            format!("kernel size {kernel:?} and stride {stride:?} must be positive"),
            x.shape(),
        ));
    }
    let default: Vec<isize> = (0..sizes.len())
        .map(|d| {
            (sizes[d] as isize - 1) * stride[d] as isize - 2 * padding[d] as isize
                + kernel[d] as isize
        })
        .collect();
    let Some(requested) = requested else {
        if default.iter().any(|&s| s < 1) {
            return Err(Error::invalid(
                op,
                format!("the unpooled size {default:?} is too small"),
                x.shape(),
            ));
        }
        return Ok(default.iter().map(|&s| s as usize).collect());
    };
    for d in 0..sizes.len() {
        let (low, high) = (
            default[d] - stride[d] as isize,
            default[d] + stride[d] as isize,
        );
        if !(low < requested[d] as isize && (requested[d] as isize) < high) {
            return Err(Error::invalid(
                op,
                format!(
                    "invalid output_size {requested:?} (dim {d} must be between {low} and {high})"
                ),
                x.shape(),
            ));
        }
    }
    Ok(requested)
}

/// Writes `x`'s values at `indices` (flat positions in each `out`-sized plane) of a zero tensor.
/// Where several values share an index the last one is kept, as PyTorch's CPU kernel does; the
/// backward pass reads the gradient at each value's index, for every value (PyTorch's rule).
fn unpool<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    indices: &Tensor<i64, B>,
    lead: &[usize],
    out: &[usize],
) -> Result<Tensor<E, B>> {
    if indices.shape() != x.shape() {
        return Err(Error::ShapeMismatch {
            op,
            what: "the indices must have the input's shape",
            lhs: x.shape().clone(),
            rhs: indices.shape().clone(),
        });
    }
    let plane: usize = out.iter().product();
    let nc: usize = lead.iter().product();
    let per_row = x.numel() / nc.max(1);
    let host = indices.to_vec()?;
    let mut keep = vec![E::ZERO; host.len()];
    let mut last = vec![usize::MAX; plane];
    for (row, chunk) in host.chunks(per_row.max(1)).enumerate() {
        for (j, &i) in chunk.iter().enumerate() {
            if i < 0 || i as usize >= plane {
                let sizes: Vec<String> = out.iter().map(usize::to_string).collect();
                return Err(Error::invalid(
                    op,
                    format!(
                        "found an invalid max index: {i} (output volumes are of size {})",
                        sizes.join("x")
                    ),
                    x.shape(),
                ));
            }
            last[i as usize] = row * per_row + j;
        }
        for (j, &i) in chunk.iter().enumerate() {
            if last[i as usize] == row * per_row + j {
                keep[row * per_row + j] = E::ONE;
            }
        }
    }
    let mut shape = lead.to_vec();
    shape.extend_from_slice(out);
    in_op(op, || {
        let index = indices.reshape([nc, per_row])?;
        let kept = x.detach().reshape([nc, per_row])?.mul(&Tensor::from_vec(
            keep,
            [nc, per_row],
            x.backend(),
        )?)?;
        let data = Tensor::zeros([nc, plane], x.backend())?
            .scatter_add(1, &index, &kept)?
            .reshape(shape)?;
        Tensor::try_from_op(data.array().clone(), op, &[x], move |inputs, _, g| {
            let grad = g.reshape([nc, plane])?.gather(1, &index)?;
            Ok(vec![Some(grad.reshape(inputs[0].shape().clone())?)])
        })
    })
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Max unpooling of a `[n, c, h, w]` (or `[c, h, w]`) tensor (`F.max_unpool2d`): each value
    /// goes to its flat index `h·W + w` (as [`Tensor::max_pool2d_with_indices`] returns them) in
    /// a zero `[.., H, W]` output, `H = (h − 1)·stride − 2·padding + kernel` unless
    /// `output_size` picks another size within one stride of it. Of values sharing an index the
    /// last is kept; the gradient of every value is the output gradient at its index.
    #[track_caller]
    pub fn max_unpool2d(
        &self,
        indices: &Tensor<i64, B>,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        output_size: Option<(usize, usize)>,
    ) -> Result<Self> {
        let op = "max_unpool2d";
        let (lead, sizes) = split_dims(op, self, 2)?;
        let out = output_sizes(
            op,
            self,
            &sizes,
            (
                &[kernel.0, kernel.1],
                &[stride.0, stride.1],
                &[padding.0, padding.1],
            ),
            output_size.map(|(h, w)| vec![h, w]),
        )?;
        unpool(op, self, indices, &lead, &out)
    }

    /// Max unpooling of a `[n, c, l]` (or `[c, l]`) tensor (`F.max_unpool1d`): each value goes
    /// to its position along `l` in a zero output of length `(l − 1)·stride − 2·padding +
    /// kernel` (or `output_size`); the conventions of [`Tensor::max_unpool2d`].
    #[track_caller]
    pub fn max_unpool1d(
        &self,
        indices: &Tensor<i64, B>,
        kernel: usize,
        stride: usize,
        padding: usize,
        output_size: Option<usize>,
    ) -> Result<Self> {
        let op = "max_unpool1d";
        let (lead, sizes) = split_dims(op, self, 1)?;
        let out = output_sizes(
            op,
            self,
            &sizes,
            (&[kernel], &[stride], &[padding]),
            output_size.map(|l| vec![l]),
        )?;
        unpool(op, self, indices, &lead, &out)
    }
}
