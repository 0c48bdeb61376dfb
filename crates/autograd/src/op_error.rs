//! Errors that name the op the user called.
//!
//! Many ops are built from others: `logsumexp` takes a `max`, `conv1d` is a `conv2d` of an
//! unsqueezed input, `masked_fill` is a `where`. An error raised inside the inner op carries the
//! inner op's name, so a user who called `logsumexp(&[4])` would read `max: axis 4 is out of
//! range` and look for a `max` they never wrote. A composite op therefore runs its body inside
//! [`in_op`], which re-labels any error from the body with the outer op's name while keeping the
//! variant and the shapes it carries. The outermost scope wins, so an op built from composite
//! ops still reports under its own name.

use nanotorch_ndarray_core::{Error, Result};

/// `err` with its op replaced by `op`; the kind of error and the shapes it carries are kept.
/// Errors that name no op (`Backend`, `Io`, `Msg`) are returned unchanged: they describe a
/// device or a file, not an argument of the op.
///
/// ```
/// use nanotorch_autograd::relabel;
/// use nanotorch_ndarray_core::{Error, Shape};
///
/// let inner = Error::invalid("max", "axis 2 is out of range", &Shape::from(vec![3]));
/// assert_eq!(
///     relabel(inner, "logsumexp").to_string(),
///     "logsumexp: axis 2 is out of range (shape [3])"
/// );
/// ```
pub fn relabel(err: Error, op: &'static str) -> Error {
    match err {
        Error::Broadcast { lhs, rhs, .. } => Error::Broadcast { op, lhs, rhs },
        Error::ShapeMismatch { what, lhs, rhs, .. } => Error::ShapeMismatch { op, what, lhs, rhs },
        Error::AxisOutOfRange { axis, shape, .. } => Error::AxisOutOfRange { op, axis, shape },
        Error::ReshapeNumel { from, to, .. } => Error::ReshapeNumel { op, from, to },
        Error::NotViewable {
            shape, strides, to, ..
        } => Error::NotViewable {
            op,
            shape,
            strides,
            to,
        },
        Error::InvalidArgument { msg, shape, .. } => Error::InvalidArgument { op, msg, shape },
        Error::DType { expected, got, .. } => Error::DType { op, expected, got },
        Error::IndexOutOfBounds {
            index, axis, size, ..
        } => Error::IndexOutOfBounds {
            op,
            index,
            axis,
            size,
        },
        Error::DataLength { len, shape, .. } => Error::DataLength { op, len, shape },
        Error::Alloc { what, why, .. } => Error::Alloc { op, what, why },
        other => other,
    }
}

/// Runs `body`, the implementation of the public op `op`, and re-labels any error it returns
/// with `op` (see [`relabel`]). Every op composed of other ops runs its body through this, so
/// its errors name it, not the op it happens to be built from.
///
/// ```
/// use nanotorch_autograd::{in_op, Tensor};
/// use nanotorch_backend_cpu::Cpu;
///
/// // A user-level composite op: its errors read `my_norm: …`, never `sum: …`.
/// fn my_norm(x: &Tensor<f32, Cpu>, axis: isize) -> nanotorch_ndarray_core::Result<Tensor<f32, Cpu>> {
///     in_op("my_norm", || x.square()?.sum_dims(&[axis], false)?.sqrt())
/// }
/// let x = Tensor::<f32, Cpu>::ones([3], &Cpu).unwrap();
/// let err = my_norm(&x, 4).unwrap_err().to_string();
/// assert!(err.starts_with("my_norm: axis 4 is out of range"), "{err}");
/// ```
///
/// In anomaly mode, every op run inside `body` records the caller of the composite op as its
/// source location.
#[track_caller]
pub fn in_op<T>(op: &'static str, body: impl FnOnce() -> Result<T>) -> Result<T> {
    crate::anomaly::at_caller(std::panic::Location::caller(), body).map_err(|e| relabel(e, op))
}
