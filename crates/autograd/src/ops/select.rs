//! Choosing between two tensors by a mask: `where` and `masked_fill`, for every element type.
//! The mask gets no gradient; each branch gets the incoming gradient where it was chosen.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Element, Error, NDArray, Result};

impl<E: Element, B: Backend> Tensor<E, B> {
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
}
