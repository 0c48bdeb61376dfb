//! The classic checks, against the values PyTorch computes for the same expressions. The expected
//! numbers were printed by `tests/fixtures/make_reference.py` (PyTorch 2, float64) and are copied
//! here; rerun it to check them.

use nanotorch_scalar::Value;

fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= 1e-6,
        "got {actual}, PyTorch gives {expected}"
    );
}

#[test]
fn micrograd_sanity_check() {
    let x = Value::new(-4.0);
    let z = 2.0 * &x + 2.0 + &x;
    let q = z.relu() + &z * &x;
    let h = (&z * &z).relu();
    let y = &h + &q + &q * &x;
    y.backward();
    assert_close(y.data(), -20.0);
    assert_close(x.grad(), 46.0);
}

#[test]
fn micrograd_more_ops() {
    let a = Value::new(-4.0);
    let b = Value::new(2.0);
    let mut c = &a + &b;
    let mut d = &a * &b + b.powf(3.0);
    c = &c + (&c + 1.0);
    c = &c + (1.0 + &c + -&a);
    d = &d + (&d * 2.0 + (&b + &a).relu());
    d = &d + (3.0 * &d + (&b - &a).relu());
    let e = &c - &d;
    let f = e.powf(2.0);
    let mut g = &f / 2.0;
    g = &g + 10.0 / &f;
    g.backward();
    assert_close(g.data(), 24.70408163265306);
    assert_close(a.grad(), 138.83381924198252);
    assert_close(b.grad(), 645.5772594752186);
}

#[test]
fn the_unary_ops_micrograd_does_not_test() {
    let u = Value::new(0.7);
    let v = Value::new(-1.3);
    let w =
        (&u * &v).tanh() + (&u - &v).exp().log() * v.sigmoid() + (&u + 2.0).powf(1.5) / (1.0 - &v);
    w.backward();
    assert_close(w.data(), 1.6361337432259424);
    assert_close(u.grad(), 0.6618373539590833);
    assert_close(v.grad(), 1.297077308640451);
}

#[test]
fn the_readme_example_of_the_tensor_engine() {
    // The same expression and numbers as `nanotorch_readme_scalar_example` in
    // crates/autograd/tests/engine.rs: c = (a + b + 2a/b)³ at a = 2, b = 3, so
    // dc/da = 3(19/3)²(1 + 2/b) = 361·5/9 ≈ 200.5555 and dc/db = 3(19/3)²(1 − 2a/b²) = 361·5/27.
    let a = Value::new(2.0);
    let b = Value::new(3.0);
    let mut c = &a + &b;
    c = &c + &a * 2.0 / &b;
    c = c.powf(3.0);
    c.backward();
    assert_close(c.data(), 6859.0 / 27.0);
    assert_close(a.grad(), 361.0 * 5.0 / 9.0);
    assert!((a.grad() - 200.5555).abs() < 1e-3);
    assert_close(b.grad(), 361.0 * 5.0 / 27.0);
}
