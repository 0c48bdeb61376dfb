//! # nanotorch-autograd
//!
//! Reverse-mode automatic differentiation on a dynamic graph. A [`Tensor`] is an array plus what
//! autograd needs: whether it wants a gradient, a slot for that gradient, and the node that
//! produced it. Every op records its inputs and a backward rule as it runs; `backward()` walks the
//! graph from the output back, summing gradients at each tensor.
//!
//! Where to read first: `tensor.rs` (what a tensor is), `backward.rs` (the whole algorithm),
//! then any file under `ops/` (each op's forward and backward side by side). Chapter 3 of the book
//! (`docs/03-autograd.md`) teaches this crate.
//!
//! Around the engine: hooks on tensors' gradients, `retain_grad`, post-accumulate hooks and
//! `queue_callback` (`hooks.rs`), and anomaly detection, which finds the op and the line of your
//! code that first made a NaN or an Inf (`anomaly.rs`).
#![deny(missing_docs)]

mod anomaly;
mod backward;
mod creation;
mod generator;
mod grad_mode;
pub mod gradcheck;
mod graph;
mod hooks;
mod op_error;
mod operators;
mod ops;
mod tensor;

pub use anomaly::{detect_anomaly, is_anomaly_enabled, set_detect_anomaly};
pub use backward::{grad, BackwardOptions};
pub use generator::{manual_seed, next_seed};
pub use grad_mode::{enable_grad, is_grad_enabled, no_grad, no_grad_guard, GradModeGuard};
pub use gradcheck::{gradcheck, GradcheckOptions};
pub use hooks::{queue_callback, HookHandle};
pub use op_error::{in_op, relabel};
pub use ops::{
    Conv1dOptions, Conv2dOptions, ConvOptions, ConvPadding, ConvTranspose1dOptions,
    ConvTranspose2dOptions, ConvTransposeOptions, IntoOperand, Operand, PadMode, CONV_OPS,
    POOL_OPS,
};
pub use tensor::{BackwardFn, Tensor};

/// Every differentiable op of this crate outside the op tables, by name. The gradcheck suite
/// (`tests/gradcheck.rs`) fails if any name here has no gradcheck case, so coverage cannot
/// silently drop. The table ops (`UnaryOp::ALL`, `BinaryOp::ALL`) need no entry: the suite
/// iterates the tables themselves. The convolution and pooling families keep their lists beside
/// their code ([`CONV_OPS`], [`POOL_OPS`]); the suite checks those too.
pub const DIFFERENTIABLE_OPS: &[&str] = &[
    "add_scalar",
    "sub_scalar",
    "rsub_scalar",
    "mul_scalar",
    "div_scalar",
    "rdiv_scalar",
    "pow_scalar",
    "rpow_scalar",
    "maximum_scalar",
    "minimum_scalar",
    "leaky_relu",
    "elu",
    "clamp",
    "hardtanh",
    "celu",
    "softplus_with",
    "sum",
    "mean",
    "prod",
    "max",
    "min",
    "max_all",
    "min_all",
    "max_dim",
    "min_dim",
    "median_dim",
    "kthvalue",
    "var",
    "std",
    "logsumexp",
    "matmul",
    "reshape",
    "view",
    "permute",
    "transpose",
    "t",
    "expand",
    "squeeze",
    "unsqueeze",
    "flatten",
    "narrow",
    "slice",
    "index_select",
    "gather",
    "scatter_add",
    "cat",
    "stack",
    "split",
    "chunk",
    "where",
    "masked_fill",
    "softmax",
    "log_softmax",
    "dropout",
    "contiguous",
    "tril",
    "triu",
    "repeat",
    "select",
    "split_sizes",
    "masked_select",
    "topk",
    "cumsum",
    "bmm",
    "baddbmm",
    "addmm",
    "unbind",
    "causal_softmax",
];
