//! Tensor hooks, retain_grad, backward with inputs, queue_callback.

use nanotorch_autograd::{grad, queue_callback, BackwardOptions, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Error, Result};
use std::sync::{Arc, Mutex};

type T = Tensor<f64, Cpu>;

fn leaf(values: &[f64]) -> T {
    Tensor::from_slice(values, [values.len()], &Cpu)
        .unwrap()
        .requires_grad_(true)
}

type Log = Arc<Mutex<Vec<String>>>;

fn log() -> (Log, Log) {
    let log = Arc::new(Mutex::new(Vec::new()));
    (Arc::clone(&log), log)
}

#[test]
fn post_accumulate_hooks_see_the_accumulated_grad_in_backward_order() -> Result<()> {
    // loss = 3·a + a·b: backward reaches b (through the mul) only after the add splits.
    let a = leaf(&[1.0, 2.0]);
    let b = leaf(&[5.0, 7.0]);
    let (seen, writer) = log();
    for (name, t) in [("a", &a), ("b", &b)] {
        let w = Arc::clone(&writer);
        let _keep = t.register_post_accumulate_grad_hook(move |leaf| {
            w.lock()
                .unwrap()
                .push(format!("{name}:{:?}", leaf.grad().unwrap().to_vec()?));
            Ok(())
        })?;
    }
    a.set_grad(Some(Tensor::from_slice(&[100.0, 100.0], [2], &Cpu)?));
    a.mul(3.0)?.add(&a.mul(&b)?)?.sum_all()?.backward()?;
    let seen = seen.lock().unwrap().clone();
    // a is reached once, after both contributions were summed: 100 + 3 + b.
    assert!(seen.contains(&"a:[108.0, 110.0]".to_string()), "{seen:?}");
    assert!(seen.contains(&"b:[1.0, 2.0]".to_string()), "{seen:?}");
    assert_eq!(seen.len(), 2);
    Ok(())
}

#[test]
fn post_accumulate_hook_is_removed_by_its_handle_and_skipped_by_grad() -> Result<()> {
    let a = leaf(&[1.0]);
    let (seen, writer) = log();
    let handle = a.register_post_accumulate_grad_hook(move |_| {
        writer.lock().unwrap().push("called".into());
        Ok(())
    })?;
    let y = a.square()?.sum_all()?;
    grad(&y, None, &[&a], BackwardOptions::default())?;
    assert!(
        seen.lock().unwrap().is_empty(),
        "grad() accumulates nothing"
    );
    a.square()?.sum_all()?.backward()?;
    assert_eq!(seen.lock().unwrap().len(), 1);
    handle.remove();
    a.square()?.sum_all()?.backward()?;
    assert_eq!(seen.lock().unwrap().len(), 1);
    Ok(())
}

#[test]
fn post_accumulate_hook_needs_a_leaf_that_requires_grad() -> Result<()> {
    let a = leaf(&[1.0]);
    let err = a.mul(2.0)?.register_post_accumulate_grad_hook(|_| Ok(()));
    assert!(err.unwrap_err().to_string().contains("non-leaf"));
    let plain = Tensor::<f64, Cpu>::from_slice(&[1.0], [1], &Cpu)?;
    let err = plain.register_post_accumulate_grad_hook(|_| Ok(()));
    assert!(err
        .unwrap_err()
        .to_string()
        .contains("does not require grad"));
    Ok(())
}

#[test]
fn queued_callbacks_run_once_after_every_hook_before_backward_returns() -> Result<()> {
    let a = leaf(&[1.0]);
    let b = leaf(&[2.0]);
    let (seen, writer) = log();
    for (name, t) in [("a", &a), ("b", &b)] {
        let w = Arc::clone(&writer);
        let _keep = t.register_post_accumulate_grad_hook(move |_| {
            w.lock().unwrap().push(format!("hook {name}"));
            if name == "a" {
                let w = Arc::clone(&w);
                queue_callback(move || {
                    w.lock().unwrap().push("callback".into());
                    // A callback may queue another; it runs in the same backward.
                    let w = Arc::clone(&w);
                    queue_callback(move || {
                        w.lock().unwrap().push("nested".into());
                        Ok(())
                    })
                })?;
            }
            Ok(())
        })?;
    }
    a.mul(&b)?.sum_all()?.backward()?;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert_eq!(&seen[2..], ["callback", "nested"]);
    Ok(())
}

#[test]
fn a_callback_error_is_backwards_error_and_outside_backward_it_fails() -> Result<()> {
    let a = leaf(&[1.0]);
    let _h = a.register_hook(|_| {
        queue_callback(|| Err(Error::msg("all-reduce failed")))?;
        Ok(None)
    })?;
    let err = a.square()?.sum_all()?.backward().unwrap_err();
    assert_eq!(err.to_string(), "all-reduce failed");
    let outside = queue_callback(|| Ok(())).unwrap_err().to_string();
    assert!(outside.contains("no backward is running"), "{outside}");
    Ok(())
}

#[test]
fn register_hook_inspects_and_replaces_gradients_of_leaves_and_non_leaves() -> Result<()> {
    let x = leaf(&[1.0, 2.0]);
    let y = x.mul(3.0)?; // non-leaf
    let (seen, writer) = log();
    let _inspect = y.register_hook(move |g| {
        writer.lock().unwrap().push(format!("{:?}", g.to_vec()?));
        Ok(None)
    })?;
    let _double = y.register_hook(|g| Ok(Some(g.mul(2.0)?)))?;
    let _on_leaf = x.register_hook(|g| Ok(Some(g.add(1.0)?)))?;
    y.square()?.sum_all()?.backward()?; // dL/dy = 2y = [6, 12]
    assert_eq!(*seen.lock().unwrap(), ["[6.0, 12.0]"]);
    // doubled at y, times 3 through the mul, plus 1 at the leaf before accumulation.
    assert_eq!(x.grad().unwrap().to_vec()?, [37.0, 73.0]);
    Ok(())
}

#[test]
fn a_hook_returning_the_wrong_shape_is_an_error() -> Result<()> {
    let x = leaf(&[1.0, 2.0]);
    let _h = x.register_hook(|g| Ok(Some(g.sum_all()?)))?;
    let err = x.square()?.sum_all()?.backward().unwrap_err().to_string();
    assert!(
        err.contains("register_hook") && err.contains("[2]"),
        "{err}"
    );
    Ok(())
}

#[test]
fn hooks_also_run_under_autograd_grad() -> Result<()> {
    let x = leaf(&[1.0, 2.0]);
    let _h = x.register_hook(|g| Ok(Some(g.neg()?)))?;
    let y = x.square()?.sum_all()?;
    let g = grad(&y, None, &[&x], BackwardOptions::default())?;
    assert_eq!(g[0].as_ref().unwrap().to_vec()?, [-2.0, -4.0]);
    assert!(x.grad().is_none());
    Ok(())
}

#[test]
fn retain_grad_keeps_and_sums_a_non_leaf_gradient() -> Result<()> {
    let x = leaf(&[1.0, 2.0]);
    let y = x.mul(2.0)?;
    assert!(!y.retains_grad());
    y.retain_grad()?;
    assert!(y.retains_grad());
    let z = x.mul(5.0)?; // not retained
    let loss = y.square()?.add(&z)?.sum_all()?;
    loss.backward_with(
        None,
        BackwardOptions {
            retain_graph: true,
            ..Default::default()
        },
    )?;
    assert_eq!(y.grad().unwrap().to_vec()?, [4.0, 8.0]); // 2y
    assert!(z.grad().is_none());
    loss.backward()?;
    assert_eq!(y.grad().unwrap().to_vec()?, [8.0, 16.0]);
    // A leaf's retain_grad is a no-op; a tensor without grad cannot retain one.
    x.retain_grad()?;
    assert!(!x.retains_grad());
    assert!(Tensor::<f64, Cpu>::zeros([1], &Cpu)?.retain_grad().is_err());
    Ok(())
}

#[test]
fn retained_gradient_is_the_one_after_hooks() -> Result<()> {
    let x = leaf(&[1.0]);
    let y = x.mul(2.0)?;
    y.retain_grad()?;
    let _h = y.register_hook(|g| Ok(Some(g.mul(10.0)?)))?;
    y.sum_all()?.backward()?;
    assert_eq!(y.grad().unwrap().to_vec()?, [10.0]);
    assert_eq!(x.grad().unwrap().to_vec()?, [20.0]);
    Ok(())
}

#[test]
fn backward_inputs_accumulates_only_into_the_given_tensors() -> Result<()> {
    let a = leaf(&[1.0, 2.0]);
    let b = leaf(&[3.0, 4.0]);
    let h = a.mul(&b)?; // non-leaf input
    let loss = h.mul(2.0)?.add(&b)?.sum_all()?;
    loss.backward_inputs(
        None,
        &[&b, &h],
        BackwardOptions {
            retain_graph: true,
            ..Default::default()
        },
    )?;
    assert_eq!(b.grad().unwrap().to_vec()?, [3.0, 5.0]); // 2a + 1
    assert_eq!(h.grad().unwrap().to_vec()?, [2.0, 2.0]);
    assert!(a.grad().is_none());
    // A second call adds, as backward does.
    loss.backward_inputs(None, &[&b], BackwardOptions::default())?;
    assert_eq!(b.grad().unwrap().to_vec()?, [6.0, 10.0]);
    Ok(())
}

#[test]
fn backward_inputs_rejects_an_empty_list_and_inputs_without_grad() -> Result<()> {
    let a = leaf(&[1.0]);
    let loss = a.square()?.sum_all()?;
    assert!(loss
        .backward_inputs(None, &[], BackwardOptions::default())
        .unwrap_err()
        .to_string()
        .contains("empty"));
    let plain = Tensor::<f64, Cpu>::zeros([1], &Cpu)?;
    assert!(loss
        .backward_inputs(None, &[&plain], BackwardOptions::default())
        .unwrap_err()
        .to_string()
        .contains("does not require grad"));
    Ok(())
}

#[test]
fn each_leaf_is_reached_right_after_the_op_that_consumes_it() -> Result<()> {
    // Data-parallel training all-reduces the last layer's gradient while backward still works on
    // the first layers: that needs each parameter finished as soon as its consumer is.
    let x = leaf(&[1.0, 2.0]);
    let (w1, w2, w3) = (leaf(&[3.0, 1.0]), leaf(&[2.0, 2.0]), leaf(&[0.5, 4.0]));
    let (seen, writer) = log();
    let note = |name: &'static str| {
        let w = Arc::clone(&writer);
        move || w.lock().unwrap().push(name.to_string())
    };
    let mut handles = Vec::new();
    for (name, w) in [("w1", &w1), ("w2", &w2), ("w3", &w3)] {
        let note = note(name);
        handles.push(w.register_post_accumulate_grad_hook(move |_| {
            note();
            Ok(())
        })?);
    }
    let h1 = x.mul(&w1)?;
    let h2 = h1.mul(&w2)?;
    for (name, h) in [("h1", &h1), ("h2", &h2)] {
        let note = note(name);
        handles.push(h.register_hook(move |_| {
            note();
            Ok(None)
        })?);
    }
    h2.mul(&w3)?.sum_all()?.backward()?;
    assert_eq!(*seen.lock().unwrap(), ["w3", "h2", "w2", "h1", "w1"]);
    Ok(())
}
