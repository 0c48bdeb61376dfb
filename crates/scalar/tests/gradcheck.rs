//! Every op's backward rule against central differences: `(f(x + h) − f(x − h)) / 2h`, whose error
//! is O(h²), so with h = 1e-6 in f64 a correct rule agrees to about 1e-8 and a wrong one does not.

use nanotorch_scalar::{Module, Rng, Value, MLP};

const H: f64 = 1e-6;

fn assert_close(analytic: f64, numeric: f64, what: &str) {
    assert!(
        (analytic - numeric).abs() <= 1e-6 * (1.0 + numeric.abs()),
        "{what}: backward gives {analytic}, central differences {numeric}"
    );
}

/// Checks `∂f/∂x` at each point.
fn check_unary(name: &str, f: impl Fn(&Value) -> Value, points: &[f64]) {
    for &x0 in points {
        let x = Value::new(x0);
        f(&x).backward();
        let numeric = (f(&Value::new(x0 + H)).data() - f(&Value::new(x0 - H)).data()) / (2.0 * H);
        assert_close(x.grad(), numeric, &format!("{name} at {x0}"));
    }
}

/// Checks `∂f/∂a` and `∂f/∂b` at each pair.
fn check_binary(name: &str, f: impl Fn(&Value, &Value) -> Value, points: &[(f64, f64)]) {
    for &(a0, b0) in points {
        let (a, b) = (Value::new(a0), Value::new(b0));
        f(&a, &b).backward();
        let at = |a: f64, b: f64| f(&Value::new(a), &Value::new(b)).data();
        let da = (at(a0 + H, b0) - at(a0 - H, b0)) / (2.0 * H);
        let db = (at(a0, b0 + H) - at(a0, b0 - H)) / (2.0 * H);
        assert_close(a.grad(), da, &format!("{name} at ({a0}, {b0}), ∂/∂a"));
        assert_close(b.grad(), db, &format!("{name} at ({a0}, {b0}), ∂/∂b"));
    }
}

const PAIRS: [(f64, f64); 3] = [(1.5, -0.7), (-2.0, 3.0), (0.3, 0.3)];

#[test]
fn binary_ops() {
    check_binary("a + b", |a, b| a + b, &PAIRS);
    check_binary("a - b", |a, b| a - b, &PAIRS);
    check_binary("a * b", |a, b| a * b, &PAIRS);
    check_binary("a / b", |a, b| a / b, &PAIRS);
}

#[test]
fn ops_with_a_number_on_either_side() {
    check_unary("x + 2", |x| x + 2.0, &[0.5]);
    check_unary("2 - x", |x| 2.0 - x, &[0.5]);
    check_unary("x * 3", |x| x * 3.0, &[0.5]);
    check_unary("3 / x", |x| 3.0 / x, &[0.5, -2.0]);
    check_unary("x / 4", |x| x / 4.0, &[0.5]);
}

#[test]
fn unary_ops() {
    let points = [-1.7, -0.2, 0.4, 2.3];
    check_unary("-x", |x| -x, &points);
    check_unary("x^3", |x| x.powf(3.0), &points);
    check_unary("x^-2", |x| x.powf(-2.0), &points);
    check_unary("x^0.5", |x| x.powf(0.5), &[0.4, 2.3]);
    check_unary("exp", Value::exp, &points);
    check_unary("log", Value::log, &[0.4, 2.3, 7.0]);
    check_unary("tanh", Value::tanh, &points);
    check_unary("relu", Value::relu, &points); // not at 0, where it has no derivative
    check_unary("sigmoid", Value::sigmoid, &points);
}

#[test]
fn a_value_used_many_times_gets_every_contribution() {
    check_unary("x * x", |x| x * x, &[-1.5, 2.0]);
    check_unary("x / x + x", |x| x / x + x, &[-1.5, 2.0]);
    check_binary(
        "(a*b + a).tanh() * b",
        |a, b| (a * b + a).tanh() * b,
        &PAIRS,
    );
}

#[test]
fn every_parameter_of_an_mlp() {
    let model = MLP::new(3, &[4, 4, 1], &mut Rng::new(7));
    let x = [0.5, -1.2, 2.0].map(Value::new);
    let output = || model.forward(&x)[0].tanh().data();
    model.forward(&x)[0].tanh().backward();
    for (i, p) in model.parameters().iter().enumerate() {
        let p0 = p.data();
        p.set_data(p0 + H);
        let up = output();
        p.set_data(p0 - H);
        let down = output();
        p.set_data(p0);
        assert_close(p.grad(), (up - down) / (2.0 * H), &format!("parameter {i}"));
    }
}

#[test]
fn relu_at_zero_passes_no_gradient_as_in_pytorch() {
    let x = Value::new(0.0);
    x.relu().backward();
    assert_eq!(x.grad(), 0.0);
}

#[test]
fn backward_adds_to_gradients_until_zero_grad() {
    let model = MLP::new(1, &[1], &mut Rng::new(0));
    let y = || model.forward(&[Value::new(2.0)])[0].clone(); // w·2 + b
    y().backward();
    y().backward();
    assert_eq!(model.layers[0].neurons[0].w[0].grad(), 4.0);
    model.zero_grad();
    assert!(model.parameters().iter().all(|p| p.grad() == 0.0));
}
