//! Classification on logits or log-probabilities: cross-entropy and NLL.
//!
//! Class-index losses ([`cross_entropy_opts`], [`nll_loss_opts`]) accept PyTorch's shapes:
//! input `[n, classes]` with targets `[n]`, input `[n, classes, d1, …]` with targets
//! `[n, d1, …]` (per-pixel classification), and the unbatched input `[classes]` with a 0-d
//! target. The targets stay on their device: a class index out of range is found there (one
//! scalar comes back to the host to say so) and is an error naming the loss, the bad value and
//! its position, never a panic.

use super::{check_same_shape, reduce, Reduction};
use nanotorch_autograd::{in_op, Tensor};
use nanotorch_ndarray_core::{
    Backend, BinaryOp, Element, Error, Float, NDArray, Result, ScalarSide, Shape,
};

/// Options of [`cross_entropy_opts`] and [`cross_entropy_probs`], with PyTorch's defaults
/// (`F.cross_entropy(input, target, weight=None, ignore_index=-100, reduction='mean',
/// label_smoothing=0.0)`). Build with [`CrossEntropyOptions::new`] and the setters:
///
/// ```
/// # use nanotorch_nn::functional::{CrossEntropyOptions, Reduction};
/// # use nanotorch_backend_cpu::Cpu;
/// let opts = CrossEntropyOptions::<f32, Cpu>::new()
///     .label_smoothing(0.1)
///     .reduction(Reduction::Sum);
/// assert_eq!(opts.ignore_index, -100);
/// ```
#[derive(Debug, Clone)]
pub struct CrossEntropyOptions<E: Element, B: Backend> {
    /// A rescaling weight per class, `[classes]`. With mean reduction the weighted sum is
    /// divided by the sum of the weights of the (non-ignored) targets, as in PyTorch.
    pub weight: Option<Tensor<E, B>>,
    /// Targets equal to this contribute nothing, to the sum or to the mean's divisor
    /// (class-index targets only; default −100).
    pub ignore_index: i64,
    /// How per-sample losses are combined (default mean).
    pub reduction: Reduction,
    /// In `[0, 1]`: the target becomes a mix of the given distribution (weight `1 − ε`) and the
    /// uniform one (weight `ε`), as described in *Rethinking the Inception Architecture*.
    pub label_smoothing: f64,
}

impl<E: Element, B: Backend> Default for CrossEntropyOptions<E, B> {
    fn default() -> Self {
        CrossEntropyOptions {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
            label_smoothing: 0.0,
        }
    }
}

impl<E: Element, B: Backend> CrossEntropyOptions<E, B> {
    /// PyTorch's defaults: no weight, `ignore_index = −100`, mean, no label smoothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the per-class `weight` (`[classes]`).
    pub fn weight(mut self, weight: Tensor<E, B>) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Sets `ignore_index`.
    pub fn ignore_index(mut self, ignore_index: i64) -> Self {
        self.ignore_index = ignore_index;
        self
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }

    /// Sets `label_smoothing` (checked to lie in `[0, 1]` when the loss is computed).
    pub fn label_smoothing(mut self, label_smoothing: f64) -> Self {
        self.label_smoothing = label_smoothing;
        self
    }
}

/// Options of [`nll_loss_opts`], with PyTorch's defaults
/// (`F.nll_loss(input, target, weight=None, ignore_index=-100, reduction='mean')`).
#[derive(Debug, Clone)]
pub struct NllLossOptions<E: Element, B: Backend> {
    /// A rescaling weight per class, `[classes]`; the weighted mean divides by the sum of the
    /// weights of the non-ignored targets.
    pub weight: Option<Tensor<E, B>>,
    /// Targets equal to this contribute nothing (default −100).
    pub ignore_index: i64,
    /// How per-sample losses are combined (default mean).
    pub reduction: Reduction,
}

impl<E: Element, B: Backend> Default for NllLossOptions<E, B> {
    fn default() -> Self {
        NllLossOptions {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
        }
    }
}

impl<E: Element, B: Backend> NllLossOptions<E, B> {
    /// PyTorch's defaults: no weight, `ignore_index = −100`, mean.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the per-class `weight` (`[classes]`).
    pub fn weight(mut self, weight: Tensor<E, B>) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Sets `ignore_index`.
    pub fn ignore_index(mut self, ignore_index: i64) -> Self {
        self.ignore_index = ignore_index;
        self
    }

    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
}

/// Cross-entropy of `logits` `[n, classes]` against class indices `targets` `[n]`, with mean
/// reduction: `−mean(log_softmax(logits)[i, targets[i]])`. Computed as log_softmax + gather, so
/// it is numerically stable and never forms the softmax itself. Targets equal to −100 are
/// ignored, as in PyTorch; see [`cross_entropy_opts`] for weights, label smoothing and the
/// `[n, classes, d1, …]` form.
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
    cross_entropy_opts(
        logits,
        targets,
        &CrossEntropyOptions::new().reduction(reduction),
    )
}

/// Cross-entropy on logits with class-index targets and PyTorch's options
/// (`F.cross_entropy`): per position, with `lp = log_softmax(logits)` along the class axis,
/// `t` the target, `w` the class weights (all 1 without a weight) and `ε` the label smoothing,
///
/// `loss = (1 − ε)·(−w[t]·lp[t]) + (ε / classes)·(−Σ_c w[c]·lp[c])`,
///
/// 0 where `t == ignore_index`. Mean reduction divides the sum by `Σ w[t]` over the
/// non-ignored positions (their count without a weight), as PyTorch does; if every target is
/// ignored that is 0/0 = NaN, as in PyTorch.
///
/// Shapes: `logits` `[n, classes]` with `targets` `[n]`, `[n, classes, d1, …]` with
/// `[n, d1, …]`, or `[classes]` with a 0-d target.
pub fn cross_entropy_opts<E: Float, B: Backend>(
    logits: &Tensor<E, B>,
    targets: &Tensor<i64, B>,
    options: &CrossEntropyOptions<E, B>,
) -> Result<Tensor<E, B>> {
    let op = "cross_entropy";
    check_label_smoothing(op, options.label_smoothing, logits)?;
    check_class_axis(op, logits)?;
    let axis = if logits.rank() == 1 { 0 } else { 1 };
    if options.weight.is_none() && options.label_smoothing == 0.0 {
        if let Some(loss) = fused_cross_entropy(logits, targets, options)? {
            return Ok(loss);
        }
    }
    // Every error names cross_entropy, not the log_softmax or gather it is made of.
    in_op(op, || {
        class_index_loss(
            op,
            &logits.log_softmax(axis)?,
            targets,
            options.weight.as_ref(),
            options.ignore_index,
            options.reduction,
            options.label_smoothing,
        )
    })
}

/// The common case, `[n, classes]` logits (or `[classes]` with a 0-d target) without class
/// weights or label smoothing, as one fused node (`Tensor::cross_entropy_rows`: one pass over
/// the logits forward and one backward). `None` for other shapes, or where the backend has no
/// fused kernel: the caller then composes the loss.
fn fused_cross_entropy<E: Float, B: Backend>(
    logits: &Tensor<E, B>,
    targets: &Tensor<i64, B>,
    options: &CrossEntropyOptions<E, B>,
) -> Result<Option<Tensor<E, B>>> {
    let unbatched = logits.rank() == 1 && targets.rank() == 0;
    let (logits, targets) = match (logits.rank(), targets.rank()) {
        (1, 0) => (logits.unsqueeze(0)?, targets.reshape([1])?),
        (2, 1) if targets.dims()[0] == logits.dims()[0] => (logits.clone(), targets.clone()),
        _ => return Ok(None),
    };
    let Some(rows) = logits.cross_entropy_rows(&targets, options.ignore_index)? else {
        return Ok(None);
    };
    Ok(Some(match options.reduction {
        Reduction::None if unbatched => rows.reshape(Shape::scalar())?,
        Reduction::None => rows,
        Reduction::Sum => rows.sum_all()?,
        // Over the targets that count (PyTorch's: all ignored gives 0/0 = NaN).
        Reduction::Mean => {
            let counted = targets
                .array()
                .ne_scalar(options.ignore_index)?
                .sum_all()?
                .to_scalar()?;
            rows.sum_all()?.div_scalar(E::from_f64(counted as f64))?
        }
    }))
}

/// Cross-entropy on logits against class probabilities (soft targets) of the same shape and
/// dtype (`F.cross_entropy` with a float target): per sample, with `lp = log_softmax(logits)`
/// along the class axis and `w` the class weights (all 1 without a weight),
///
/// `loss = −Σ_c w[c]·lp[c]·p[c]`, where `p = (1 − ε)·target + ε / classes` with label smoothing `ε`.
///
/// Mean reduction divides by the number of samples (`numel / classes`), not by the weights, as in
/// PyTorch. `ignore_index` does not apply to probability targets: as in PyTorch, setting it to a
/// class (≥ 0) is an error. Shapes: `[n, classes]`, `[n, classes, d1, …]` or `[classes]`.
pub fn cross_entropy_probs<E: Float, B: Backend>(
    logits: &Tensor<E, B>,
    target: &Tensor<E, B>,
    options: &CrossEntropyOptions<E, B>,
) -> Result<Tensor<E, B>> {
    let op = "cross_entropy";
    check_same_shape(op, logits, target)?;
    check_label_smoothing(op, options.label_smoothing, logits)?;
    if options.ignore_index >= 0 {
        return Err(Error::invalid(
            op,
            format!(
                "ignore_index ({}) is not supported for probability targets",
                options.ignore_index
            ),
            target.shape(),
        ));
    }
    check_class_axis(op, logits)?;
    in_op(op, || cross_entropy_probs_checked(logits, target, options))
}

/// [`cross_entropy_probs`] once its arguments are checked.
fn cross_entropy_probs_checked<E: Float, B: Backend>(
    logits: &Tensor<E, B>,
    target: &Tensor<E, B>,
    options: &CrossEntropyOptions<E, B>,
) -> Result<Tensor<E, B>> {
    let op = "cross_entropy";
    let axis = if logits.rank() == 1 { 0 } else { 1 };
    let classes = logits.dims()[axis];
    let log_probs = logits.log_softmax(axis as isize)?;
    let eps = options.label_smoothing;
    let target = if eps > 0.0 {
        target
            .mul_scalar(E::from_f64(1.0 - eps))?
            .add_scalar(E::from_f64(eps / classes as f64))?
    } else {
        target.clone()
    };
    let mut terms = log_probs.mul(&target)?;
    if let Some(w) = &options.weight {
        terms = terms.mul(&class_weight_view(op, w, logits, axis)?)?;
    }
    // one value per sample; its mean is the sum over (numel / classes) samples
    let per_sample = terms.sum_dims(&[axis as isize], false)?.neg()?;
    reduce(per_sample, options.reduction)
}

/// Negative log-likelihood of log-probabilities `[n, classes]` at class indices `targets` `[n]`
/// (`F.nll_loss`, `ignore_index = −100`); see [`nll_loss_opts`] for weights and other shapes.
pub fn nll_loss<E: Float, B: Backend>(
    log_probs: &Tensor<E, B>,
    targets: &Tensor<i64, B>,
    reduction: Reduction,
) -> Result<Tensor<E, B>> {
    nll_loss_opts(
        log_probs,
        targets,
        &NllLossOptions::new().reduction(reduction),
    )
}

/// Negative log-likelihood with PyTorch's options (`F.nll_loss`): per position
/// `−w[t]·input[t]` (0 where `t == ignore_index`); mean reduction divides by the sum of `w[t]`
/// over the non-ignored positions. Shapes as in [`cross_entropy_opts`].
pub fn nll_loss_opts<E: Float, B: Backend>(
    log_probs: &Tensor<E, B>,
    targets: &Tensor<i64, B>,
    options: &NllLossOptions<E, B>,
) -> Result<Tensor<E, B>> {
    check_class_axis("nll_loss", log_probs)?;
    in_op("nll_loss", || {
        class_index_loss(
            "nll_loss",
            log_probs,
            targets,
            options.weight.as_ref(),
            options.ignore_index,
            options.reduction,
            0.0,
        )
    })
}

/// Refuses a 0-d input, which has no class axis.
fn check_class_axis<E: Float, B: Backend>(op: &'static str, input: &Tensor<E, B>) -> Result<()> {
    if input.rank() == 0 {
        return Err(Error::invalid(
            op,
            "the input needs a class axis: [classes], [n, classes] or [n, classes, d1, ...]",
            input.shape(),
        ));
    }
    Ok(())
}

fn check_label_smoothing<E: Float, B: Backend>(
    op: &'static str,
    label_smoothing: f64,
    input: &Tensor<E, B>,
) -> Result<()> {
    if (0.0..=1.0).contains(&label_smoothing) {
        Ok(())
    } else {
        Err(Error::invalid(
            op,
            format!("label_smoothing must be in [0, 1], got {label_smoothing}"),
            input.shape(),
        ))
    }
}

/// The class weight `[classes]`, detached (PyTorch gives it no gradient) and shaped to
/// broadcast along `axis` of `input`.
fn class_weight_view<E: Float, B: Backend>(
    op: &'static str,
    weight: &Tensor<E, B>,
    input: &Tensor<E, B>,
    axis: usize,
) -> Result<Tensor<E, B>> {
    let classes = input.dims()[axis];
    if weight.rank() != 1 || weight.dims()[0] != classes {
        return Err(Error::ShapeMismatch {
            op,
            what: "weight must be 1-D with one entry per class (the class axis of the input)",
            lhs: input.shape().clone(),
            rhs: weight.shape().clone(),
        });
    }
    let mut shape = vec![1; input.rank()];
    shape[axis] = classes;
    weight.detach().reshape(shape)
}

/// The shared core of cross-entropy and NLL on class indices; `log_probs` are already
/// normalised along the class axis (1, or 0 for an unbatched `[classes]` input).
fn class_index_loss<E: Float, B: Backend>(
    op: &'static str,
    log_probs: &Tensor<E, B>,
    targets: &Tensor<i64, B>,
    weight: Option<&Tensor<E, B>>,
    ignore_index: i64,
    reduction: Reduction,
    label_smoothing: f64,
) -> Result<Tensor<E, B>> {
    // The unbatched form `[classes]` with a 0-d target is the batch of one.
    if log_probs.rank() == 1 && targets.rank() == 0 {
        let batched = targets.reshape([1])?;
        let out = class_index_loss(
            op,
            &log_probs.unsqueeze(0)?,
            &batched,
            weight,
            ignore_index,
            reduction,
            label_smoothing,
        )?;
        return match reduction {
            Reduction::None => out.reshape(Shape::scalar()),
            _ => Ok(out),
        };
    }
    let shapes_fit = log_probs.rank() >= 2
        && targets.rank() == log_probs.rank() - 1
        && targets.dims()[0] == log_probs.dims()[0]
        && targets.dims()[1..] == log_probs.dims()[2..];
    if !shapes_fit {
        return Err(Error::ShapeMismatch {
            op,
            what: "expected input [n, classes, d1, ...] and targets [n, d1, ...] \
                   (or input [classes] and a 0-d target)",
            lhs: log_probs.shape().clone(),
            rhs: targets.shape().clone(),
        });
    }
    let classes = log_probs.dims()[1];
    let weight = weight
        .map(|w| class_weight_view(op, w, log_probs, 1))
        .transpose()?;

    // The targets stay on their device; ignored ones gather class 0 and are masked out below.
    let checked = check_targets(op, targets, classes, ignore_index)?;
    let flat_index = checked.index.reshape([targets.numel()])?;
    let mut index_shape = targets.dims().to_vec();
    index_shape.insert(1, 1);
    let index = checked.index.reshape(index_shape)?;
    // −lp[t] per position, shape of the targets
    let mut loss = log_probs.gather(1, &index)?.squeeze(1)?.neg()?;

    // The factor each position's NLL is scaled by: w[t], times 0 where ignored. `None` means
    // all ones (no weight, nothing ignored): the plain mean then needs no divisor tensor.
    let keep = checked.keep.map(Tensor::from_ndarray);
    let factor = match &weight {
        Some(w) => {
            let w_t = w
                .reshape([classes])?
                .index_select(0, &flat_index)?
                .reshape(targets.shape().clone())?;
            Some(match &keep {
                Some(k) => w_t.mul(k)?,
                None => w_t,
            })
        }
        None => keep.clone(),
    };
    if let Some(f) = &factor {
        loss = loss.mul(f)?;
    }

    if label_smoothing > 0.0 {
        // −Σ_c w[c]·lp[c] per position, 0 where ignored
        let weighted = match &weight {
            Some(w) => log_probs.mul(w)?,
            None => log_probs.clone(),
        };
        let mut smooth = weighted.sum_dims(&[1], false)?.neg()?;
        if let Some(k) = &keep {
            smooth = smooth.mul(k)?;
        }
        loss = loss
            .mul_scalar(E::from_f64(1.0 - label_smoothing))?
            .add(&smooth.mul_scalar(E::from_f64(label_smoothing / classes as f64))?)?;
    }

    match (reduction, &factor) {
        (Reduction::Mean, Some(f)) => loss.sum_all()?.div(&f.sum_all()?),
        _ => reduce(loss, reduction),
    }
}

/// Class-index targets checked on their device: the index to gather (ignored positions point at
/// class 0) and, if any position is ignored, a float mask that is 0 there and 1 elsewhere.
struct CheckedTargets<E: Float, B: Backend> {
    index: Tensor<i64, B>,
    keep: Option<NDArray<E, B>>,
}

/// Checks that every target is a class index in `0..classes` or `ignore_index`, computing on the
/// targets' device; one scalar comes back to the host (the whole tensor only to name a bad
/// value and its position in the error).
fn check_targets<E: Float, B: Backend>(
    op: &'static str,
    targets: &Tensor<i64, B>,
    classes: usize,
    ignore_index: i64,
) -> Result<CheckedTargets<E, B>> {
    let t = targets.array();
    let ignored = t.eq_scalar(ignore_index)?;
    let valid = t.ge_scalar(0)?.mul(&t.lt_scalar(classes as i64)?)?;
    // Per position: 2 for a bad target, 1 for an ignored one, 0 for a class index; the largest
    // says what the batch holds in one read.
    let status = if t.numel() == 0 {
        0
    } else {
        valid
            .maximum(&ignored)?
            .binary_scalar(BinaryOp::Sub, 1, ScalarSide::Left)?
            .mul_scalar(2)?
            .maximum(&ignored)?
            .max(&[], false)?
            .to_scalar()?
    };
    if status == 2 {
        let host = t.to_vec()?;
        let (pos, bad) = host
            .iter()
            .enumerate()
            .find(|&(_, &v)| v != ignore_index && !(0..classes as i64).contains(&v))
            .map(|(p, &v)| (p, v))
            .unwrap_or((0, 0));
        return Err(Error::invalid(
            op,
            format!(
                "target {bad} at flat position {pos} is not a class index in 0..{classes} \
                 (nor ignore_index {ignore_index})"
            ),
            targets.shape(),
        ));
    }
    if status == 0 {
        return Ok(CheckedTargets {
            index: targets.clone(),
            keep: None,
        });
    }
    let zero = NDArray::scalar(0i64, t.backend())?;
    Ok(CheckedTargets {
        index: Tensor::from_ndarray(NDArray::where_cond(&ignored, &zero, t)?),
        keep: Some(
            ignored
                .binary_scalar(BinaryOp::Sub, 1, ScalarSide::Left)?
                .cast::<E>()?,
        ),
    })
}
