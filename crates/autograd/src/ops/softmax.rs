//! softmax and log_softmax along one axis, stable (the maximum is subtracted first), each with a
//! direct backward rule rather than the chain of exp/sum/div it is made of; and the causal
//! softmax of attention, with its scale and mask inside the one op.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, BinaryOp, Error, Float, NDArray, Result, ScalarSide};

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

    /// `softmax(self·scale)` over the last axis with the causal mask of attention: in the
    /// last two axes `[L, S]`, query `i` sees keys `j ≤ i` only (the top-left lower triangle,
    /// as `scaled_dot_product_attention(is_causal=True)`); the other scores become `−∞`, so
    /// their weights are 0. Every row keeps key 0, so no row is empty.
    ///
    /// It gives the values of `where(allowed, self·scale, −∞).softmax(-1)` (the same
    /// operations in the same order) as one node: the mask and the scale cost no tensors of
    /// their own in the graph, and the backward pass is one rule,
    /// `dx = scale · y ⊙ (g − Σ g⊙y)` (0 where masked, as `y` is). Needs at least 2 axes.
    pub fn causal_softmax(&self, scale: E) -> Result<Self> {
        if self.rank() < 2 {
            return Err(Error::invalid(
                "causal_softmax",
                "expected at least 2 axes [..., L, S]",
                self.shape(),
            ));
        }
        let x = self.array();
        let (l, s) = (self.dims()[self.rank() - 2], self.dims()[self.rank() - 1]);
        let backend = x.backend();
        // `[L, S]`: 1 where `j ≤ i`, compared on the device from two aranges.
        let rows = NDArray::<E, B>::arange(0.0, l as f64, 1.0, backend)?.reshape([l, 1])?;
        let cols = NDArray::<E, B>::arange(0.0, s as f64, 1.0, backend)?.reshape([1, s])?;
        let allowed = cols.binary(BinaryOp::Le, &rows)?;
        let scaled = x.binary_scalar(BinaryOp::Mul, scale, ScalarSide::Right)?;
        let neg_inf = NDArray::scalar(E::from_f64(f64::NEG_INFINITY), backend)?;
        let z = NDArray::where_cond(&allowed, &scaled, &neg_inf)?;
        let shifted = z.sub(&z.max(&[-1], true)?)?.exp()?;
        let out = shifted.div(&shifted.sum(&[-1], true)?)?;
        Ok(Tensor::from_op(
            out,
            "causal_softmax",
            &[self],
            move |_, y, g| {
                let dot = g.mul(y)?.sum_dims(&[-1], true)?;
                Ok(vec![Some(y.mul(&g.sub(&dot)?)?.mul_scalar(scale)?)])
            },
        ))
    }
}
