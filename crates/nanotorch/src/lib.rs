//! # nanotorch
//!
//! A PyTorch-like deep-learning library written from scratch in Rust. This facade crate is where a
//! user starts: it re-exports the layers, each of which is also usable on its own.
//!
//! - [`ndarray`]: `nanotorch-ndarray-core`: shapes, strided layouts and zero-copy views, element
//!   types, the `Backend` trait and `NDArray`.
//! - [`Cpu`]: the CPU backend (`nanotorch-backend-cpu`).
//!
//! The book in `docs/` teaches one layer per chapter.
#![deny(missing_docs)]

pub use nanotorch_autograd as autograd;
pub use nanotorch_backend_cpu::Cpu;
pub use nanotorch_ndarray_core as ndarray;
