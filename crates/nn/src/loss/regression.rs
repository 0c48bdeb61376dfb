//! Regression losses: MSE, L1, smooth L1 and Huber, on inputs and targets of the same shape.

use super::{check_same_shape, reduce, Reduction};
use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// Mean squared error `(input − target)²`, reduced.
pub fn mse_loss<E: Float, B: Backend>(
    input: &Tensor<E, B>,
    target: &Tensor<E, B>,
    reduction: Reduction,
) -> Result<Tensor<E, B>> {
    check_same_shape("mse_loss", input, target)?;
    reduce(input.sub(target)?.square()?, reduction)
}

/// Mean absolute error `|input − target|`, reduced.
pub fn l1_loss<E: Float, B: Backend>(
    input: &Tensor<E, B>,
    target: &Tensor<E, B>,
    reduction: Reduction,
) -> Result<Tensor<E, B>> {
    check_same_shape("l1_loss", input, target)?;
    reduce(input.sub(target)?.abs()?, reduction)
}

/// Smooth L1 loss (`torch.nn.functional.smooth_l1_loss`): with `d = input − target`,
/// `0.5·d²/beta` where `|d| < beta`, else `|d| − 0.5·beta`; `beta = 0` is plain L1, as in PyTorch.
pub fn smooth_l1_loss<E: Float, B: Backend>(
    input: &Tensor<E, B>,
    target: &Tensor<E, B>,
    reduction: Reduction,
    beta: f64,
) -> Result<Tensor<E, B>> {
    check_same_shape("smooth_l1_loss", input, target)?;
    if beta < 0.0 || !beta.is_finite() {
        return Err(Error::invalid(
            "smooth_l1_loss",
            format!("beta must be finite and >= 0, got {beta}"),
            input.shape(),
        ));
    }
    let d = input.sub(target)?.abs()?;
    if beta == 0.0 {
        return reduce(d, reduction);
    }
    let quad = d.square()?.mul_scalar(E::from_f64(0.5 / beta))?;
    let lin = d.sub_scalar(E::from_f64(0.5 * beta))?;
    let inside = d.lt(&Tensor::full_like(&d, E::from_f64(beta))?)?;
    reduce(Tensor::where_cond(&inside, &quad, &lin)?, reduction)
}

/// Huber loss (`torch.nn.functional.huber_loss`): `0.5·d²` where `|d| < delta`, else
/// `delta·(|d| − 0.5·delta)`. It equals `delta · smooth_l1_loss(beta = delta)`.
pub fn huber_loss<E: Float, B: Backend>(
    input: &Tensor<E, B>,
    target: &Tensor<E, B>,
    reduction: Reduction,
    delta: f64,
) -> Result<Tensor<E, B>> {
    check_same_shape("huber_loss", input, target)?;
    if delta <= 0.0 || !delta.is_finite() {
        return Err(Error::invalid(
            "huber_loss",
            format!("delta must be finite and > 0, got {delta}"),
            input.shape(),
        ));
    }
    smooth_l1_loss(input, target, reduction, delta)?.mul_scalar(E::from_f64(delta))
}
