//! Loss functions, each following PyTorch's documented definition (`torch.nn.functional`).
//!
//! Every loss takes a [`Reduction`] (`none` / `mean` / `sum`); [`kl_div`] takes a
//! [`KlReduction`], which adds PyTorch's recommended `batchmean`. The module forms
//! (`CrossEntropyLoss`, `BCEWithLogitsLoss`, …) live in `loss_modules.rs` and call these.
//!
//! Class-index losses ([`cross_entropy_opts`], [`nll_loss_opts`]) accept PyTorch's shapes:
//! input `[n, classes]` with targets `[n]`, input `[n, classes, d1, …]` with targets
//! `[n, d1, …]` (per-pixel classification), and the unbatched input `[classes]` with a 0-d
//! target. Targets are read on the host once per call to check them: a class index out of range
//! is an error naming the loss, the bad value and its position, never a panic.

use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, BinaryOp, Element, Error, Float, Result, Shape};

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

/// How [`kl_div`] combines its per-element values: [`Reduction`]'s three plus `batchmean`.
///
/// PyTorch's default is `mean` (the mean over every element), which is *not* the KL divergence;
/// `batchmean` (the sum divided by the batch size) is, and PyTorch recommends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KlReduction {
    /// One value per element.
    None,
    /// The mean over every element (PyTorch's default).
    #[default]
    Mean,
    /// The sum.
    Sum,
    /// The sum divided by the size of the first axis, the batch (the true KL divergence per
    /// sample); a 0-d input is just summed.
    BatchMean,
}

impl From<Reduction> for KlReduction {
    fn from(r: Reduction) -> Self {
        match r {
            Reduction::None => KlReduction::None,
            Reduction::Mean => KlReduction::Mean,
            Reduction::Sum => KlReduction::Sum,
        }
    }
}

pub(crate) fn reduce<E: Float, B: Backend>(
    values: Tensor<E, B>,
    reduction: Reduction,
) -> Result<Tensor<E, B>> {
    match reduction {
        Reduction::None => Ok(values),
        Reduction::Mean => values.mean_all(),
        Reduction::Sum => values.sum_all(),
    }
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

/// `t` must broadcast to `input`'s shape without enlarging it (a weight, a pos_weight).
fn check_broadcasts_to<E: Float, B: Backend>(
    op: &'static str,
    what: &'static str,
    t: &Tensor<E, B>,
    input: &Tensor<E, B>,
) -> Result<()> {
    match Shape::broadcast(op, t.shape(), input.shape()) {
        Ok(s) if &s == input.shape() => Ok(()),
        _ => Err(Error::ShapeMismatch {
            op,
            what,
            lhs: input.shape().clone(),
            rhs: t.shape().clone(),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Regression losses

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

// ---------------------------------------------------------------------------------------------
// Classification: cross-entropy and NLL

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
    let axis = if logits.rank() == 1 { 0 } else { 1 };
    class_index_loss(
        op,
        &logits.log_softmax(axis)?,
        targets,
        options.weight.as_ref(),
        options.ignore_index,
        options.reduction,
        options.label_smoothing,
    )
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
    if logits.rank() == 0 {
        return Err(Error::invalid(
            op,
            "logits need a class axis: [classes], [n, classes] or [n, classes, d1, ...]",
            logits.shape(),
        ));
    }
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
    class_index_loss(
        "nll_loss",
        log_probs,
        targets,
        options.weight.as_ref(),
        options.ignore_index,
        options.reduction,
        0.0,
    )
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
        let batched = Tensor::from_ndarray(targets.array().reshape([1])?);
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

    // Check the targets on the host; ignored ones gather class 0 and are masked out below.
    let host = targets.to_vec()?;
    let mut index = Vec::with_capacity(host.len());
    let mut keep = Vec::with_capacity(host.len());
    let mut any_ignored = false;
    for (pos, &t) in host.iter().enumerate() {
        if t == ignore_index {
            any_ignored = true;
            index.push(0);
            keep.push(E::ZERO);
        } else if t < 0 || t >= classes as i64 {
            return Err(Error::invalid(
                op,
                format!(
                    "target {t} at flat position {pos} is not a class index in 0..{classes} \
                     (nor ignore_index {ignore_index})"
                ),
                targets.shape(),
            ));
        } else {
            index.push(t);
            keep.push(E::ONE);
        }
    }
    let backend = log_probs.backend();
    let flat_index = Tensor::from_vec(index, [host.len()], backend)?;
    let mut index_shape = targets.dims().to_vec();
    index_shape.insert(1, 1);
    let index = Tensor::from_ndarray(flat_index.array().reshape(index_shape)?);
    // −lp[t] per position, shape of the targets
    let mut loss = log_probs.gather(1, &index)?.squeeze(1)?.neg()?;

    // The factor each position's NLL is scaled by: w[t], times 0 where ignored. `None` means
    // all ones (no weight, nothing ignored): the plain mean then needs no divisor tensor.
    let keep = any_ignored
        .then(|| Tensor::from_vec(keep, targets.shape().clone(), backend))
        .transpose()?;
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

// ---------------------------------------------------------------------------------------------
// Binary cross-entropy

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

// ---------------------------------------------------------------------------------------------
// Kullback-Leibler divergence

/// The Kullback-Leibler divergence loss (`F.kl_div`), with `input` log-probabilities and
/// `target` probabilities (or log-probabilities when `log_target`), of the same shape:
///
/// - `log_target = false`: `target·(log target − input)`, taken as 0 where `target = 0`;
/// - `log_target = true`: `e^target·(target − input)`.
///
/// [`KlReduction::BatchMean`] (sum / batch size) gives the mathematical KL divergence per
/// sample; `Mean` (PyTorch's default) divides by the number of elements instead.
pub fn kl_div<E: Float, B: Backend>(
    input: &Tensor<E, B>,
    target: &Tensor<E, B>,
    reduction: KlReduction,
    log_target: bool,
) -> Result<Tensor<E, B>> {
    check_same_shape("kl_div", input, target)?;
    let loss = if log_target {
        target.exp()?.mul(&target.sub(input)?)?
    } else {
        // xlogy(t, t) − t·input, with xlogy(0, ·) = 0: log of a safe 1 where t = 0 keeps the
        // gradient finite there
        let zero = target.compare_scalar(BinaryOp::Eq, E::ZERO)?.detach();
        let safe = target.masked_fill(&zero, E::ONE)?;
        let t_log_t = target.mul(&safe.log()?)?;
        t_log_t.sub(&target.mul(input)?)?
    };
    match reduction {
        KlReduction::None => Ok(loss),
        KlReduction::Mean => loss.mean_all(),
        KlReduction::Sum => loss.sum_all(),
        KlReduction::BatchMean if input.rank() == 0 => loss.sum_all(),
        KlReduction::BatchMean => loss
            .sum_all()?
            .div_scalar(E::from_f64(input.dims()[0] as f64)),
    }
}
