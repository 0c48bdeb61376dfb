//! Element-wise functions with parameters (slopes, bounds, thresholds), kept apart from the
//! table ops of `unary.rs`. Each has a kink; its gradient exactly at the kink is PyTorch's
//! (`docs/03b-gradients.md`, "Ties and kinks", lists them; `tests/ties.rs` checks them).

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, BinaryOp, Float, NDArray, Result, UnaryOp};

impl<E: Float, B: Backend> Tensor<E, B> {
    /// HardTanh: `x` clamped to `[min_val, max_val]` (PyTorch's defaults are −1 and 1). The
    /// gradient passes strictly inside the bounds and is 0 at the bounds themselves, as in
    /// PyTorch (whose `clamp` now agrees; see [`Tensor::clamp`]).
    #[track_caller]
    pub fn hardtanh(&self, min_val: E, max_val: E) -> Result<Self> {
        if min_val > max_val {
            return Err(nanotorch_ndarray_core::Error::invalid(
                "hardtanh",
                format!("min_val ({min_val}) must not exceed max_val ({max_val})"),
                self.shape(),
            ));
        }
        let out = self
            .array()
            .maximum_scalar(min_val)?
            .minimum_scalar(max_val)?;
        Tensor::try_from_op(out, "hardtanh", &[self], move |inputs, _, g| {
            let x = inputs[0].detach();
            let inside = x
                .compare_scalar(BinaryOp::Gt, min_val)?
                .mul(&x.compare_scalar(BinaryOp::Lt, max_val)?)?;
            Ok(vec![Some(g.mul(&inside)?)])
        })
    }

    /// Softplus with PyTorch's `beta` and `threshold`: `ln(1 + e^(βx))/β`, and `x` itself where
    /// `βx > threshold`. [`Tensor::softplus`] is the default `β = 1`, `threshold = 20`.
    #[track_caller]
    pub fn softplus_with(&self, beta: E, threshold: E) -> Result<Self> {
        if beta == E::ZERO {
            return Err(nanotorch_ndarray_core::Error::invalid(
                "softplus",
                "beta must not be 0",
                self.shape(),
            ));
        }
        if beta == E::ONE && threshold == E::from_f64(20.0) {
            return self.softplus();
        }
        let x = self.array();
        let z = x.mul_scalar(beta)?;
        let linear = z.gt_scalar(threshold)?;
        // exp may overflow where the linear branch is taken; `where` never reads it there.
        let smooth = z.exp()?.log1p()?.div_scalar(beta)?;
        let out = NDArray::where_cond(&linear, x, &smooth)?;
        Tensor::try_from_op(out, "softplus", &[self], move |inputs, _, g| {
            let z = inputs[0].detach().mul_scalar(beta)?;
            let linear = z.compare_scalar(BinaryOp::Gt, threshold)?;
            // σ(βx) below the threshold, 1 above it.
            let slope = z
                .sigmoid()?
                .mul(&linear.rsub_scalar(E::ONE)?)?
                .add(&linear)?;
            Ok(vec![Some(g.mul(&slope)?)])
        })
    }

    /// `x` where positive, `slope·x` elsewhere. The gradient at exactly 0 is `slope`, as
    /// PyTorch's (`x > 0 ? g : g·slope`).
    #[track_caller]
    pub fn leaky_relu(&self, slope: E) -> Result<Self> {
        let x = self.array();
        let out = NDArray::where_cond(&x.gt_scalar(E::ZERO)?, x, &x.mul_scalar(slope)?)?;
        Tensor::try_from_op(out, "leaky_relu", &[self], move |inputs, _, g| {
            let positive = inputs[0].detach().compare_scalar(BinaryOp::Gt, E::ZERO)?;
            // 1 above 0, `slope` at and below it.
            let factor = positive.mul_scalar(E::ONE - slope)?.add_scalar(slope)?;
            Ok(vec![Some(g.mul(&factor)?)])
        })
    }

    /// `x` where positive, `alpha·(e^x − 1)` elsewhere. The gradient at exactly 0 is the left
    /// one, `alpha`, as PyTorch's (`x <= 0 ? g·α·eˣ : g`).
    #[track_caller]
    pub fn elu(&self, alpha: E) -> Result<Self> {
        let x = self.array();
        let negative = x
            .minimum_scalar(E::ZERO)?
            .unary(UnaryOp::Expm1)?
            .mul_scalar(alpha)?;
        let out = NDArray::where_cond(&x.gt_scalar(E::ZERO)?, x, &negative)?;
        Tensor::try_from_op(out, "elu", &[self], move |inputs, _, g| {
            let x = &inputs[0];
            let positive = x.detach().compare_scalar(BinaryOp::Gt, E::ZERO)?;
            // Written with tensor ops on `x` (not detached) so that it has a second derivative.
            let left = x.minimum_scalar(E::ZERO)?.exp()?.mul_scalar(alpha)?;
            let slope = positive.add(&positive.rsub_scalar(E::ONE)?.mul(&left)?)?;
            Ok(vec![Some(g.mul(&slope)?)])
        })
    }

    /// Limits values to `[min, max]` (either bound optional). The gradient passes strictly
    /// inside, `min < x < max`, and is 0 at a bound itself: that is what PyTorch 2.15 gives
    /// (checked in `tests/ties.rs`), the same as [`Tensor::hardtanh`].
    #[track_caller]
    pub fn clamp(&self, min: Option<E>, max: Option<E>) -> Result<Self> {
        let mut out = self.array().clone();
        if let Some(lo) = min {
            out = out.maximum_scalar(lo)?;
        }
        if let Some(hi) = max {
            out = out.minimum_scalar(hi)?;
        }
        Tensor::try_from_op(out, "clamp", &[self], move |inputs, _, g| {
            let x = inputs[0].detach();
            let mut pass = Tensor::ones_like(&x)?;
            if let Some(lo) = min {
                pass = pass.mul(&x.compare_scalar(BinaryOp::Gt, lo)?)?;
            }
            if let Some(hi) = max {
                pass = pass.mul(&x.compare_scalar(BinaryOp::Lt, hi)?)?;
            }
            Ok(vec![Some(g.mul(&pass)?)])
        })
    }
}
