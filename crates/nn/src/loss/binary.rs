//! Binary cross-entropy, on probabilities and (stably) on logits.

use super::{check_broadcasts_to, check_same_shape, reduce, Reduction};
use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// Binary cross-entropy between probabilities `input` and `target` of the same shape
/// (`F.binary_cross_entropy`): `−w·(t·log x + (1 − t)·log(1 − x))`, each log clamped to
/// `≥ −100` as in PyTorch (so `x = 0` or `1` gives a finite loss). `weight` rescales each
/// element and must broadcast to the input's shape; mean reduction is the plain mean.
///
/// An input outside `[0, 1]` is an error (apply a sigmoid first, or use
/// [`binary_cross_entropy_with_logits`], which is also more stable). The gradient is PyTorch's:
/// `w·(x − t) / max(x·(1 − x), 1e−12)` for the input, so it stays finite at 0 and 1.
pub fn binary_cross_entropy<E: Float, B: Backend>(
    input: &Tensor<E, B>,
    target: &Tensor<E, B>,
    weight: Option<&Tensor<E, B>>,
    reduction: Reduction,
) -> Result<Tensor<E, B>> {
    let op = "binary_cross_entropy";
    check_same_shape(op, input, target)?;
    if let Some(w) = weight {
        check_broadcasts_to(op, "weight must broadcast to the input's shape", w, input)?;
    }
    let x = input.array();
    let outside = x
        .lt_scalar(E::ZERO)?
        .add(&x.gt_scalar(E::ONE)?)?
        .sum_all()?
        .to_scalar()?;
    if outside > E::ZERO {
        return Err(Error::invalid(
            op,
            format!(
                "every input must be a probability in [0, 1], but {outside} are not \
                 (apply sigmoid first, or use binary_cross_entropy_with_logits)"
            ),
            input.shape(),
        ));
    }
    let loss = bce_elementwise(input, target)?;
    // The weight rescales the loss; like PyTorch (and like cross-entropy's class weights) it
    // is a constant, not something the loss trains.
    let loss = match weight {
        Some(w) => loss.mul(&w.detach())?,
        None => loss,
    };
    reduce(loss, reduction)
}

/// `log x` and `log(1 − x)`, each clamped to `≥ −100`.
fn clamped_logs<E: Float, B: Backend>(x: &Tensor<E, B>) -> Result<(Tensor<E, B>, Tensor<E, B>)> {
    let floor = E::from_f64(-100.0);
    let log_x = x.log()?.maximum_scalar(floor)?;
    let log_1mx = x.neg()?.log1p()?.maximum_scalar(floor)?;
    Ok((log_x, log_1mx))
}

/// `−(t·log x + (1 − t)·log(1 − x))` as one op with PyTorch's backward formulas.
fn bce_elementwise<E: Float, B: Backend>(
    input: &Tensor<E, B>,
    target: &Tensor<E, B>,
) -> Result<Tensor<E, B>> {
    let (log_x, log_1mx) = clamped_logs(&input.detach())?;
    let t = target.detach();
    // −(log(1 − x) + t·(log x − log(1 − x)))
    let out = log_1mx.add(&t.mul(&log_x.sub(&log_1mx)?)?)?.neg()?;
    Ok(Tensor::from_op(
        out.array().clone(),
        "binary_cross_entropy",
        &[input, target],
        |inputs, _, g| {
            let (x, t) = (inputs[0].detach(), inputs[1].detach());
            let grad_input = if inputs[0].requires_grad() {
                // (x − t) / max(x·(1 − x), 1e−12)
                let denom = x
                    .mul(&x.rsub_scalar(E::ONE)?)?
                    .maximum_scalar(E::from_f64(1e-12))?;
                Some(g.mul(&x.sub(&t)?.div(&denom)?)?)
            } else {
                None
            };
            let grad_target = if inputs[1].requires_grad() {
                // log(1 − x) − log x
                let (log_x, log_1mx) = clamped_logs(&x)?;
                Some(g.mul(&log_1mx.sub(&log_x)?)?)
            } else {
                None
            };
            Ok(vec![grad_input, grad_target])
        },
    ))
}

/// Binary cross-entropy on logits (`F.binary_cross_entropy_with_logits`), sigmoid and BCE in one
/// numerically stable expression: with `x` the logits, `t` the target and
/// `p = 1 + (pos_weight − 1)·t`,
///
/// `loss = w·((1 − t)·x + p·(log(1 + e^−|x|) + max(−x, 0)))`,
///
/// which equals `−w·(pos_weight·t·log σ(x) + (1 − t)·log(1 − σ(x)))` without ever forming
/// `σ(x)`. `pos_weight` weighs the positive examples of each class and broadcasts along the last
/// (class) axis (shape `[classes]` for input `[n, classes]`); `weight` rescales each element.
/// Both must broadcast to the input's shape. Mean reduction is the plain mean.
pub fn binary_cross_entropy_with_logits<E: Float, B: Backend>(
    logits: &Tensor<E, B>,
    target: &Tensor<E, B>,
    weight: Option<&Tensor<E, B>>,
    pos_weight: Option<&Tensor<E, B>>,
    reduction: Reduction,
) -> Result<Tensor<E, B>> {
    let op = "binary_cross_entropy_with_logits";
    check_same_shape(op, logits, target)?;
    if let Some(w) = weight {
        check_broadcasts_to(op, "weight must broadcast to the input's shape", w, logits)?;
    }
    if let Some(pw) = pos_weight {
        check_broadcasts_to(
            op,
            "pos_weight must broadcast to the input's shape (one per class, the last axis)",
            pw,
            logits,
        )?;
    }
    // log(1 + e^−|x|) + max(−x, 0) = −log σ(x), computed without overflow
    let softplus_neg = logits
        .abs()?
        .neg()?
        .exp()?
        .log1p()?
        .add(&logits.neg()?.relu()?)?;
    let scaled = match pos_weight {
        Some(pw) => {
            let p = pw.sub_scalar(E::ONE)?.mul(target)?.add_scalar(E::ONE)?;
            softplus_neg.mul(&p)?
        }
        None => softplus_neg,
    };
    let loss = target.rsub_scalar(E::ONE)?.mul(logits)?.add(&scaled)?;
    // The weight rescales the loss; like PyTorch (and like cross-entropy's class weights) it
    // is a constant, not something the loss trains.
    let loss = match weight {
        Some(w) => loss.mul(&w.detach())?,
        None => loss,
    };
    reduce(loss, reduction)
}
