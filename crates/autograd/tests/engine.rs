//! The backward engine on the cases every autograd must get right: the classic scalar examples
//! (with the values PyTorch gives), shared inputs, diamonds, very long chains, higher order, and
//! the errors a user meets.

use nanotorch_autograd::{grad, no_grad, BackwardOptions, Tensor};
use nanotorch_backend_cpu::Cpu;

type T = Tensor<f64, Cpu>;

fn scalar(v: f64) -> T {
    Tensor::scalar(v, &Cpu).unwrap().requires_grad_(true)
}

fn grad_of(t: &T) -> f64 {
    t.grad().expect("gradient").item().unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + b.abs())
}

#[test]
fn nanotorch_readme_scalar_example() {
    // c = (a + b + 2a/b)³ at a = 2, b = 3, so c = (19/3)³,
    // dc/da = 3(19/3)²(1 + 2/b) = 361·5/9, dc/db = 3(19/3)²(1 − 2a/b²) = (361/3)(5/9).
    let a = scalar(2.0);
    let b = scalar(3.0);
    let mut c = &a + &b;
    c = &c + &(&(&a * 2.0) / &b);
    c = c.pow_scalar(3.0).unwrap();
    c.backward().unwrap();
    assert!(close(c.item().unwrap(), 6859.0 / 27.0));
    assert!(close(grad_of(&a), 361.0 * 5.0 / 9.0), "{}", grad_of(&a));
    assert!((grad_of(&a) - 200.5555).abs() < 1e-3);
    assert!(
        close(grad_of(&b), 361.0 / 3.0 * 5.0 / 9.0),
        "{}",
        grad_of(&b)
    );
}

#[test]
fn micrograd_sanity_check() {
    // micrograd's test_sanity_check; PyTorch gives y = -20 and x.grad = 46.
    let x = scalar(-4.0);
    let z = &(&(2.0 * &x) + 2.0) + &x;
    let q = &z.relu().unwrap() + &(&z * &x);
    let h = (&z * &z).relu().unwrap();
    let y = &(&h + &q) + &(&q * &x);
    y.backward().unwrap();
    assert_eq!(y.item().unwrap(), -20.0);
    assert_eq!(grad_of(&x), 46.0);
}

#[test]
fn micrograd_more_ops() {
    // micrograd's test_more_ops; PyTorch gives g = 24.70408163265306, a.grad = 138.83381924198252,
    // b.grad = 645.5772594752186.
    let a = scalar(-4.0);
    let b = scalar(2.0);
    let mut c = &a + &b;
    let mut d = &(&a * &b) + &b.pow_scalar(3.0).unwrap();
    c = &c + &(&c + 1.0);
    c = &c + &(&(1.0 + &c) + &(-&a));
    d = &d + &(&(&d * 2.0) + &(&b + &a).relu().unwrap());
    d = &d + &(&(3.0 * &d) + &(&b - &a).relu().unwrap());
    let e = &c - &d;
    let f = e.pow_scalar(2.0).unwrap();
    let mut g = &f / 2.0;
    g = &g + &(10.0 / &f);
    g.backward().unwrap();
    assert!((g.item().unwrap() - 24.70408163265306).abs() < 1e-9);
    assert!((grad_of(&a) - 138.83381924198252).abs() < 1e-9);
    assert!((grad_of(&b) - 645.5772594752186).abs() < 1e-9);
}

#[test]
fn a_tensor_used_twice_gets_both_contributions() {
    let x = scalar(3.0);
    let y = &(&x * &x) + &x; // dy/dx = 2x + 1
    y.backward().unwrap();
    assert_eq!(grad_of(&x), 7.0);
}

#[test]
fn diamond_graph() {
    let a = scalar(1.5);
    let b = &a * 2.0;
    let c = &a * 3.0;
    let d = &b * &c; // d = 6a², dd/da = 12a
    d.backward().unwrap();
    assert_eq!(grad_of(&a), 18.0);
}

#[test]
fn gradients_accumulate_across_backward_calls_until_zeroed() {
    let x = scalar(2.0);
    let y = &x * &x;
    y.backward_with(
        None,
        BackwardOptions {
            retain_graph: true,
            create_graph: false,
        },
    )
    .unwrap();
    y.backward().unwrap();
    assert_eq!(grad_of(&x), 8.0);
    x.zero_grad();
    assert!(x.grad().is_none());
}

#[test]
fn broadcast_gradients_are_summed_back_to_each_input() {
    let w = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], [3], &Cpu)
        .unwrap()
        .requires_grad_(true);
    let x = Tensor::from_vec(vec![1.0f64; 6], [2, 3], &Cpu)
        .unwrap()
        .requires_grad_(true);
    (&x * &w).sum_all().unwrap().backward().unwrap();
    assert_eq!(w.grad().unwrap().to_vec().unwrap(), vec![2.0, 2.0, 2.0]);
    assert_eq!(
        x.grad().unwrap().to_vec().unwrap(),
        vec![1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
    );
}

#[test]
fn second_derivative_of_cube_via_create_graph() {
    let x = scalar(2.0);
    let y = x.pow_scalar(3.0).unwrap();
    let options = BackwardOptions {
        retain_graph: true,
        create_graph: true,
    };
    let dy = grad(&y, None, &[&x], options).unwrap().remove(0).unwrap();
    assert_eq!(dy.item().unwrap(), 12.0); // 3x²
    assert!(dy.requires_grad());
    dy.backward().unwrap();
    assert_eq!(grad_of(&x), 12.0); // 6x
}

#[test]
fn hessian_vector_product() {
    // f(x) = Σ x_i² x_j over i, j = (Σx²)(Σx); H·v checked against the closed form.
    let x = Tensor::from_vec(vec![1.0f64, 2.0, -1.0], [3], &Cpu)
        .unwrap()
        .requires_grad_(true);
    let v = Tensor::from_vec(vec![0.5f64, -1.0, 2.0], [3], &Cpu).unwrap();
    let f = x
        .square()
        .unwrap()
        .sum_all()
        .unwrap()
        .mul(&x.sum_all().unwrap())
        .unwrap();
    let opts = BackwardOptions {
        retain_graph: true,
        create_graph: true,
    };
    let g = grad(&f, None, &[&x], opts).unwrap().remove(0).unwrap();
    let hv = grad(
        &g.mul(&v).unwrap().sum_all().unwrap(),
        None,
        &[&x],
        BackwardOptions::default(),
    )
    .unwrap()
    .remove(0)
    .unwrap();
    // ∂f/∂x_k = 2x_k S1 + S2 with S1 = Σx, S2 = Σx²; H_kl = 2δ_kl S1 + 2x_k + 2x_l.
    let xs = [1.0, 2.0, -1.0];
    let vs = [0.5, -1.0, 2.0];
    let s1: f64 = xs.iter().sum();
    let expected: Vec<f64> = (0..3)
        .map(|k| {
            (0..3)
                .map(|l| (if k == l { 2.0 * s1 } else { 0.0 } + 2.0 * xs[k] + 2.0 * xs[l]) * vs[l])
                .sum()
        })
        .collect();
    assert_eq!(hv.to_vec().unwrap(), expected);
}

#[test]
fn no_grad_records_nothing() {
    let x = scalar(1.0);
    let y = no_grad(|| &x * 2.0);
    assert!(!y.requires_grad());
    assert!(y.backward().is_err());
}

#[test]
fn detach_cuts_the_graph() {
    let x = scalar(3.0);
    let y = &x.detach() * &x; // only the second factor carries a gradient
    y.backward().unwrap();
    assert_eq!(grad_of(&x), 3.0);
}

#[test]
fn errors_name_the_op_and_shapes() {
    let a = Tensor::<f64, Cpu>::zeros([2, 3], &Cpu).unwrap();
    let b = Tensor::<f64, Cpu>::zeros([4], &Cpu).unwrap();
    let err = a.add(&b).unwrap_err().to_string();
    assert_eq!(
        err,
        "add: shapes [2, 3] and [4] cannot be broadcast together"
    );
    let err = a.matmul(&a).unwrap_err().to_string();
    assert!(err.contains("matmul") && err.contains("[2, 3]"), "{err}");
    let err = a.backward().unwrap_err().to_string();
    assert!(err.contains("does not require grad"), "{err}");
    let x = Tensor::<f64, Cpu>::ones([3], &Cpu)
        .unwrap()
        .requires_grad_(true);
    let err = (&x * 2.0).backward().unwrap_err().to_string();
    assert!(err.contains("one-element") && err.contains("[3]"), "{err}");
    let err = x.sum_dims(&[1], false).unwrap_err().to_string();
    assert!(err.contains("sum") && err.contains("axis 1"), "{err}");
}

#[test]
fn backward_twice_without_retain_graph_is_an_error() {
    let x = scalar(2.0);
    let y = &(&x * &x) * 3.0;
    y.backward().unwrap();
    let err = y.backward().unwrap_err().to_string();
    assert!(err.contains("second time"), "{err}");
}

#[test]
#[should_panic(expected = "mul: shapes [2] and [3] cannot be broadcast together")]
fn operators_panic_with_the_methods_message() {
    let a = Tensor::<f32, Cpu>::zeros([2], &Cpu).unwrap();
    let b = Tensor::<f32, Cpu>::zeros([3], &Cpu).unwrap();
    let _ = &a * &b;
}

#[test]
fn weight_gradient_of_x_times_w_transposed_is_contiguous() {
    // Linear computes x·Wᵀ; the optimizer then streams W's gradient, which must not be a
    // transposed (strided) view.
    let x = Tensor::<f32, Cpu>::ones([4, 3], &Cpu).unwrap();
    let w = Tensor::<f32, Cpu>::ones([5, 3], &Cpu)
        .unwrap()
        .requires_grad_(true);
    x.matmul(&w.t().unwrap())
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let g = w.grad().unwrap();
    assert!(
        g.array().is_contiguous(),
        "strides {:?}",
        g.array().layout().strides()
    );
    assert_eq!(g.to_vec().unwrap(), vec![4.0; 15]);
}
