//! Shape ops: views of the same storage (no copy) whose backward moves the gradient back into
//! the input's shape.
//!
//! They are written for every element type: an `i64` label tensor reshapes and narrows exactly
//! as a float one does. Only float tensors record the backward rule (see `Tensor::from_op`).

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Dims, Element, NDArray, Result, Shape};

impl<E: Element, B: Backend> Tensor<E, B> {
    /// A view (or copy when strides forbid a view) with another shape; gradient reshaped back.
    fn reshaped(&self, op: &'static str, out: NDArray<E, B>) -> Self {
        Tensor::from_op(out, op, &[self], |inputs, _, g| {
            Ok(vec![Some(g.reshape(inputs[0].shape().clone())?)])
        })
    }

    /// The same elements in another shape, as a view when the strides allow it (`torch.reshape`).
    /// One size may be `-1`, inferred from the element count; sizes may be given as
    /// `[usize; N]`, `&[usize]`, a [`Shape`], or signed (`[-1, 784]`, `&[isize]`, `Vec<i64>`):
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let images = Tensor::<f32, Cpu>::zeros([32, 1, 28, 28], &Cpu)?;
    /// assert_eq!(images.reshape([-1, 784])?.dims(), &[32, 784]);
    /// let batch = 32usize;
    /// assert_eq!(images.reshape([batch, 784])?.dims(), &[32, 784]);
    /// let err = images.reshape([-1, 100]).unwrap_err().to_string();
    /// assert!(err.starts_with("reshape:") && err.contains("[-1, 100]") && err.contains("[32, 1, 28, 28]"));
    /// # Ok(()) }
    /// ```
    pub fn reshape(&self, shape: impl Into<Dims>) -> Result<Self> {
        let out = self.array().reshape(shape)?;
        Ok(self.reshaped("reshape", out))
    }

    /// Like `reshape`, but errors instead of copying when the strides do not allow a view
    /// (`torch.Tensor.view`). One size may be `-1`.
    pub fn view(&self, shape: impl Into<Dims>) -> Result<Self> {
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

    /// Broadcasts to `shape` as a view (`torch.Tensor.expand`); a size of `-1` keeps that axis
    /// (`[3, 1]` expanded to `[-1, 4]` is `[3, 4]`). The gradient is summed back.
    pub fn expand(&self, shape: impl Into<Dims>) -> Result<Self> {
        let out = self.array().expand(shape)?;
        Ok(self.broadcast(out))
    }

    /// NumPy's name for [`Tensor::expand`] (errors name `broadcast_to`).
    pub fn broadcast_to(&self, shape: impl Into<Shape>) -> Result<Self> {
        let out = self.array().broadcast_to(shape)?;
        Ok(self.broadcast(out))
    }

    /// A broadcast view of `self`, whose gradient is summed back to `self`'s shape. Both names
    /// record the op as `expand` (PyTorch's grad_fn is `ExpandBackward` for either).
    fn broadcast(&self, out: NDArray<E, B>) -> Self {
        Tensor::from_op(out, "expand", &[self], |inputs, _, g| {
            Ok(vec![Some(g.sum_to(inputs[0].shape())?)])
        })
    }

    /// Elements `start..start + len` along `axis` (`torch.narrow`): a view. The range must lie
    /// inside the axis (a slice clamps; narrow does not). The gradient is written into the
    /// narrowed positions of a zero tensor.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Self> {
        let out = self.array().narrow(axis, start, len)?;
        Ok(self.sliced(out, "narrow", axis, start, start + len, 1))
    }

    /// Every `step`-th element of `start..end` along `axis` (`end` clamped, as Python slices).
    /// The gradient is written into the sliced positions of a zero tensor.
    pub fn slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Result<Self> {
        let out = self.array().slice(axis, start, end, step)?;
        Ok(self.sliced(out, "slice", axis, start, end, step))
    }

    /// Records `out`, the `start..end` by `step` slice of `self` along `axis`: the gradient is
    /// written into the sliced positions of a zero tensor.
    fn sliced(
        &self,
        out: NDArray<E, B>,
        name: &'static str,
        axis: isize,
        start: usize,
        end: usize,
        step: usize,
    ) -> Self {
        Tensor::from_op(out, name, &[self], move |inputs, _, g| {
            Ok(vec![Some(g.unslice(
                inputs[0].shape(),
                axis,
                start,
                end,
                step,
            )?)])
        })
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
