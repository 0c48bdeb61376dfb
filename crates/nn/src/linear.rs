//! `Linear`: `y = x·Wᵀ + b`, with PyTorch's parameter layout and default initialisation.

use crate::module::layer_traits;
use crate::{init, Module, Visitor};
use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// A fully connected layer. `weight` is `[out, in]` and `bias` `[out]`, as in PyTorch, so a
/// state dict maps key for key.
pub struct Linear<E: Float = f32, B: Backend = Cpu> {
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

    /// `x·Wᵀ + b` over the last axis of `x` (`[…, in_features]` → `[…, out_features]`).
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        // Checked here so the error shows the weight as stored, `[out, in]`, not the transposed
        // view the matmul sees.
        if x.rank() == 0 || x.dims()[x.rank() - 1] != self.in_features() {
            return Err(Error::ShapeMismatch {
                op: "Linear",
                what: "input's last axis must equal in_features (weight is [out_features, in_features])",
                lhs: x.shape().clone(),
                rhs: self.weight.shape().clone(),
            });
        }
        crate::functional::linear(x, &self.weight, self.bias.as_ref())
    }
}

impl<E: Float, B: Backend> Module<E, B> for Linear<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.parameter("weight", &self.weight);
        v.parameter("bias", self.bias.as_ref());
    }

    fn extra_repr(&self) -> String {
        format!(
            "in_features={}, out_features={}, bias={}",
            self.in_features(),
            self.out_features(),
            self.bias.is_some()
        )
    }
}

layer_traits!(Linear);
