//! Learning-rate schedules (`torch.optim.lr_scheduler`).
//!
//! A scheduler does not hold the optimizer (Rust would then forbid the training loop from using
//! it): it is handed `&mut dyn Optimizer` when it acts. As in PyTorch, constructing one sets the
//! learning rate for epoch 0 right away, and each [`LrScheduler::step`] (after `opt.step()`, once
//! per epoch — or once per batch for [`OneCycleLR`]) moves to the next epoch:
//!
//! ```text
//! let mut sched = StepLR::new(&mut opt, 30, 0.1)?;
//! for epoch in 0..90 {
//!     train_one_epoch(&mut opt)?;   // opt.step() per batch
//!     sched.step(&mut opt)?;
//! }
//! ```
//!
//! The schedules are PyTorch's *closed forms*: the learning rate at epoch `t` is a function of the
//! base learning rates (each group's lr when the scheduler was built) and `t`, so it never drifts
//! and a schedule restored from its serde form continues exactly. The flip side: a scheduler
//! overwrites a learning rate set by hand, and two schedulers do not chain (PyTorch's
//! `ChainedScheduler` / `SequentialLR` are left out).
//!
//! Every scheduler is `Serialize + Deserialize`: saving it next to the optimizer's state dict is
//! how a run resumes.
//!
//! By family: `closed_form.rs` (one driver, [`ClosedFormLR`], for [`StepLR`], [`MultiStepLR`],
//! [`ExponentialLR`], [`CosineAnnealingLR`] and [`LinearLR`]), `one_cycle.rs` ([`OneCycleLR`],
//! which also cycles momentum) and `plateau.rs` ([`ReduceLROnPlateau`], driven by a metric).

mod closed_form;
mod one_cycle;
mod plateau;

pub use closed_form::{
    ClosedForm, ClosedFormLR, CosineAnnealing, CosineAnnealingLR, ExponentialDecay, ExponentialLR,
    LinearFactor, LinearLR, MultiStepDecay, MultiStepLR, StepDecay, StepLR,
};
pub use one_cycle::{AnnealStrategy, OneCycleLR, OneCycleOptions};
pub use plateau::{PlateauMode, PlateauOptions, ReduceLROnPlateau, ThresholdMode};

use crate::Optimizer;
use nanotorch_ndarray_core::{Error, Result};

/// What every epoch-driven schedule offers. ([`ReduceLROnPlateau`] is driven by a metric instead
/// and has its own `step(opt, metric)`.)
pub trait LrScheduler {
    /// Moves to the next epoch and writes its learning rates into `opt`.
    fn step(&mut self, opt: &mut dyn Optimizer) -> Result<()>;

    /// The learning rates (one per group) that the last `step` (or the constructor) set.
    fn get_last_lr(&self) -> &[f64];

    /// The current epoch: 0 after construction, +1 per `step`.
    fn last_epoch(&self) -> usize;
}

/// Reads every group's learning rate.
fn current_lrs(opt: &dyn Optimizer) -> Vec<f64> {
    (0..opt.num_groups()).map(|g| opt.lr(g)).collect()
}

/// Writes `lrs` into `opt`, checking the group count has not changed.
fn apply(opt: &mut dyn Optimizer, name: &str, lrs: &[f64]) -> Result<()> {
    if opt.num_groups() != lrs.len() {
        return Err(Error::msg(format!(
            "{name}: built for {} parameter groups, the optimizer has {}",
            lrs.len(),
            opt.num_groups()
        )));
    }
    for (g, &lr) in lrs.iter().enumerate() {
        opt.set_lr(g, lr)?;
    }
    Ok(())
}
