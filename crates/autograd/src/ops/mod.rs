//! Differentiable operations, one file per family, each op's forward and backward side by side.
//!
//! Every backward rule is written with tensor ops. Under a plain `backward()` it runs with
//! recording off; under `create_graph` it is recorded, which is all higher derivatives need.

mod binary;
mod index;
mod matmul;
mod reduce;
mod shape;
mod softmax;
mod unary;
mod window;
