//! Gradient clipping (`torch.nn.utils.clip_grad_norm_` / `clip_grad_value_`), called between
//! `backward()` and `step()`.
//!
//! A clipped gradient is written as a fresh array into the parameter's `.grad()` rather than
//! scaled in place: autograd may hand one gradient buffer to several parameters (or a broadcast
//! view), and scaling it in place would scale them all, some twice. Nothing is allocated when no
//! clipping is needed.

use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// Scales all gradients together so that their joint `norm_type`-norm is at most `max_norm`, and
/// returns that norm as it was before clipping (the value worth logging).
///
/// The norm is taken over every parameter's gradient as if they were concatenated into one
/// vector; `norm_type` is any `p > 0` or `f64::INFINITY` (the largest absolute value). As in
/// PyTorch, the scale is `max_norm / (total_norm + 1e-6)`, applied only when it is below 1.
/// Parameters without a gradient are skipped; with none at all the norm is 0.
///
/// `max_norm` must be `>= 0` (0 zeroes every gradient); `f64::INFINITY` clips nothing, which is
/// how PyTorch code measures the norm alone, so it is allowed. A NaN or negative `max_norm` is
/// an error before any gradient is touched: PyTorch accepts both silently, and then a NaN turns
/// every gradient into NaN and a negative one flips their sign.
pub fn clip_grad_norm_<E: Float, B: Backend>(
    params: &[Tensor<E, B>],
    max_norm: f64,
    norm_type: f64,
) -> Result<f64> {
    if norm_type.is_nan() || norm_type <= 0.0 {
        return Err(Error::msg(format!(
            "clip_grad_norm_: norm_type must be > 0 or infinity, got {norm_type}"
        )));
    }
    if max_norm.is_nan() || max_norm < 0.0 {
        return Err(Error::msg(format!(
            "clip_grad_norm_: max_norm must be >= 0 (or infinity, to clip nothing), got {max_norm}"
        )));
    }
    // (parameter, its gradient) for every parameter that has one
    let grads: Vec<_> = params
        .iter()
        .filter_map(|p| p.grad().map(|g| (p, g)))
        .collect();
    if grads.is_empty() {
        return Ok(0.0);
    }
    let mut total = 0.0f64;
    for (_, g) in &grads {
        let a = g.array();
        if norm_type == f64::INFINITY {
            if a.numel() > 0 {
                total = total.max(a.abs()?.max(&[], false)?.to_scalar()?.to_f64());
            }
        } else if norm_type == 1.0 {
            total += a.abs()?.sum_all()?.to_scalar()?.to_f64();
        } else if norm_type == 2.0 {
            total += a.square()?.sum_all()?.to_scalar()?.to_f64();
        } else {
            total += a
                .abs()?
                .pow_scalar(E::from_f64(norm_type))?
                .sum_all()?
                .to_scalar()?
                .to_f64();
        }
    }
    if norm_type != f64::INFINITY && norm_type != 1.0 {
        total = total.powf(1.0 / norm_type);
    }
    let clip_coef = max_norm / (total + 1e-6);
    if clip_coef < 1.0 {
        for (p, g) in &grads {
            let scaled = g.array().mul_scalar(E::from_f64(clip_coef))?;
            p.set_grad(Some(Tensor::from_ndarray(scaled)));
        }
    }
    Ok(total)
}

/// Clamps every gradient element into `[-clip_value, clip_value]`.
pub fn clip_grad_value_<E: Float, B: Backend>(
    params: &[Tensor<E, B>],
    clip_value: f64,
) -> Result<()> {
    if clip_value.is_nan() || clip_value < 0.0 {
        return Err(Error::msg(format!(
            "clip_grad_value_: clip_value must be >= 0, got {clip_value}"
        )));
    }
    let c = E::from_f64(clip_value);
    for p in params {
        if let Some(g) = p.grad() {
            let clamped = g.array().minimum_scalar(c)?.maximum_scalar(-c)?;
            p.set_grad(Some(Tensor::from_ndarray(clamped)));
        }
    }
    Ok(())
}
