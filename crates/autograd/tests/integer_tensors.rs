//! Shape and index ops on integer tensors (labels, indices): every op a PyTorch user reaches for
//! on a `LongTensor` works on `Tensor<i64>`, checked against plain index arithmetic written here,
//! and integer tensors never take part in autograd.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;

type L = Tensor<i64, Cpu>;

/// `0, 1, …` in `dims`, row-major: element `[i, j, k]` of a `[2, 3, 4]` tensor is `12i + 4j + k`.
fn iota(dims: &[usize]) -> L {
    let n: usize = dims.iter().product();
    Tensor::from_vec((0..n as i64).collect(), dims.to_vec(), &Cpu).unwrap()
}

#[test]
fn reshape_view_flatten_and_contiguous_keep_row_major_order() {
    let x = iota(&[2, 3, 4]);
    let want: Vec<i64> = (0..24).collect();
    assert_eq!(x.reshape([6, 4]).unwrap().dims(), &[6, 4]);
    assert_eq!(x.reshape([6, 4]).unwrap().to_vec().unwrap(), want);
    assert_eq!(x.view([4, 6]).unwrap().to_vec().unwrap(), want);
    assert_eq!(x.flatten(1, 2).unwrap().dims(), &[2, 12]);
    assert_eq!(x.flatten(0, -1).unwrap().to_vec().unwrap(), want);
    // A transposed view is not contiguous; contiguous() copies it into the transposed order.
    let t = x.transpose(0, 2).unwrap().contiguous().unwrap();
    assert!(t.array().is_contiguous());
    let tv = t.to_vec().unwrap();
    for k in 0..4 {
        for j in 0..3 {
            for i in 0..2 {
                assert_eq!(tv[(k * 3 + j) * 2 + i], (12 * i + 4 * j + k) as i64);
            }
        }
    }
}

#[test]
fn permute_transpose_and_t_move_axes() {
    let x = iota(&[2, 3, 4]);
    let p = x.permute(&[1, 2, 0]).unwrap();
    assert_eq!(p.dims(), &[3, 4, 2]);
    let pv = p.to_vec().unwrap();
    for j in 0..3 {
        for k in 0..4 {
            for i in 0..2 {
                assert_eq!(pv[(j * 4 + k) * 2 + i], (12 * i + 4 * j + k) as i64);
            }
        }
    }
    let m = iota(&[2, 3]);
    assert_eq!(m.t().unwrap().to_vec().unwrap(), vec![0, 3, 1, 4, 2, 5]);
    assert_eq!(
        m.transpose(-1, -2).unwrap().to_vec().unwrap(),
        vec![0, 3, 1, 4, 2, 5]
    );
}

#[test]
fn squeeze_unsqueeze_and_expand() {
    let y = iota(&[3]);
    let col = y.unsqueeze(1).unwrap();
    assert_eq!(col.dims(), &[3, 1]);
    assert_eq!(col.squeeze(1).unwrap().dims(), &[3]);
    let grid = col.expand([3, 2]).unwrap();
    assert_eq!(grid.to_vec().unwrap(), vec![0, 0, 1, 1, 2, 2]);
    let err = y.expand([2]).unwrap_err().to_string();
    assert!(
        err.starts_with("expand:") && err.contains("[3]") && err.contains("[2]"),
        "{err}"
    );
}

#[test]
fn narrow_and_slice_of_labels() {
    let y = iota(&[10]);
    assert_eq!(
        y.narrow(0, 3, 4).unwrap().to_vec().unwrap(),
        vec![3, 4, 5, 6]
    );
    assert_eq!(
        y.slice(0, 1, 10, 3).unwrap().to_vec().unwrap(),
        vec![1, 4, 7]
    );
    let m = iota(&[3, 4]);
    assert_eq!(
        m.narrow(-1, 1, 2).unwrap().to_vec().unwrap(),
        vec![1, 2, 5, 6, 9, 10]
    );
    let parts = y.split(4, 0).unwrap();
    let lens: Vec<usize> = parts.iter().map(|p| p.numel()).collect();
    assert_eq!(lens, vec![4, 4, 2]);
    assert_eq!(parts[2].to_vec().unwrap(), vec![8, 9]);
}

#[test]
fn narrow_errors_name_narrow_and_never_clamp() {
    let y = iota(&[4]);
    for (start, len) in [(2, 5), (10, 1), (0, usize::MAX)] {
        let err = y.narrow(0, start, len).unwrap_err().to_string();
        assert!(err.starts_with("narrow:"), "{err}");
        assert!(err.contains(&format!("start ({start})")), "{err}");
        assert!(err.contains("[4]"), "{err}");
    }
    let err = y.narrow(1, 0, 1).unwrap_err().to_string();
    assert!(
        err.starts_with("narrow:") && err.contains("axis 1"),
        "{err}"
    );
    // The same on floats, and on the NDArray underneath.
    let x = Tensor::<f32, Cpu>::zeros([4], &Cpu).unwrap();
    assert!(x
        .narrow(0, 3, 2)
        .unwrap_err()
        .to_string()
        .starts_with("narrow:"));
    assert!(y
        .array()
        .narrow(0, 3, 2)
        .unwrap_err()
        .to_string()
        .starts_with("narrow:"));
}

#[test]
fn cat_and_stack() {
    let a = iota(&[2, 2]);
    let b = Tensor::from_vec(vec![7i64, 8], [1, 2], &Cpu).unwrap();
    let c = Tensor::cat(&[a.clone(), b], 0).unwrap();
    assert_eq!(c.dims(), &[3, 2]);
    assert_eq!(c.to_vec().unwrap(), vec![0, 1, 2, 3, 7, 8]);
    let s = Tensor::stack(&[a.clone(), a.clone()], -1).unwrap();
    assert_eq!(s.dims(), &[2, 2, 2]);
    assert_eq!(s.to_vec().unwrap(), vec![0, 0, 1, 1, 2, 2, 3, 3]);
    let err = Tensor::stack(&[a.clone(), iota(&[2, 3])], 0)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("stack:") && err.contains("[2, 3]"), "{err}");
    let err = Tensor::stack(std::slice::from_ref(&a), 4)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("stack:") && err.contains("axis 4"), "{err}");
}

#[test]
fn index_select_gather_scatter_add_where_and_masked_fill() {
    let m = iota(&[3, 4]);
    let rows = Tensor::from_vec(vec![2i64, 0], [2], &Cpu).unwrap();
    assert_eq!(
        m.index_select(0, &rows).unwrap().to_vec().unwrap(),
        vec![8, 9, 10, 11, 0, 1, 2, 3]
    );
    // gather(1, idx): out[i][j] = m[i][idx[i][j]] = 4i + idx[i][j].
    let idx = Tensor::from_vec(vec![3i64, 0, 1, 1, 2, 3], [3, 2], &Cpu).unwrap();
    assert_eq!(
        m.gather(1, &idx).unwrap().to_vec().unwrap(),
        vec![3, 0, 5, 5, 10, 11]
    );
    let counts = Tensor::<i64, Cpu>::zeros([4], &Cpu).unwrap();
    let labels = Tensor::from_vec(vec![1i64, 3, 1, 1], [4], &Cpu).unwrap();
    let ones = Tensor::<i64, Cpu>::ones([4], &Cpu).unwrap();
    assert_eq!(
        counts
            .scatter_add(0, &labels, &ones)
            .unwrap()
            .to_vec()
            .unwrap(),
        vec![0, 3, 0, 1]
    );
    let mask = Tensor::from_vec(vec![1i64, 0, 0, 1], [4], &Cpu).unwrap();
    let other = Tensor::full([4], -1i64, &Cpu).unwrap();
    assert_eq!(
        Tensor::where_cond(&mask, &labels, &other)
            .unwrap()
            .to_vec()
            .unwrap(),
        vec![1, -1, -1, 1]
    );
    assert_eq!(
        labels.masked_fill(&mask, -100).unwrap().to_vec().unwrap(),
        vec![-100, 3, 1, -100]
    );
}

#[test]
fn sums_of_integers_stay_integers() {
    let m = iota(&[3, 4]);
    let total: L = m.sum().unwrap();
    assert_eq!(total.item().unwrap(), (0..12).sum::<i64>());
    assert_eq!(m.sum_all().unwrap().item().unwrap(), 66);
    assert_eq!(
        m.sum_dims(&[0], false).unwrap().to_vec().unwrap(),
        vec![12, 15, 18, 21]
    );
    assert_eq!(m.sum_dims(&[1], true).unwrap().dims(), &[3, 1]);
}

#[test]
fn casts_and_accuracy_on_labels() {
    let logits = Tensor::<f32, Cpu>::from_vec(
        vec![0.1, 2.0, 0.3, 1.5, 0.2, 0.1, 0.0, 0.1, 0.9],
        [3, 3],
        &Cpu,
    )
    .unwrap();
    let labels = Tensor::from_vec(vec![1i64, 2, 2], [3], &Cpu).unwrap();
    let pred = logits.argmax(Some(1), false).unwrap();
    assert_eq!(pred.to_vec().unwrap(), vec![1, 0, 2]);
    let correct = pred.eq(&labels).unwrap();
    assert_eq!(correct.sum().unwrap().item().unwrap(), 2);
    let accuracy = correct.cast::<f32>().unwrap().mean().unwrap();
    assert!((accuracy.item().unwrap() - 2.0 / 3.0).abs() < 1e-6);
    // f64 -> i64 truncates toward zero, as PyTorch's .long().
    let x = Tensor::<f64, Cpu>::from_vec(vec![-1.7, 2.9], [2], &Cpu).unwrap();
    assert_eq!(x.cast::<i64>().unwrap().to_vec().unwrap(), vec![-1, 2]);
}

#[test]
fn integer_tensors_never_take_part_in_autograd() {
    let y = iota(&[4]).requires_grad_(true);
    assert!(
        !y.requires_grad(),
        "PyTorch: only float tensors can require grad"
    );
    let z = y.reshape([2, 2]).unwrap();
    assert!(z.is_leaf() && z.op_name().is_none());
}

#[test]
fn float_shape_ops_still_record_gradients() {
    // d/dx Σ narrow(x, 0, 1, 2) * w: w lands on positions 1 and 2, zero elsewhere.
    let x = Tensor::<f64, Cpu>::zeros([4], &Cpu)
        .unwrap()
        .requires_grad_(true);
    let w = Tensor::from_vec(vec![3.0, 5.0], [2], &Cpu).unwrap();
    let y = x.narrow(0, 1, 2).unwrap();
    assert_eq!(y.op_name(), Some("narrow"));
    y.mul(&w).unwrap().sum().unwrap().backward().unwrap();
    assert_eq!(
        x.grad().unwrap().to_vec().unwrap(),
        vec![0.0, 3.0, 5.0, 0.0]
    );
    // expand sums its gradient back over the repeated axis.
    let c = Tensor::<f64, Cpu>::ones([2, 1], &Cpu)
        .unwrap()
        .requires_grad_(true);
    c.expand([2, 3]).unwrap().sum().unwrap().backward().unwrap();
    assert_eq!(c.grad().unwrap().to_vec().unwrap(), vec![3.0, 3.0]);
}
