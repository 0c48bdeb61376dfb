//! Anomaly detection: find the op that first made a NaN or an infinity.
//!
//! With anomaly mode on, every op's forward output is checked for NaN/Inf as it is made, and so
//! is every gradient a backward rule returns. The error names the op, the shapes of its inputs,
//! whether it happened in the forward or the backward, and the line of *your* code that called
//! the op: `from_op` records `Location::caller()`, and the public op methods carry
//! `#[track_caller]` down to it. PyTorch's anomaly mode only checks backward and prints the
//! forward's stack trace; this gives the line directly.
//!
//! The mode is per thread, like grad mode: it covers the ops and backward passes run on the
//! thread that turned it on. Off, it costs one thread-local read per op (no check, no location
//! kept), which the `autograd_chain` bench cannot tell from noise.

use crate::tensor::Node;
use crate::Tensor;
use nanotorch_ndarray_core::{Backend, BinaryOp, Element, Error, NDArray, Result, ScalarSide};
use std::cell::{Cell, RefCell};
use std::panic::Location;

/// Bits of [`STATE`].
const ENABLED: u8 = 1;
/// Set while a backward rule runs: its internal ops are not checked one by one, the gradients it
/// returns are (so the error names the op whose backward failed, not a `div` inside the rule).
const IN_BACKWARD_RULE: u8 = 2;

thread_local! {
    static STATE: Cell<u8> = const { Cell::new(0) };
    /// The first anomaly met by an op that cannot return an error itself (`from_op`); reported by
    /// the next fallible op, the next backward, or the end of `detect_anomaly`.
    static PENDING: RefCell<Option<Error>> = const { RefCell::new(None) };
    /// The user's call site of the outermost composite op running (see [`at_caller`]).
    static CALLER: Cell<Option<&'static Location<'static>>> = const { Cell::new(None) };
}

/// Whether anomaly detection is on for this thread (PyTorch's `torch.is_anomaly_enabled`).
#[inline]
pub fn is_anomaly_enabled() -> bool {
    STATE.with(|s| s.get()) & ENABLED != 0
}

/// Turns anomaly detection on or off for this thread until changed again (PyTorch's
/// `torch.autograd.set_detect_anomaly`). Turning it off forgets an anomaly not yet reported.
pub fn set_detect_anomaly(enabled: bool) {
    STATE.with(|s| s.set(if enabled { ENABLED } else { 0 }));
    if !enabled {
        PENDING.with(|p| p.borrow_mut().take());
    }
}

/// Runs `f` with anomaly detection on, then restores the previous mode (PyTorch's
/// `with torch.autograd.detect_anomaly():`). The first op inside `f` whose output, or whose
/// backward's gradient, holds a NaN or an infinity fails with an error naming it.
///
/// ```
/// use nanotorch_autograd::{detect_anomaly, Tensor};
/// use nanotorch_backend_cpu::Cpu;
///
/// let x = Tensor::from_vec(vec![0.0f32, 1.0], [2], &Cpu).unwrap().requires_grad_(true);
/// let err = detect_anomaly(|| x.log()?.mul(0.0)?.sum_all()?.backward()).unwrap_err();
/// let msg = err.to_string();
/// assert!(msg.contains("`log`") && msg.contains("forward") && msg.contains("Inf"), "{msg}");
/// ```
pub fn detect_anomaly<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    struct Restore(u8);
    impl Drop for Restore {
        fn drop(&mut self) {
            STATE.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(STATE.with(|s| s.replace(ENABLED)));
    let out = f();
    match PENDING.with(|p| p.borrow_mut().take()) {
        Some(anomaly) => Err(anomaly),
        None => out,
    }
}

/// Runs `body` with `caller` as the location recorded for every op inside it, unless an outer
/// scope already set one: a composite op built in a closure reports the user's line, not the
/// library's. Costs nothing with anomaly mode off.
pub(crate) fn at_caller<T>(caller: &'static Location<'static>, body: impl FnOnce() -> T) -> T {
    if !is_anomaly_enabled() || CALLER.with(|c| c.get()).is_some() {
        return body();
    }
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            CALLER.with(|c| c.set(None));
        }
    }
    CALLER.with(|c| c.set(Some(caller)));
    let _clear = Clear;
    body()
}

/// Where the op being recorded was called, if anomaly mode is on. Inlined into every op: with
/// the mode off it is one thread-local read.
#[inline]
pub(crate) fn op_location(own: &'static Location<'static>) -> Option<&'static Location<'static>> {
    is_anomaly_enabled().then(|| CALLER.with(|c| c.get()).unwrap_or(own))
}

/// Checks a forward output; an anomaly is kept for [`report_pending`]. Only called with anomaly
/// mode on.
pub(crate) fn check_forward<E: Element, B: Backend>(
    op: &str,
    inputs: &[&Tensor<E, B>],
    out: &NDArray<E, B>,
    location: &'static Location<'static>,
) {
    if STATE.with(|s| s.get()) != ENABLED || !E::DTYPE.is_float() {
        return;
    }
    let found = match non_finite(out) {
        Ok(None) => return,
        Ok(Some(what)) => Error::msg(format!(
            "anomaly detected in forward: `{op}` called at {location} (inputs of shape {}) produced {what} in its output of shape {}",
            shapes(inputs.iter().map(|t| t.shape())),
            out.shape()
        )),
        Err(e) => e,
    };
    PENDING.with(|p| {
        p.borrow_mut().get_or_insert(found);
    });
}

/// The anomaly an infallible `from_op` met, if any, as an error.
pub(crate) fn report_pending() -> Result<()> {
    if STATE.with(|s| s.get()) == 0 {
        return Ok(());
    }
    match PENDING.with(|p| p.borrow_mut().take()) {
        Some(anomaly) => Err(anomaly),
        None => Ok(()),
    }
}

/// Checks the gradients that `node`'s backward rule returned (called in anomaly mode only).
pub(crate) fn check_backward<E: Element, B: Backend>(
    node: &Node<E, B>,
    grads: &[Option<Tensor<E, B>>],
) -> Result<()> {
    for (i, grad) in grads.iter().enumerate() {
        let Some(grad) = grad else { continue };
        if let Some(what) = non_finite(grad.array())? {
            let at = match node.location {
                Some(location) => format!("called at {location}"),
                None => {
                    "called where it was not recorded: its forward ran with anomaly detection off"
                        .to_string()
                }
            };
            return Err(Error::msg(format!(
                "anomaly detected in backward: the backward of `{}` ({at}; inputs of shape {}) produced {what} in the gradient of input {i} (shape {})",
                node.op,
                shapes(node.inputs.iter().map(|t| t.shape())),
                grad.shape()
            )));
        }
    }
    Ok(())
}

/// Marks a backward rule as running, for its lifetime.
pub(crate) struct BackwardRuleScope(Option<u8>);

impl BackwardRuleScope {
    pub(crate) fn enter() -> Self {
        BackwardRuleScope(STATE.with(|s| {
            let state = s.get();
            (state != 0).then(|| s.replace(state | IN_BACKWARD_RULE))
        }))
    }
}

impl Drop for BackwardRuleScope {
    fn drop(&mut self) {
        if let Some(previous) = self.0 {
            STATE.with(|s| s.set(previous));
        }
    }
}

/// `Some("NaN")` or `Some("Inf")` if `array` holds such a value. One fused pass on the device:
/// `sum(x · 0)` is 0 when every element is finite and NaN otherwise; the host copy happens only
/// to say which.
fn non_finite<E: Element, B: Backend>(array: &NDArray<E, B>) -> Result<Option<&'static str>> {
    let probe = array
        .binary_scalar(BinaryOp::Mul, E::ZERO, ScalarSide::Right)?
        .sum_all()?
        .to_scalar()?;
    if probe.to_f64().is_finite() {
        return Ok(None);
    }
    let any_nan = array.to_vec()?.into_iter().any(|v| v.is_nan());
    Ok(Some(if any_nan { "NaN" } else { "Inf" }))
}

fn shapes<'a>(shapes: impl Iterator<Item = &'a nanotorch_ndarray_core::Shape>) -> String {
    shapes.map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
}
