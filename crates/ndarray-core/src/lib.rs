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
pub mod checks;
mod dtype;
mod error;
mod layout;
pub mod op;
pub mod random;
mod shape;
pub mod size;
mod strided_index;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use array::{LstmSaved, LstmStep, LstmTrace, NDArray};
pub use backend::{Backend, StorageOf};
pub use dtype::{Bool, DType, Element, Float};
pub use error::{Error, IoError, Result};
pub use layout::Layout;
pub use op::{
    binary_kernels, math, unary_kernels, ArgReduceOp, BinaryKernel, BinaryKind, BinaryOp,
    BinaryVisitor, Domain, FusedStep, LstmUnit, LstmUnitGrad, RandomDist, ReduceOp, ScalarSide,
    SgdMomentum, StepDirection, UnaryKernel, UnaryOp, UnaryVisitor, Window2d,
};
pub use random::Generator;
pub use shape::{Dims, MatmulShapes, Shape};
pub use strided_index::StridedIndex;
