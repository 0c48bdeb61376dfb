//! Batch normalisation: statistics per channel over the batch and every spatial position, with
//! running averages for evaluation.

use super::base::{
    affine, affine_norm_grads, channel_shape, normalize, per_channel, running_norm_layer,
    update_running, NormState,
};
use crate::module::Training;
use nanotorch_autograd::{is_grad_enabled, no_grad, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// Running statistics that `batch_norm` and `instance_norm` read in evaluation and update in
/// training.
pub struct RunningStats<'a, E: Float, B: Backend> {
    /// Per-channel mean, `[C]`.
    pub mean: &'a Tensor<E, B>,
    /// Per-channel (unbiased) variance, `[C]`.
    pub var: &'a Tensor<E, B>,
    /// Weight of the new batch in the running average: `running = (1 − m)·running + m·batch`.
    pub momentum: f64,
}

/// A per-channel mean and variance.
pub(super) type MeanVar<E, B> = (Tensor<E, B>, Tensor<E, B>);

/// A normalisation's inputs after the checks `batch_norm` and `instance_norm` both make before
/// touching any statistics: `x` is `[N, C, *]`, and `weight`, `bias` and the running statistics
/// are `[C]`, returned as `[C, 1, …, 1]` views that broadcast against `x`.
pub(super) type CheckedInputs<E, B> = (
    Option<Tensor<E, B>>,
    Option<Tensor<E, B>>,
    Option<MeanVar<E, B>>,
);

/// See [`CheckedInputs`]; errors name `op`.
pub(super) fn checked_inputs<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    running: Option<&RunningStats<'_, E, B>>,
    weight: Option<&Tensor<E, B>>,
    bias: Option<&Tensor<E, B>>,
) -> Result<CheckedInputs<E, B>> {
    if x.rank() < 2 {
        return Err(Error::invalid(
            op,
            "expected input [N, C] or [N, C, *]",
            x.shape(),
        ));
    }
    let weight = weight
        .map(|w| per_channel(op, x, w, "weight must be [C]"))
        .transpose()?;
    let bias = bias
        .map(|b| per_channel(op, x, b, "bias must be [C]"))
        .transpose()?;
    Ok((weight, bias, running_views(op, x, running)?))
}

/// The statistics' shapes checked against `x` (op `op`), as `[C, 1, …, 1]` views.
pub(super) fn running_views<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    running: Option<&RunningStats<'_, E, B>>,
) -> Result<Option<MeanVar<E, B>>> {
    running
        .map(|stats| -> Result<_> {
            Ok((
                per_channel(op, x, stats.mean, "running_mean must be [C]")?,
                per_channel(op, x, stats.var, "running_var must be [C]")?,
            ))
        })
        .transpose()
}

/// `(x − mean) · 1/√(var + eps)` with given (running) statistics.
pub(super) fn normalize_with<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    mean: &Tensor<E, B>,
    var: &Tensor<E, B>,
    eps: f64,
) -> Result<Tensor<E, B>> {
    x.sub(mean)?
        .mul(&var.add_scalar(E::from_f64(eps))?.rsqrt()?)
}

/// Batch normalisation of `[N, C, *]` (any rank ≥ 2; `F.batch_norm`). In training (or without
/// running statistics) each channel is normalised by its mean and biased variance over the
/// batch and every other axis, and `running` (if given) moves toward that mean and the
/// *unbiased* variance; in evaluation the running statistics are used instead.
pub fn batch_norm<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    running: Option<RunningStats<'_, E, B>>,
    weight: Option<&Tensor<E, B>>,
    bias: Option<&Tensor<E, B>>,
    training: bool,
    eps: f64,
) -> Result<Tensor<E, B>> {
    const OP: &str = "batch_norm";
    let (weight_c, bias_c) = (weight, bias);
    // Every shape is checked before the running statistics are touched.
    let (weight, bias, running_shaped) = checked_inputs(OP, x, running.as_ref(), weight, bias)?;
    let normed = match (running_shaped, training) {
        (Some((mean, var)), false) => normalize_with(x, &mean, &var, eps)?,
        _ => {
            let channels = x.dims()[1];
            let count = x.numel() / channels.max(1);
            if count <= 1 {
                return Err(Error::invalid(
                    OP,
                    "training needs more than one value per channel",
                    x.shape(),
                ));
            }
            if let Some(y) = fused(x, running.as_ref(), weight_c, bias_c, eps)? {
                return Ok(y);
            }
            let axes: Vec<isize> = std::iter::once(0).chain(2..x.rank() as isize).collect();
            if let Some(stats) = &running {
                let unbiased = count as f64 / (count as f64 - 1.0);
                let (mean, var) = no_grad(|| -> Result<_> {
                    Ok((
                        x.mean_dims(&axes, false)?,
                        x.var_dims(&axes, 0, false)?
                            .mul_scalar(E::from_f64(unbiased))?,
                    ))
                })?;
                update_running(stats.mean, &mean, stats.momentum)?;
                update_running(stats.var, &var, stats.momentum)?;
            }
            normalize(x, axes, eps, OP)?
        }
    };
    affine(normed, weight.as_ref(), bias.as_ref())
}

/// Training-mode batch norm, affine transform included, as one recorded op backed by the
/// backend's fused kernels (three passes forward, two back, where the composition took about
/// ten each way), with the running statistics moved from the kernel's own mean and variance.
/// `None` (the composed path runs) when the backend has no such kernel. `weight` and `bias`
/// are `[C]`, checked by the caller, as is the count per channel.
fn fused<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    running: Option<&RunningStats<'_, E, B>>,
    weight: Option<&Tensor<E, B>>,
    bias: Option<&Tensor<E, B>>,
    eps: f64,
) -> Result<Option<Tensor<E, B>>> {
    let stats =
        x.array()
            .batch_norm_channels(weight.map(Tensor::array), bias.map(Tensor::array), eps)?;
    let Some((y, mean, var)) = stats else {
        return Ok(None);
    };
    let channels = x.dims()[1];
    if let Some(stats) = running {
        let count = (x.numel() / channels) as f64;
        let unbiased = no_grad(|| {
            Tensor::from_ndarray(var.clone()).mul_scalar(E::from_f64(count / (count - 1.0)))
        })?;
        update_running(
            stats.mean,
            &Tensor::from_ndarray(mean.clone()),
            stats.momentum,
        )?;
        update_running(stats.var, &unbiased, stats.momentum)?;
    }
    let axes: Vec<isize> = std::iter::once(0).chain(2..x.rank() as isize).collect();
    let view = channel_shape(channels, x.rank());
    let (has_w, has_b) = (weight.is_some(), bias.is_some());
    let inputs: Vec<&Tensor<E, B>> = std::iter::once(x).chain(weight).chain(bias).collect();
    let y = Tensor::try_from_op(y, "batch_norm", &inputs, move |inputs, _, g| {
        let (x, w) = (&inputs[0], has_w.then(|| &inputs[1]));
        let fused = if is_grad_enabled() {
            // create_graph: the gradient must be recorded, so it is composed.
            None
        } else {
            let w = w.map(Tensor::array);
            x.array()
                .batch_norm_channels_backward(g.array(), &mean, &var, w, eps)?
        };
        let (dx, dw, db) = match fused {
            Some((dx, dw, db)) => (
                Tensor::from_ndarray(dx),
                Tensor::from_ndarray(dw),
                Tensor::from_ndarray(db),
            ),
            None => {
                let w = w.map(|w| w.reshape(view.clone())).transpose()?;
                affine_norm_grads(x, w.as_ref(), g, (&axes, &axes), eps)?
            }
        };
        let mut grads = vec![Some(dx)];
        grads.extend(has_w.then_some(Some(dw)));
        grads.extend(has_b.then_some(Some(db)));
        Ok(grads)
    })?;
    Ok(Some(y))
}

/// The forward pass of every `BatchNorm*d`: batch statistics (and a running-average update,
/// counted in `num_batches_tracked`) in training mode, the running statistics in evaluation.
fn forward<E: Float, B: Backend>(x: &Tensor<E, B>, s: NormState<'_, E, B>) -> Result<Tensor<E, B>> {
    let Some([mean, var, count]) = s.running else {
        return batch_norm(x, None, s.weight, s.bias, true, s.eps);
    };
    // The counter advances once per training batch; a cumulative average (momentum None)
    // weighs batch n by 1/n.
    let batches = count.item()?.to_f64() + 1.0;
    let momentum = s.momentum.unwrap_or(1.0 / batches);
    let stats = RunningStats {
        mean,
        var,
        momentum,
    };
    let out = batch_norm(x, Some(stats), s.weight, s.bias, s.training, s.eps)?;
    if s.training {
        let advanced = Tensor::scalar(E::from_f64(batches), x.backend())?;
        count.array().assign(advanced.array())?;
    }
    Ok(out)
}

running_norm_layer! {
    /// Batch normalisation over `[N, C]` or `[N, C, L]` (`nn.BatchNorm1d`), with running
    /// statistics as buffers (`running_mean`, `running_var`, `num_batches_tracked`) in the
    /// state dict.
    BatchNorm1d {
        defaults: (affine = true, track_running_stats = true),
        input: "[N, C] or [N, C, L]",
        ranks: [2, 3],
        forward: forward,
    }
}

running_norm_layer! {
    /// Batch normalisation over `[N, C, H, W]` (`nn.BatchNorm2d`): per-channel statistics over
    /// the batch and every position, running statistics as buffers (`running_mean`,
    /// `running_var`, `num_batches_tracked`) in the state dict.
    BatchNorm2d {
        defaults: (affine = true, track_running_stats = true),
        input: "[N, C, H, W]",
        ranks: [4],
        forward: forward,
    }
}

running_norm_layer! {
    /// Batch normalisation over `[N, C, D, H, W]` (`nn.BatchNorm3d`), as [`BatchNorm2d`] with
    /// one more spatial axis.
    BatchNorm3d {
        defaults: (affine = true, track_running_stats = true),
        input: "[N, C, D, H, W]",
        ranks: [5],
        forward: forward,
    }
}
