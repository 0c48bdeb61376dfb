//! A graph far deeper than the call stack allows recursion over: both `backward` and dropping the
//! graph must loop, not recurse. Each test runs on a thread with a deliberately small stack, where
//! one stack frame per node (even 16 bytes each) could not fit; a recursive version would crash
//! the test binary with a stack overflow.

use nanotorch_scalar::Value;
use std::thread;

const DEPTH: usize = 100_000;
const SMALL_STACK: usize = 256 * 1024;

fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn backward_through_a_chain_of_100k_nodes() {
    on_small_stack(|| {
        let x = Value::new(1.0);
        let mut y = x.clone();
        for _ in 0..DEPTH {
            y = &y * 1.00001; // y = x · 1.00001^DEPTH, so dy/dx = 1.00001^DEPTH ≈ e
        }
        assert_eq!(y.topological_order().len(), 2 * DEPTH + 1); // each step adds a product and its constant
        y.backward();
        let expected = 1.00001f64.powi(DEPTH as i32);
        assert!(
            (x.grad() - expected).abs() < 1e-9 * expected,
            "{}",
            x.grad()
        );
        drop(y); // the whole chain goes here
        assert_eq!(x.data(), 1.0); // the leaf we still hold survives it
    });
}

#[test]
fn dropping_a_long_chain_does_not_recurse() {
    on_small_stack(|| {
        let mut y = Value::new(0.5);
        for _ in 0..DEPTH {
            y = y.tanh();
        }
        assert!(y.data() > 0.0 && y.data() < 0.01);
        drop(y);
    });
}

#[test]
fn dropping_a_shared_subgraph_keeps_it_for_the_other_holder() {
    on_small_stack(|| {
        let shared = (0..DEPTH).fold(Value::new(2.0), |v, _| &v + 0.0);
        let a = &shared * 3.0;
        let b = &shared * 4.0;
        drop(a);
        b.backward();
        assert_eq!(b.data(), 8.0);
        assert_eq!(shared.grad(), 4.0);
    });
}
