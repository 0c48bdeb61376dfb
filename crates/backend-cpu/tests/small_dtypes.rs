//! `u8` and `Bool` arrays on the CPU: storage, casts, comparisons, wrapping arithmetic, and the
//! ops PyTorch refuses on booleans.

use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Bool, DType, Error, NDArray};

#[test]
fn u8_arrays_store_cast_compare_and_wrap() {
    let pixels = NDArray::from_vec(vec![0u8, 128, 255, 7], [2, 2], &Cpu).unwrap();
    assert_eq!(pixels.dtype(), DType::U8);
    let as_float = pixels.cast::<f32>().unwrap();
    assert_eq!(as_float.to_vec().unwrap(), [0.0, 128.0, 255.0, 7.0]);
    // uint8 arithmetic wraps, as in PyTorch: 255 + 1 == 0.
    let plus_one = pixels.add_scalar(1).unwrap();
    assert_eq!(plus_one.to_vec().unwrap(), [1, 129, 0, 8]);
    let bright = pixels.gt_scalar(100).unwrap();
    assert_eq!(bright.to_vec().unwrap(), [0, 1, 1, 0]);
    assert_eq!(pixels.sum(&[], false).unwrap().to_vec().unwrap(), [134]); // (0+128+255+7) mod 256
    assert_eq!(
        pixels
            .cast::<i64>()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_vec()
            .unwrap(),
        [390]
    );
    assert_eq!(
        pixels.max(&[1], false).unwrap().to_vec().unwrap(),
        [128, 255]
    );
}

#[test]
fn bool_arrays_are_logical_and_refuse_arithmetic_pytorch_refuses() {
    let t = Bool::TRUE;
    let f = Bool::FALSE;
    let a = NDArray::from_vec(vec![t, t, f, f], [4], &Cpu).unwrap();
    let b = NDArray::from_vec(vec![t, f, t, f], [4], &Cpu).unwrap();
    assert_eq!(a.mul(&b).unwrap().to_vec().unwrap(), [t, f, f, f]); // and
    assert_eq!(a.add(&b).unwrap().to_vec().unwrap(), [t, t, t, f]); // or
    assert_eq!(a.eq(&b).unwrap().to_vec().unwrap(), [t, f, f, t]);
    assert_eq!(a.max(&[], false).unwrap().to_vec().unwrap(), [t]); // any
    assert_eq!(a.min(&[], false).unwrap().to_vec().unwrap(), [f]); // all
    let counts = a.cast::<i64>().unwrap().sum_all().unwrap();
    assert_eq!(counts.to_vec().unwrap(), [2]);
    let from_float = NDArray::from_vec(vec![0.0f32, -2.5], [2], &Cpu)
        .unwrap()
        .cast::<Bool>()
        .unwrap();
    assert_eq!(from_float.to_vec().unwrap(), [f, t]);
    assert!(matches!(a.sub(&b), Err(Error::DType { op: "sub", .. })));
    assert!(matches!(a.div(&b), Err(Error::DType { op: "div", .. })));
    let err = a.sum_all().unwrap_err().to_string();
    assert!(err.contains("cast to i64"), "{err}");
    assert!(format!("{a}").contains("True"));
}
