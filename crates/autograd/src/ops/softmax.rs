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

    /// Zeroes each element with probability `p` and scales the rest by `1/(1−p)` when `training`;
    /// the identity otherwise (inverted dropout, as PyTorch).
    pub fn dropout(&self, p: f64, training: bool) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(nanotorch_ndarray_core::Error::invalid(
                "dropout",
                format!("probability {p} is outside [0, 1]"),
                self.shape(),
            ));
        }
        if !training || p == 0.0 {
            return Ok(self.clone());
        }
        if p == 1.0 {
            return self.mul_scalar(E::ZERO);
        }
        let keep = Tensor::random(
            self.shape().clone(),
            nanotorch_ndarray_core::RandomDist::Bernoulli { p: 1.0 - p },
            self.backend(),
        )?;
        self.mul(&keep.mul_scalar(E::from_f64(1.0 / (1.0 - p)))?)
    }
}
