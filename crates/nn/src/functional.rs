//! Layers and losses as plain functions (PyTorch's `torch.nn.functional`).

use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// How a loss combines its per-element values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// One value per element.
    None,
    /// Their mean (the default).
    #[default]
    Mean,
    /// Their sum.
    Sum,
}

fn reduce<E: Float, B: Backend>(
    values: Tensor<E, B>,
    reduction: Reduction,
) -> Result<Tensor<E, B>> {
    match reduction {
        Reduction::None => Ok(values),
        Reduction::Mean => values.mean_all(),
        Reduction::Sum => values.sum_all(),
    }
}

/// `x·Wᵀ + b` with `weight` `[out, in]`.
pub fn linear<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    weight: &Tensor<E, B>,
    bias: Option<&Tensor<E, B>>,
) -> Result<Tensor<E, B>> {
    let y = x.matmul(&weight.t()?)?;
    match bias {
        Some(b) => y.add(b),
        None => Ok(y),
    }
}

/// Cross-entropy of `logits` `[n, classes]` against class indices `targets` `[n]`, with mean
/// reduction: `−mean(log_softmax(logits)[i, targets[i]])`. Computed as log_softmax + gather, so
/// it is numerically stable and costs one pass over the logits.
pub fn cross_entropy<E: Float, B: Backend>(
    logits: &Tensor<E, B>,
    targets: &Tensor<i64, B>,
) -> Result<Tensor<E, B>> {
    cross_entropy_with(logits, targets, Reduction::Mean)
}

/// [`cross_entropy`] with a chosen reduction.
pub fn cross_entropy_with<E: Float, B: Backend>(
    logits: &Tensor<E, B>,
    targets: &Tensor<i64, B>,
    reduction: Reduction,
) -> Result<Tensor<E, B>> {
    nll_loss(&logits.log_softmax(-1)?, targets, reduction)
}

/// Negative log-likelihood of log-probabilities `[n, classes]` at class indices `targets` `[n]`.
pub fn nll_loss<E: Float, B: Backend>(
    log_probs: &Tensor<E, B>,
    targets: &Tensor<i64, B>,
    reduction: Reduction,
) -> Result<Tensor<E, B>> {
    if log_probs.rank() != 2 || targets.rank() != 1 || log_probs.dims()[0] != targets.dims()[0] {
        return Err(Error::ShapeMismatch {
            op: "nll_loss",
            what: "expected input [n, classes] and targets [n]",
            lhs: log_probs.shape().clone(),
            rhs: targets.shape().clone(),
        });
    }
    let n = targets.dims()[0];
    let index = Tensor::from_ndarray(targets.array().reshape([n, 1])?);
    let picked = log_probs.gather(1, &index)?.reshape([n])?.neg()?;
    reduce(picked, reduction)
}

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

fn check_same_shape<E: Float, B: Backend>(
    op: &'static str,
    input: &Tensor<E, B>,
    target: &Tensor<E, B>,
) -> Result<()> {
    if input.shape() == target.shape() {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            op,
            what: "input and target shapes differ",
            lhs: input.shape().clone(),
            rhs: target.shape().clone(),
        })
    }
}

/// `softmax` along `dim` (`F.softmax(x, dim)`).
pub fn softmax<E: Float, B: Backend>(x: &Tensor<E, B>, dim: isize) -> Result<Tensor<E, B>> {
    x.softmax(dim)
}

/// `log_softmax` along `dim` (`F.log_softmax(x, dim)`).
pub fn log_softmax<E: Float, B: Backend>(x: &Tensor<E, B>, dim: isize) -> Result<Tensor<E, B>> {
    x.log_softmax(dim)
}

/// Inverted dropout (`F.dropout(x, p, training)`): zeroes with probability `p` and scales the rest
/// by `1/(1−p)` when `training`, the identity otherwise.
pub fn dropout<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    p: f64,
    training: bool,
) -> Result<Tensor<E, B>> {
    x.dropout(p, training)
}

/// `max(x, 0)` (`F.relu`).
pub fn relu<E: Float, B: Backend>(x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
    x.relu()
}

/// `x` where `x ≥ 0`, else `negative_slope·x` (`F.leaky_relu`).
pub fn leaky_relu<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    negative_slope: f64,
) -> Result<Tensor<E, B>> {
    x.leaky_relu(E::from_f64(negative_slope))
}

/// GELU (`F.gelu`): the exact normal-CDF form, or PyTorch's `approximate="tanh"` form.
pub fn gelu<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    approximate_tanh: bool,
) -> Result<Tensor<E, B>> {
    if approximate_tanh {
        x.gelu_tanh()
    } else {
        x.gelu()
    }
}

/// `x·σ(x)` (`F.silu`).
pub fn silu<E: Float, B: Backend>(x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
    x.silu()
}

/// `1 / (1 + e^−x)` (`torch.sigmoid`).
pub fn sigmoid<E: Float, B: Backend>(x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
    x.sigmoid()
}

/// `tanh x` (`torch.tanh`).
pub fn tanh<E: Float, B: Backend>(x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
    x.tanh()
}
