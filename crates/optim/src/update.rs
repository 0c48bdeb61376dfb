//! In-place building blocks the update rules are written with. First choice is the backend's
//! fused step ([`try_fused`]: one pass, no allocation); where a backend has none, the rules
//! compose the same arithmetic from the helpers below, each one or two backend passes
//! (`binary_assign` / `scalar_assign`) that allocate only when they say so.
//!
//! Gradients are read-only here: autograd may hand the *same* gradient buffer to several
//! parameters (the two inputs of an `add`), or a broadcast view, so writing into one would change
//! the others.

use nanotorch_ndarray_core::{
    Backend, BinaryOp, Error, Float, FusedStep, NDArray, Result, StepDirection,
};

/// `x` as the element type.
pub(crate) fn e<E: Float>(x: f64) -> E {
    E::from_f64(x)
}

/// The direction of a fused step: PyTorch's `-grad if maximize`, then `+ weight_decay · param`.
pub(crate) fn step_direction<E: Float>(maximize: bool, weight_decay: f64) -> StepDirection<E> {
    StepDirection {
        maximize,
        weight_decay: (weight_decay != 0.0).then(|| e(weight_decay)),
    }
}

/// Runs `step` on `param` in the backend's fused kernel: one pass, nothing allocated. `false`
/// when the backend cannot (no kernel, a strided or shared array): the caller composes it.
pub(crate) fn try_fused<E: Float, B: Backend>(
    param: &NDArray<E, B>,
    step: FusedStep<E>,
    grad: &NDArray<E, B>,
    state: &[&NDArray<E, B>],
) -> Result<bool> {
    #[cfg(test)]
    if tests::COMPOSED_ONLY.with(std::cell::Cell::get) {
        return Ok(false);
    }
    param.fused_step(&step, grad, state)
}

/// An update direction: the gradient itself (borrowed, never to be written) or a fresh array this
/// step owns and may overwrite.
pub(crate) struct Direction<E: Float, B: Backend> {
    pub(crate) array: NDArray<E, B>,
    pub(crate) owned: bool,
}

impl<E: Float, B: Backend> Direction<E, B> {
    /// A copy this step may keep (as a state buffer) or overwrite; copies only if borrowed.
    pub(crate) fn into_owned(self) -> Result<NDArray<E, B>> {
        if self.owned {
            Ok(self.array)
        } else {
            self.array.copy()
        }
    }
}

/// PyTorch's first lines of every algorithm: `g = -grad if maximize else grad`, then
/// `g = g + weight_decay * param` when `weight_decay != 0`. Allocates only when it changes `grad`.
pub(crate) fn direction<E: Float, B: Backend>(
    grad: &NDArray<E, B>,
    param: &NDArray<E, B>,
    maximize: bool,
    weight_decay: f64,
) -> Result<Direction<E, B>> {
    let array = match (maximize, weight_decay != 0.0) {
        (false, false) => {
            return Ok(Direction {
                array: grad.clone(),
                owned: false,
            })
        }
        (true, false) => grad.neg()?,
        (maximize, true) => {
            let d = param.mul_scalar(e(weight_decay))?;
            let op = if maximize {
                BinaryOp::Sub
            } else {
                BinaryOp::Add
            };
            // -grad + wd·param, or grad + wd·param (addition commutes exactly in floating point).
            d.binary_assign(op, grad)?;
            d
        }
    };
    Ok(Direction { array, owned: true })
}

/// `dst += alpha · src`, in place (PyTorch's `dst.add_(src, alpha=alpha)`): one fused backend
/// pass, no temporary.
pub(crate) fn add_scaled<E: Float, B: Backend>(
    dst: &NDArray<E, B>,
    src: &NDArray<E, B>,
    alpha: f64,
) -> Result<()> {
    if alpha == 1.0 {
        dst.binary_assign(BinaryOp::Add, src)
    } else if alpha == -1.0 {
        dst.binary_assign(BinaryOp::Sub, src)
    } else {
        dst.axpby_assign(E::ONE, src, e(alpha))
    }
}

/// `param -= lr · d`, in place: one fused pass.
pub(crate) fn descend<E: Float, B: Backend>(
    param: &NDArray<E, B>,
    d: Direction<E, B>,
    lr: f64,
) -> Result<()> {
    add_scaled(param, &d.array, -lr)
}

/// `buf = beta · buf + (1 - beta) · x`, in place (an exponential moving average): one fused pass.
pub(crate) fn ema<E: Float, B: Backend>(
    buf: &NDArray<E, B>,
    x: &NDArray<E, B>,
    beta: f64,
) -> Result<()> {
    buf.axpby_assign(e(beta), x, e(1.0 - beta))
}

/// `buf = beta · buf + (1 - beta) · x²`, in place; one temporary for `x²`.
pub(crate) fn ema_square<E: Float, B: Backend>(
    buf: &NDArray<E, B>,
    x: &NDArray<E, B>,
    beta: f64,
) -> Result<()> {
    let sq = x.square()?;
    buf.scalar_assign(BinaryOp::Mul, e(beta))?;
    if 1.0 - beta != 1.0 {
        sq.scalar_assign(BinaryOp::Mul, e(1.0 - beta))?;
    }
    buf.binary_assign(BinaryOp::Add, &sq)
}

/// Errors with `"{algo}: invalid {what}: {value}"` unless `ok`.
pub(crate) fn check(algo: &str, ok: bool, what: &str, value: f64) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::msg(format!("{algo}: invalid {what}: {value}")))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::Cell;

    thread_local! {
        /// Set by tests to run the composed path on the CPU, to compare it with the fused one.
        pub(crate) static COMPOSED_ONLY: Cell<bool> = const { Cell::new(false) };
    }
}
