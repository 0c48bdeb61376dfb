//! Indexing ops: index_select, gather and scatter_add, for every element type.
//!
//! gather and scatter_add are each other's adjoints, and index_select's adjoint is an
//! index_add, built from scatter_add. Joining tensors (cat, stack) lives in `join.rs`; picking
//! between two tensors by a mask (where, masked_fill) in `select.rs`.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Element, NDArray, Result, Shape};

impl<E: Element, B: Backend> Tensor<E, B> {
    /// Picks values along `axis` at `index` (same rank as `self`), as `torch.gather`.
    #[track_caller]
    pub fn gather(&self, axis: isize, index: &Tensor<i64, B>) -> Result<Self> {
        let out = self.array().gather(axis, index.array())?;
        let index = index.array().clone();
        Tensor::try_from_op(out, "gather", &[self], move |inputs, _, g| {
            Ok(vec![Some(g.scatter_into_zeros(
                inputs[0].shape(),
                axis,
                &index,
            )?)])
        })
    }

    /// `self` with `src` added at `index` along `axis`, as `torch.scatter_add`.
    #[track_caller]
    pub fn scatter_add(&self, axis: isize, index: &Tensor<i64, B>, src: &Self) -> Result<Self> {
        let out = self.array().scatter_add(axis, index.array(), src.array())?;
        let index = index.array().clone();
        Tensor::try_from_op(out, "scatter_add", &[self, src], move |_, _, g| {
            Ok(vec![
                Some(g.clone()),
                Some(g.gather(axis, &Tensor::from_ndarray(index.clone()))?),
            ])
        })
    }

    /// Zeros of `shape` with `self` added at `index` along `axis`: gather's backward pass, with
    /// a backward pass of its own (a gather) for higher derivatives.
    #[track_caller]
    fn scatter_into_zeros(
        &self,
        shape: &Shape,
        axis: isize,
        index: &NDArray<i64, B>,
    ) -> Result<Self> {
        let out = NDArray::scatter_add_zeros(shape.clone(), axis, index, self.array())?;
        let index = index.clone();
        Tensor::try_from_op(out, "scatter_add", &[self], move |_, _, g| {
            Ok(vec![Some(
                g.gather(axis, &Tensor::from_ndarray(index.clone()))?,
            )])
        })
    }

    /// The slices at `index` (1-D) along `axis`, as `torch.index_select` (embedding lookups).
    #[track_caller]
    pub fn index_select(&self, axis: isize, index: &Tensor<i64, B>) -> Result<Self> {
        let out = self.array().index_select(axis, index.array())?;
        let index = index.array().clone();
        Tensor::try_from_op(out, "index_select", &[self], move |inputs, _, g| {
            let input = &inputs[0];
            let axis_u = input.shape().axis("index_select", axis)?;
            // Broadcast the 1-D index across the other axes of g, then scatter-add g into zeros.
            let mut index_shape = vec![1; g.rank()];
            index_shape[axis_u] = index.numel();
            let spread = index
                .reshape(index_shape)?
                .broadcast_to(g.shape().clone())?;
            Ok(vec![Some(g.scatter_into_zeros(
                input.shape(),
                axis,
                &spread,
            )?)])
        })
    }
}
