//! # nanotorch-nn
//!
//! Neural-network building blocks on top of `nanotorch-autograd`: the [`Module`] trait (one
//! `visit` method; parameters, modes and state dicts derived from it) and the [`Forward`] trait,
//! layers ([`Linear`], convolutions ([`Conv1d`], [`Conv2d`], [`ConvTranspose1d`],
//! [`ConvTranspose2d`], with groups and padding modes), pooling ([`MaxPool1d`], [`MaxPool2d`],
//! [`AvgPool1d`], [`AvgPool2d`], adaptive, LP and unpooling), normalisation ([`LayerNorm`],
//! [`GroupNorm`], [`BatchNorm1d`], [`BatchNorm2d`], [`BatchNorm3d`], [`InstanceNorm1d`],
//! [`InstanceNorm2d`]), [`Upsample`], [`Embedding`], recurrent layers ([`RNN`], [`LSTM`], [`GRU`] with
//! [`RnnOptions`], and the cells [`RNNCell`], [`LSTMCell`], [`GRUCell`]), attention and
//! transformer layers ([`scaled_dot_product_attention`], [`MultiheadAttention`],
//! [`TransformerEncoderLayer`], [`TransformerDecoderLayer`], [`TransformerEncoder`],
//! [`PositionalEncoding`], [`LearnedPositionalEmbedding`]), activations, [`Dropout`], [`Flatten`], [`Unflatten`]), the
//! [`Sequential`] and [`ModuleList`] containers, forward hooks through the [`Hooked`] wrapper, losses (functions in
//! [`functional`] and structs such as [`CrossEntropyLoss`]), layer functions in [`functional`], initialisation schemes in [`init`], and safetensors
//! checkpoints ([`save_safetensors`], [`load_safetensors`]) so weights move to and from PyTorch.
//!
//! Chapters 4 and 5 of the book (`docs/04-modules.md`, `docs/05-losses-optimizers.md`) teach it.
#![deny(missing_docs)]

mod attention;
mod checkpoint;
mod containers;
mod conv;
mod embedding;
pub mod functional;
mod hooks;
pub mod init;
mod layers;
mod linear;
mod loss;
mod module;
mod norm;
mod pool;
mod recurrent;
mod resample;

pub use attention::*;
pub use checkpoint::{
    load_safetensors, parse_safetensors, save_safetensors, to_safetensors_bytes, write_atomically,
    MAX_HEADER_BYTES, MAX_RANK,
};
pub use containers::{ModuleList, Sequential};
pub use conv::*;
pub use embedding::Embedding;
pub use functional::{CrossEntropyOptions, KlReduction, NllLossOptions, Reduction};
pub use hooks::Hooked;
pub use layers::{
    Dropout, Flatten, Identity, LeakyReLU, LogSoftmax, ReLU, SiLU, Sigmoid, Softmax, Tanh,
    Unflatten, GELU,
};
pub use linear::Linear;
pub use loss::modules::{
    BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, CrossEntropyTarget, HuberLoss, KLDivLoss, L1Loss,
    MSELoss, NLLLoss, SmoothL1Loss,
};
pub use module::{repr, Forward, LoadReport, Module, StateDict, Training, Visitor};
pub use norm::{
    BatchNorm1d, BatchNorm2d, BatchNorm3d, GroupNorm, InstanceNorm1d, InstanceNorm2d, LayerNorm,
    RunningStats, NORM_LAYERS,
};
pub use pool::*;
pub use recurrent::*;
pub use resample::*;

/// Every layer and loss of this crate with parameters or a gradient rule of its own composition,
/// besides those of the modules that keep their own lists beside their code
/// ([`RECURRENT_LAYERS`], [`ATTENTION_LAYERS`], [`CONV_LAYERS`], [`POOL_LAYERS`], [`NORM_LAYERS`],
/// [`RESAMPLE_LAYERS`]). `tests/gradcheck.rs` fails if any name in these lists has no gradcheck
/// case.
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
    "Unflatten",
    "Identity",
    "Dropout",
    "Embedding",
    "embedding",
    "cross_entropy",
    "nll_loss",
    "mse_loss",
    "l1_loss",
    "smooth_l1_loss",
    "huber_loss",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "kl_div",
    "cross_entropy_opts",
    "cross_entropy_probs",
    "nll_loss_opts",
];
