//! Instance normalisation: statistics per sample and channel over the positions.

use super::base::{affine, normalize, running_norm_layer, update_running, NormState};
use super::batch::{checked_inputs, normalize_with, RunningStats};
use crate::module::Training;
use nanotorch_autograd::{no_grad, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// Instance normalisation of `[N, C, *]` (`F.instance_norm`). With `use_input_stats` each
/// sample's channel is normalised by its own mean and biased variance over the positions, and
/// `running` (if given) moves toward those statistics averaged over the batch (the variance
/// unbiased); otherwise the running statistics are used. `weight` and `bias` are `[C]`.
pub fn instance_norm<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    running: Option<RunningStats<'_, E, B>>,
    weight: Option<&Tensor<E, B>>,
    bias: Option<&Tensor<E, B>>,
    use_input_stats: bool,
    eps: f64,
) -> Result<Tensor<E, B>> {
    const OP: &str = "instance_norm";
    let (weight, bias, running_shaped) = checked_inputs(OP, x, running.as_ref(), weight, bias)?;
    let normed = match (running_shaped, use_input_stats) {
        (Some((mean, var)), false) => normalize_with(x, &mean, &var, eps)?,
        _ => {
            let positions: usize = x.dims()[2..].iter().product();
            if positions <= 1 {
                return Err(Error::invalid(
                    OP,
                    "using input statistics needs more than one position per channel",
                    x.shape(),
                ));
            }
            let axes: Vec<isize> = (2..x.rank() as isize).collect();
            if let Some(stats) = &running {
                let (mean, var) = no_grad(|| -> Result<_> {
                    Ok((
                        x.mean_dims(&axes, false)?.mean_dims(&[0], false)?,
                        x.var_dims(&axes, 1, false)?.mean_dims(&[0], false)?,
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

/// The forward pass of every `InstanceNorm*d` on input of rank `batched` (one less: a single
/// unbatched sample). As PyTorch: input statistics in training or without running statistics,
/// the running ones otherwise; `num_batches_tracked` is kept but never advanced, and
/// `momentum = None` leaves the running statistics unchanged.
fn forward<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    s: NormState<'_, E, B>,
    batched: usize,
) -> Result<Tensor<E, B>> {
    if x.rank() < batched {
        return forward(&x.unsqueeze(0)?, s, batched)?.squeeze(0);
    }
    let stats = s.running.map(|[mean, var, _]| RunningStats {
        mean,
        var,
        momentum: s.momentum.unwrap_or(0.0),
    });
    let use_input_stats = s.training || stats.is_none();
    instance_norm(x, stats, s.weight, s.bias, use_input_stats, s.eps)
}

fn forward_1d<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    s: NormState<'_, E, B>,
) -> Result<Tensor<E, B>> {
    forward(x, s, 3)
}

fn forward_2d<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    s: NormState<'_, E, B>,
) -> Result<Tensor<E, B>> {
    forward(x, s, 4)
}

running_norm_layer! {
    /// Instance normalisation over `[N, C, L]` or an unbatched `[C, L]` (`nn.InstanceNorm1d`):
    /// each sample's channel normalised over its positions. Optional running statistics (as
    /// buffers `running_mean`, `running_var`, `num_batches_tracked`) are used in evaluation.
    InstanceNorm1d {
        defaults: (affine = false, track_running_stats = false),
        input: "[N, C, L] or [C, L]",
        ranks: [2, 3],
        forward: forward_1d,
    }
}

running_norm_layer! {
    /// Instance normalisation over `[N, C, H, W]` or an unbatched `[C, H, W]`
    /// (`nn.InstanceNorm2d`), as [`InstanceNorm1d`] with two spatial axes.
    InstanceNorm2d {
        defaults: (affine = false, track_running_stats = false),
        input: "[N, C, H, W] or [C, H, W]",
        ranks: [3, 4],
        forward: forward_2d,
    }
}
