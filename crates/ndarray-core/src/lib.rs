//! # nanotorch-ndarray-core
//!
//! The vocabulary every nanotorch crate speaks: [`Shape`], [`Layout`] (shape + strides + offset)
//! with its zero-copy view algebra, element types ([`Element`], [`Float`], [`DType`]), the
//! [`Backend`] trait that devices implement, and [`NDArray`], a strided array on a backend.
//!
//! This crate computes nothing by itself: pair it with a backend such as
//! `nanotorch-backend-cpu`. Chapter 1 of the book (`docs/01-arrays.md`) teaches it.
#![deny(missing_docs)]

mod array;
mod backend;
mod dtype;
mod error;
mod layout;
mod op;
pub mod random;
mod shape;
mod strided_index;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use array::NDArray;
pub use backend::{Backend, StorageOf};
pub use dtype::{DType, Element, Float};
pub use error::{Error, Result};
pub use layout::Layout;
pub use op::{ArgReduceOp, BinaryOp, RandomDist, ReduceOp, ScalarSide, UnaryOp, Window2d};
pub use random::Generator;
pub use shape::Shape;
pub use strided_index::StridedIndex;
