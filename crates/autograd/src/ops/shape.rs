//! Shape ops: views of the same storage (no copy) whose backward moves the gradient back into
//! the input's shape.
//!
//! They are written for every element type: an `i64` label tensor reshapes and narrows exactly
//! as a float one does. Only float tensors record the backward rule (see `Tensor::from_op`).

use crate::{in_op, Tensor};
use nanotorch_ndarray_core::{Backend, Dims, Element, NDArray, Result, Shape};

impl<E: Element, B: Backend> Tensor<E, B> {
    /// A view (or copy when strides forbid a view) with another shape; gradient reshaped back.
    #[track_caller]
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
    #[track_caller]
    pub fn reshape(&self, shape: impl Into<Dims>) -> Result<Self> {
        let out = self.array().reshape(shape)?;
        Ok(self.reshaped("reshape", out))
    }

    /// Like `reshape`, but errors instead of copying when the strides do not allow a view
    /// (`torch.Tensor.view`). One size may be `-1`.
    #[track_caller]
    pub fn view(&self, shape: impl Into<Dims>) -> Result<Self> {
        let out = self.array().view(shape)?;
        Ok(self.reshaped("view", out))
    }

    /// Removes `axis` (of size 1).
    #[track_caller]
    pub fn squeeze(&self, axis: isize) -> Result<Self> {
        let out = self.array().squeeze(axis)?;
        Ok(self.reshaped("squeeze", out))
    }

    /// Inserts an axis of size 1.
    #[track_caller]
    pub fn unsqueeze(&self, axis: isize) -> Result<Self> {
        let out = self.array().unsqueeze(axis)?;
        Ok(self.reshaped("unsqueeze", out))
    }

    /// Merges axes `start..=end` into one.
    #[track_caller]
    pub fn flatten(&self, start: isize, end: isize) -> Result<Self> {
        let out = self.array().flatten(start, end)?;
        Ok(self.reshaped("flatten", out))
    }

    /// A contiguous version (a copy only when needed); the gradient passes unchanged.
    #[track_caller]
    pub fn contiguous(&self) -> Result<Self> {
        let out = self.array().contiguous()?;
        Ok(self.reshaped("contiguous", out))
    }

    /// Reorders axes; the gradient is permuted back by the inverse permutation.
    #[track_caller]
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
        Tensor::try_from_op(out, "permute", &[self], move |_, _, g| {
            Ok(vec![Some(g.permute(&inverse)?)])
        })
    }

    /// Swaps two axes.
    #[track_caller]
    pub fn transpose(&self, a: isize, b: isize) -> Result<Self> {
        let out = self.array().transpose(a, b)?;
        Tensor::try_from_op(out, "transpose", &[self], move |_, _, g| {
            Ok(vec![Some(g.transpose(a, b)?)])
        })
    }

    /// The transpose of a matrix (0-d and 1-d tensors unchanged).
    #[track_caller]
    pub fn t(&self) -> Result<Self> {
        if self.rank() < 2 {
            return self.reshape(self.shape().clone());
        }
        let out = self.array().t()?;
        Tensor::try_from_op(out, "t", &[self], |_, _, g| Ok(vec![Some(g.t()?)]))
    }

    /// Broadcasts to `shape` as a view (`torch.Tensor.expand`); a size of `-1` keeps that axis
    /// (`[3, 1]` expanded to `[-1, 4]` is `[3, 4]`). The gradient is summed back.
    #[track_caller]
    pub fn expand(&self, shape: impl Into<Dims>) -> Result<Self> {
        let out = self.array().expand(shape)?;
        Ok(self.broadcast(out))
    }

    /// NumPy's name for [`Tensor::expand`] (errors name `broadcast_to`).
    #[track_caller]
    pub fn broadcast_to(&self, shape: impl Into<Shape>) -> Result<Self> {
        let out = self.array().broadcast_to(shape)?;
        Ok(self.broadcast(out))
    }

    /// A broadcast view of `self`, whose gradient is summed back to `self`'s shape. Both names
    /// record the op as `expand` (PyTorch's grad_fn is `ExpandBackward` for either).
    #[track_caller]
    fn broadcast(&self, out: NDArray<E, B>) -> Self {
        Tensor::from_op(out, "expand", &[self], |inputs, _, g| {
            Ok(vec![Some(g.sum_to(inputs[0].shape())?)])
        })
    }

    /// Elements `start..start + len` along `axis` (`torch.narrow`): a view. The range must lie
    /// inside the axis (a slice clamps; narrow does not). The gradient is written into the
    /// narrowed positions of a zero tensor.
    #[track_caller]
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Self> {
        let out = self.array().narrow(axis, start, len)?;
        Ok(self.sliced(out, "narrow", axis, start, start + len, 1))
    }

    /// Every `step`-th element of `start..end` along `axis` (`end` clamped, as Python slices).
    /// The gradient is written into the sliced positions of a zero tensor.
    #[track_caller]
    pub fn slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Result<Self> {
        let out = self.array().slice(axis, start, end, step)?;
        Ok(self.sliced(out, "slice", axis, start, end, step))
    }

    /// Records `out`, the `start..end` by `step` slice of `self` along `axis`: the gradient is
    /// written into the sliced positions of a zero tensor.
    #[track_caller]
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
    #[track_caller]
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
        Tensor::try_from_op(out, "unslice", &[self], move |_, _, g| {
            Ok(vec![Some(g.slice(axis, start, end, step)?)])
        })
    }

    /// Splits `axis` into pieces of `size` (the last may be smaller), as views; the backward pass
    /// assembles their gradients in one `cat` (see `pieces.rs`).
    #[track_caller]
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
        let sizes: Vec<usize> = (0..len).step_by(size).map(|s| size.min(len - s)).collect();
        in_op("split", || self.pieces("split", resolved, &sizes, false))
    }

    /// Splits `axis` into pieces of the given `sizes`, in order, as views (`torch.split` with a
    /// list of sizes; PyTorch's `split_with_sizes`). The sizes must add up to the axis length;
    /// a size of 0 gives an empty piece. Each piece's gradient lands in its part of the input.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let qkv = Tensor::<f32, Cpu>::zeros([2, 12], &Cpu)?;
    /// let parts = qkv.split_sizes(&[4, 4, 4], -1)?;
    /// assert_eq!(parts.len(), 3);
    /// assert_eq!(parts[2].dims(), &[2, 4]);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn split_sizes(&self, sizes: &[usize], axis: isize) -> Result<Vec<Self>> {
        let resolved = self.shape().axis("split_sizes", axis)?;
        let len = self.dims()[resolved];
        let total = sizes.iter().try_fold(0usize, |acc, &s| acc.checked_add(s));
        if total != Some(len) {
            return Err(nanotorch_ndarray_core::Error::invalid(
                "split_sizes",
                format!("split sizes {sizes:?} must add up to the size ({len}) of axis {axis}"),
                self.shape(),
            ));
        }
        in_op("split_sizes", || {
            self.pieces("split_sizes", resolved, sizes, false)
        })
    }

    /// Splits `axis` into `chunks` nearly equal pieces (as `torch.chunk`).
    #[track_caller]
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
        in_op("chunk", || self.split(len.div_ceil(chunks).max(1), axis))
    }

    /// The slice at `index` along `axis`, with that axis removed (`torch.select`; `x[:, i]` in
    /// Python): a view. A negative `index` counts from the end, as in PyTorch. The gradient is
    /// written into that slice of a zero tensor.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let x = Tensor::from_vec(vec![0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0], [2, 3], &Cpu)?;
    /// assert_eq!(x.select(1, -1)?.to_vec()?, [2.0, 5.0]); // the last column
    /// assert_eq!(x.select(0, 0)?.dims(), &[3]);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn select(&self, axis: isize, index: isize) -> Result<Self> {
        let resolved = self.shape().axis("select", axis)?;
        let size = self.dims()[resolved];
        let at = if index < 0 {
            index + size as isize
        } else {
            index
        };
        if at < 0 || at >= size as isize {
            return Err(nanotorch_ndarray_core::Error::invalid(
                "select",
                format!("index {index} is out of range for axis {axis} of size {size}"),
                self.shape(),
            ));
        }
        let at = at as usize;
        let out = in_op("select", || {
            self.array().narrow(axis, at, 1)?.squeeze(resolved as isize)
        })?;
        Tensor::try_from_op(out, "select", &[self], move |inputs, _, g| {
            Ok(vec![Some(g.unsqueeze(resolved as isize)?.unslice(
                inputs[0].shape(),
                resolved as isize,
                at,
                at + 1,
                1,
            )?)])
        })
    }

    /// The tensor tiled `sizes[i]` times along each axis (`torch.Tensor.repeat`). `sizes` may be
    /// longer than the rank: the tensor is then treated as having leading axes of size 1, so
    /// `[3]` repeated by `[2, 2]` is `[2, 6]`. Always a copy. The gradient of each input element
    /// is the sum over its copies.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let x = Tensor::from_vec(vec![1i64, 2], [2], &Cpu)?;
    /// let tiled = x.repeat(&[2, 2])?;
    /// assert_eq!(tiled.dims(), &[2, 4]);
    /// assert_eq!(tiled.to_vec()?, [1, 2, 1, 2, 1, 2, 1, 2]);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn repeat(&self, sizes: &[usize]) -> Result<Self> {
        if sizes.len() < self.rank() {
            return Err(nanotorch_ndarray_core::Error::invalid(
                "repeat",
                format!(
                    "got {} repeat sizes {sizes:?} for a tensor of {} axes; need one per axis at least",
                    sizes.len(),
                    self.rank()
                ),
                self.shape(),
            ));
        }
        let lead = sizes.len() - self.rank();
        let padded: Vec<usize> = std::iter::repeat_n(1, lead)
            .chain(self.dims().iter().copied())
            .collect();
        let mut out_dims = Vec::with_capacity(sizes.len());
        for (&n, &d) in sizes.iter().zip(&padded) {
            out_dims.push(n.checked_mul(d).ok_or_else(|| {
                nanotorch_ndarray_core::Error::invalid(
                    "repeat",
                    format!("repeating by {sizes:?} gives an axis longer than a usize counts"),
                    self.shape(),
                )
            })?);
        }
        // Each axis d becomes a pair [n, d]: a size-1 copy axis in front of it, broadcast to n
        // (a stride-0 view), then the pair merged, so the copies of an axis lie one after
        // another. The merge is the one copy.
        let unit: Vec<usize> = padded.iter().flat_map(|&d| [1, d]).collect();
        let tiled: Vec<usize> = sizes
            .iter()
            .zip(&padded)
            .flat_map(|(&n, &d)| [n, d])
            .collect();
        let out = in_op("repeat", || {
            let view = self.array().reshape(unit)?.broadcast_to(tiled.clone())?;
            let out = view.reshape(out_dims)?;
            if out.same_storage(self.array()) {
                // Every size was 1: still a copy, as PyTorch's repeat always is.
                return out.copy();
            }
            Ok(out)
        })?;
        let copy_axes: Vec<isize> = (0..sizes.len()).map(|i| 2 * i as isize).collect();
        Tensor::try_from_op(out, "repeat", &[self], move |inputs, _, g| {
            let summed = if copy_axes.is_empty() {
                g.clone()
            } else {
                g.reshape(tiled.clone())?.sum_dims(&copy_axes, false)?
            };
            Ok(vec![Some(summed.reshape(inputs[0].shape().clone())?)])
        })
    }
}
