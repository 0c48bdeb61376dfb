//! # nanotorch-nn
//!
//! Neural-network building blocks on top of `nanotorch-autograd`: the [`Module`] trait, layers
//! ([`Linear`], activations, [`Dropout`], [`Flatten`], the [`Sequential`] container), losses and
//! layer functions in [`functional`], initialisation schemes in [`init`], and safetensors
//! checkpoints ([`save_safetensors`], [`load_safetensors`]) so weights move to and from PyTorch.
//!
//! Chapters 4 and 5 of the book (`docs/04-modules.md`, `docs/05-losses-optimizers.md`) teach it.
#![deny(missing_docs)]

mod checkpoint;
pub mod functional;
pub mod init;
mod layers;
mod linear;
mod module;

pub use checkpoint::{load_safetensors, parse_safetensors, save_safetensors, to_safetensors_bytes};
pub use functional::Reduction;
pub use layers::{
    Dropout, Flatten, Identity, Layer, LeakyReLU, LogSoftmax, ReLU, Sequential, SiLU, Sigmoid,
    Softmax, Tanh, GELU,
};
pub use linear::Linear;
pub use module::{prefixed, Module, StateDict};

/// Every layer and loss of this crate with parameters or a gradient rule of its own composition.
/// `tests/gradcheck.rs` fails if any name here has no gradcheck case.
pub const DIFFERENTIABLE_LAYERS: &[&str] = &[
    "Linear",
    "Sequential",
    "ReLU",
    "Tanh",
    "Sigmoid",
    "GELU",
    "SiLU",
    "LeakyReLU",
    "Softmax",
    "LogSoftmax",
    "Flatten",
    "Identity",
    "Dropout",
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
];
