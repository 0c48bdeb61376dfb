//! `Tensor<u8>` and `Tensor<Bool>` as a PyTorch user writes them: raw pixels widened with a
//! cast, comparisons, shape ops, and boolean masks counted after a cast to i64.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::Bool;

#[test]
fn u8_pixels_cast_compare_and_reshape_without_widening_by_hand() {
    let pixels = Tensor::from_vec(vec![0u8, 64, 128, 255], [1, 4], &Cpu).unwrap();
    let x = pixels.cast::<f32>().unwrap().div(255.0).unwrap();
    assert_eq!(x.to_vec().unwrap(), [0.0, 64.0 / 255.0, 128.0 / 255.0, 1.0]);
    let bright = pixels.gt(100).unwrap().reshape([2, 2]).unwrap();
    assert_eq!(bright.to_vec().unwrap(), [0, 0, 1, 1]);
    assert_eq!(
        pixels.narrow(1, 2, 2).unwrap().to_vec().unwrap(),
        [128, 255]
    );
}

#[test]
fn bool_masks_cast_and_count() {
    let mask: Tensor<Bool, Cpu> = Tensor::from_vec(
        vec![true, false, true]
            .into_iter()
            .map(Bool::from)
            .collect(),
        [3],
        &Cpu,
    )
    .unwrap();
    let count = mask.cast::<i64>().unwrap().sum().unwrap();
    assert_eq!(count.to_vec().unwrap(), [2]);
    let as_float = mask.cast::<f32>().unwrap();
    assert_eq!(as_float.to_vec().unwrap(), [1.0, 0.0, 1.0]);
    let flipped = mask.eq(Bool::FALSE).unwrap();
    assert_eq!(
        flipped.to_vec().unwrap(),
        [Bool::FALSE, Bool::TRUE, Bool::FALSE]
    );
}
