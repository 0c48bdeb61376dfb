//! Loss functions, each following PyTorch's documented definition (`torch.nn.functional`), by
//! concern: `regression.rs` (MSE, L1, smooth L1, Huber), `classification.rs` (cross-entropy and
//! NLL on class indices or probabilities), `binary.rs` (BCE and BCE with logits) and
//! `divergence.rs` (KL). The module forms (`CrossEntropyLoss`, `BCEWithLogitsLoss`, …) are in
//! `modules.rs` and call these.
//!
//! Every loss takes a [`Reduction`] (`none` / `mean` / `sum`); [`kl_div`] takes a
//! [`KlReduction`], which adds PyTorch's recommended `batchmean`.

use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Error, Float, Result, Shape};

mod binary;
mod classification;
mod divergence;
pub(crate) mod modules;
mod regression;

pub use binary::{binary_cross_entropy, binary_cross_entropy_with_logits};
pub use classification::{
    cross_entropy, cross_entropy_opts, cross_entropy_probs, cross_entropy_with, nll_loss,
    nll_loss_opts, CrossEntropyOptions, NllLossOptions,
};
pub use divergence::kl_div;
pub use regression::{huber_loss, l1_loss, mse_loss, smooth_l1_loss};

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

pub(crate) fn check_same_shape<E: Float, B: Backend>(
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
pub(crate) fn check_broadcasts_to<E: Float, B: Backend>(
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
