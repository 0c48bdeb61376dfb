//! The error family: each kind of precondition mistake, made directly through the [`Backend`]
//! trait (below `NDArray`, which would catch most of them first), gives the variant that
//! [`crate::checks`] documents, on every backend. A device must not turn a shape mistake into
//! a driver error, nor report an index out of range any differently from the CPU.

use super::*;
use crate::{checks, Layout};

/// Fails the case unless `res` is an error matching `want` (described by `variant`).
fn expect<T: std::fmt::Debug>(
    what: &str,
    variant: &str,
    res: crate::Result<T>,
    want: impl Fn(&Error) -> bool,
) -> CaseResult {
    match res {
        Err(e) if want(&e) => Ok(()),
        other => Err(TestCaseError::fail(format!(
            "{what}: expected Error::{variant}, got {other:?}"
        ))),
    }
}

/// Every mistake of the `checks` table, once per dtype.
fn errors<E: Float, B: Backend>(b: &B) -> CaseResult {
    let st = |v: &[f64]| -> std::result::Result<B::Storage<E>, TestCaseError> {
        let data: Vec<E> = v.iter().map(|&x| E::from_f64(x)).collect();
        ok("from_slice", b.from_slice(&data))
    };
    let ix = |v: &[i64]| ok("from_slice", b.from_slice(v));
    let vals: Vec<f64> = (0..12).map(|i| i as f64 - 5.5).collect();
    let x = st(&vals)?;
    let c = |dims: &[usize]| Layout::contiguous(dims.to_vec());
    let (l34, l43) = (c(&[3, 4]), c(&[4, 3]));
    let invalid = |op: &'static str| move |e: &Error| matches!(e, Error::InvalidArgument { op: o, .. } if *o == op);
    let mismatch = |op: &'static str| move |e: &Error| matches!(e, Error::ShapeMismatch { op: o, .. } if *o == op);
    let axis_oor = |e: &Error| matches!(e, Error::AxisOutOfRange { .. });

    // 1. A layout reaching past its storage: InvalidArgument naming the op.
    let past = Layout::new(vec![3, 5], vec![5, 1], 0); // needs 15 of 12
    expect(
        "copy past the end",
        "InvalidArgument",
        b.copy_strided(&x, &past),
        invalid("copy"),
    )?;
    expect(
        "unary past the end",
        "InvalidArgument",
        b.unary(UnaryOp::Exp, &x, &past),
        invalid(UnaryOp::Exp.name()),
    )?;
    expect(
        "binary past the end",
        "InvalidArgument",
        b.binary(BinaryOp::Add, &x, &past, &x, &past),
        invalid(BinaryOp::Add.name()),
    )?;
    expect(
        "to_vec past the end",
        "InvalidArgument",
        b.to_vec(&x, &past),
        |e| matches!(e, Error::InvalidArgument { .. }),
    )?;
    let m3 = Layout::new(vec![1, 3, 5], vec![0, 5, 1], 0);
    expect(
        "matmul past the end",
        "InvalidArgument",
        b.matmul(&x, &m3, &x, &Layout::new(vec![1, 5, 2], vec![0, 2, 1], 0)),
        invalid("matmul"),
    )?;

    // 2. Shapes that must agree: ShapeMismatch naming the op.
    expect(
        "binary of [3, 4] and [4, 3]",
        "ShapeMismatch",
        b.binary(BinaryOp::Mul, &x, &l34, &x, &l43),
        mismatch(BinaryOp::Mul.name()),
    )?;
    expect(
        "where with a [4, 3] branch",
        "ShapeMismatch",
        b.where_cond(&x, &l34, &x, &l43, &x, &l34),
        mismatch("where"),
    )?;
    let mut dst = st(&vals)?;
    expect(
        "assign [4, 3] into [3, 4]",
        "ShapeMismatch",
        b.assign(&mut dst, &l34, &x, &l43),
        mismatch("assign"),
    )?;
    expect(
        "matmul [1, 3, 4] @ [1, 3, 4]",
        "ShapeMismatch",
        b.matmul(&x, &c(&[1, 3, 4]), &x, &c(&[1, 3, 4])),
        mismatch("matmul"),
    )?;
    expect(
        "matmul of rank 2",
        "ShapeMismatch",
        b.matmul(&x, &l34, &x, &l43),
        mismatch("matmul"),
    )?;

    // 3. In-place writes into a broadcast view: InvalidArgument.
    let bcast = Layout::new(vec![3, 4], vec![0, 1], 0);
    expect(
        "assign into a broadcast view",
        "InvalidArgument",
        b.assign(&mut dst, &bcast, &x, &l34),
        invalid("assign"),
    )?;
    expect(
        "add_ into a broadcast view",
        "InvalidArgument",
        b.binary_inplace(BinaryOp::Add, &mut dst, &bcast, &x, &l34),
        invalid(BinaryOp::Add.name()),
    )?;
    expect(
        "mul_ scalar into a broadcast view",
        "InvalidArgument",
        b.scalar_inplace(BinaryOp::Mul, &mut dst, &bcast, E::ONE),
        invalid(BinaryOp::Mul.name()),
    )?;
    expect(
        "axpby into a broadcast view",
        "InvalidArgument",
        b.axpby_inplace(&mut dst, &bcast, E::ONE, &x, &l34, E::ONE),
        invalid("axpby"),
    )?;
    ensure(
        ok("to_vec", b.to_vec(&dst, &l34))? == ok("to_vec", b.to_vec(&x, &l34))?,
        || "a rejected in-place write changed its destination".to_string(),
    )?;

    // 4. Axes: out of range is AxisOutOfRange; unsorted or empty is InvalidArgument.
    let sum = ReduceOp::Sum.name();
    expect(
        "sum over axis 2 of rank 2",
        "AxisOutOfRange",
        b.reduce(ReduceOp::Sum, &x, &l34, &[2]),
        axis_oor,
    )?;
    expect(
        "sum over axes [1, 0]",
        "InvalidArgument",
        b.reduce(ReduceOp::Sum, &x, &l34, &[1, 0]),
        invalid(sum),
    )?;
    expect(
        "sum over axes [1, 1]",
        "InvalidArgument",
        b.reduce(ReduceOp::Sum, &x, &l34, &[1, 1]),
        invalid(sum),
    )?;
    let argmax = ArgReduceOp::ArgMax.name();
    expect(
        "argmax over axis 2 of rank 2",
        "AxisOutOfRange",
        b.arg_reduce(ArgReduceOp::ArgMax, &x, &l34, 2),
        axis_oor,
    )?;
    expect(
        "argmax over an empty axis",
        "InvalidArgument",
        b.arg_reduce(ArgReduceOp::ArgMax, &x, &c(&[3, 0]), 1),
        invalid(argmax),
    )?;

    // 5. Index ops: axis, index shape, index values.
    let i32_ = ix(&[0, 1, 2, 3, 0, 1])?;
    let il = c(&[3, 2]);
    expect(
        "gather on axis 2",
        "AxisOutOfRange",
        b.gather(&x, &l34, &i32_, &il, 2),
        axis_oor,
    )?;
    expect(
        "gather with a larger index",
        "ShapeMismatch",
        b.gather(&x, &l34, &i32_, &c(&[6, 1]), 1),
        mismatch("gather"),
    )?;
    expect(
        "index_select with a 2-D index",
        "InvalidArgument",
        b.index_select(&x, &l34, &i32_, &il, 0),
        invalid("index_select"),
    )?;
    expect(
        "index_select on axis 2",
        "AxisOutOfRange",
        b.index_select(&x, &l34, &i32_, &c(&[6]), 2),
        axis_oor,
    )?;
    let src = st(&[1.0; 6])?;
    let mut dst = st(&vals)?;
    expect(
        "scatter_add with a src unlike the index",
        "ShapeMismatch",
        b.scatter_add(&mut dst, &l34, &i32_, &il, &src, &c(&[2, 3]), 1),
        mismatch("scatter_add"),
    )?;
    // Index values: the first bad one in row-major order is named, on every device.
    let bad = ix(&[0, 1, 2, 4, -1, 9])?;
    let oob = |op: &'static str, index: i64, axis: usize, size: usize| {
        move |e: &Error| {
            *e == Error::IndexOutOfBounds {
                op,
                index,
                axis,
                size,
            }
        }
    };
    expect(
        "gather index 4 of 4",
        "IndexOutOfBounds",
        b.gather(&x, &l34, &bad, &il, 1),
        oob("gather", 4, 1, 4),
    )?;
    expect(
        "scatter_add index 4 of 4",
        "IndexOutOfBounds",
        b.scatter_add(&mut dst, &l34, &bad, &il, &src, &il, 1),
        oob("scatter_add", 4, 1, 4),
    )?;
    ensure(
        ok("to_vec", b.to_vec(&dst, &l34))? == ok("to_vec", b.to_vec(&x, &l34))?,
        || "a rejected scatter_add changed its destination".to_string(),
    )?;
    // Through a strided view of the index: [[0, 2], [-1, ..]] reads -1 first.
    let view = Layout::new(vec![2, 2], vec![4, 2], 0);
    let bad2 = ix(&[0, 7, 2, 7, -1, 7, 3, 7])?;
    expect(
        "gather index -1 through a view",
        "IndexOutOfBounds",
        b.gather(&x, &l34, &bad2, &view, 1),
        oob("gather", -1, 1, 4),
    )?;
    expect(
        "index_select index 3 of 3",
        "IndexOutOfBounds",
        b.index_select(&x, &l34, &ix(&[2, 3])?, &c(&[2]), 0),
        oob("index_select", 3, 0, 3),
    )?;

    // 6. Windows: a wrong rank, a window that does not fit, columns unlike their image.
    let img = c(&[1, 1, 3, 4]);
    let w3 = Window2d::new((3, 3));
    expect(
        "im2col of rank 2",
        "InvalidArgument",
        b.im2col(&x, &l34, &w3),
        invalid("im2col"),
    )?;
    expect(
        "im2col with a 4x4 kernel on 3x4",
        "InvalidArgument",
        b.im2col(&x, &img, &Window2d::new((4, 4))),
        invalid("im2col"),
    )?;
    let zero_stride = Window2d {
        stride: (0, 1),
        ..w3
    };
    expect(
        "im2col with stride 0",
        "InvalidArgument",
        b.im2col(&x, &img, &zero_stride),
        invalid("im2col"),
    )?;
    // 3x4 image, 3x3 window: 1x2 positions, columns [1, 9, 2]; [1, 6, 2] does not match.
    expect(
        "col2im of mismatched columns",
        "InvalidArgument",
        b.col2im(&x, &c(&[1, 6, 2]), 1, (3, 4), &w3),
        invalid("col2im"),
    )?;
    // And the geometry both backends compute agrees with the shared check.
    let g = ok("checks::im2col", checks::im2col(&img, &w3))?;
    let cols = ok("im2col", b.im2col(&x, &img, &w3))?;
    ensure(b.storage_len(&cols) == g.cols_len(&w3), || {
        format!(
            "im2col gave {} elements, checks say {}",
            b.storage_len(&cols),
            g.cols_len(&w3)
        )
    })?;
    Ok(())
}

/// Each kind of precondition mistake gives the same [`Error`] variant on every backend (the
/// table in [`crate::checks`]), and a rejected in-place op leaves its destination untouched.
pub fn check_errors<B: Backend>(b: &B) {
    // Deterministic: one run is the whole family.
    for (dtype, res) in [("f32", errors::<f32, B>(b)), ("f64", errors::<f64, B>(b))] {
        if let Err(e) = res {
            panic!("conformance `errors {dtype}` failed: {e}");
        }
    }
}
