//! Group normalisation: statistics per sample over groups of channels (and every position).

use super::base::{affine, normalize, per_channel};
use crate::module::layer_traits;
use crate::{init, Module, Visitor};
use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// The error for `channels` not divisible by `groups`, naming both.
fn indivisible(op: &'static str, channels: usize, groups: usize) -> Error {
    Error::msg(format!(
        "{op}: num_channels ({channels}) must be divisible by num_groups ({groups})"
    ))
}

/// Group normalisation of `[N, C, *]` (`F.group_norm`): the `C` channels are split into
/// `num_groups` groups of consecutive channels, each sample's group is normalised by its own
/// mean and biased variance (over its channels and every position), then `weight` and `bias`
/// (`[C]` each) scale and shift per channel.
pub fn group_norm<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    num_groups: usize,
    weight: Option<&Tensor<E, B>>,
    bias: Option<&Tensor<E, B>>,
    eps: f64,
) -> Result<Tensor<E, B>> {
    const OP: &str = "group_norm";
    if x.rank() < 2 {
        return Err(Error::invalid(
            OP,
            "expected input [N, C] or [N, C, *]",
            x.shape(),
        ));
    }
    let channels = x.dims()[1];
    if num_groups == 0 || !channels.is_multiple_of(num_groups) {
        return Err(indivisible(OP, channels, num_groups));
    }
    let weight = weight
        .map(|w| per_channel(OP, x, w, "weight must be [C]"))
        .transpose()?;
    let bias = bias
        .map(|b| per_channel(OP, x, b, "bias must be [C]"))
        .transpose()?;
    // Each group of a sample is one row of `[N, G, C/G · positions]`.
    let n = x.dims()[0];
    let grouped = x.reshape([n, num_groups, x.numel() / (n * num_groups).max(1)])?;
    let normed = normalize(&grouped, vec![-1], eps, OP)?.reshape(x.dims().to_vec())?;
    affine(normed, weight.as_ref(), bias.as_ref())
}

/// Group normalisation (`nn.GroupNorm`) of `[N, C, *]`, with a learnable per-channel affine
/// transform.
pub struct GroupNorm<E: Float = f32, B: Backend = Cpu> {
    num_groups: usize,
    num_channels: usize,
    /// Added to the variance before the square root.
    pub eps: f64,
    /// Scale `[C]`, initialised to ones (`None` without affine).
    pub weight: Option<Tensor<E, B>>,
    /// Shift `[C]`, initialised to zeros.
    pub bias: Option<Tensor<E, B>>,
}

impl<E: Float, B: Backend> GroupNorm<E, B> {
    /// PyTorch's defaults: `eps = 1e-5`, affine. `num_channels` must be divisible by
    /// `num_groups`.
    pub fn new(num_groups: usize, num_channels: usize, backend: &B) -> Result<Self> {
        Self::with_options(num_groups, num_channels, 1e-5, true, backend)
    }

    /// Every option of `nn.GroupNorm(num_groups, num_channels, eps, affine)`.
    pub fn with_options(
        num_groups: usize,
        num_channels: usize,
        eps: f64,
        affine: bool,
        backend: &B,
    ) -> Result<Self> {
        if num_groups == 0 || !num_channels.is_multiple_of(num_groups) {
            return Err(indivisible("GroupNorm", num_channels, num_groups));
        }
        let weight = affine
            .then(|| init::ones([num_channels], backend))
            .transpose()?;
        let bias = affine
            .then(|| init::zeros([num_channels], backend))
            .transpose()?;
        Ok(GroupNorm {
            num_groups,
            num_channels,
            eps,
            weight,
            bias,
        })
    }

    /// The number of groups the channels are split into.
    pub fn num_groups(&self) -> usize {
        self.num_groups
    }

    /// `C`.
    pub fn num_channels(&self) -> usize {
        self.num_channels
    }

    /// The forward pass on `[N, C, *]`.
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        if x.rank() < 2 || x.dims()[1] != self.num_channels {
            return Err(Error::invalid(
                "GroupNorm",
                format!("expected input [N, {}, *]", self.num_channels),
                x.shape(),
            ));
        }
        group_norm(
            x,
            self.num_groups,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.eps,
        )
    }
}

impl<E: Float, B: Backend> Module<E, B> for GroupNorm<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.parameter("weight", self.weight.as_ref());
        v.parameter("bias", self.bias.as_ref());
    }

    fn extra_repr(&self) -> String {
        format!(
            "{}, {}, eps={}, affine={}",
            self.num_groups,
            self.num_channels,
            self.eps,
            self.weight.is_some()
        )
    }
}

layer_traits!(GroupNorm);
