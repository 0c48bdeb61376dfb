//! # nanotorch-optim
//!
//! Optimizers, learning-rate schedules and gradient clipping, following `torch.optim` and
//! `torch.nn.utils.clip_grad_*` — names, defaults and arithmetic — so a PyTorch training loop
//! ports line by line:
//!
//! ```
//! use nanotorch_autograd::Tensor;
//! use nanotorch_backend_cpu::Cpu;
//! use nanotorch_optim::{Optimizer, SgdOptions, SGD};
//! # fn main() -> nanotorch_ndarray_core::Result<()> {
//! // minimise f(w) = Σ (w - 3)²
//! let w = Tensor::from_vec(vec![0.0f32, 1.0], [2], &Cpu)?.requires_grad_(true);
//! let mut opt = SGD::new([w.clone()], SgdOptions { lr: 0.1, momentum: 0.9, ..Default::default() })?;
//! for _ in 0..200 {
//!     opt.zero_grad();
//!     let loss = (&w - 3.0).square()?.sum_all()?;
//!     loss.backward()?;
//!     opt.step()?;
//! }
//! assert!(w.to_vec()?.iter().all(|x| (x - 3.0).abs() < 1e-3));
//! # Ok(()) }
//! ```
//!
//! Where to read: `optimizer.rs` (the [`Optimizer`] trait, parameter groups, the state dict),
//! then any algorithm (`sgd.rs` first): each is an [`UpdateRule`] — hyper-parameters plus the
//! update of one parameter, written in place with the helpers of `update.rs`; `adam.rs` holds
//! Adam and AdamW, one rule in two variants. `state.rs` shows how serde writes every algorithm's
//! state dict. Then `scheduler/` (one file per family of schedules) and `clip.rs`. Chapter 5 of the book (`docs/05-losses-optimizers.md`, second half; its code runs as doctests in `nanotorch-book`) teaches this
//! crate.
#![deny(missing_docs)]

mod adagrad;
mod adam;
mod clip;
mod optimizer;
mod rmsprop;
pub mod scheduler;
mod sgd;
pub mod state;
mod update;

#[cfg(test)]
mod fused_tests;

pub use adagrad::{Adagrad, AdagradOptions, AdagradState};
pub use adam::{
    Adam, AdamFamilyOptions, AdamOptions, AdamState, AdamVariant, AdamW, AdamWOptions,
    DecoupledWeightDecay, L2Penalty,
};
pub use clip::{clip_grad_norm_, clip_grad_value_};
pub use optimizer::{GenericOptimizer, Optimizer, ParamGroup, UpdateRule};
pub use rmsprop::{RMSprop, RmspropOptions, RmspropState};
pub use scheduler::{
    AnnealStrategy, ClosedForm, ClosedFormLR, CosineAnnealingLR, ExponentialLR, LinearLR,
    LrScheduler, MultiStepLR, OneCycleLR, OneCycleOptions, PlateauMode, PlateauOptions,
    ReduceLROnPlateau, StepLR, ThresholdMode,
};
pub use sgd::{SgdOptions, SgdState, SGD};
pub use state::{GroupState, SavedArray, StateDict};
