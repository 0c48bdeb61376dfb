//! Indexing ops: index_select, gather, scatter_add, cat, stack, where, masked_fill.
//!
//! gather and scatter_add are each other's adjoints, and index_select's adjoint is an
//! index_add, built from scatter_add.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Error, Float, NDArray, Result, Shape};

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Picks values along `axis` at `index` (same rank as `self`), as `torch.gather`.
    pub fn gather(&self, axis: isize, index: &Tensor<i64, B>) -> Result<Self> {
        let out = self.array().gather(axis, index.array())?;
        let index = index.array().clone();
        Ok(Tensor::from_op(
            out,
            "gather",
            &[self],
            move |inputs, _, g| {
                let zeros = Tensor::zeros_like(&inputs[0])?;
                Ok(vec![Some(zeros.scatter_add_array(axis, &index, g)?)])
            },
        ))
    }

    /// `self` with `src` added at `index` along `axis`, as `torch.scatter_add`.
    pub fn scatter_add(&self, axis: isize, index: &Tensor<i64, B>, src: &Self) -> Result<Self> {
        self.scatter_add_array(axis, index.array(), src)
    }

    fn scatter_add_array(&self, axis: isize, index: &NDArray<i64, B>, src: &Self) -> Result<Self> {
        let out = self.array().scatter_add(axis, index, src.array())?;
        let index = index.clone();
        Ok(Tensor::from_op(
            out,
            "scatter_add",
            &[self, src],
            move |_, _, g| {
                Ok(vec![
                    Some(g.clone()),
                    Some(g.gather(axis, &Tensor::from_ndarray(index.clone()))?),
                ])
            },
        ))
    }

    /// The slices at `index` (1-D) along `axis`, as `torch.index_select` (embedding lookups).
    pub fn index_select(&self, axis: isize, index: &Tensor<i64, B>) -> Result<Self> {
        let out = self.array().index_select(axis, index.array())?;
        let index = index.array().clone();
        Ok(Tensor::from_op(
            out,
            "index_select",
            &[self],
            move |inputs, _, g| {
                let input = &inputs[0];
                let axis_u = input.shape().axis("index_select", axis)?;
                // Broadcast the 1-D index across the other axes of g, then scatter-add g into zeros.
                let mut index_shape = vec![1; g.rank()];
                index_shape[axis_u] = index.numel();
                let spread = index
                    .reshape(index_shape)?
                    .broadcast_to(g.shape().clone())?;
                Ok(vec![Some(
                    Tensor::zeros_like(input)?.scatter_add_array(axis, &spread, g)?,
                )])
            },
        ))
    }

    /// `cond != 0 ? on_true : on_false` with broadcasting (`torch.where`); `cond` gets no gradient.
    pub fn where_cond(cond: &Self, on_true: &Self, on_false: &Self) -> Result<Self> {
        let out = NDArray::where_cond(cond.array(), on_true.array(), on_false.array())?;
        let cond = cond.detach();
        Ok(Tensor::from_op(
            out,
            "where",
            &[on_true, on_false],
            move |inputs, _, g| {
                let zero = Tensor::zeros_like(g)?;
                Ok(vec![
                    Some(Tensor::where_cond(&cond, g, &zero)?.sum_to(inputs[0].shape())?),
                    Some(Tensor::where_cond(&cond, &zero, g)?.sum_to(inputs[1].shape())?),
                ])
            },
        ))
    }

    /// `value` where `mask != 0`, `self` elsewhere (`torch.masked_fill`).
    pub fn masked_fill(&self, mask: &Self, value: E) -> Result<Self> {
        let fill = Tensor::scalar(value, self.backend())?;
        let out = Tensor::where_cond(mask, &fill, self)?;
        if out.shape() != self.shape() {
            return Err(Error::Broadcast {
                op: "masked_fill",
                lhs: self.shape().clone(),
                rhs: mask.shape().clone(),
            });
        }
        Ok(out)
    }

    /// Joins tensors along `axis`, as `torch.cat`.
    pub fn cat(tensors: &[Self], axis: isize) -> Result<Self> {
        cat_tensors(tensors, axis)
    }

    /// Joins tensors along a new `axis`, as `torch.stack`.
    pub fn stack(tensors: &[Self], axis: isize) -> Result<Self> {
        let first = tensors.first().ok_or_else(|| {
            Error::invalid("stack", "needs at least one tensor", &Shape::scalar())
        })?;
        let rank = first.rank() as isize;
        let axis = if axis < 0 { axis + rank + 1 } else { axis };
        let expanded = tensors
            .iter()
            .map(|t| t.unsqueeze(axis))
            .collect::<Result<Vec<_>>>()?;
        cat_tensors(&expanded, axis)
    }
}

/// `torch.cat`: the gradient of each input is its slice of the output's gradient.
pub fn cat_tensors<E: Float, B: Backend>(
    tensors: &[Tensor<E, B>],
    axis: isize,
) -> Result<Tensor<E, B>> {
    let arrays: Vec<NDArray<E, B>> = tensors.iter().map(|t| t.array().clone()).collect();
    let out = NDArray::cat(&arrays, axis)?;
    let refs: Vec<&Tensor<E, B>> = tensors.iter().collect();
    Ok(Tensor::from_op(out, "cat", &refs, move |inputs, _, g| {
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
    }))
}
