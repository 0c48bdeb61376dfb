//! # nanotorch-scalar
//!
//! The smallest autograd engine, as a first lesson: a scalar [`Value`] that remembers the op that
//! made it and how to send a gradient back through that op, a [`Value::backward`] that applies the
//! chain rule over the whole graph, and a tiny neural network ([`Neuron`], [`Layer`], [`MLP`])
//! built from it. It follows Andrej Karpathy's [micrograd](https://github.com/karpathy/micrograd)
//! closely, in Rust and with no dependencies; chapter 0 of the nanotorch book teaches it.
//!
//! ```
//! use nanotorch_scalar::Value;
//!
//! let a = Value::new(-4.0);
//! let b = Value::new(2.0);
//! let c = (&a * &b + b.powf(3.0)).tanh(); // tanh(0) = 0
//! c.backward();
//! assert_eq!(c.data(), 0.0);
//! assert_eq!(a.grad(), 2.0); // (1 − tanh²)·b
//! ```
//!
//! Read the files in this order, one idea each: `value.rs` (the node), `ops.rs` (each op's
//! forward and local derivative), `backward.rs` (ordering the graph and the chain rule), `nn.rs`
//! (neurons and layers), `loss.rs`; `rng.rs` and `moons.rs` only make the data and the initial
//! weights. Then `examples/moons.rs` trains it all.
#![deny(missing_docs)]

mod backward;
mod loss;
mod moons;
mod nn;
mod ops;
mod rng;
mod value;

pub use loss::{accuracy, max_margin_loss};
pub use moons::make_moons;
pub use nn::{Layer, Module, Neuron, MLP};
pub use rng::Rng;
pub use value::Value;

// The README's examples run as doctests too, so they cannot drift from the code.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
