//! Checking a backward rule against the definition of the derivative.
//!
//! For inputs `x` and a function `f`, pick a fixed random weighting `w` of the outputs and compare
//! the analytic gradient of `L(x) = Σ w ⊙ f(x)` (from `backward`) with central differences
//! `(L(x + ε·eᵢ) − L(x − ε·eᵢ)) / 2ε` for every input element, in f64, with PyTorch's
//! default tolerances. A random `w` checks the whole Jacobian: a wrong entry survives only if it is
//! invisible in every random direction, which has probability zero.

use crate::{no_grad, Tensor};
use nanotorch_ndarray_core::{Backend, Error, NDArray, RandomDist, Result};

/// Step and tolerances (PyTorch's `gradcheck` defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradcheckOptions {
    /// Finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
        }
    }
}

/// Checks `f`'s gradients with respect to every input that requires grad. Returns an error that
/// names the input, the element, and both values at the first mismatch.
pub fn gradcheck<B, F>(f: F, inputs: &[Tensor<f64, B>], options: GradcheckOptions) -> Result<()>
where
    B: Backend,
    F: Fn(&[Tensor<f64, B>]) -> Result<Tensor<f64, B>>,
{
    let probe = no_grad(|| f(inputs))?;
    let backend = probe.backend().clone();
    let weights = Tensor::from_ndarray(NDArray::random(
        probe.shape().clone(),
        RandomDist::Uniform {
            low: 0.5,
            high: 1.5,
        },
        0x9AD_C4EC,
        &backend,
    )?);
    let loss =
        |xs: &[Tensor<f64, B>]| -> Result<Tensor<f64, B>> { f(xs)?.mul(&weights)?.sum_all() };

    // Analytic: fresh leaves so earlier gradients do not leak in.
    let leaves: Vec<Tensor<f64, B>> = inputs
        .iter()
        .map(|x| x.detach().requires_grad_(x.requires_grad()))
        .collect();
    let out = loss(&leaves)?;
    if !out.requires_grad() {
        return Err(Error::msg(
            "gradcheck: the output does not depend on any input that requires grad",
        ));
    }
    out.backward()?;

    for (which, (input, leaf)) in inputs.iter().zip(&leaves).enumerate() {
        if !input.requires_grad() {
            continue;
        }
        let analytic = match leaf.grad() {
            Some(g) => g.to_vec()?,
            None => vec![0.0; input.numel()],
        };
        let values = input.to_vec()?;
        for i in 0..values.len() {
            let at = |delta: f64| -> Result<f64> {
                let mut shifted = values.clone();
                shifted[i] += delta;
                let mut xs: Vec<Tensor<f64, B>> = inputs.iter().map(|x| x.detach()).collect();
                xs[which] = Tensor::from_vec(shifted, input.shape().clone(), &backend)?;
                no_grad(|| loss(&xs))?.item()
            };
            let numeric = (at(options.eps)? - at(-options.eps)?) / (2.0 * options.eps);
            let a = analytic[i];
            // Written so that a NaN on either side counts as a mismatch.
            let within = (a - numeric).abs() <= options.atol + options.rtol * numeric.abs();
            if !within {
                return Err(Error::msg(format!(
                    "gradcheck: input {which} (shape {}) element {i}: analytic {a:.8} vs numeric {numeric:.8}",
                    input.shape()
                )));
            }
        }
    }
    Ok(())
}
