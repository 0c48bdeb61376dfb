//! Choosing between two tensors by a mask: `where` and `masked_fill`, for every element type.
//! The mask gets no gradient; each branch gets the incoming gradient where it was chosen.
//!
//! The condition may be a `Tensor<Bool, B>` (PyTorch's boolean masks) or a tensor of any other
//! element type, read as "non-zero is true" (the 0/1 masks that comparisons return here), so a
//! mask made by `x.gt(0.0)` and one made by `.cast::<Bool>()` work alike.

use crate::{in_op, Tensor};
use nanotorch_ndarray_core::{
    Backend, BinaryOp, DType, Element, Error, NDArray, Result, ScalarSide, Shape,
};
use std::any::Any;

/// `cond` as a 0/1 array of `E` (non-zero is true): the same array when it already has `E`'s
/// type, a cast of a boolean mask, and otherwise `cond != 0` cast, so that a fractional float
/// condition is not truncated to 0 on its way to an integer type.
fn condition_as<M: Element, E: Element, B: Backend>(cond: &Tensor<M, B>) -> Result<NDArray<E, B>> {
    if let Some(same) = (cond.array() as &dyn Any).downcast_ref::<NDArray<E, B>>() {
        return Ok(same.clone());
    }
    if M::DTYPE == DType::Bool {
        return cond.array().cast::<E>();
    }
    cond.array()
        .binary_scalar(BinaryOp::Ne, M::ZERO, ScalarSide::Right)?
        .cast::<E>()
}

impl<E: Element, B: Backend> Tensor<E, B> {
    /// `cond ? on_true : on_false` element-wise, broadcasting all three (`torch.where(cond, a,
    /// b)`; `where` is a Rust keyword). `cond` is usually a `Tensor<Bool, B>`; a tensor of any
    /// other element type counts as true where it is non-zero. `cond` gets no gradient; each
    /// branch gets the incoming gradient where it was chosen, summed back to its shape.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// use nanotorch_ndarray_core::Bool;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let cond = Tensor::from_vec(vec![Bool::TRUE, Bool::FALSE], [2], &Cpu)?;
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], [2], &Cpu)?;
    /// let b = Tensor::scalar(-1.0f32, &Cpu)?;
    /// assert_eq!(Tensor::where_cond(&cond, &a, &b)?.to_vec()?, [1.0, -1.0]);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn where_cond<M: Element>(
        cond: &Tensor<M, B>,
        on_true: &Self,
        on_false: &Self,
    ) -> Result<Self> {
        let cond = Tensor::from_ndarray(condition_as::<M, E, B>(cond)?);
        let out = NDArray::where_cond(cond.array(), on_true.array(), on_false.array())?;
        Tensor::try_from_op(out, "where", &[on_true, on_false], move |inputs, _, g| {
            let zero = Tensor::zeros_like(g)?;
            Ok(vec![
                Some(Tensor::where_cond(&cond, g, &zero)?.sum_to(inputs[0].shape())?),
                Some(Tensor::where_cond(&cond, &zero, g)?.sum_to(inputs[1].shape())?),
            ])
        })
    }

    /// `value` where `mask` is true, `self` elsewhere (`torch.Tensor.masked_fill`). `mask` is
    /// usually a `Tensor<Bool, B>`; a tensor of any other element type counts as true where it
    /// is non-zero. It must broadcast to `self`'s shape (the result has `self`'s shape). The
    /// gradient passes to `self` where the mask is false.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// use nanotorch_ndarray_core::Bool;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// // A causal mask: position i may not look at j > i.
    /// let future = Tensor::<Bool, Cpu>::ones([3, 3], &Cpu)?.triu(1)?;
    /// let scores = Tensor::<f32, Cpu>::zeros([2, 3, 3], &Cpu)?; // broadcast over the batch
    /// let masked = scores.masked_fill(&future, f32::NEG_INFINITY)?;
    /// assert_eq!(masked.to_vec()?[..3], [0.0, f32::NEG_INFINITY, f32::NEG_INFINITY]);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn masked_fill<M: Element>(&self, mask: &Tensor<M, B>, value: E) -> Result<Self> {
        let fits = Shape::broadcast("masked_fill", self.shape(), mask.shape())
            .is_ok_and(|shape| &shape == self.shape());
        if !fits {
            return Err(Error::ShapeMismatch {
                op: "masked_fill",
                what: "the mask must broadcast to the input's shape",
                lhs: self.shape().clone(),
                rhs: mask.shape().clone(),
            });
        }
        in_op("masked_fill", || {
            let fill = Tensor::scalar(value, self.backend())?;
            Tensor::where_cond(mask, &fill, self)
        })
    }
}
