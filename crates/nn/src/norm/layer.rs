//! Layer normalisation: statistics per sample over the trailing `normalized_shape` axes.

use super::base::{affine, affine_norm_grads, normalize};
use crate::module::layer_traits;
use crate::{init, Module, Visitor};
use nanotorch_autograd::{is_grad_enabled, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result, Shape};

/// `(x − mean) / √(var + eps) · weight + bias` over the trailing `normalized_shape` axes of `x`
/// (`F.layer_norm`; the variance is the biased one, as PyTorch's).
pub fn layer_norm<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    normalized_shape: &[usize],
    weight: Option<&Tensor<E, B>>,
    bias: Option<&Tensor<E, B>>,
    eps: f64,
) -> Result<Tensor<E, B>> {
    let k = normalized_shape.len();
    if k == 0 || x.rank() < k || x.dims()[x.rank() - k..] != *normalized_shape {
        return Err(Error::ShapeMismatch {
            op: "layer_norm",
            what: "the input's trailing axes must equal normalized_shape",
            lhs: x.shape().clone(),
            rhs: Shape::from(normalized_shape.to_vec()),
        });
    }
    if let Some(y) = fused(x, normalized_shape, weight, bias, eps)? {
        return Ok(y);
    }
    let axes: Vec<isize> = (1..=k as isize).map(|i| -i).collect();
    affine(normalize(x, axes, eps, "layer_norm")?, weight, bias)
}

/// The whole layer norm, affine transform included, as one recorded op over rows of `n` (the
/// normalized axes flattened) in the backend's fused kernels: one pass forward, one backward,
/// where the composition took about ten kernels each way. `None` (the composed path runs) when
/// the backend has no such kernel, or the weight or bias is not shaped like `normalized_shape`
/// (the composition then broadcasts it, or reports the mismatch).
fn fused<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    normalized_shape: &[usize],
    weight: Option<&Tensor<E, B>>,
    bias: Option<&Tensor<E, B>>,
    eps: f64,
) -> Result<Option<Tensor<E, B>>> {
    let n: usize = normalized_shape.iter().product();
    let per_element = |t: Option<&Tensor<E, B>>| t.is_none_or(|t| t.dims() == normalized_shape);
    if n == 0 || !per_element(weight) || !per_element(bias) {
        return Ok(None);
    }
    let x2 = x.reshape([x.numel() / n, n])?;
    let w = weight.map(|w| w.reshape([n])).transpose()?;
    let b = bias.map(|b| b.reshape([n])).transpose()?;
    let stats = x2.array().layer_norm_rows(
        w.as_ref().map(Tensor::array),
        b.as_ref().map(Tensor::array),
        eps,
    )?;
    let Some((y, mean, rstd)) = stats else {
        return Ok(None);
    };
    let (has_w, has_b) = (w.is_some(), b.is_some());
    let inputs: Vec<&Tensor<E, B>> = std::iter::once(&x2).chain(&w).chain(&b).collect();
    let y = Tensor::try_from_op(y, "layer_norm", &inputs, move |inputs, _, g| {
        let (x, w) = (&inputs[0], has_w.then(|| &inputs[1]));
        let fused = if is_grad_enabled() {
            // create_graph: the gradient must be recorded, so it is composed.
            None
        } else {
            x.array()
                .layer_norm_rows_backward(g.array(), &mean, &rstd, w.map(Tensor::array))?
        };
        let (dx, dw, db) = match fused {
            Some((dx, dw, db)) => (
                Tensor::from_ndarray(dx),
                Tensor::from_ndarray(dw),
                Tensor::from_ndarray(db),
            ),
            None => affine_norm_grads(x, w, g, (&[-1], &[0]), eps)?,
        };
        let mut grads = vec![Some(dx)];
        grads.extend(has_w.then_some(Some(dw)));
        grads.extend(has_b.then_some(Some(db)));
        Ok(grads)
    })?;
    y.reshape(x.dims()).map(Some)
}

/// Layer normalisation (`nn.LayerNorm`) with a learnable per-element affine transform.
pub struct LayerNorm<E: Float = f32, B: Backend = Cpu> {
    normalized_shape: Vec<usize>,
    /// Added to the variance before the square root.
    pub eps: f64,
    /// Scale, shaped like `normalized_shape`, initialised to ones (`None` without affine).
    pub weight: Option<Tensor<E, B>>,
    /// Shift, shaped like `normalized_shape`, initialised to zeros.
    pub bias: Option<Tensor<E, B>>,
}

impl<E: Float, B: Backend> LayerNorm<E, B> {
    /// PyTorch's defaults: `eps = 1e-5`, elementwise affine with a bias.
    pub fn new(normalized_shape: impl Into<Vec<usize>>, backend: &B) -> Result<Self> {
        Self::with_options(normalized_shape, 1e-5, true, true, backend)
    }

    /// Every option of `nn.LayerNorm(normalized_shape, eps, elementwise_affine, bias)`.
    pub fn with_options(
        normalized_shape: impl Into<Vec<usize>>,
        eps: f64,
        elementwise_affine: bool,
        bias: bool,
        backend: &B,
    ) -> Result<Self> {
        let normalized_shape = normalized_shape.into();
        if normalized_shape.is_empty() {
            return Err(Error::msg("LayerNorm: normalized_shape must not be empty"));
        }
        let shape = normalized_shape.clone();
        let weight = elementwise_affine
            .then(|| init::ones(shape.clone(), backend))
            .transpose()?;
        let bias = (elementwise_affine && bias)
            .then(|| init::zeros(shape, backend))
            .transpose()?;
        Ok(LayerNorm {
            normalized_shape,
            eps,
            weight,
            bias,
        })
    }

    /// The trailing shape normalised over.
    pub fn normalized_shape(&self) -> &[usize] {
        &self.normalized_shape
    }

    /// The forward pass: `x` normalised over its trailing `normalized_shape` axes.
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        layer_norm(
            x,
            &self.normalized_shape,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.eps,
        )
    }
}

impl<E: Float, B: Backend> Module<E, B> for LayerNorm<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.parameter("weight", self.weight.as_ref());
        v.parameter("bias", self.bias.as_ref());
    }

    fn extra_repr(&self) -> String {
        format!(
            "{:?}, eps={}, elementwise_affine={}",
            self.normalized_shape,
            self.eps,
            self.weight.is_some()
        )
    }
}

layer_traits!(LayerNorm);

#[cfg(test)]
mod tests {
    //! The fused normalisation against the composition it replaces (whose rules gradcheck
    //! covers): values, first derivatives, and second derivatives under `create_graph`, which
    //! take the rule's recomputing branch.
    use super::super::base::normalize_parts;
    use super::layer_norm;
    use nanotorch_autograd::{grad, BackwardOptions, Tensor};
    use nanotorch_backend_cpu::Cpu;

    type T = Tensor<f64, Cpu>;

    fn leaf(shape: &[usize], seed: f64) -> T {
        let n = shape.iter().product();
        let data = (0..n).map(|k| ((k as f64 + seed) * 0.731).sin()).collect();
        Tensor::from_vec(data, shape.to_vec(), &Cpu)
            .unwrap()
            .requires_grad_(true)
    }

    fn close(a: &T, b: &T) {
        for (x, y) in a.to_vec().unwrap().iter().zip(b.to_vec().unwrap()) {
            assert!((x - y).abs() <= 1e-10 * (1.0 + y.abs()), "{x} vs {y}");
        }
    }

    #[test]
    fn fused_layer_norm_matches_the_composition() {
        let x = leaf(&[3, 2, 5], 0.3);
        let (w, b) = (leaf(&[2, 5], 1.1), leaf(&[2, 5], 2.7));
        let mix = leaf(&[3, 2, 5], 4.2);
        let fused = |x: &T| layer_norm(x, &[2, 5], Some(&w), Some(&b), 1e-5).unwrap();
        let composed = |x: &T| {
            let (n, _) = normalize_parts(x, &[-1, -2], 1e-5).unwrap();
            n.mul(&w).unwrap().add(&b).unwrap()
        };
        assert_eq!(fused(&x).to_vec().unwrap(), composed(&x).to_vec().unwrap());
        let loss = |y: T| y.mul(&mix).unwrap().sum_all().unwrap();
        let create = BackwardOptions {
            retain_graph: true,
            create_graph: true,
        };
        // The saved-activation branch (plain backward) and the recomputing one (create_graph).
        let plain = BackwardOptions {
            retain_graph: true,
            create_graph: false,
        };
        let saved = grad(&loss(fused(&x)), None, &[&x, &w, &b], plain).unwrap();
        let first = |y: T| grad(&loss(y), None, &[&x, &w, &b], create).unwrap();
        let (gf, gc) = (first(fused(&x)), first(composed(&x)));
        for ((f, c), s) in gf.iter().zip(&gc).zip(&saved) {
            close(f.as_ref().unwrap(), c.as_ref().unwrap());
            close(s.as_ref().unwrap(), c.as_ref().unwrap());
        }
        // Second derivatives through the gradient with respect to x.
        let second = |g: &T| {
            let s = g.mul(g).unwrap().sum_all().unwrap();
            grad(&s, None, &[&x, &w], BackwardOptions::default()).unwrap()
        };
        let (sf, sc) = (
            second(gf[0].as_ref().unwrap()),
            second(gc[0].as_ref().unwrap()),
        );
        for (f, c) in sf.iter().zip(&sc) {
            close(f.as_ref().unwrap(), c.as_ref().unwrap());
        }
    }
}
