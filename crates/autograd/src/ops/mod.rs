//! Differentiable operations, one file per family, each op's forward and backward side by side.
//!
//! Every backward rule is written with tensor ops. Under a plain `backward()` it runs with
//! recording off; under `create_graph` it is recorded, which is all higher derivatives need.
//! Shape, index, join and select ops are written for every element type; only float tensors
//! record their backward rules.
//!
//! Every method on the way from a public op down to `Tensor::try_from_op` carries
//! `#[track_caller]`, so that in anomaly mode the op records the line of the user's code that
//! called it (see `anomaly.rs`). A new op keeps that chain unbroken by marking its methods too.

mod binary;
mod dropout;
mod index;
mod join;
mod matmul;
mod operand;
mod pad;
mod pieces;
mod pool;
mod reduce;
mod sample;
mod scan;
mod select;
mod shape;
mod softmax;
mod triangle;
mod unary;
mod window;

pub use operand::{IntoOperand, Operand};
pub use pad::PadMode;
pub use pool::POOL_OPS;
pub use window::{
    Conv1dOptions, Conv2dOptions, ConvOptions, ConvPadding, ConvTranspose1dOptions,
    ConvTranspose2dOptions, ConvTransposeOptions, CONV_OPS,
};
