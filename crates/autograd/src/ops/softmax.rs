//! softmax and log_softmax along one axis, stable (the maximum is subtracted first), each with a
//! direct backward rule rather than the chain of exp/sum/div it is made of.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Float, Result};

impl<E: Float, B: Backend> Tensor<E, B> {
    /// `e^x / Σ e^x` along `axis`.
    pub fn softmax(&self, axis: isize) -> Result<Self> {
        let x = self.array();
        let shifted = x.sub(&x.max(&[axis], true)?)?.exp()?;
        let out = shifted.div(&shifted.sum(&[axis], true)?)?;
        // dx = y ⊙ (g − Σ g⊙y)
        Ok(Tensor::from_op(out, "softmax", &[self], move |_, y, g| {
            let dot = g.mul(y)?.sum_dims(&[axis], true)?;
            Ok(vec![Some(y.mul(&g.sub(&dot)?)?)])
        }))
    }

    /// `x − ln Σ e^x` along `axis`.
    pub fn log_softmax(&self, axis: isize) -> Result<Self> {
        let x = self.array();
        let shifted = x.sub(&x.max(&[axis], true)?)?;
        let out = shifted.sub(&shifted.exp()?.sum(&[axis], true)?.log()?)?;
        // dx = g − softmax(x) · Σ g
        Ok(Tensor::from_op(
            out,
            "log_softmax",
            &[self],
            move |_, y, g| {
                Ok(vec![Some(
                    g.sub(&y.exp()?.mul(&g.sum_dims(&[axis], true)?)?)?,
                )])
            },
        ))
    }
}
