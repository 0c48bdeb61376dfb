//! The one error type of nanotorch's tensor layers.
//!
//! Every variant that involves shapes carries them, so a message reads like
//! `matmul: inner dimensions differ: lhs [2, 3] vs rhs [4, 5]` rather than "shape error".

use crate::{DType, Shape};
use std::sync::Arc;

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
    /// A buffer that cannot be allocated: its element count overflows, it is larger than one
    /// allocation may be or than the machine's memory, or the allocator refused it (see
    /// [`crate::size`]). PyTorch raises an out-of-memory error in the same places.
    #[error("{op}: cannot allocate {what}: {why}")]
    Alloc {
        /// The operation that asked for the buffer.
        op: &'static str,
        /// What was asked for (`shape [4294967296, 4294967296] of f32`).
        what: String,
        /// Why it cannot be had.
        why: String,
    },
    /// A device / driver error, or a backend that cannot do what was asked.
    #[error("{backend} backend: {msg}")]
    Backend {
        /// Which backend ("cpu", "cuda").
        backend: &'static str,
        /// The message.
        msg: String,
    },
    /// An I/O error (reading a checkpoint or a data file, writing a plot), kept whole: its kind
    /// and its own source stay reachable, so `main() -> nanotorch::Result<()>` can use `?` on
    /// file operations.
    #[error("I/O error: {0}")]
    Io(#[source] IoError),
    /// Anything else, with its own message (parse errors in higher layers).
    #[error("{0}")]
    Msg(String),
}

/// A [`std::io::Error`] that can live inside [`Error`], which is `Clone` and `PartialEq` (the
/// I/O error is neither): it is shared behind an `Arc`, and two compare equal when their kind
/// and message agree.
#[derive(Debug, Clone)]
pub struct IoError(Arc<std::io::Error>);

impl IoError {
    /// The kind of the I/O error (`NotFound`, `PermissionDenied`, ...).
    pub fn kind(&self) -> std::io::ErrorKind {
        self.0.kind()
    }

    /// The original I/O error.
    pub fn get_ref(&self) -> &std::io::Error {
        &self.0
    }
}

impl PartialEq for IoError {
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind() && self.0.to_string() == other.0.to_string()
    }
}

impl std::fmt::Display for IoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for IoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<std::io::Error> for Error {
    /// Lets `?` turn a failed file operation into nanotorch's error:
    ///
    /// ```
    /// use nanotorch_ndarray_core::{Error, Result};
    ///
    /// fn load(path: &str) -> Result<Vec<u8>> {
    ///     Ok(std::fs::read(path)?)
    /// }
    ///
    /// let err = load("/no/such/checkpoint.safetensors").unwrap_err();
    /// assert!(matches!(&err, Error::Io(io) if io.kind() == std::io::ErrorKind::NotFound));
    /// assert!(err.to_string().starts_with("I/O error: "));
    /// ```
    fn from(err: std::io::Error) -> Self {
        Error::Io(IoError(Arc::new(err)))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;
    use std::io::{self, ErrorKind};

    fn open_missing() -> Result<std::fs::File> {
        Ok(std::fs::File::open("/definitely/not/here.idx")?)
    }

    #[test]
    fn question_mark_carries_an_io_error_with_its_kind() {
        let err = open_missing().unwrap_err();
        let Error::Io(io) = &err else {
            panic!("expected Error::Io, got {err:?}");
        };
        assert_eq!(io.kind(), ErrorKind::NotFound);
        // The message is the I/O error's own, after a prefix saying what kind of error it is.
        assert_eq!(err.to_string(), format!("I/O error: {}", io.get_ref()));
        assert!(
            err.source().is_some(),
            "the I/O error stays reachable as the source"
        );
    }

    #[test]
    fn io_errors_compare_by_kind_and_message_and_survive_clone() {
        let a: Error = io::Error::new(ErrorKind::InvalidData, "bad magic number").into();
        let b: Error = io::Error::new(ErrorKind::InvalidData, "bad magic number").into();
        let c: Error = io::Error::new(ErrorKind::UnexpectedEof, "bad magic number").into();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.clone(), a);
        // A custom I/O error shows its payload's message, as std's does.
        let custom: Error = io::Error::other(Error::msg("header too short")).into();
        assert_eq!(custom.to_string(), "I/O error: header too short");
    }
}
