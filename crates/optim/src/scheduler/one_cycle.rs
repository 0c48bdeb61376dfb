//! The 1cycle policy (`torch.optim.lr_scheduler.OneCycleLR`, Smith & Topin): a warm-up to a peak
//! learning rate, then an annealing to far below the start, stepped once per batch; momentum (or
//! Adam's β₁) moves the opposite way.

use super::{apply, LrScheduler};
use crate::Optimizer;
use nanotorch_ndarray_core::{Error, Result};
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

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
        // Both policies start by warming up from the initial lr to the peak.
        let warm_up = phase(
            options.pct_start * total - 1.0,
            Level::Initial,
            Level::Max,
            true,
            false,
        );
        let phases = if options.three_phase {
            vec![
                warm_up,
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
                warm_up,
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
