//! Gradient clipping (`torch.nn.utils.clip_grad_norm_` / `clip_grad_value_`), called between
//! `backward()` and `step()`.
//!
//! A gradient is scaled (or clamped) in place when nothing else can see its buffer
//! ([`Tensor::is_exclusive`]), so that clipping
//! in a training loop allocates nothing (`tests/no_alloc.rs`). Otherwise it is written as a
//! fresh array into the parameter's `.grad()`: autograd may hand one gradient buffer to several
//! parameters (or a broadcast view), and scaling that in place would scale them all, some twice.

use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, BinaryOp, Error, Float, NDArray, Result};

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
    // Two passes over `params` (the norm, then the scaling) rather than a list of the gradients:
    // a list would be an allocation per call.
    let mut total = 0.0f64;
    for g in params.iter().filter_map(|p| p.grad()) {
        let sum = g.array().abs_pow_sum(norm_type)?;
        if norm_type == f64::INFINITY {
            total = if sum > total || sum.is_nan() {
                sum
            } else {
                total
            };
        } else {
            total += sum;
        }
    }
    if norm_type != f64::INFINITY && norm_type != 1.0 {
        total = total.powf(1.0 / norm_type);
    }
    let clip_coef = max_norm / (total + 1e-6);
    if clip_coef < 1.0 {
        let c = E::from_f64(clip_coef);
        for p in params {
            rescale_grad(
                p,
                |g| g.scalar_assign(BinaryOp::Mul, c),
                |g| g.mul_scalar(c),
            )?;
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
        rescale_grad(
            p,
            |g| {
                g.scalar_assign(BinaryOp::Minimum, c)?;
                g.scalar_assign(BinaryOp::Maximum, -c)
            },
            |g| g.minimum_scalar(c)?.maximum_scalar(-c),
        )?;
    }
    Ok(())
}

/// Replaces `p`'s gradient (if it has one) by `f(gradient)`: in place (`in_place`) when nothing
/// else can see the gradient, else as a fresh array (`fresh`). On error the gradient is put back
/// as it was (an in-place op fails before it writes: its checks come first).
fn rescale_grad<E: Float, B: Backend>(
    p: &Tensor<E, B>,
    in_place: impl Fn(&NDArray<E, B>) -> Result<()>,
    fresh: impl Fn(&NDArray<E, B>) -> Result<NDArray<E, B>>,
) -> Result<()> {
    let Some(g) = p.grad() else { return Ok(()) };
    // Out of its slot, `g` is the only handle on the gradient unless something else (another
    // parameter, the caller) holds it too.
    p.set_grad(None);
    let result = if g.is_exclusive() {
        in_place(g.array()).map(|()| g.clone())
    } else {
        fresh(g.array()).map(Tensor::from_ndarray)
    };
    match result {
        Ok(scaled) => {
            p.set_grad(Some(scaled));
            Ok(())
        }
        Err(e) => {
            p.set_grad(Some(g));
            Err(e)
        }
    }
}
