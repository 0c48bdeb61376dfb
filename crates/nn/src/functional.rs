//! Layers and losses as plain functions (PyTorch's `torch.nn.functional`).

use nanotorch_autograd::{in_op, Tensor};
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

pub use crate::loss::{
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, cross_entropy_opts,
    cross_entropy_probs, cross_entropy_with, huber_loss, kl_div, l1_loss, mse_loss, nll_loss,
    nll_loss_opts, smooth_l1_loss, CrossEntropyOptions, KlReduction, NllLossOptions, Reduction,
};

pub use crate::attention::{scaled_dot_product_attention, AttnMask};
pub use crate::embedding::{embedding, one_hot};
pub use crate::norm::{batch_norm, group_norm, instance_norm, layer_norm, RunningStats};
pub use crate::resample::{dropout1d, dropout2d, interpolate, InterpolateMode, Resize};
pub use nanotorch_autograd::PadMode;

/// `torch.nn.functional.pad`: pads the trailing axes of `x` (negative amounts crop). `pad` lists
/// `(before, after)` pairs starting from the last axis (`[left, right, top, bottom, …]`);
/// `value` fills the border in `PadMode::Constant` and is ignored by `Reflect`, `Replicate` and
/// `Circular`. See `Tensor::pad` for the errors (e.g. a reflect pad not smaller than its axis).
pub fn pad<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    pad: &[isize],
    mode: PadMode,
    value: f64,
) -> Result<Tensor<E, B>> {
    x.pad(pad, mode, value)
}

/// `x·Wᵀ + b` with `weight` `[out, in]`; `x` is `[..., in]`.
///
/// An input with batch axes (`[b, t, in]`) is multiplied as one `[b·t, in]` matrix and the
/// result viewed back: one GEMM instead of a batch of them, and the weight's gradient is one
/// product instead of a product per batch element summed over the batch.
pub fn linear<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    weight: &Tensor<E, B>,
    bias: Option<&Tensor<E, B>>,
) -> Result<Tensor<E, B>> {
    // Checked here so that the error names linear and the weight, not the matmul or add inside.
    let fits = weight.rank() == 2 && x.rank() >= 1 && x.dims()[x.rank() - 1] == weight.dims()[1];
    if !fits {
        return Err(Error::ShapeMismatch {
            op: "linear",
            what: "expected input [..., in] and weight [out, in]",
            lhs: x.shape().clone(),
            rhs: weight.shape().clone(),
        });
    }
    if let Some(b) = bias.filter(|b| b.dims() != [weight.dims()[0]]) {
        return Err(Error::ShapeMismatch {
            op: "linear",
            what: "the bias must be [out], one value per row of the weight [out, in]",
            lhs: weight.shape().clone(),
            rhs: b.shape().clone(),
        });
    }
    in_op("linear", || linear_checked(x, weight, bias))
}

/// [`linear`] once the shapes are checked.
fn linear_checked<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    weight: &Tensor<E, B>,
    bias: Option<&Tensor<E, B>>,
) -> Result<Tensor<E, B>> {
    // Leading axes are folded into rows: one product. A bias row joins it as PyTorch's `addmm`
    // (added to the product's blocks as they are computed, not in a pass of its own).
    let rows = if x.rank() > 2 {
        let (lead, features) = x.dims().split_at(x.rank() - 1);
        x.reshape([lead.iter().product::<usize>(), features[0]])?
    } else {
        x.clone()
    };
    let fused_bias = bias.filter(|b| b.rank() <= 1 && rows.rank() == 2);
    let y = match fused_bias {
        Some(b) => b.addmm(&rows, &weight.t()?, E::ONE, E::ONE)?,
        None => rows.matmul(&weight.t()?)?,
    };
    let y = if x.rank() > 2 {
        let mut dims = x.dims()[..x.rank() - 1].to_vec();
        dims.push(weight.dims()[0]);
        y.reshape(dims)?
    } else {
        y
    };
    match bias {
        Some(b) if fused_bias.is_none() => y.add(b),
        _ => Ok(y),
    }
}

/// `softmax` along `dim` (`F.softmax(x, dim)`).
pub fn softmax<E: Float, B: Backend>(x: &Tensor<E, B>, dim: isize) -> Result<Tensor<E, B>> {
    in_op("softmax", || x.softmax(dim))
}

/// `log_softmax` along `dim` (`F.log_softmax(x, dim)`).
pub fn log_softmax<E: Float, B: Backend>(x: &Tensor<E, B>, dim: isize) -> Result<Tensor<E, B>> {
    in_op("log_softmax", || x.log_softmax(dim))
}

/// Inverted dropout (`F.dropout(x, p, training)`): zeroes with probability `p` and scales the rest
/// by `1/(1−p)` when `training`, the identity otherwise.
pub fn dropout<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    p: f64,
    training: bool,
) -> Result<Tensor<E, B>> {
    x.dropout(p, training)
}

/// `max(x, 0)` (`F.relu`).
pub fn relu<E: Float, B: Backend>(x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
    x.relu()
}

/// `x` where `x ≥ 0`, else `negative_slope·x` (`F.leaky_relu`).
pub fn leaky_relu<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    negative_slope: f64,
) -> Result<Tensor<E, B>> {
    x.leaky_relu(E::from_f64(negative_slope))
}

/// GELU (`F.gelu`): the exact normal-CDF form, or PyTorch's `approximate="tanh"` form.
pub fn gelu<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    approximate_tanh: bool,
) -> Result<Tensor<E, B>> {
    if approximate_tanh {
        x.gelu_tanh()
    } else {
        x.gelu()
    }
}

/// `x·σ(x)` (`F.silu`).
pub fn silu<E: Float, B: Backend>(x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
    x.silu()
}

/// `1 / (1 + e^−x)` (`torch.sigmoid`).
pub fn sigmoid<E: Float, B: Backend>(x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
    x.sigmoid()
}

/// `tanh x` (`torch.tanh`).
pub fn tanh<E: Float, B: Backend>(x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
    x.tanh()
}
