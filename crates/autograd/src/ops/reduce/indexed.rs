//! Reductions along one axis that return values *and* indices: `max(dim)`, `min(dim)`,
//! `median(dim)` and `kthvalue`, as PyTorch's `torch.max(x, dim, keepdim)` and friends.
//!
//! They take tensors of every element type (an integer tensor's `max(dim)` is as useful as a
//! float one's). Each picks one index per slice, then gathers the value at it, so the gradient of
//! a float tensor is the adjoint of that gather: the whole incoming gradient goes to the returned
//! index, never split among tied values (that is what [`Tensor::max_dims`], PyTorch's `amax`,
//! does instead).

use super::check_not_empty;
use crate::{in_op, Tensor};
use nanotorch_ndarray_core::{ArgReduceOp, Backend, BinaryOp, Element, Error, Result};

impl<E: Element, B: Backend> Tensor<E, B> {
    /// The maximum along `axis` and its index, as `torch.max(x, dim, keepdim)`. On ties the
    /// index is the first one, and a NaN counts as the maximum (the first NaN wins), as in
    /// PyTorch. The gradient goes entirely to the returned index. An axis of size 0 is an
    /// error. A 0-d tensor accepts `axis` 0 or -1.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let x = Tensor::from_vec(vec![1.0f64, 3.0, 3.0, 2.0], [4], &Cpu)?.requires_grad_(true);
    /// let (value, index) = x.max_dim(0, false)?;
    /// assert_eq!((value.item()?, index.item()?), (3.0, 1));
    /// value.backward()?;
    /// assert_eq!(x.grad().unwrap().to_vec()?, [0.0, 1.0, 0.0, 0.0]); // not split with index 2
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn max_dim(&self, axis: isize, keepdim: bool) -> Result<(Self, Tensor<i64, B>)> {
        in_op("max", || self.pick(ArgReduceOp::ArgMax, axis, keepdim))
    }

    /// The minimum along `axis` and its index, as `torch.min(x, dim, keepdim)`: first index on
    /// ties, NaN counts as the minimum, the whole gradient to the returned index (see
    /// [`Tensor::max_dim`]).
    #[track_caller]
    pub fn min_dim(&self, axis: isize, keepdim: bool) -> Result<(Self, Tensor<i64, B>)> {
        in_op("min", || self.pick(ArgReduceOp::ArgMin, axis, keepdim))
    }

    /// The `k`-th smallest value along `axis` (`k` from 1) and its index, as
    /// `torch.kthvalue(x, k, dim, keepdim)`. NaN sorts above every number, as in PyTorch. Among
    /// equal values the lower index comes first; PyTorch leaves the index on ties unspecified,
    /// so on ties the values agree with PyTorch and the index may not. The gradient goes
    /// entirely to the returned index. The choice is made on the host, as [`Tensor::topk`]'s
    /// (the values are read back, a device sync); the value is then gathered on the device.
    #[track_caller]
    pub fn kthvalue(&self, k: usize, axis: isize, keepdim: bool) -> Result<(Self, Tensor<i64, B>)> {
        in_op("kthvalue", || {
            if k == 0 {
                return Err(Error::invalid(
                    "kthvalue",
                    "k counts from 1; k = 0 selects nothing",
                    self.shape(),
                ));
            }
            let index = self.kth_index(k, axis)?;
            self.gather_kept(axis, index, keepdim)
        })
    }

    /// The median along `axis` and its index, as `torch.median(x, dim, keepdim)`: of an even
    /// count, the lower of the two middle values (no averaging, so the result is an element).
    /// A slice holding a NaN has median NaN, at its first NaN, as in PyTorch. Index on ties:
    /// see [`Tensor::kthvalue`]. The gradient goes entirely to the returned index.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let x = Tensor::from_vec(vec![4.0f32, 1.0, 3.0, 2.0], [4], &Cpu)?;
    /// let (value, index) = x.median_dim(0, false)?;
    /// assert_eq!((value.item()?, index.item()?), (2.0, 3)); // lower middle of 1, 2, 3, 4
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn median_dim(&self, axis: isize, keepdim: bool) -> Result<(Self, Tensor<i64, B>)> {
        in_op("median", || {
            let n = if self.rank() == 0 {
                1
            } else {
                self.dims()[self.shape().axis("median", axis)?]
            };
            if n == 0 {
                return Err(Error::invalid(
                    "median",
                    format!("reduction axis {axis} has size 0, so it has no median"),
                    self.shape(),
                ));
            }
            let middle = self.kth_index(n.div_ceil(2), axis)?;
            // Where a slice holds a NaN, its first NaN (argmax of the NaN mask picks the first 1).
            let is_nan = self.compare(BinaryOp::Ne, self)?;
            let axis_kept = if self.rank() == 0 { 0 } else { axis };
            let first_nan = is_nan.reshape_like_rank1()?.argmax(Some(axis_kept), true)?;
            let any_nan = is_nan.reshape_like_rank1()?.sum_dims(&[axis_kept], true)?;
            let index = Tensor::where_cond(&any_nan, &first_nan, &middle)?;
            self.gather_kept(axis, index, keepdim)
        })
    }

    /// A 0-d tensor as `[1]` (one candidate along axis 0), anything else unchanged.
    fn reshape_like_rank1(&self) -> Result<Self> {
        if self.rank() == 0 {
            self.reshape([1])
        } else {
            Ok(self.clone())
        }
    }

    /// The index (keepdim shape) of the `k`-th smallest along `axis`, NaN above every number.
    #[track_caller]
    fn kth_index(&self, k: usize, axis: isize) -> Result<Tensor<i64, B>> {
        let x = self.reshape_like_rank1()?;
        let axis = if self.rank() == 0 { 0 } else { axis };
        let (_, indices) = x.detach().topk(k, axis, false, true)?;
        indices.narrow(axis, k - 1, 1)
    }

    /// The first extreme's index along `axis`, then its value.
    #[track_caller]
    fn pick(&self, op: ArgReduceOp, axis: isize, keepdim: bool) -> Result<(Self, Tensor<i64, B>)> {
        let x = self.reshape_like_rank1()?;
        let along = if self.rank() == 0 {
            check_scalar_axis(op.name(), self, axis)?;
            0
        } else {
            axis
        };
        check_not_empty(op.name(), x.shape(), &[along])?;
        let index = Tensor::from_ndarray(x.array().arg_reduce(op, Some(along), true)?);
        self.gather_kept(axis, index, keepdim)
    }

    /// `self` gathered at `index` (keepdim shape along `axis`), both squeezed unless `keepdim`.
    /// A 0-d `self` gives 0-d results, as PyTorch's do whatever `keepdim` says.
    #[track_caller]
    fn gather_kept(
        &self,
        axis: isize,
        index: Tensor<i64, B>,
        keepdim: bool,
    ) -> Result<(Self, Tensor<i64, B>)> {
        if self.rank() == 0 {
            check_scalar_axis("gather", self, axis)?;
            let values = self.reshape([1])?.gather(0, &index.reshape([1])?)?;
            return Ok((values.reshape(())?, index.reshape(())?));
        }
        let values = self.gather(axis, &index)?;
        if keepdim {
            Ok((values, index))
        } else {
            Ok((values.squeeze(axis)?, index.squeeze(axis)?))
        }
    }
}

/// A 0-d tensor has one candidate, reachable as axis 0 or -1 (PyTorch's rule).
fn check_scalar_axis<E: Element, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    axis: isize,
) -> Result<()> {
    if axis == 0 || axis == -1 {
        Ok(())
    } else {
        Err(Error::AxisOutOfRange {
            op,
            axis,
            shape: x.shape().clone(),
        })
    }
}
