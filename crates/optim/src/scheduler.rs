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

use crate::Optimizer;
use nanotorch_ndarray_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

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
        opt.set_lr(g, lr);
    }
    Ok(())
}

/// Schedules whose learning rate is a closed form of (base lr, epoch) share this driver.
macro_rules! closed_form_scheduler {
    ($name:ident, $label:literal) => {
        impl LrScheduler for $name {
            fn step(&mut self, opt: &mut dyn Optimizer) -> Result<()> {
                self.last_epoch += 1;
                self.last_lr = self.lrs_at(self.last_epoch);
                apply(opt, $label, &self.last_lr)
            }

            fn get_last_lr(&self) -> &[f64] {
                &self.last_lr
            }

            fn last_epoch(&self) -> usize {
                self.last_epoch
            }
        }

        impl $name {
            fn lrs_at(&self, epoch: usize) -> Vec<f64> {
                self.base_lrs
                    .iter()
                    .map(|&base| self.lr_at(base, epoch))
                    .collect()
            }

            /// Records the base learning rates and sets epoch 0's.
            fn start(mut self, opt: &mut dyn Optimizer) -> Result<Self> {
                self.base_lrs = current_lrs(opt);
                self.last_lr = self.lrs_at(0);
                apply(opt, $label, &self.last_lr)?;
                Ok(self)
            }

            /// The base learning rates (each group's lr when the scheduler was built).
            pub fn base_lrs(&self) -> &[f64] {
                &self.base_lrs
            }
        }
    };
}

/// Multiplies the learning rate by `gamma` every `step_size` epochs:
/// `lr = base · gamma^⌊t / step_size⌋` (`torch.optim.lr_scheduler.StepLR`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepLR {
    step_size: usize,
    gamma: f64,
    base_lrs: Vec<f64>,
    last_epoch: usize,
    last_lr: Vec<f64>,
}

impl StepLR {
    /// Decay by `gamma` every `step_size` (> 0) epochs.
    pub fn new(opt: &mut dyn Optimizer, step_size: usize, gamma: f64) -> Result<Self> {
        if step_size == 0 {
            return Err(Error::msg("StepLR: step_size must be > 0"));
        }
        StepLR {
            step_size,
            gamma,
            base_lrs: vec![],
            last_epoch: 0,
            last_lr: vec![],
        }
        .start(opt)
    }

    fn lr_at(&self, base: f64, t: usize) -> f64 {
        base * self.gamma.powf((t / self.step_size) as f64)
    }
}
closed_form_scheduler!(StepLR, "StepLR");

/// Multiplies the learning rate by `gamma` at each milestone epoch:
/// `lr = base · gamma^(number of milestones ≤ t)` (`MultiStepLR`; a milestone listed twice
/// counts twice, as in PyTorch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MultiStepLR {
    milestones: Vec<usize>,
    gamma: f64,
    base_lrs: Vec<f64>,
    last_epoch: usize,
    last_lr: Vec<f64>,
}

impl MultiStepLR {
    /// Decay by `gamma` at each of `milestones` (any order).
    pub fn new(opt: &mut dyn Optimizer, milestones: &[usize], gamma: f64) -> Result<Self> {
        let mut milestones = milestones.to_vec();
        milestones.sort_unstable();
        MultiStepLR {
            milestones,
            gamma,
            base_lrs: vec![],
            last_epoch: 0,
            last_lr: vec![],
        }
        .start(opt)
    }

    fn lr_at(&self, base: f64, t: usize) -> f64 {
        let passed = self.milestones.partition_point(|&m| m <= t);
        base * self.gamma.powf(passed as f64)
    }
}
closed_form_scheduler!(MultiStepLR, "MultiStepLR");

/// Multiplies the learning rate by `gamma` every epoch: `lr = base · gammaᵗ` (`ExponentialLR`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExponentialLR {
    gamma: f64,
    base_lrs: Vec<f64>,
    last_epoch: usize,
    last_lr: Vec<f64>,
}

impl ExponentialLR {
    /// Decay by `gamma` each epoch.
    pub fn new(opt: &mut dyn Optimizer, gamma: f64) -> Result<Self> {
        ExponentialLR {
            gamma,
            base_lrs: vec![],
            last_epoch: 0,
            last_lr: vec![],
        }
        .start(opt)
    }

    fn lr_at(&self, base: f64, t: usize) -> f64 {
        base * self.gamma.powf(t as f64)
    }
}
closed_form_scheduler!(ExponentialLR, "ExponentialLR");

/// Half a cosine from the base rate down to `eta_min` over `t_max` epochs (`CosineAnnealingLR`,
/// PyTorch's closed form): `lr = eta_min + (base - eta_min) · (1 + cos(π t / t_max)) / 2`. Past
/// `t_max` the cosine carries on (back up), as PyTorch's closed form does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CosineAnnealingLR {
    t_max: usize,
    eta_min: f64,
    base_lrs: Vec<f64>,
    last_epoch: usize,
    last_lr: Vec<f64>,
}

impl CosineAnnealingLR {
    /// Anneal to `eta_min` over `t_max` (> 0) epochs.
    pub fn new(opt: &mut dyn Optimizer, t_max: usize, eta_min: f64) -> Result<Self> {
        if t_max == 0 {
            return Err(Error::msg("CosineAnnealingLR: t_max must be > 0"));
        }
        CosineAnnealingLR {
            t_max,
            eta_min,
            base_lrs: vec![],
            last_epoch: 0,
            last_lr: vec![],
        }
        .start(opt)
    }

    fn lr_at(&self, base: f64, t: usize) -> f64 {
        self.eta_min
            + (base - self.eta_min) * (1.0 + (PI * t as f64 / self.t_max as f64).cos()) / 2.0
    }
}
closed_form_scheduler!(CosineAnnealingLR, "CosineAnnealingLR");

/// Linear warm-up (or cool-down): the factor on the base rate moves linearly from
/// `start_factor` to `end_factor` over `total_iters` epochs, then stays (`LinearLR`):
/// `lr = base · (start + (end - start) · min(t, total_iters) / total_iters)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearLR {
    start_factor: f64,
    end_factor: f64,
    total_iters: usize,
    base_lrs: Vec<f64>,
    last_epoch: usize,
    last_lr: Vec<f64>,
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
        LinearLR {
            start_factor,
            end_factor,
            total_iters,
            base_lrs: vec![],
            last_epoch: 0,
            last_lr: vec![],
        }
        .start(opt)
    }

    fn lr_at(&self, base: f64, t: usize) -> f64 {
        if self.total_iters == 0 {
            return base * self.end_factor;
        }
        let progress = t.min(self.total_iters) as f64 / self.total_iters as f64;
        base * (self.start_factor + (self.end_factor - self.start_factor) * progress)
    }
}
closed_form_scheduler!(LinearLR, "LinearLR");

/// How [`OneCycleLR`] moves between two values within a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnnealStrategy {
    /// Half a cosine (PyTorch's default `'cos'`).
    Cos,
    /// A straight line (`'linear'`).
    Linear,
}

impl AnnealStrategy {
    fn anneal(self, start: f64, end: f64, pct: f64) -> f64 {
        match self {
            AnnealStrategy::Cos => end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0),
            AnnealStrategy::Linear => (end - start) * pct + start,
        }
    }
}

/// Options of [`OneCycleLR`]; `Default` is PyTorch's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OneCycleOptions {
    /// Fraction of the cycle spent increasing the learning rate (default 0.3).
    pub pct_start: f64,
    /// Cosine or linear annealing (default cosine).
    pub anneal_strategy: AnnealStrategy,
    /// Cycle the momentum (SGD, RMSprop) or β₁ (Adam, AdamW) inversely to the learning rate
    /// (default true).
    pub cycle_momentum: bool,
    /// The lowest momentum, reached at the peak learning rate (default 0.85).
    pub base_momentum: f64,
    /// The highest momentum, at the start and end (default 0.95).
    pub max_momentum: f64,
    /// Initial lr = max_lr / div_factor (default 25).
    pub div_factor: f64,
    /// Minimum lr = initial lr / final_div_factor (default 1e4).
    pub final_div_factor: f64,
    /// Three phases (up, back down to the initial lr, then down to the minimum) instead of two
    /// (up, then down to the minimum) (default false).
    pub three_phase: bool,
}

impl Default for OneCycleOptions {
    fn default() -> Self {
        OneCycleOptions {
            pct_start: 0.3,
            anneal_strategy: AnnealStrategy::Cos,
            cycle_momentum: true,
            base_momentum: 0.85,
            max_momentum: 0.95,
            div_factor: 25.0,
            final_div_factor: 1e4,
            three_phase: false,
        }
    }
}

/// Which of a group's values a phase starts or ends at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Level {
    Initial,
    Max,
    Min,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Phase {
    end_step: f64,
    start_lr: Level,
    end_lr: Level,
    /// Momentum runs from `max_momentum` when true (else from `base_momentum`).
    start_momentum_high: bool,
    end_momentum_high: bool,
}

/// The 1cycle policy (`OneCycleLR`): the learning rate warms up from `max_lr / div_factor` to
/// `max_lr`, then anneals to far below the start, over `total_steps` steps — one `step` per
/// *batch*, not per epoch. Momentum moves the opposite way when `cycle_momentum` is on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OneCycleLR {
    total_steps: usize,
    options: OneCycleOptions,
    phases: Vec<Phase>,
    /// Per group: (initial lr, max lr, min lr).
    levels: Vec<(f64, f64, f64)>,
    last_epoch: usize,
    last_lr: Vec<f64>,
}

impl OneCycleLR {
    /// One cycle peaking at `max_lr` (every group) over `total_steps` (> 0) steps.
    pub fn new(
        opt: &mut dyn Optimizer,
        max_lr: f64,
        total_steps: usize,
        options: OneCycleOptions,
    ) -> Result<Self> {
        let max_lrs = vec![max_lr; opt.num_groups()];
        Self::with_max_lrs(opt, &max_lrs, total_steps, options)
    }

    /// One cycle with a peak learning rate per group.
    pub fn with_max_lrs(
        opt: &mut dyn Optimizer,
        max_lrs: &[f64],
        total_steps: usize,
        options: OneCycleOptions,
    ) -> Result<Self> {
        let fail = |msg: String| Err(Error::msg(format!("OneCycleLR: {msg}")));
        if total_steps == 0 {
            return fail("total_steps must be > 0".into());
        }
        if !(0.0..=1.0).contains(&options.pct_start) {
            return fail(format!(
                "pct_start must be in [0, 1], got {}",
                options.pct_start
            ));
        }
        if max_lrs.len() != opt.num_groups() {
            return fail(format!(
                "{} max_lr values for {} parameter groups",
                max_lrs.len(),
                opt.num_groups()
            ));
        }
        if options.cycle_momentum && opt.momentum(0).is_none() {
            return fail(format!(
                "{} has no momentum or beta1 to cycle; set cycle_momentum: false",
                opt.name()
            ));
        }
        let total = total_steps as f64;
        let phase = |end_step, start_lr, end_lr, start_momentum_high, end_momentum_high| Phase {
            end_step,
            start_lr,
            end_lr,
            start_momentum_high,
            end_momentum_high,
        };
        let phases = if options.three_phase {
            vec![
                phase(
                    options.pct_start * total - 1.0,
                    Level::Initial,
                    Level::Max,
                    true,
                    false,
                ),
                phase(
                    2.0 * options.pct_start * total - 2.0,
                    Level::Max,
                    Level::Initial,
                    false,
                    true,
                ),
                phase(total - 1.0, Level::Initial, Level::Min, true, true),
            ]
        } else {
            vec![
                phase(
                    options.pct_start * total - 1.0,
                    Level::Initial,
                    Level::Max,
                    true,
                    false,
                ),
                phase(total - 1.0, Level::Max, Level::Min, false, true),
            ]
        };
        let levels = max_lrs
            .iter()
            .map(|&max| {
                let initial = max / options.div_factor;
                (initial, max, initial / options.final_div_factor)
            })
            .collect();
        let mut sched = OneCycleLR {
            total_steps,
            options,
            phases,
            levels,
            last_epoch: 0,
            last_lr: vec![],
        };
        sched.apply_step(opt)?;
        Ok(sched)
    }

    /// The momentum (or β₁) set at step `step` (`None` when momentum is not cycled).
    pub fn momentum_at(&self, step: usize) -> Result<Option<f64>> {
        Ok(self.at(step)?.1)
    }

    /// (learning rate per group, momentum) at step `step_num`.
    fn at(&self, step_num: usize) -> Result<(Vec<f64>, Option<f64>)> {
        if step_num > self.total_steps {
            return Err(Error::msg(format!(
                "OneCycleLR: tried to step {step_num} times; the specified number of total steps is {}",
                self.total_steps
            )));
        }
        let t = step_num as f64;
        let mut start_step = 0.0;
        let last = self.phases.len() - 1;
        let (i, phase) = self
            .phases
            .iter()
            .enumerate()
            .find(|&(i, p)| {
                let found = t <= p.end_step || i == last;
                if !found {
                    start_step = p.end_step;
                }
                found
            })
            .expect("the last phase always matches");
        let span = phase.end_step - start_step;
        if span == 0.0 {
            return Err(Error::msg(format!(
                "OneCycleLR: phase {i} is empty (pct_start · total_steps = {}); PyTorch divides by zero here too",
                self.options.pct_start * self.total_steps as f64
            )));
        }
        let pct = (t - start_step) / span;
        let anneal = |a: f64, b: f64| self.options.anneal_strategy.anneal(a, b, pct);
        let lrs = self
            .levels
            .iter()
            .map(|&(initial, max, min)| {
                let pick = |l: Level| match l {
                    Level::Initial => initial,
                    Level::Max => max,
                    Level::Min => min,
                };
                anneal(pick(phase.start_lr), pick(phase.end_lr))
            })
            .collect();
        let momentum = self.options.cycle_momentum.then(|| {
            let m = |high: bool| {
                if high {
                    self.options.max_momentum
                } else {
                    self.options.base_momentum
                }
            };
            anneal(m(phase.start_momentum_high), m(phase.end_momentum_high))
        });
        Ok((lrs, momentum))
    }

    fn apply_step(&mut self, opt: &mut dyn Optimizer) -> Result<()> {
        let (lrs, momentum) = self.at(self.last_epoch)?;
        apply(opt, "OneCycleLR", &lrs)?;
        if let Some(m) = momentum {
            for g in 0..opt.num_groups() {
                opt.set_momentum(g, m)?;
            }
        }
        self.last_lr = lrs;
        Ok(())
    }
}

impl LrScheduler for OneCycleLR {
    /// Moves to the next batch; an error once past `total_steps` (as in PyTorch).
    fn step(&mut self, opt: &mut dyn Optimizer) -> Result<()> {
        self.last_epoch += 1;
        if let Err(e) = self.apply_step(opt) {
            self.last_epoch -= 1;
            return Err(e);
        }
        Ok(())
    }

    fn get_last_lr(&self) -> &[f64] {
        &self.last_lr
    }

    fn last_epoch(&self) -> usize {
        self.last_epoch
    }
}

/// Whether [`ReduceLROnPlateau`] wants the metric to go down or up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlateauMode {
    /// Lower is better (a loss).
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How [`ReduceLROnPlateau`] decides a metric improved on the best so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThresholdMode {
    /// By a relative margin: better than `best · (1 ∓ threshold)`.
    Rel,
    /// By an absolute margin: better than `best ∓ threshold`.
    Abs,
}

/// Options of [`ReduceLROnPlateau`]; `Default` is PyTorch's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlateauOptions {
    /// Minimise or maximise the metric (default min).
    pub mode: PlateauMode,
    /// New lr = lr · factor (must be < 1; default 0.1).
    pub factor: f64,
    /// Epochs without improvement tolerated before reducing (default 10).
    pub patience: usize,
    /// The margin an improvement must clear (default 1e-4).
    pub threshold: f64,
    /// Relative or absolute margin (default relative).
    pub threshold_mode: ThresholdMode,
    /// Epochs to wait after a reduction before counting bad epochs again (default 0).
    pub cooldown: usize,
    /// Lower bound on every group's lr (default 0).
    pub min_lr: f64,
    /// A reduction smaller than this is skipped (default 1e-8).
    pub eps: f64,
}

impl Default for PlateauOptions {
    fn default() -> Self {
        PlateauOptions {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
        }
    }
}

/// Reduces the learning rate by `factor` once a metric has stopped improving for more than
/// `patience` epochs (`ReduceLROnPlateau`). Driven by [`ReduceLROnPlateau::step`] with the
/// metric, once per epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReduceLROnPlateau {
    options: PlateauOptions,
    /// The best metric so far; `None` before the first (the "worst possible" value).
    best: Option<f64>,
    num_bad_epochs: usize,
    cooldown_counter: usize,
    last_epoch: usize,
    last_lr: Vec<f64>,
}

impl ReduceLROnPlateau {
    /// Watches a metric for `opt` (whose learning rates it leaves alone until a plateau).
    pub fn new(opt: &dyn Optimizer, options: PlateauOptions) -> Result<Self> {
        if options.factor.is_nan() || options.factor >= 1.0 {
            return Err(Error::msg(format!(
                "ReduceLROnPlateau: factor should be < 1.0, got {}",
                options.factor
            )));
        }
        Ok(ReduceLROnPlateau {
            options,
            best: None,
            num_bad_epochs: 0,
            cooldown_counter: 0,
            last_epoch: 0,
            last_lr: current_lrs(opt),
        })
    }

    fn is_better(&self, a: f64) -> bool {
        let o = &self.options;
        let best = self.best.unwrap_or(match o.mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        });
        match (o.mode, o.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - o.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - o.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (o.threshold + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + o.threshold,
        }
    }

    /// Records this epoch's `metric`, reducing every group's lr (not below `min_lr`) if it has
    /// plateaued.
    pub fn step(&mut self, opt: &mut dyn Optimizer, metric: f64) -> Result<()> {
        self.last_epoch += 1;
        if self.is_better(metric) {
            self.best = Some(metric);
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.options.patience {
            for g in 0..opt.num_groups() {
                let old = opt.lr(g);
                let new = (old * self.options.factor).max(self.options.min_lr);
                if old - new > self.options.eps {
                    opt.set_lr(g, new);
                }
            }
            self.cooldown_counter = self.options.cooldown;
            self.num_bad_epochs = 0;
        }
        self.last_lr = current_lrs(opt);
        Ok(())
    }

    /// The learning rates after the last `step`.
    pub fn get_last_lr(&self) -> &[f64] {
        &self.last_lr
    }

    /// The best metric seen so far.
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// Epochs since the last improvement (reset by a reduction and during cooldown).
    pub fn num_bad_epochs(&self) -> usize {
        self.num_bad_epochs
    }
}
