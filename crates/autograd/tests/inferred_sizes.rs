//! PyTorch's `-1` wherever a size is inferred: `reshape`, `view` (from the element count) and
//! `expand` (keep the axis), on tensors and on the arrays underneath, with errors that name the op
//! and both shapes.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{NDArray, Shape};

fn iota(dims: &[usize]) -> Tensor<f64, Cpu> {
    let n: usize = dims.iter().product();
    Tensor::from_vec((0..n).map(|i| i as f64).collect(), dims.to_vec(), &Cpu).unwrap()
}

#[test]
fn every_spelling_of_a_shape_is_accepted() {
    let x = iota(&[2, 3, 4]);
    let (b, c) = (2usize, 12usize);
    let want = [2usize, 12];
    assert_eq!(x.reshape([2, 12]).unwrap().dims(), want);
    assert_eq!(x.reshape([b, c]).unwrap().dims(), want);
    assert_eq!(x.reshape([2, -1]).unwrap().dims(), want);
    assert_eq!(x.reshape([b as isize, -1]).unwrap().dims(), want);
    assert_eq!(x.reshape(vec![-1i64, 12]).unwrap().dims(), want);
    assert_eq!(x.reshape(&[2usize, 12][..]).unwrap().dims(), want);
    assert_eq!(x.reshape(&[-1isize, 12][..]).unwrap().dims(), want);
    assert_eq!(x.reshape(Shape::from([2, 12])).unwrap().dims(), want);
    assert_eq!(x.reshape(vec![2usize, 12]).unwrap().dims(), want);
    assert_eq!(x.reshape([b, usize::MAX]).unwrap().dims(), want); // the older spelling of -1
    assert_eq!(x.reshape(-1).unwrap().dims(), [24]);
    assert_eq!(x.reshape(24).unwrap().dims(), [24]);
    assert_eq!(x.view([-1, 4]).unwrap().dims(), [6, 4]);
    // The values keep their row-major order.
    let flat: Vec<f64> = (0..24).map(f64::from).collect();
    assert_eq!(x.view([4, -1]).unwrap().to_vec().unwrap(), flat);
    let scalar = Tensor::<f64, Cpu>::scalar(5.0, &Cpu).unwrap();
    assert_eq!(scalar.reshape([-1]).unwrap().dims(), [1]);
    assert_eq!(iota(&[1]).reshape(()).unwrap().rank(), 0);
}

#[test]
fn inferred_sizes_work_on_labels_and_arrays_too() {
    let y = Tensor::<i64, Cpu>::from_vec((0..12).collect(), [12], &Cpu).unwrap();
    assert_eq!(y.view([-1, 3]).unwrap().dims(), [4, 3]);
    let a = NDArray::<f32, Cpu>::zeros([6, 5], &Cpu).unwrap();
    assert_eq!(a.reshape([3, -1]).unwrap().dims(), [3, 10]);
    assert_eq!(a.view([-1]).unwrap().dims(), [30]);
    assert_eq!(
        a.narrow(1, 0, 1).unwrap().expand([-1, 4]).unwrap().dims(),
        [6, 4]
    );
}

#[test]
fn reshape_errors_name_the_op_and_both_shapes() {
    let x = iota(&[3, 4]);
    for (op, err) in [
        ("reshape", x.reshape([-1, 5]).unwrap_err()),
        ("view", x.view([5, -1]).unwrap_err()),
    ] {
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("{op}:")), "{msg}");
        assert!(
            msg.contains("[3, 4]") && msg.contains('5') && msg.contains("-1"),
            "{msg}"
        );
    }
    let msg = x.reshape([-1, -1]).unwrap_err().to_string();
    assert!(
        msg.starts_with("reshape:") && msg.contains("only one"),
        "{msg}"
    );
    let msg = x.reshape([-3, 4]).unwrap_err().to_string();
    assert!(msg.contains("-3") && msg.contains("[3, 4]"), "{msg}");
    // Without -1, a wrong element count is named by the op that was called.
    let msg = x.view([5, 5]).unwrap_err().to_string();
    assert!(
        msg.starts_with("view:") && msg.contains("[5, 5]") && msg.contains("[3, 4]"),
        "{msg}"
    );
    // A view of a transposed tensor needs a copy; reshape makes it, view says so.
    let t = x.t().unwrap();
    assert_eq!(
        t.reshape([-1]).unwrap().to_vec().unwrap()[..4],
        [0.0, 4.0, 8.0, 1.0]
    );
    let msg = t.view([-1]).unwrap_err().to_string();
    assert!(
        msg.starts_with("view:") && msg.contains("contiguous"),
        "{msg}"
    );
}

#[test]
fn expand_keeps_the_axis_for_minus_one_and_sums_the_gradient_back() {
    let c = Tensor::<f64, Cpu>::from_vec(vec![1.0, 2.0, 3.0], [3, 1], &Cpu)
        .unwrap()
        .requires_grad_(true);
    let e = c.expand([-1, 4]).unwrap();
    assert_eq!(e.dims(), [3, 4]);
    assert_eq!(
        e.to_vec().unwrap(),
        vec![1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 2.0, 3.0, 3.0, 3.0, 3.0]
    );
    assert_eq!(c.expand([2, -1, -1]).unwrap().dims(), [2, 3, 1]);
    e.sum().unwrap().backward().unwrap();
    assert_eq!(c.grad().unwrap().to_vec().unwrap(), vec![4.0, 4.0, 4.0]);
    let msg = c.expand([-1, -1, 4]).unwrap_err().to_string();
    assert!(
        msg.starts_with("expand:") && msg.contains("leading"),
        "{msg}"
    );
    let msg = c.expand([2, 4]).unwrap_err().to_string();
    assert!(
        msg.starts_with("expand:") && msg.contains("[3, 1]"),
        "{msg}"
    );
}
