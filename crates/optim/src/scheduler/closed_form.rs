//! The schedules whose learning rate is a closed form of the base rate and the epoch: `StepLR`,
//! `MultiStepLR`, `ExponentialLR`, `CosineAnnealingLR` and `LinearLR`.
//!
//! They differ only in that formula, so each is a small [`ClosedForm`] (its parameters and
//! `lr_at`) driven by one scheduler, [`ClosedFormLR`], which keeps the base rates and the epoch.
//! `StepLR` is `ClosedFormLR<StepDecay>`, and so on; a formula of your own (PyTorch's `LambdaLR`)
//! is one more `ClosedForm`, driven by [`ClosedFormLR::with_schedule`].

use super::{apply, current_lrs, LrScheduler};
use crate::Optimizer;
use nanotorch_ndarray_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// A learning rate as a function of the base rate and the epoch.
pub trait ClosedForm: Clone + std::fmt::Debug {
    /// PyTorch's class name of the scheduler (`"StepLR"`), for errors.
    const NAME: &'static str;

    /// The learning rate at epoch `t` of a group whose base rate is `base`.
    fn lr_at(&self, base: f64, t: usize) -> f64;
}

/// The scheduler of a [`ClosedForm`] schedule `S`: remembers each group's base rate (its lr when
/// the scheduler was built) and the epoch, and writes `S::lr_at(base, epoch)` into the optimizer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClosedFormLR<S> {
    schedule: S,
    base_lrs: Vec<f64>,
    last_epoch: usize,
    last_lr: Vec<f64>,
}

impl<S: ClosedForm> ClosedFormLR<S> {
    /// Drives `schedule` over `opt`'s groups, starting from their current learning rates; sets
    /// epoch 0's rates right away, as PyTorch's constructors do.
    pub fn with_schedule(opt: &mut dyn Optimizer, schedule: S) -> Result<Self> {
        let mut sched = ClosedFormLR {
            schedule,
            base_lrs: current_lrs(opt),
            last_epoch: 0,
            last_lr: vec![],
        };
        sched.last_lr = sched.lrs_at(0);
        apply(opt, S::NAME, &sched.last_lr)?;
        Ok(sched)
    }

    /// The base learning rates (each group's lr when the scheduler was built).
    pub fn base_lrs(&self) -> &[f64] {
        &self.base_lrs
    }

    /// The schedule's parameters.
    pub fn schedule(&self) -> &S {
        &self.schedule
    }

    fn lrs_at(&self, epoch: usize) -> Vec<f64> {
        self.base_lrs
            .iter()
            .map(|&base| self.schedule.lr_at(base, epoch))
            .collect()
    }
}

impl<S: ClosedForm> LrScheduler for ClosedFormLR<S> {
    fn step(&mut self, opt: &mut dyn Optimizer) -> Result<()> {
        self.last_epoch += 1;
        self.last_lr = self.lrs_at(self.last_epoch);
        apply(opt, S::NAME, &self.last_lr)
    }

    fn get_last_lr(&self) -> &[f64] {
        &self.last_lr
    }

    fn last_epoch(&self) -> usize {
        self.last_epoch
    }
}

/// Multiplies the learning rate by `gamma` every `step_size` epochs:
/// `lr = base · gamma^⌊t / step_size⌋` (`torch.optim.lr_scheduler.StepLR`).
pub type StepLR = ClosedFormLR<StepDecay>;

/// [`StepLR`]'s schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepDecay {
    step_size: usize,
    gamma: f64,
}

impl StepLR {
    /// Decay by `gamma` every `step_size` (> 0) epochs.
    pub fn new(opt: &mut dyn Optimizer, step_size: usize, gamma: f64) -> Result<Self> {
        if step_size == 0 {
            return Err(Error::msg("StepLR: step_size must be > 0"));
        }
        Self::with_schedule(opt, StepDecay { step_size, gamma })
    }
}

impl ClosedForm for StepDecay {
    const NAME: &'static str = "StepLR";

    fn lr_at(&self, base: f64, t: usize) -> f64 {
        base * self.gamma.powf((t / self.step_size) as f64)
    }
}

/// Multiplies the learning rate by `gamma` at each milestone epoch:
/// `lr = base · gamma^(number of milestones ≤ t)` (`MultiStepLR`; a milestone listed twice
/// counts twice, as in PyTorch).
pub type MultiStepLR = ClosedFormLR<MultiStepDecay>;

/// [`MultiStepLR`]'s schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiStepDecay {
    /// Sorted.
    milestones: Vec<usize>,
    gamma: f64,
}

impl MultiStepLR {
    /// Decay by `gamma` at each of `milestones` (any order).
    pub fn new(opt: &mut dyn Optimizer, milestones: &[usize], gamma: f64) -> Result<Self> {
        let mut milestones = milestones.to_vec();
        milestones.sort_unstable();
        Self::with_schedule(opt, MultiStepDecay { milestones, gamma })
    }
}

impl ClosedForm for MultiStepDecay {
    const NAME: &'static str = "MultiStepLR";

    fn lr_at(&self, base: f64, t: usize) -> f64 {
        let passed = self.milestones.partition_point(|&m| m <= t);
        base * self.gamma.powf(passed as f64)
    }
}

/// Multiplies the learning rate by `gamma` every epoch: `lr = base · gammaᵗ` (`ExponentialLR`).
pub type ExponentialLR = ClosedFormLR<ExponentialDecay>;

/// [`ExponentialLR`]'s schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExponentialDecay {
    gamma: f64,
}

impl ExponentialLR {
    /// Decay by `gamma` each epoch.
    pub fn new(opt: &mut dyn Optimizer, gamma: f64) -> Result<Self> {
        Self::with_schedule(opt, ExponentialDecay { gamma })
    }
}

impl ClosedForm for ExponentialDecay {
    const NAME: &'static str = "ExponentialLR";

    fn lr_at(&self, base: f64, t: usize) -> f64 {
        base * self.gamma.powf(t as f64)
    }
}

/// Half a cosine from the base rate down to `eta_min` over `t_max` epochs (`CosineAnnealingLR`,
/// PyTorch's closed form): `lr = eta_min + (base - eta_min) · (1 + cos(π t / t_max)) / 2`. Past
/// `t_max` the cosine carries on (back up), as PyTorch's closed form does.
pub type CosineAnnealingLR = ClosedFormLR<CosineAnnealing>;

/// [`CosineAnnealingLR`]'s schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CosineAnnealing {
    t_max: usize,
    eta_min: f64,
}

impl CosineAnnealingLR {
    /// Anneal to `eta_min` over `t_max` (> 0) epochs.
    pub fn new(opt: &mut dyn Optimizer, t_max: usize, eta_min: f64) -> Result<Self> {
        if t_max == 0 {
            return Err(Error::msg("CosineAnnealingLR: t_max must be > 0"));
        }
        Self::with_schedule(opt, CosineAnnealing { t_max, eta_min })
    }
}

impl ClosedForm for CosineAnnealing {
    const NAME: &'static str = "CosineAnnealingLR";

    fn lr_at(&self, base: f64, t: usize) -> f64 {
        self.eta_min
            + (base - self.eta_min) * (1.0 + (PI * t as f64 / self.t_max as f64).cos()) / 2.0
    }
}

/// Linear warm-up (or cool-down): the factor on the base rate moves linearly from
/// `start_factor` to `end_factor` over `total_iters` epochs, then stays (`LinearLR`):
/// `lr = base · (start + (end - start) · min(t, total_iters) / total_iters)`.
pub type LinearLR = ClosedFormLR<LinearFactor>;

/// [`LinearLR`]'s schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LinearFactor {
    start_factor: f64,
    end_factor: f64,
    total_iters: usize,
}

impl LinearLR {
    /// PyTorch's defaults are `start_factor = 1/3`, `end_factor = 1.0`, `total_iters = 5`.
    /// `start_factor` must be in (0, 1] and `end_factor` in [0, 1].
    pub fn new(
        opt: &mut dyn Optimizer,
        start_factor: f64,
        end_factor: f64,
        total_iters: usize,
    ) -> Result<Self> {
        if !(start_factor > 0.0 && start_factor <= 1.0) {
            return Err(Error::msg(format!(
                "LinearLR: start_factor must be in (0, 1], got {start_factor}"
            )));
        }
        if !(0.0..=1.0).contains(&end_factor) {
            return Err(Error::msg(format!(
                "LinearLR: end_factor must be in [0, 1], got {end_factor}"
            )));
        }
        let schedule = LinearFactor {
            start_factor,
            end_factor,
            total_iters,
        };
        Self::with_schedule(opt, schedule)
    }
}

impl ClosedForm for LinearFactor {
    const NAME: &'static str = "LinearLR";

    fn lr_at(&self, base: f64, t: usize) -> f64 {
        if self.total_iters == 0 {
            return base * self.end_factor;
        }
        let progress = t.min(self.total_iters) as f64 / self.total_iters as f64;
        base * (self.start_factor + (self.end_factor - self.start_factor) * progress)
    }
}
