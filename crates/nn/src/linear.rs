//! `Linear`: `y = x·Wᵀ + b`, with PyTorch's parameter layout and default initialisation.

use crate::{init, Module};
use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// A fully connected layer. `weight` is `[out, in]` and `bias` `[out]`, as in PyTorch, so a
/// state dict maps key for key.
pub struct Linear<E: Float, B: Backend> {
    /// `[out_features, in_features]`.
    pub weight: Tensor<E, B>,
    /// `[out_features]`, if the layer has a bias.
    pub bias: Option<Tensor<E, B>>,
}

impl<E: Float, B: Backend> Linear<E, B> {
    /// A layer with PyTorch's default init: weight and bias uniform in `±1/√in_features`
    /// (what `kaiming_uniform_(a=√5)` works out to).
    pub fn new(in_features: usize, out_features: usize, backend: &B) -> Result<Self> {
        Self::with_bias(in_features, out_features, true, backend)
    }

    /// As [`Linear::new`], choosing whether there is a bias.
    pub fn with_bias(
        in_features: usize,
        out_features: usize,
        bias: bool,
        backend: &B,
    ) -> Result<Self> {
        let bound = 1.0 / (in_features.max(1) as f64).sqrt();
        let weight = init::uniform([out_features, in_features], -bound, bound, backend)?;
        let bias = bias
            .then(|| init::uniform([out_features], -bound, bound, backend))
            .transpose()?;
        Ok(Linear { weight, bias })
    }

    /// `in_features`.
    pub fn in_features(&self) -> usize {
        self.weight.dims()[1]
    }

    /// `out_features`.
    pub fn out_features(&self) -> usize {
        self.weight.dims()[0]
    }
}

impl<E: Float, B: Backend> Module<E, B> for Linear<E, B> {
    fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        crate::functional::linear(x, &self.weight, self.bias.as_ref()).map_err(|e| match e {
            Error::ShapeMismatch { lhs, rhs, .. } => Error::ShapeMismatch {
                op: "Linear",
                what: "input's last axis must equal in_features (weight is [out, in])",
                lhs,
                rhs,
            },
            other => other,
        })
    }

    fn named_parameters(&self) -> Vec<(String, Tensor<E, B>)> {
        crate::module::weight_and_bias(Some(&self.weight), self.bias.as_ref())
    }
}

impl<E: Float, B: Backend> std::fmt::Display for Linear<E, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Linear(in_features={}, out_features={}, bias={})",
            self.in_features(),
            self.out_features(),
            self.bias.is_some()
        )
    }
}
