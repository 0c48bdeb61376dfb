//! `torch.optim.lr_scheduler.ReduceLROnPlateau`: the one schedule driven by a metric (a validation
//! loss, an accuracy) rather than by the epoch count.

use super::current_lrs;
use crate::Optimizer;
use nanotorch_ndarray_core::{Error, Result};
use serde::{Deserialize, Serialize};

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
                    opt.set_lr(g, new)?;
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
