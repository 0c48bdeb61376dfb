//! The one error type of nanotorch's tensor layers.
//!
//! Every variant that involves shapes carries them, so a message reads like
//! `matmul: inner dimensions differ: lhs [2, 3] vs rhs [4, 5]` rather than "shape error".

use crate::{DType, Shape};

/// Errors raised by array operations and backends.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Two shapes that must broadcast against each other do not.
    #[error("{op}: shapes {lhs} and {rhs} cannot be broadcast together")]
    Broadcast {
        /// The operation that tried to broadcast.
        op: &'static str,
        /// Left operand shape.
        lhs: Shape,
        /// Right operand shape.
        rhs: Shape,
    },
    /// Two shapes that must agree (in some specific way described by `what`) do not.
    #[error("{op}: {what}: lhs {lhs} vs rhs {rhs}")]
    ShapeMismatch {
        /// The operation.
        op: &'static str,
        /// Which constraint failed, e.g. "inner dimensions differ".
        what: &'static str,
        /// Left operand shape.
        lhs: Shape,
        /// Right operand shape.
        rhs: Shape,
    },
    /// An axis index outside `-rank..rank`.
    #[error("{op}: axis {axis} is out of range for a tensor of shape {shape} (rank {rank})", rank = shape.rank())]
    AxisOutOfRange {
        /// The operation.
        op: &'static str,
        /// The axis as the caller gave it (may be negative).
        axis: isize,
        /// The shape it was applied to.
        shape: Shape,
    },
    /// A reshape to a shape with a different number of elements.
    #[error("{op}: cannot reshape {from} ({from_numel} elements) into {to} ({to_numel} elements)", from_numel = from.numel(), to_numel = to.numel())]
    ReshapeNumel {
        /// The operation.
        op: &'static str,
        /// Source shape.
        from: Shape,
        /// Requested shape.
        to: Shape,
    },
    /// A view was asked of a layout whose strides do not allow it without a copy.
    #[error("{op}: cannot view shape {shape} with strides {strides:?} as {to} without a copy; call contiguous() or use reshape")]
    NotViewable {
        /// The operation.
        op: &'static str,
        /// Source shape.
        shape: Shape,
        /// Source strides.
        strides: Vec<usize>,
        /// Requested shape.
        to: Shape,
    },
    /// Any other invalid argument (a slice past the end, a zero step, a bad permutation, ...).
    #[error("{op}: {msg} (shape {shape})")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What was wrong.
        msg: String,
        /// The shape of the input involved.
        shape: Shape,
    },
    /// An operand had the wrong element type.
    #[error("{op}: expected dtype {expected}, got {got}")]
    DType {
        /// The operation.
        op: &'static str,
        /// Expected dtype.
        expected: DType,
        /// Actual dtype.
        got: DType,
    },
    /// An index (gather, index_select, embedding, a label) outside its axis.
    #[error("{op}: index {index} is out of bounds for axis {axis} of size {size}")]
    IndexOutOfBounds {
        /// The operation.
        op: &'static str,
        /// The offending index value.
        index: i64,
        /// The axis indexed.
        axis: usize,
        /// The size of that axis.
        size: usize,
    },
    /// The number of data elements given does not match the shape.
    #[error("{op}: {len} elements given for shape {shape} ({numel} elements)", numel = shape.numel())]
    DataLength {
        /// The operation.
        op: &'static str,
        /// How many elements were given.
        len: usize,
        /// The shape they were meant for.
        shape: Shape,
    },
    /// A device / driver error, or a backend that cannot do what was asked.
    #[error("{backend} backend: {msg}")]
    Backend {
        /// Which backend ("cpu", "cuda").
        backend: &'static str,
        /// The message.
        msg: String,
    },
    /// Anything else, with its own message (I/O, parse errors in higher layers).
    #[error("{0}")]
    Msg(String),
}

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(op: &'static str, msg: impl Into<String>, shape: &Shape) -> Self {
        Error::InvalidArgument {
            op,
            msg: msg.into(),
            shape: shape.clone(),
        }
    }

    /// Shorthand for a free-form [`Error::Msg`].
    pub fn msg(msg: impl Into<String>) -> Self {
        Error::Msg(msg.into())
    }
}

/// `Result` with nanotorch's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
