//! Joining tensors: cat along an existing axis, stack along a new one, for every element type.
//! Their inverses, split and chunk, are views and live in `shape.rs`.

use crate::{in_op, Tensor};
use nanotorch_ndarray_core::{Backend, Element, Error, NDArray, Result, Shape};

impl<E: Element, B: Backend> Tensor<E, B> {
    /// Joins tensors along `axis`, as `torch.cat`. The gradient of each input is its slice of the
    /// output's gradient.
    #[track_caller]
    pub fn cat(tensors: &[Self], axis: isize) -> Result<Self> {
        let arrays: Vec<NDArray<E, B>> = tensors.iter().map(|t| t.array().clone()).collect();
        let out = NDArray::cat(&arrays, axis)?;
        let refs: Vec<&Tensor<E, B>> = tensors.iter().collect();
        Tensor::try_from_op(out, "cat", &refs, move |inputs, _, g| {
            let mut start = 0;
            let axis_u = g.shape().axis("cat", axis)?;
            inputs
                .iter()
                .map(|t| {
                    let len = t.dims()[axis_u];
                    let piece = g.narrow(axis, start, len)?;
                    start += len;
                    Ok(Some(piece))
                })
                .collect()
        })
    }

    /// Joins tensors of one shape along a new `axis` (in `-rank-1..=rank`), as `torch.stack`.
    #[track_caller]
    pub fn stack(tensors: &[Self], axis: isize) -> Result<Self> {
        let first = tensors.first().ok_or_else(|| {
            Error::invalid("stack", "needs at least one tensor", &Shape::scalar())
        })?;
        if let Some(other) = tensors.iter().find(|t| t.shape() != first.shape()) {
            // cat would reject most mismatches too, but under its own name; torch.stack requires
            // equal shapes, so the check (and the error) is stack's.
            return Err(Error::ShapeMismatch {
                op: "stack",
                what: "every tensor must have the same shape",
                lhs: first.shape().clone(),
                rhs: other.shape().clone(),
            });
        }
        let rank = first.rank() as isize;
        let resolved = if axis < 0 { axis + rank + 1 } else { axis };
        if !(0..=rank).contains(&resolved) {
            return Err(Error::AxisOutOfRange {
                op: "stack",
                axis,
                shape: first.shape().clone(),
            });
        }
        in_op("stack", || {
            let expanded = tensors
                .iter()
                .map(|t| t.unsqueeze(resolved))
                .collect::<Result<Vec<_>>>()?;
            Self::cat(&expanded, resolved)
        })
    }
}
