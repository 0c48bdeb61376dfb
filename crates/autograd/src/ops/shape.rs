//! Shape ops: views of the same storage (no copy) whose backward moves the gradient back into
//! the input's shape.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Float, NDArray, Result, Shape};

impl<E: Float, B: Backend> Tensor<E, B> {
    /// A view (or copy when strides forbid a view) with another shape; gradient reshaped back.
    fn reshaped(&self, op: &'static str, out: NDArray<E, B>) -> Self {
        Tensor::from_op(out, op, &[self], |inputs, _, g| {
            Ok(vec![Some(g.reshape(inputs[0].shape().clone())?)])
        })
    }

    /// The same elements in another shape (`usize::MAX` infers one axis, like PyTorch's `-1`).
    pub fn reshape(&self, shape: impl Into<Shape>) -> Result<Self> {
        let out = self.array().reshape(shape)?;
        Ok(self.reshaped("reshape", out))
    }

    /// Like `reshape`, but errors instead of copying when the strides do not allow a view.
    pub fn view(&self, shape: impl Into<Shape>) -> Result<Self> {
        let out = self.array().view(shape)?;
        Ok(self.reshaped("view", out))
    }

    /// Removes `axis` (of size 1).
    pub fn squeeze(&self, axis: isize) -> Result<Self> {
        let out = self.array().squeeze(axis)?;
        Ok(self.reshaped("squeeze", out))
    }

    /// Inserts an axis of size 1.
    pub fn unsqueeze(&self, axis: isize) -> Result<Self> {
        let out = self.array().unsqueeze(axis)?;
        Ok(self.reshaped("unsqueeze", out))
    }

    /// Merges axes `start..=end` into one.
    pub fn flatten(&self, start: isize, end: isize) -> Result<Self> {
        let out = self.array().flatten(start, end)?;
        Ok(self.reshaped("flatten", out))
    }

    /// A contiguous version (a copy only when needed); the gradient passes unchanged.
    pub fn contiguous(&self) -> Result<Self> {
        let out = self.array().contiguous()?;
        Ok(self.reshaped("contiguous", out))
    }

    /// Reorders axes; the gradient is permuted back by the inverse permutation.
    pub fn permute(&self, perm: &[isize]) -> Result<Self> {
        let out = self.array().permute(perm)?;
        let resolved: Vec<usize> = perm
            .iter()
            .map(|&a| self.shape().axis("permute", a))
            .collect::<Result<_>>()?;
        let mut inverse = vec![0isize; resolved.len()];
        for (i, &p) in resolved.iter().enumerate() {
            inverse[p] = i as isize;
        }
        Ok(Tensor::from_op(out, "permute", &[self], move |_, _, g| {
            Ok(vec![Some(g.permute(&inverse)?)])
        }))
    }

    /// Swaps two axes.
    pub fn transpose(&self, a: isize, b: isize) -> Result<Self> {
        let out = self.array().transpose(a, b)?;
        Ok(Tensor::from_op(
            out,
            "transpose",
            &[self],
            move |_, _, g| Ok(vec![Some(g.transpose(a, b)?)]),
        ))
    }

    /// The transpose of a matrix (0-d and 1-d tensors unchanged).
    pub fn t(&self) -> Result<Self> {
        if self.rank() < 2 {
            return self.reshape(self.shape().clone());
        }
        let out = self.array().t()?;
        Ok(Tensor::from_op(out, "t", &[self], |_, _, g| {
            Ok(vec![Some(g.t()?)])
        }))
    }

    /// Broadcasts to `shape` as a view; the gradient is summed back.
    pub fn expand(&self, shape: impl Into<Shape>) -> Result<Self> {
        let out = self.array().broadcast_to(shape)?;
        Ok(Tensor::from_op(out, "expand", &[self], |inputs, _, g| {
            Ok(vec![Some(g.sum_to(inputs[0].shape())?)])
        }))
    }

    /// NumPy's name for [`Tensor::expand`].
    pub fn broadcast_to(&self, shape: impl Into<Shape>) -> Result<Self> {
        self.expand(shape)
    }

    /// Elements `start..start + len` along `axis`.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Self> {
        self.slice(axis, start, start + len, 1).and_then(|t| {
            if t.dims()[self.shape().axis("narrow", axis)?] == len {
                Ok(t)
            } else {
                // Python slicing clamps; narrow does not.
                Err(nanotorch_ndarray_core::Error::invalid(
                    "narrow",
                    format!("range {start}..{} is outside axis {axis}", start + len),
                    self.shape(),
                ))
            }
        })
    }

    /// Every `step`-th element of `start..end` along `axis` (`end` clamped, as Python slices).
    /// The gradient is written into the sliced positions of a zero tensor.
    pub fn slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Result<Self> {
        let out = self.array().slice(axis, start, end, step)?;
        Ok(Tensor::from_op(
            out,
            "slice",
            &[self],
            move |inputs, _, g| {
                Ok(vec![Some(g.unslice(
                    inputs[0].shape(),
                    axis,
                    start,
                    end,
                    step,
                )?)])
            },
        ))
    }

    /// The adjoint of `slice`: a zero tensor of `shape` with `self` written into the slice.
    fn unslice(
        &self,
        shape: &Shape,
        axis: isize,
        start: usize,
        end: usize,
        step: usize,
    ) -> Result<Self> {
        let out = NDArray::zeros(shape.clone(), self.backend())?;
        out.slice(axis, start, end, step)?.assign(self.array())?;
        Ok(Tensor::from_op(out, "unslice", &[self], move |_, _, g| {
            Ok(vec![Some(g.slice(axis, start, end, step)?)])
        }))
    }

    /// Splits `axis` into pieces of `size` (the last may be smaller), as views.
    pub fn split(&self, size: usize, axis: isize) -> Result<Vec<Self>> {
        let resolved = self.shape().axis("split", axis)?;
        if size == 0 {
            return Err(nanotorch_ndarray_core::Error::invalid(
                "split",
                "split size must be positive",
                self.shape(),
            ));
        }
        let len = self.dims()[resolved];
        (0..len)
            .step_by(size)
            .map(|s| self.narrow(axis, s, size.min(len - s)))
            .collect()
    }

    /// Splits `axis` into `chunks` nearly equal pieces (as `torch.chunk`).
    pub fn chunk(&self, chunks: usize, axis: isize) -> Result<Vec<Self>> {
        let resolved = self.shape().axis("chunk", axis)?;
        if chunks == 0 {
            return Err(nanotorch_ndarray_core::Error::invalid(
                "chunk",
                "chunks must be positive",
                self.shape(),
            ));
        }
        let len = self.dims()[resolved];
        self.split(len.div_ceil(chunks).max(1), axis)
    }
}
