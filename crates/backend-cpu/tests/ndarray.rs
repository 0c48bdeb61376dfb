//! NDArray-level behaviour on the CPU backend: error messages, zero-copy views, `contiguous()`,
//! Display like PyTorch, serde, 0-d and zero-size arrays.

use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Error, NDArray};

type A = NDArray<f32, Cpu>;

fn arange(n: usize, dims: &[usize]) -> A {
    A::from_vec((0..n).map(|i| i as f32).collect(), dims.to_vec(), &Cpu).unwrap()
}

fn err_text<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    r.expect_err("expected an error").to_string()
}

#[test]
fn incompatible_broadcast_names_op_and_shapes() {
    let msg = err_text(arange(6, &[2, 3]).mul(&arange(4, &[4])));
    assert_eq!(
        msg,
        "mul: shapes [2, 3] and [4] cannot be broadcast together"
    );
}

#[test]
fn matmul_inner_mismatch_names_shapes() {
    let msg = err_text(arange(6, &[2, 3]).matmul(&arange(8, &[2, 4])));
    assert!(msg.starts_with("matmul: inner dimensions differ"), "{msg}");
    assert!(msg.contains("[2, 3]") && msg.contains("[2, 4]"), "{msg}");
}

#[test]
fn bad_axis_names_op_axis_and_shape() {
    let msg = err_text(arange(6, &[2, 3]).sum(&[5], false));
    assert!(
        msg.contains("sum") && msg.contains("axis 5") && msg.contains("[2, 3]"),
        "{msg}"
    );
    let msg = err_text(arange(6, &[2, 3]).transpose(0, 2));
    assert!(msg.contains("transpose") && msg.contains("[2, 3]"), "{msg}");
}

#[test]
fn reshape_to_other_numel_names_both_shapes() {
    let msg = err_text(arange(6, &[2, 3]).reshape([4, 2]));
    assert_eq!(
        msg,
        "reshape: cannot reshape [2, 3] (6 elements) into [4, 2] (8 elements)"
    );
}

#[test]
fn view_of_non_viewable_layout_is_an_error_but_reshape_copies() {
    let t = arange(6, &[2, 3]).t().unwrap();
    let msg = err_text(t.view([6]));
    assert!(
        msg.starts_with("view: cannot view shape [3, 2]") && msg.contains("[6]"),
        "{msg}"
    );
    let r = t.reshape([6]).unwrap();
    assert!(!r.same_storage(&t));
    assert_eq!(r.to_vec().unwrap(), vec![0., 3., 1., 4., 2., 5.]);
}

#[test]
fn views_share_storage() {
    let a = arange(24, &[2, 3, 4]);
    let views = [
        a.reshape([6, 4]).unwrap(),
        a.view([4, 6]).unwrap(),
        a.permute(&[2, 0, 1]).unwrap(),
        a.transpose(0, 2).unwrap(),
        a.narrow(1, 1, 2).unwrap(),
        a.slice(2, 0, 4, 2).unwrap(),
        a.unsqueeze(0).unwrap(),
        a.unsqueeze(0).unwrap().squeeze(0).unwrap(),
        a.flatten(0, 1).unwrap(),
        a.narrow(0, 0, 1).unwrap().expand([5, 3, 4]).unwrap(),
    ];
    for v in &views {
        assert!(v.same_storage(&a), "{:?}", v.layout());
    }
    // Writing through a view is visible in the original.
    let col = a.narrow(2, 1, 1).unwrap();
    col.scalar_assign(nanotorch_ndarray_core::BinaryOp::Add, 100.0)
        .unwrap();
    assert_eq!(a.to_vec().unwrap()[1], 101.0);
    assert_eq!(a.to_vec().unwrap()[5], 105.0);
}

#[test]
fn contiguous_copies_only_when_needed() {
    let a = arange(6, &[2, 3]);
    assert!(a.contiguous().unwrap().same_storage(&a));
    let rows = a.narrow(0, 1, 1).unwrap();
    assert!(rows.is_contiguous() && rows.contiguous().unwrap().same_storage(&a));
    let t = a.t().unwrap();
    let c = t.contiguous().unwrap();
    assert!(!c.same_storage(&a) && c.is_contiguous());
    assert_eq!(c.to_vec().unwrap(), vec![0., 3., 1., 4., 2., 5.]);
}

#[test]
fn display_like_pytorch() {
    let a = A::from_vec(vec![1., 2., 3., 4.], [2, 2], &Cpu).unwrap();
    assert_eq!(a.to_string(), "tensor([[1., 2.],\n        [3., 4.]])");
    let d = NDArray::<f64, Cpu>::from_vec(vec![1.5, -2.0], [2], &Cpu).unwrap();
    assert_eq!(d.to_string(), "tensor([ 1.5000, -2.0000], dtype=f64)");
    let s = A::scalar(3.0, &Cpu).unwrap();
    assert_eq!(s.to_string(), "tensor(3.)");
    let big = arange(2000, &[2000]);
    let text = big.to_string();
    assert!(text.contains("..."), "{text}");
    assert!(text.starts_with("tensor([   0.,    1.,    2.,"), "{text}");
    assert!(text.len() < 200, "{text}");
    let empty = A::zeros([0, 3], &Cpu).unwrap();
    assert_eq!(empty.to_string(), "tensor([], size=(0, 3))");
}

#[test]
fn serde_round_trip() {
    let a = arange(6, &[2, 3]).t().unwrap();
    let json = serde_json::to_string(&a).unwrap();
    let b: A = serde_json::from_str(&json).unwrap();
    assert_eq!(b.dims(), &[3, 2]);
    assert_eq!(b.to_vec().unwrap(), a.to_vec().unwrap());
    let i = NDArray::<i64, Cpu>::from_vec(vec![i64::MAX, -1], [2], &Cpu).unwrap();
    let j: NDArray<i64, Cpu> = serde_json::from_str(&serde_json::to_string(&i).unwrap()).unwrap();
    assert_eq!(j.to_vec().unwrap(), vec![i64::MAX, -1]);
    // Data that does not match the declared shape is an error, not a panic.
    assert!(serde_json::from_str::<A>(r#"{"shape":[2,2],"data":[1.0]}"#).is_err());
}

#[test]
fn zero_d_and_zero_size_arrays() {
    let s = A::scalar(2.0, &Cpu).unwrap();
    assert_eq!(s.dims(), &[] as &[usize]);
    assert_eq!(s.exp().unwrap().to_scalar().unwrap(), 2f32.exp());
    assert_eq!(
        s.add(&arange(3, &[3])).unwrap().to_vec().unwrap(),
        vec![2., 3., 4.]
    );
    assert_eq!(s.sum_all().unwrap().to_scalar().unwrap(), 2.0);
    assert_eq!(s.argmax(None, false).unwrap().to_scalar().unwrap(), 0);
    let e = A::zeros([3, 0, 2], &Cpu).unwrap();
    assert_eq!(e.sum(&[1], false).unwrap().to_vec().unwrap(), vec![0.0; 6]);
    assert_eq!(e.max(&[1], true).unwrap().dims(), &[3, 1, 2]);
    assert_eq!(e.sum(&[0], false).unwrap().numel(), 0);
    assert!(e.argmax(Some(1), false).is_err());
    assert_eq!(e.exp().unwrap().numel(), 0);
    let m = A::zeros([0, 4], &Cpu)
        .unwrap()
        .matmul(&A::zeros([4, 5], &Cpu).unwrap())
        .unwrap();
    assert_eq!(m.dims(), &[0, 5]);
    let k0 = A::zeros([3, 0], &Cpu)
        .unwrap()
        .matmul(&A::zeros([0, 2], &Cpu).unwrap())
        .unwrap();
    assert_eq!(k0.to_vec().unwrap(), vec![0.0; 6]);
    assert_eq!(
        A::cat(&[e.clone(), e.clone()], 1).unwrap().dims(),
        &[3, 0, 2]
    );
}

#[test]
fn index_errors_are_errors() {
    let a = arange(6, &[2, 3]);
    let idx = NDArray::<i64, Cpu>::from_vec(vec![0, 3], [2], &Cpu).unwrap();
    let msg = err_text(a.index_select(1, &idx));
    assert_eq!(
        msg,
        "index_select: index 3 is out of bounds for axis 1 of size 3"
    );
}

#[test]
fn buffer_pool_stays_bounded() {
    nanotorch_backend_cpu::set_pool_limit(64 << 20);
    for _ in 0..20 {
        let a = A::zeros([1 << 20], &Cpu).unwrap();
        let b = a.add_scalar(1.0).unwrap();
        let c = b.mul(&b).unwrap();
        assert_eq!(c.to_vec().unwrap()[12345], 1.0);
    }
    assert!(nanotorch_backend_cpu::pool_bytes() <= 64 << 20);
    nanotorch_backend_cpu::set_pool_limit(nanotorch_backend_cpu::DEFAULT_LIMIT);
}

/// Full reductions of long arrays fold fixed-size blocks on several threads; each result is
/// checked against a plain left fold (in f64, where the sums are exact).
#[test]
fn long_full_reductions_match_a_plain_fold() {
    let n = 100_003; // three blocks and a ragged end
    let values: Vec<f64> = (0..n).map(|i| ((i * 7919) % 1000) as f64 - 500.0).collect();
    let x = NDArray::<f64, Cpu>::from_vec(values.clone(), [n], &Cpu).unwrap();
    let sum = x.sum_all().unwrap().to_scalar().unwrap();
    assert_eq!(
        sum,
        values.iter().sum::<f64>(),
        "integers in f64: every order is exact"
    );
    let max = x.max(&[], false).unwrap().to_scalar().unwrap();
    assert_eq!(max, values.iter().cloned().fold(f64::MIN, f64::max));
    let min = x.min(&[], false).unwrap().to_scalar().unwrap();
    assert_eq!(min, values.iter().cloned().fold(f64::MAX, f64::min));

    let ones = NDArray::<f32, Cpu>::ones([3, 1_000_000], &Cpu).unwrap();
    assert_eq!(ones.sum_all().unwrap().to_scalar().unwrap(), 3_000_000.0);
    // a view with an offset (the second row) takes the same path
    let row = ones.narrow(0, 1, 1).unwrap();
    assert_eq!(row.sum_all().unwrap().to_scalar().unwrap(), 1_000_000.0);
}

/// Naive `[m, k] @ [k, n]` of row-major data.
fn naive_matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
        }
    }
    c
}

/// GEMMs big enough to be cut into tiles for the worker threads (by rows when m ≥ n, by
/// columns otherwise), with a transposed operand and a broadcast batch, against a naive product.
/// Entries are small integers, so every summation order gives the exact result.
#[test]
fn tiled_gemm_matches_a_naive_product() {
    let small_ints = |len: usize, salt: usize| -> Vec<f64> {
        (0..len)
            .map(|i| ((i * 31 + salt) % 7) as f64 - 3.0)
            .collect()
    };
    for (m, k, n) in [(300, 200, 100), (40, 150, 800), (17, 1000, 300)] {
        let a = small_ints(m * k, 1);
        let b = small_ints(k * n, 2);
        let want = naive_matmul(&a, &b, m, k, n);
        let a_arr = NDArray::<f64, Cpu>::from_vec(a.clone(), [m, k], &Cpu).unwrap();
        // B given as the transpose of an [n, k] array: a strided view, no copy
        let bt: Vec<f64> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let b_view = NDArray::<f64, Cpu>::from_vec(bt, [n, k], &Cpu)
            .unwrap()
            .t()
            .unwrap();
        let got = a_arr.matmul(&b_view).unwrap();
        assert_eq!(got.to_vec().unwrap(), want, "[{m}, {k}] @ [{k}, {n}]");
        // the same A twice in a batch against one (broadcast) B
        let batched = NDArray::<f64, Cpu>::from_vec([a.clone(), a].concat(), [2, m, k], &Cpu)
            .unwrap()
            .matmul(&b_view)
            .unwrap();
        assert_eq!(batched.to_vec().unwrap(), [want.clone(), want].concat());
    }
}

/// Sizes that do not fit in a `usize` are errors, never a wrapped count, a panic or a read
/// outside the storage.
#[test]
fn absurd_sizes_and_strides_are_errors() {
    use nanotorch_ndarray_core::{Backend, Layout, Window2d};
    let one = A::ones([1, 1], &Cpu).unwrap();
    let err = err_text(one.broadcast_to([1usize << 40, 1 << 40]));
    assert!(err.contains("more elements than a usize"), "{err}");
    // a hand-made layout whose extent overflows: the bounds check must fail, not wrap to 0
    let storage = Cpu.from_vec(vec![1.0f32]).unwrap();
    let huge = Layout::new([1, 3, 1], vec![0, 1 << 63, 1], 0);
    assert_eq!(huge.storage_extent(), usize::MAX);
    let small = Layout::new([1, 1, 1], vec![1, 1, 1], 0);
    assert!(Cpu.matmul(&storage, &huge, &storage, &small).is_err());
    // a window whose arithmetic would wrap around
    let image = A::ones([1, 1, 2, 2], &Cpu).unwrap();
    let wrapping = Window2d {
        kernel: (2, 1),
        stride: (1, 1),
        padding: (0, 0),
        dilation: (usize::MAX, 1),
    };
    assert!(image.im2col(&wrapping).is_err());
    let huge_padding = Window2d {
        kernel: (1, 1),
        stride: (1, 1),
        padding: (1 << 40, 1 << 40),
        dilation: (1, 1),
    };
    assert!(image.im2col(&huge_padding).is_err());
}
