//! Sizes that overflow or cannot be allocated are errors naming the op, never a panic, an abort
//! or a wrapped count (issue 13, defect 3), through `NDArray`'s public API on the CPU backend.
//! Each case below panicked, aborted or returned a wrong shape before `size.rs` existed.

use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Error, Layout, NDArray, RandomDist, Shape, Window2d};

type A = NDArray<f32, Cpu>;

/// The op and the message of an error, for asserting both.
fn op_and_message(err: &Error) -> (&'static str, String) {
    let op = match err {
        Error::InvalidArgument { op, .. } | Error::Alloc { op, .. } => *op,
        Error::AxisOutOfRange { op, .. } | Error::ReshapeNumel { op, .. } => *op,
        other => panic!("unexpected error kind: {other:?}"),
    };
    (op, err.to_string())
}

#[track_caller]
fn assert_refused<T: std::fmt::Debug>(result: Result<T, Error>, op: &str, why: &str) {
    let err = result.expect_err("an absurd size must be refused");
    let (got_op, msg) = op_and_message(&err);
    assert_eq!(got_op, op, "{msg}");
    assert!(msg.starts_with(&format!("{op}: ")), "{msg}");
    assert!(msg.contains(why), "expected {why:?} in {msg:?}");
}

#[test]
fn constructors_refuse_counts_that_overflow() {
    // Was: "capacity overflow" panic.
    assert_refused(
        A::zeros([usize::MAX, 2], &Cpu),
        "zeros",
        "overflows a usize",
    );
    // Was: a tensor with numel() == 0 (release) or a multiply-overflow panic (debug).
    assert_refused(
        A::zeros([1 << 32, 1 << 32], &Cpu),
        "zeros",
        "18446744073709551616",
    );
    assert_refused(
        A::ones([1 << 32, 1 << 32], &Cpu),
        "ones",
        "overflows a usize",
    );
    assert_refused(
        A::full([1 << 40, 1 << 40], 2.0, &Cpu),
        "full",
        "overflows a usize",
    );
    let normal = RandomDist::Normal {
        mean: 0.0,
        std: 1.0,
    };
    assert_refused(
        A::random([1 << 33, 1 << 33], normal, 0, &Cpu),
        "random",
        "overflows",
    );
    assert_refused(
        A::from_vec(vec![], [1 << 32, 1 << 32], &Cpu),
        "from_vec",
        "overflows",
    );
    assert_refused(
        A::from_slice(&[], [usize::MAX, 3], &Cpu),
        "from_slice",
        "overflows",
    );
    // An empty axis makes any other size fine: PyTorch allows torch.zeros(0, 2**62).
    assert_eq!(A::zeros([0, usize::MAX], &Cpu).unwrap().numel(), 0);
    assert_eq!(A::zeros([usize::MAX, 2, 0], &Cpu).unwrap().numel(), 0);
}

#[test]
fn constructors_refuse_buffers_that_cannot_be_allocated() {
    let normal = RandomDist::Normal {
        mean: 0.0,
        std: 1.0,
    };
    // 4 TiB: was an allocator abort ("memory allocation of 4398046511104 bytes failed").
    let err = A::random([1 << 40], normal, 0, &Cpu).unwrap_err();
    assert!(matches!(err, Error::Alloc { op: "random", .. }), "{err:?}");
    assert!(err.to_string().contains("4.0 TiB"), "{err}");
    // Past isize::MAX bytes: no machine, whatever its memory, can have this one buffer.
    assert_refused(
        A::zeros([1 << 62], &Cpu),
        "zeros",
        "largest possible buffer",
    );
    let err = A::ones([1 << 41], &Cpu).unwrap_err();
    assert!(matches!(err, Error::Alloc { op: "ones", .. }), "{err:?}");
}

#[test]
fn arange_refuses_ranges_it_cannot_count() {
    // Was: "capacity overflow" panic (1e30 elements saturated to usize::MAX).
    assert_refused(A::arange(0.0, 1e30, 1.0, &Cpu), "arange", "1e30 elements");
    assert_refused(
        A::arange(-1e308, 1e308, 1e-300, &Cpu),
        "arange",
        "more than a usize",
    );
    let err = A::arange(0.0, 1e15, 1.0, &Cpu).unwrap_err();
    assert!(matches!(err, Error::Alloc { op: "arange", .. }), "{err:?}");
    assert_eq!(
        A::arange(0.0, 5.0, 2.0, &Cpu).unwrap().to_vec().unwrap(),
        [0.0, 2.0, 4.0]
    );
}

#[test]
fn reshape_and_view_refuse_shapes_that_overflow() {
    let x = A::zeros([8], &Cpu).unwrap();
    // usize::MAX is the older spelling of -1, inferred from the element count.
    assert_eq!(x.reshape([4, usize::MAX]).unwrap().dims(), &[4, 2]);
    // On an empty array -1 infers 0, as in PyTorch (torch.zeros(0).reshape(4, -1) is [4, 0]).
    let empty = A::zeros([0], &Cpu).unwrap();
    assert_eq!(empty.reshape([4, usize::MAX]).unwrap().dims(), &[4, 0]);
    // Sizes that overflow were a multiply-overflow panic in debug builds and could wrap to a
    // matching count in release ones.
    assert_refused(
        x.reshape([4, usize::MAX - 1]),
        "reshape",
        "overflows a usize",
    );
    assert_refused(x.view([1usize << 32, 1 << 32]), "view", "overflows a usize");
    // ...but a shape with an empty axis counts 0 and is a fine view of an empty array.
    assert_eq!(
        empty.reshape([1usize << 40, 0]).unwrap().dims(),
        &[1 << 40, 0]
    );
    assert_refused(
        x.expand([1usize << 32, 1 << 32, 8]),
        "expand",
        "more elements than a usize",
    );
}

#[test]
fn narrow_and_slice_with_huge_arguments_are_errors() {
    let x = A::zeros([5, 3], &Cpu).unwrap();
    assert_refused(
        x.narrow(0, usize::MAX, 2),
        "narrow",
        "exceeds the size (5) of axis 0",
    );
    // Layout::narrow is public too; it computed start + len unchecked (a debug-build panic).
    let l = Layout::contiguous([5, 3]);
    let err = l.narrow(0, usize::MAX, 1).unwrap_err().to_string();
    assert!(
        err.starts_with("narrow: start (18446744073709551615) + length (1) exceeds"),
        "{err}"
    );
    assert!(matches!(
        l.narrow(2, 0, 1),
        Err(Error::AxisOutOfRange { op: "narrow", .. })
    ));
    // A step past the end leaves one element, and must not overflow the stride.
    let s = x.slice(0, 1, 5, usize::MAX).unwrap();
    assert_eq!(s.dims(), &[1, 3]);
    // A hand-made layout whose offset would overflow is an error, not a panic.
    let huge = Layout::new([3], vec![usize::MAX / 2], 2);
    assert!(huge.slice(0, 2, 3, 1).is_err());
}

#[test]
fn shape_counts_never_wrap() {
    assert_eq!(Shape::from([1 << 32, 1 << 32]).checked_numel(), None);
    assert_eq!(Shape::from([1 << 32, 1 << 32]).numel(), usize::MAX);
    assert_eq!(Shape::from([usize::MAX, 2, 0]).checked_numel(), Some(0));
    // Strides of an absurd shape saturate instead of panicking.
    let strides = Shape::from([4, usize::MAX, 2]).contiguous_strides();
    assert_eq!(strides, vec![usize::MAX, 2, 1]);
}

#[test]
fn window_errors_say_which_parameter_is_wrong() {
    let x = A::zeros([1, 1, 4, 4], &Cpu).unwrap();
    let mut w = Window2d::new((2, 2));
    w.stride = (0, 1);
    // Was: "window Window2d { .. } does not fit" for every one of these.
    assert_refused(
        x.im2col(&w),
        "im2col",
        "stride must be positive, got 0 for the height",
    );
    let mut w = Window2d::new((2, 0));
    w.stride = (1, 1);
    assert_refused(x.im2col(&w), "im2col", "kernel size must be positive");
    let mut w = Window2d::new((2, 2));
    w.dilation = (1, 0);
    assert_refused(
        x.im2col(&w),
        "im2col",
        "dilation must be positive, got 0 for the width",
    );
    let mut w = Window2d::new((3, 3));
    w.dilation = (2, 1);
    assert_refused(
        x.im2col(&w),
        "im2col",
        "the kernel spans 5 along the height (size 3, dilation 2) but the padded input has only 4",
    );
    let mut w = Window2d::new((2, 2));
    w.padding = (usize::MAX, 0);
    assert_refused(x.im2col(&w), "im2col", "overflow a usize for the height");
    let ok = Window2d::new((3, 3));
    assert_eq!(x.im2col(&ok).unwrap().dims(), &[1, 9, 4]);
}
