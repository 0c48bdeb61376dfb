//! Anomaly detection: the error names the op, its input shapes, forward or backward, and the
//! line of this file that called the op.

use nanotorch_autograd::{detect_anomaly, is_anomaly_enabled, set_detect_anomaly, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{BinaryOp, NDArray, Result, UnaryOp};

fn leaf(values: &[f32], shape: &[usize]) -> Tensor<f32, Cpu> {
    Tensor::from_slice(values, shape, &Cpu)
        .unwrap()
        .requires_grad_(true)
}

/// `file:line` as `Location` prints it for a call on line `line` of this file.
fn here(line: u32) -> String {
    format!("{}:{line}:", file!())
}

fn assert_mentions(msg: &str, parts: &[&str]) {
    for part in parts {
        assert!(msg.contains(part), "{part:?} missing from: {msg}");
    }
}

#[test]
fn log_of_zero_times_zero_fails_in_forward_at_the_log() {
    let x = leaf(&[0.0, 1.0], &[2]);
    let mut line = 0;
    let err = detect_anomaly(|| {
        line = line!() + 1;
        let y = x.log()?;
        y.mul(0.0)?.sum_all()?.backward()
    })
    .unwrap_err()
    .to_string();
    assert_mentions(
        &err,
        &[
            "forward",
            "`log`",
            "inputs of shape [2]",
            "Inf",
            &here(line),
        ],
    );
}

#[test]
fn log_of_zero_times_zero_fails_in_backward_when_only_backward_is_checked() -> Result<()> {
    // The forward runs unchecked (its NaN goes unnoticed); backward is checked.
    let x = leaf(&[0.0, 1.0], &[2]);
    let loss = x.log()?.mul(0.0)?.sum_all()?;
    let err = detect_anomaly(|| loss.backward()).unwrap_err().to_string();
    // d(log x)/dx = g/x = 0/0 at x = 0.
    assert_mentions(
        &err,
        &[
            "backward",
            "`log`",
            "inputs of shape [2]",
            "NaN",
            "input 0",
            "not recorded",
        ],
    );
    Ok(())
}

#[test]
fn a_finite_forward_with_an_infinite_backward_names_the_forward_line() {
    let x = leaf(&[0.0, 4.0], &[2]);
    let mut line = 0;
    let err = detect_anomaly(|| {
        line = line!() + 1;
        let y = x.sqrt()?; // [0, 2]: finite
        y.sum_all()?.backward() // d√x/dx = 1/(2√x): Inf at 0
    })
    .unwrap_err()
    .to_string();
    assert_mentions(
        &err,
        &[
            "backward",
            "`sqrt`",
            "inputs of shape [2]",
            "Inf",
            &here(line),
        ],
    );
}

#[test]
fn softmax_by_hand_overflows_at_the_exp_and_the_fused_softmax_does_not() -> Result<()> {
    let x = leaf(&[1000.0, 1.0, 2.0, 3.0], &[2, 2]);
    let mut line = 0;
    let err = detect_anomaly(|| {
        line = line!() + 1;
        let e = x.exp()?; // e^1000 overflows f32
        let p = e.div(&e.sum_dims(&[-1], true)?)?;
        p.sum_all()
    })
    .unwrap_err()
    .to_string();
    assert_mentions(
        &err,
        &[
            "forward",
            "`exp`",
            "inputs of shape [2, 2]",
            "Inf",
            &here(line),
        ],
    );
    // The max-subtracting softmax stays finite, so anomaly mode lets it through, backward too.
    detect_anomaly(|| x.softmax(-1)?.select(1, 0)?.sum_all()?.backward())?;
    assert!(x.grad().is_some());
    Ok(())
}

#[test]
fn anomalies_pass_silently_with_the_mode_off() -> Result<()> {
    assert!(!is_anomaly_enabled());
    let x = leaf(&[0.0], &[1]);
    let y = x.log()?.mul(0.0)?;
    assert!(y.item()?.is_nan());
    y.sum_all()?.backward()?;
    Ok(())
}

#[test]
fn the_switch_turns_checks_on_for_this_thread_only_and_detect_anomaly_restores_it() -> Result<()> {
    set_detect_anomaly(true);
    assert!(is_anomaly_enabled());
    let other = std::thread::spawn(is_anomaly_enabled).join().unwrap();
    assert!(!other, "the mode is per thread");
    let x = leaf(&[0.0], &[1]);
    assert!(x.log().is_err());
    set_detect_anomaly(false);
    assert!(x.log().is_ok());
    assert!(detect_anomaly(|| x.log()).is_err());
    assert!(
        !is_anomaly_enabled(),
        "detect_anomaly restores the mode, even after an error"
    );
    Ok(())
}

#[test]
fn an_op_built_with_from_op_is_reported_by_detect_anomaly() -> Result<()> {
    let x = leaf(&[1.0], &[1]);
    let err = detect_anomaly(|| {
        let nan = NDArray::from_vec(vec![f32::NAN], [1], &Cpu)?;
        let y = Tensor::from_op(nan, "my_op", &[&x], |_, _, g| Ok(vec![Some(g.clone())]));
        Ok(y)
    })
    .unwrap_err()
    .to_string();
    assert_mentions(&err, &["forward", "`my_op`", "NaN", "[1]"]);
    Ok(())
}

#[test]
fn every_table_op_reports_the_callers_line() -> Result<()> {
    // A NaN input makes (almost) every element-wise op's output NaN; each anomaly must point
    // here, which fails if any method between the op and `from_op` drops `#[track_caller]`.
    let x = leaf(&[f32::NAN, 1.0], &[2]);
    let mut reported = 0;
    for op in UnaryOp::ALL {
        let line = line!() + 1;
        if let Err(e) = detect_anomaly(|| x.unary(op)) {
            assert_mentions(&e.to_string(), &[op.name(), &here(line)]);
            reported += 1;
        }
    }
    for op in BinaryOp::ALL {
        let line = line!() + 1;
        if let Err(e) = detect_anomaly(|| x.binary(op, &x)) {
            assert_mentions(&e.to_string(), &[op.name(), &here(line)]);
            reported += 1;
        }
    }
    assert!(
        reported > UnaryOp::ALL.len(),
        "only {reported} ops reported the NaN"
    );
    Ok(())
}

#[test]
fn an_op_composed_of_others_reports_the_callers_line_not_the_librarys() {
    // `std` is `sqrt(var)`, run inside a closure in the library; the location is still this line.
    let x = leaf(&[f32::NAN, 1.0], &[2]);
    let line = line!() + 1;
    let err = detect_anomaly(|| x.std_dims(&[0], 1, false))
        .unwrap_err()
        .to_string();
    assert_mentions(&err, &["forward", "NaN", &here(line)]);
}
