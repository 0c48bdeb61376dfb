//! Normalisation layers: `LayerNorm` (statistics per sample) and `BatchNorm1d` (statistics per
//! channel over the batch, with running averages for evaluation).

use crate::module::{layer_traits, Training};
use crate::{init, Module, Visitor};
use nanotorch_autograd::{is_grad_enabled, no_grad, Tensor};
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
    let axes: Vec<isize> = (1..=k as isize).map(|i| -i).collect();
    affine(normalize(x, axes, eps)?, weight, bias)
}

/// `x̂ = (x − mean) / √(var + eps)` over `axes` and `1/√(var + eps)`, with recorded ops (the
/// composition whose values `normalize` reproduces and whose gradient its rule is).
fn normalize_parts<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    axes: &[isize],
    eps: f64,
) -> Result<(Tensor<E, B>, Tensor<E, B>)> {
    let centered = x.sub(&x.mean_dims(axes, true)?)?;
    let var = centered.square()?.mean_dims(axes, true)?;
    let rstd = var.add_scalar(E::from_f64(eps))?.rsqrt()?;
    Ok((centered.mul(&rstd)?, rstd))
}

/// The normalisation of `layer_norm` as one autograd op. The values are the composition's (the
/// same ops in the same order, run without recording); the gradient is the closed form
/// `dx = rstd · (g − mean(g) − x̂ · mean(g ⊙ x̂))`, a handful of passes where the chain of
/// sub/square/mean/rsqrt/mul rules took about twenty, and no intermediate tensors are kept
/// but `rstd` (one value per row). Under `create_graph` (grad mode on during backward) the
/// rule recomputes `x̂` and `rstd` from the input with recorded ops, so the gradient it
/// returns is itself differentiable.
fn normalize<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    axes: Vec<isize>,
    eps: f64,
) -> Result<Tensor<E, B>> {
    let (normed, rstd) = no_grad(|| normalize_parts(x, &axes, eps))?;
    Ok(Tensor::from_op(
        normed.array().clone(),
        "layer_norm",
        &[x],
        move |inputs, out, g| {
            let (xhat, rstd) = if is_grad_enabled() {
                normalize_parts(&inputs[0], &axes, eps)?
            } else {
                (out.clone(), rstd.clone())
            };
            let mean_g = g.mean_dims(&axes, true)?;
            let mean_gx = g.mul(&xhat)?.mean_dims(&axes, true)?;
            let dx = g.sub(&mean_g)?.sub(&xhat.mul(&mean_gx)?)?.mul(&rstd)?;
            Ok(vec![Some(dx)])
        },
    ))
}

fn affine<E: Float, B: Backend>(
    x: Tensor<E, B>,
    weight: Option<&Tensor<E, B>>,
    bias: Option<&Tensor<E, B>>,
) -> Result<Tensor<E, B>> {
    let x = match weight {
        Some(w) => x.mul(w)?,
        None => x,
    };
    match bias {
        Some(b) => x.add(b),
        None => Ok(x),
    }
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

/// Running statistics that `batch_norm` reads in evaluation and updates in training.
pub struct RunningStats<'a, E: Float, B: Backend> {
    /// Per-channel mean, `[C]`.
    pub mean: &'a Tensor<E, B>,
    /// Per-channel (unbiased) variance, `[C]`.
    pub var: &'a Tensor<E, B>,
    /// Weight of the new batch in the running average: `running = (1 − m)·running + m·batch`.
    pub momentum: f64,
}

/// Batch normalisation of `[N, C]` or `[N, C, L]` (`F.batch_norm`). In training (or without
/// running statistics) each channel is normalised by its batch mean and biased variance, and
/// `running` (if given) moves toward the batch mean and *unbiased* variance; in evaluation the
/// running statistics are used instead.
pub fn batch_norm<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    running: Option<RunningStats<'_, E, B>>,
    weight: Option<&Tensor<E, B>>,
    bias: Option<&Tensor<E, B>>,
    training: bool,
    eps: f64,
) -> Result<Tensor<E, B>> {
    if !(2..=3).contains(&x.rank()) {
        return Err(Error::invalid(
            "batch_norm",
            "expected input [N, C] or [N, C, L]",
            x.shape(),
        ));
    }
    let channels = x.dims()[1];
    // Per-channel tensors `[C]` become `[C]` or `[C, 1]` so they broadcast against the input.
    let channel_shape = if x.rank() == 3 {
        vec![channels, 1]
    } else {
        vec![channels]
    };
    let per_channel = |t: &Tensor<E, B>, name: &'static str| {
        if t.dims() != [channels] {
            return Err(Error::ShapeMismatch {
                op: "batch_norm",
                what: name,
                lhs: x.shape().clone(),
                rhs: t.shape().clone(),
            });
        }
        t.reshape(channel_shape.clone())
    };
    // Every shape is checked before the running statistics are touched.
    let weight = weight
        .map(|w| per_channel(w, "weight must be [C]"))
        .transpose()?;
    let bias = bias
        .map(|b| per_channel(b, "bias must be [C]"))
        .transpose()?;
    let running_shaped = running
        .as_ref()
        .map(|stats| -> Result<_> {
            Ok((
                per_channel(stats.mean, "running_mean must be [C]")?,
                per_channel(stats.var, "running_var must be [C]")?,
            ))
        })
        .transpose()?;
    let axes: &[isize] = if x.rank() == 3 { &[0, 2] } else { &[0] };
    let (mean, var) = match (running_shaped, training) {
        (Some(shaped), false) => shaped,
        _ => {
            let count = x.numel() / channels.max(1);
            if count <= 1 {
                return Err(Error::invalid(
                    "batch_norm",
                    "training needs more than one value per channel",
                    x.shape(),
                ));
            }
            let mean = x.mean_dims(axes, false)?;
            let var = x.var_dims(axes, 0, false)?;
            if let Some(stats) = &running {
                let m = stats.momentum;
                let unbiased = count as f64 / (count as f64 - 1.0);
                no_grad(|| -> Result<()> {
                    let new_mean = stats
                        .mean
                        .mul_scalar(E::from_f64(1.0 - m))?
                        .add(&mean.mul_scalar(E::from_f64(m))?)?;
                    let new_var = stats
                        .var
                        .mul_scalar(E::from_f64(1.0 - m))?
                        .add(&var.mul_scalar(E::from_f64(m * unbiased))?)?;
                    stats.mean.array().assign(new_mean.array())?;
                    stats.var.array().assign(new_var.array())
                })?;
            }
            (
                mean.reshape(channel_shape.clone())?,
                var.reshape(channel_shape.clone())?,
            )
        }
    };
    let normed = x
        .sub(&mean)?
        .mul(&var.add_scalar(E::from_f64(eps))?.rsqrt()?)?;
    affine(normed, weight.as_ref(), bias.as_ref())
}

/// Batch normalisation over `[N, C]` or `[N, C, L]` (`nn.BatchNorm1d`), with running statistics
/// as buffers (`running_mean`, `running_var`, `num_batches_tracked`) in the state dict.
///
/// A state dict holds one element type, so `num_batches_tracked` is stored as `E` (PyTorch uses
/// int64; loading a PyTorch checkpoint converts it). In f32 it counts exactly up to 2^24 batches,
/// which only matters for `momentum = None` (the cumulative average) beyond that.
pub struct BatchNorm1d<E: Float = f32, B: Backend = Cpu> {
    num_features: usize,
    /// Added to the variance before the square root.
    pub eps: f64,
    /// Weight of each new batch in the running averages; `None` is a cumulative average
    /// (PyTorch's `momentum=None`).
    pub momentum: Option<f64>,
    /// Scale `[C]`, initialised to ones (`None` without affine).
    pub weight: Option<Tensor<E, B>>,
    /// Shift `[C]`, initialised to zeros.
    pub bias: Option<Tensor<E, B>>,
    running: Option<[Tensor<E, B>; 3]>,
    training: Training,
}

impl<E: Float, B: Backend> BatchNorm1d<E, B> {
    /// PyTorch's defaults: `eps = 1e-5`, `momentum = 0.1`, affine, tracking running stats.
    pub fn new(num_features: usize, backend: &B) -> Result<Self> {
        Self::with_options(num_features, 1e-5, Some(0.1), true, true, backend)
    }

    /// Every option of `nn.BatchNorm1d(num_features, eps, momentum, affine, track_running_stats)`.
    pub fn with_options(
        num_features: usize,
        eps: f64,
        momentum: Option<f64>,
        affine: bool,
        track_running_stats: bool,
        backend: &B,
    ) -> Result<Self> {
        let weight = affine
            .then(|| init::ones([num_features], backend))
            .transpose()?;
        let bias = affine
            .then(|| init::zeros([num_features], backend))
            .transpose()?;
        let running = if track_running_stats {
            Some([
                Tensor::zeros([num_features], backend)?,
                Tensor::ones([num_features], backend)?,
                Tensor::zeros(Shape::scalar(), backend)?,
            ])
        } else {
            None
        };
        Ok(BatchNorm1d {
            num_features,
            eps,
            momentum,
            weight,
            bias,
            running,
            training: Training::new(),
        })
    }

    /// `C`.
    pub fn num_features(&self) -> usize {
        self.num_features
    }

    /// The running mean `[C]`, if tracked.
    pub fn running_mean(&self) -> Option<&Tensor<E, B>> {
        self.running.as_ref().map(|r| &r[0])
    }

    /// The running (unbiased) variance `[C]`, if tracked.
    pub fn running_var(&self) -> Option<&Tensor<E, B>> {
        self.running.as_ref().map(|r| &r[1])
    }

    /// The forward pass: batch statistics (and a running-average update) in training mode,
    /// the running statistics in evaluation mode.
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let Some([mean, var, count]) = &self.running else {
            return batch_norm(
                x,
                None,
                self.weight.as_ref(),
                self.bias.as_ref(),
                true,
                self.eps,
            );
        };
        // The counter advances once per training batch; a cumulative average (momentum None)
        // weighs batch n by 1/n.
        let batches = count.item()?.to_f64() + 1.0;
        let momentum = self.momentum.unwrap_or(1.0 / batches);
        let stats = RunningStats {
            mean,
            var,
            momentum,
        };
        let out = batch_norm(
            x,
            Some(stats),
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.training.get(),
            self.eps,
        )?;
        if self.training.get() {
            let advanced = Tensor::scalar(E::from_f64(batches), x.backend())?;
            count.array().assign(advanced.array())?;
        }
        Ok(out)
    }
}

impl<E: Float, B: Backend> Module<E, B> for BatchNorm1d<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.training(&self.training);
        v.parameter("weight", self.weight.as_ref());
        v.parameter("bias", self.bias.as_ref());
        if let Some([mean, var, count]) = &self.running {
            v.buffer("running_mean", mean);
            v.buffer("running_var", var);
            v.buffer("num_batches_tracked", count);
        }
    }

    fn extra_repr(&self) -> String {
        format!(
            "{}, eps={}, momentum={:?}, affine={}, track_running_stats={}",
            self.num_features,
            self.eps,
            self.momentum,
            self.weight.is_some(),
            self.running.is_some()
        )
    }
}

layer_traits!(LayerNorm, BatchNorm1d);

#[cfg(test)]
mod tests {
    //! The fused normalisation against the composition it replaces (whose rules gradcheck
    //! covers): values, first derivatives, and second derivatives under `create_graph`, which
    //! take the rule's recomputing branch.
    use super::{layer_norm, normalize_parts};
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
