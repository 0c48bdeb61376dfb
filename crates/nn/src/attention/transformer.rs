//! The transformer blocks of "Attention is all you need", as PyTorch builds them:
//! `TransformerEncoderLayer` (self-attention, then a feed-forward block), `TransformerDecoderLayer`
//! (self-attention, attention over the encoder's output, feed-forward) and `TransformerEncoder`
//! (a stack of encoder layers). Each sub-block is wrapped in a residual connection and a
//! LayerNorm, after it (`norm_first = false`, the paper's post-norm) or before it (pre-norm, what
//! GPT-style models use). Submodule names are PyTorch's, so state dicts map key for key.

use super::multihead::{deep_copy, MhaOptions, MultiheadAttention};
use super::sdpa::AttnMask;
use crate::module::repr;
use crate::{Dropout, Forward, LayerNorm, Linear, Module, ModuleList, Visitor};
use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// The feed-forward block's activation (PyTorch's `activation="relu"` or `"gelu"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activation {
    /// `max(x, 0)` (PyTorch's default).
    #[default]
    ReLU,
    /// The exact GELU, `x·Φ(x)`.
    GELU,
}

impl Activation {
    /// From PyTorch's names, `"relu"` or `"gelu"`.
    pub fn from_name(name: &str) -> Result<Self> {
        match name {
            "relu" => Ok(Activation::ReLU),
            "gelu" => Ok(Activation::GELU),
            other => Err(Error::msg(format!(
                "activation should be relu/gelu, not {other}"
            ))),
        }
    }

    fn apply<E: Float, B: Backend>(self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        match self {
            Activation::ReLU => x.relu(),
            Activation::GELU => x.gelu(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Activation::ReLU => "relu",
            Activation::GELU => "gelu",
        }
    }
}

/// The options of `nn.TransformerEncoderLayer` / `nn.TransformerDecoderLayer` after `d_model`
/// and `nhead`, with PyTorch's defaults: `dim_feedforward = 2048`, `dropout = 0.1`, ReLU,
/// `layer_norm_eps = 1e-5`, sequence-first, post-norm, biases.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformerLayerOptions {
    /// Width of the feed-forward block's hidden layer.
    pub dim_feedforward: usize,
    /// Dropout probability everywhere in the layer (attention weights included).
    pub dropout: f64,
    /// The feed-forward activation.
    pub activation: Activation,
    /// The LayerNorms' `eps`.
    pub layer_norm_eps: f64,
    /// Inputs `[N, L, E]` rather than `[L, N, E]`.
    pub batch_first: bool,
    /// LayerNorm before each sub-block (pre-norm) rather than after the residual sum.
    pub norm_first: bool,
    /// Whether the Linear and LayerNorm layers have biases.
    pub bias: bool,
}

impl Default for TransformerLayerOptions {
    fn default() -> Self {
        TransformerLayerOptions {
            dim_feedforward: 2048,
            dropout: 0.1,
            activation: Activation::ReLU,
            layer_norm_eps: 1e-5,
            batch_first: false,
            norm_first: false,
            bias: true,
        }
    }
}

impl TransformerLayerOptions {
    /// PyTorch's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `dim_feedforward`.
    pub fn dim_feedforward(mut self, dim: usize) -> Self {
        self.dim_feedforward = dim;
        self
    }

    /// Sets `dropout`.
    pub fn dropout(mut self, p: f64) -> Self {
        self.dropout = p;
        self
    }

    /// Sets the activation.
    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Sets `layer_norm_eps`.
    pub fn layer_norm_eps(mut self, eps: f64) -> Self {
        self.layer_norm_eps = eps;
        self
    }

    /// Sets `batch_first`.
    pub fn batch_first(mut self, batch_first: bool) -> Self {
        self.batch_first = batch_first;
        self
    }

    /// Sets `norm_first`.
    pub fn norm_first(mut self, norm_first: bool) -> Self {
        self.norm_first = norm_first;
        self
    }

    /// Sets `bias`.
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
}

/// The feed-forward block and norms every transformer layer shares.
fn feed_forward<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    linear1: &Linear<E, B>,
    activation: Activation,
    dropout: &Dropout,
    linear2: &Linear<E, B>,
) -> Result<Tensor<E, B>> {
    linear2.forward(&dropout.forward(&activation.apply(&linear1.forward(x)?)?)?)
}

fn layer_norm<E: Float, B: Backend>(
    d_model: usize,
    o: &TransformerLayerOptions,
    backend: &B,
) -> Result<LayerNorm<E, B>> {
    LayerNorm::with_options([d_model], o.layer_norm_eps, true, o.bias, backend)
}

fn copy_linear<E: Float, B: Backend>(l: &Linear<E, B>) -> Result<Linear<E, B>> {
    Ok(Linear {
        weight: deep_copy(&l.weight)?,
        bias: l.bias.as_ref().map(deep_copy).transpose()?,
    })
}

fn copy_norm<E: Float, B: Backend>(n: &LayerNorm<E, B>, backend: &B) -> Result<LayerNorm<E, B>> {
    let mut copy = LayerNorm::with_options(
        n.normalized_shape().to_vec(),
        n.eps,
        n.weight.is_some(),
        n.bias.is_some(),
        backend,
    )?;
    copy.weight = n.weight.as_ref().map(deep_copy).transpose()?;
    copy.bias = n.bias.as_ref().map(deep_copy).transpose()?;
    Ok(copy)
}

/// One encoder block (`nn.TransformerEncoderLayer`): self-attention, then a feed-forward network
/// `linear2(dropout(activation(linear1(x))))`, each with a residual connection and a LayerNorm.
///
/// Submodules, as PyTorch names them: `self_attn`, `linear1`, `dropout`, `linear2`, `norm1`,
/// `norm2`, `dropout1`, `dropout2`.
pub struct TransformerEncoderLayer<E: Float = f32, B: Backend = Cpu> {
    /// Self-attention.
    pub self_attn: MultiheadAttention<E, B>,
    /// `d_model → dim_feedforward`.
    pub linear1: Linear<E, B>,
    /// Dropout inside the feed-forward block.
    pub dropout: Dropout,
    /// `dim_feedforward → d_model`.
    pub linear2: Linear<E, B>,
    /// The norm of the self-attention block.
    pub norm1: LayerNorm<E, B>,
    /// The norm of the feed-forward block.
    pub norm2: LayerNorm<E, B>,
    /// Dropout on the self-attention block's output.
    pub dropout1: Dropout,
    /// Dropout on the feed-forward block's output.
    pub dropout2: Dropout,
    /// The feed-forward activation.
    pub activation: Activation,
    /// Pre-norm (`true`) or post-norm.
    pub norm_first: bool,
}

impl<E: Float, B: Backend> TransformerEncoderLayer<E, B> {
    /// `nn.TransformerEncoderLayer(d_model, nhead)` with PyTorch's defaults.
    pub fn new(d_model: usize, nhead: usize, backend: &B) -> Result<Self> {
        Self::with_options(d_model, nhead, &TransformerLayerOptions::default(), backend)
    }

    /// `nn.TransformerEncoderLayer(d_model, nhead, …options)`.
    pub fn with_options(
        d_model: usize,
        nhead: usize,
        o: &TransformerLayerOptions,
        backend: &B,
    ) -> Result<Self> {
        Ok(TransformerEncoderLayer {
            self_attn: MultiheadAttention::with_options(
                d_model,
                nhead,
                o.dropout,
                o.bias,
                o.batch_first,
                backend,
            )?,
            linear1: Linear::with_bias(d_model, o.dim_feedforward, o.bias, backend)?,
            dropout: Dropout::new(o.dropout),
            linear2: Linear::with_bias(o.dim_feedforward, d_model, o.bias, backend)?,
            norm1: layer_norm(d_model, o, backend)?,
            norm2: layer_norm(d_model, o, backend)?,
            dropout1: Dropout::new(o.dropout),
            dropout2: Dropout::new(o.dropout),
            activation: o.activation,
            norm_first: o.norm_first,
        })
    }

    /// The layer on `src` (`[L, N, E]`, `[N, L, E]` with `batch_first`, or `[L, E]`).
    /// `src_mask` (`[L, L]` or `[N·nhead, L, L]`) and `src_key_padding_mask` (`[N, L]`) follow
    /// [`MultiheadAttention`]'s convention: a boolean `true` masks a position out. `is_causal` is
    /// PyTorch's hint that `src_mask` is causal; it needs `src_mask`.
    pub fn forward(
        &self,
        src: &Tensor<E, B>,
        src_mask: Option<AttnMask<'_, E, B>>,
        src_key_padding_mask: Option<AttnMask<'_, E, B>>,
        is_causal: bool,
    ) -> Result<Tensor<E, B>> {
        let options = MhaOptions {
            key_padding_mask: src_key_padding_mask,
            need_weights: false,
            attn_mask: src_mask,
            average_attn_weights: true,
            is_causal,
        };
        let sa = |x: &Tensor<E, B>| -> Result<Tensor<E, B>> {
            let out = self.self_attn.forward(x, x, x, &options)?.0;
            self.dropout1.forward(&out)
        };
        let ff = |x: &Tensor<E, B>| -> Result<Tensor<E, B>> {
            let out = feed_forward(
                x,
                &self.linear1,
                self.activation,
                &self.dropout,
                &self.linear2,
            )?;
            self.dropout2.forward(&out)
        };
        if self.norm_first {
            let x = src.add(&sa(&self.norm1.forward(src)?)?)?;
            x.add(&ff(&self.norm2.forward(&x)?)?)
        } else {
            let x = self.norm1.forward(&src.add(&sa(src)?)?)?;
            self.norm2.forward(&x.add(&ff(&x)?)?)
        }
    }

    /// A copy with its own parameters (PyTorch's `copy.deepcopy`).
    pub(crate) fn deep_clone(&self) -> Result<Self> {
        let backend = self.self_attn.in_proj_weight.backend();
        Ok(TransformerEncoderLayer {
            self_attn: self.self_attn.deep_clone()?,
            linear1: copy_linear(&self.linear1)?,
            dropout: self.dropout.clone(),
            linear2: copy_linear(&self.linear2)?,
            norm1: copy_norm(&self.norm1, backend)?,
            norm2: copy_norm(&self.norm2, backend)?,
            dropout1: self.dropout1.clone(),
            dropout2: self.dropout2.clone(),
            activation: self.activation,
            norm_first: self.norm_first,
        })
    }
}

impl<E: Float, B: Backend> Module<E, B> for TransformerEncoderLayer<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.module("self_attn", &self.self_attn);
        v.module("linear1", &self.linear1);
        v.module("dropout", &self.dropout);
        v.module("linear2", &self.linear2);
        v.module("norm1", &self.norm1);
        v.module("norm2", &self.norm2);
        v.module("dropout1", &self.dropout1);
        v.module("dropout2", &self.dropout2);
    }

    fn extra_repr(&self) -> String {
        format!(
            "activation={}, norm_first={}",
            self.activation.name(),
            self.norm_first
        )
    }
}

/// The layer without masks: how it runs inside a `Sequential`.
impl<E: Float, B: Backend> Forward<E, B> for TransformerEncoderLayer<E, B> {
    fn forward(&self, src: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        TransformerEncoderLayer::forward(self, src, None, None, false)
    }
}

impl<E: Float, B: Backend> std::fmt::Display for TransformerEncoderLayer<E, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&repr::<E, B, _>(self))
    }
}

/// The masks of [`TransformerDecoderLayer::forward`] (PyTorch's keyword arguments), all absent
/// by default. Boolean masks are `true` where attending is not allowed, as in
/// [`MultiheadAttention`].
#[derive(Debug)]
pub struct DecoderMasks<'a, E: Float = f32, B: Backend = Cpu> {
    /// Self-attention mask over the target, `[T, T]` or `[N·nhead, T, T]`.
    pub tgt_mask: Option<AttnMask<'a, E, B>>,
    /// Attention mask from target to memory, `[T, S]` or `[N·nhead, T, S]`.
    pub memory_mask: Option<AttnMask<'a, E, B>>,
    /// Target positions to ignore, `[N, T]`.
    pub tgt_key_padding_mask: Option<AttnMask<'a, E, B>>,
    /// Memory positions to ignore, `[N, S]`.
    pub memory_key_padding_mask: Option<AttnMask<'a, E, B>>,
    /// Hint that `tgt_mask` is causal (it needs `tgt_mask`).
    pub tgt_is_causal: bool,
    /// Hint that `memory_mask` is causal (it needs `memory_mask`).
    pub memory_is_causal: bool,
}

impl<E: Float, B: Backend> Default for DecoderMasks<'_, E, B> {
    fn default() -> Self {
        DecoderMasks {
            tgt_mask: None,
            memory_mask: None,
            tgt_key_padding_mask: None,
            memory_key_padding_mask: None,
            tgt_is_causal: false,
            memory_is_causal: false,
        }
    }
}

/// One decoder block (`nn.TransformerDecoderLayer`): self-attention over the target, attention
/// from the target to the encoder's output (`memory`), then the feed-forward network, each with
/// a residual connection and a LayerNorm.
///
/// Submodules, as PyTorch names them: `self_attn`, `multihead_attn`, `linear1`, `dropout`,
/// `linear2`, `norm1`, `norm2`, `norm3`, `dropout1`, `dropout2`, `dropout3`.
pub struct TransformerDecoderLayer<E: Float = f32, B: Backend = Cpu> {
    /// Self-attention over the target.
    pub self_attn: MultiheadAttention<E, B>,
    /// Attention from the target to the memory.
    pub multihead_attn: MultiheadAttention<E, B>,
    /// `d_model → dim_feedforward`.
    pub linear1: Linear<E, B>,
    /// Dropout inside the feed-forward block.
    pub dropout: Dropout,
    /// `dim_feedforward → d_model`.
    pub linear2: Linear<E, B>,
    /// The norm of the self-attention block.
    pub norm1: LayerNorm<E, B>,
    /// The norm of the memory-attention block.
    pub norm2: LayerNorm<E, B>,
    /// The norm of the feed-forward block.
    pub norm3: LayerNorm<E, B>,
    /// Dropout on the self-attention block's output.
    pub dropout1: Dropout,
    /// Dropout on the memory-attention block's output.
    pub dropout2: Dropout,
    /// Dropout on the feed-forward block's output.
    pub dropout3: Dropout,
    /// The feed-forward activation.
    pub activation: Activation,
    /// Pre-norm (`true`) or post-norm.
    pub norm_first: bool,
}

impl<E: Float, B: Backend> TransformerDecoderLayer<E, B> {
    /// `nn.TransformerDecoderLayer(d_model, nhead)` with PyTorch's defaults.
    pub fn new(d_model: usize, nhead: usize, backend: &B) -> Result<Self> {
        Self::with_options(d_model, nhead, &TransformerLayerOptions::default(), backend)
    }

    /// `nn.TransformerDecoderLayer(d_model, nhead, …options)`.
    pub fn with_options(
        d_model: usize,
        nhead: usize,
        o: &TransformerLayerOptions,
        backend: &B,
    ) -> Result<Self> {
        let mha = || {
            MultiheadAttention::with_options(
                d_model,
                nhead,
                o.dropout,
                o.bias,
                o.batch_first,
                backend,
            )
        };
        Ok(TransformerDecoderLayer {
            self_attn: mha()?,
            multihead_attn: mha()?,
            linear1: Linear::with_bias(d_model, o.dim_feedforward, o.bias, backend)?,
            dropout: Dropout::new(o.dropout),
            linear2: Linear::with_bias(o.dim_feedforward, d_model, o.bias, backend)?,
            norm1: layer_norm(d_model, o, backend)?,
            norm2: layer_norm(d_model, o, backend)?,
            norm3: layer_norm(d_model, o, backend)?,
            dropout1: Dropout::new(o.dropout),
            dropout2: Dropout::new(o.dropout),
            dropout3: Dropout::new(o.dropout),
            activation: o.activation,
            norm_first: o.norm_first,
        })
    }

    /// The layer on `tgt` (`[T, N, E]`, `[N, T, E]` with `batch_first`, or `[T, E]`) attending to
    /// `memory` (`[S, N, E]`, …), with the masks in `masks`.
    pub fn forward(
        &self,
        tgt: &Tensor<E, B>,
        memory: &Tensor<E, B>,
        masks: &DecoderMasks<'_, E, B>,
    ) -> Result<Tensor<E, B>> {
        let self_options = MhaOptions {
            key_padding_mask: masks.tgt_key_padding_mask,
            need_weights: false,
            attn_mask: masks.tgt_mask,
            average_attn_weights: true,
            is_causal: masks.tgt_is_causal,
        };
        let memory_options = MhaOptions {
            key_padding_mask: masks.memory_key_padding_mask,
            need_weights: false,
            attn_mask: masks.memory_mask,
            average_attn_weights: true,
            is_causal: masks.memory_is_causal,
        };
        let sa = |x: &Tensor<E, B>| -> Result<Tensor<E, B>> {
            let out = self.self_attn.forward(x, x, x, &self_options)?.0;
            self.dropout1.forward(&out)
        };
        let mha = |x: &Tensor<E, B>| -> Result<Tensor<E, B>> {
            let out = self
                .multihead_attn
                .forward(x, memory, memory, &memory_options)?
                .0;
            self.dropout2.forward(&out)
        };
        let ff = |x: &Tensor<E, B>| -> Result<Tensor<E, B>> {
            let out = feed_forward(
                x,
                &self.linear1,
                self.activation,
                &self.dropout,
                &self.linear2,
            )?;
            self.dropout3.forward(&out)
        };
        if self.norm_first {
            let x = tgt.add(&sa(&self.norm1.forward(tgt)?)?)?;
            let x = x.add(&mha(&self.norm2.forward(&x)?)?)?;
            x.add(&ff(&self.norm3.forward(&x)?)?)
        } else {
            let x = self.norm1.forward(&tgt.add(&sa(tgt)?)?)?;
            let x = self.norm2.forward(&x.add(&mha(&x)?)?)?;
            self.norm3.forward(&x.add(&ff(&x)?)?)
        }
    }
}

impl<E: Float, B: Backend> Module<E, B> for TransformerDecoderLayer<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.module("self_attn", &self.self_attn);
        v.module("multihead_attn", &self.multihead_attn);
        v.module("linear1", &self.linear1);
        v.module("dropout", &self.dropout);
        v.module("linear2", &self.linear2);
        v.module("norm1", &self.norm1);
        v.module("norm2", &self.norm2);
        v.module("norm3", &self.norm3);
        v.module("dropout1", &self.dropout1);
        v.module("dropout2", &self.dropout2);
        v.module("dropout3", &self.dropout3);
    }

    fn extra_repr(&self) -> String {
        format!(
            "activation={}, norm_first={}",
            self.activation.name(),
            self.norm_first
        )
    }
}

impl<E: Float, B: Backend> std::fmt::Display for TransformerDecoderLayer<E, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&repr::<E, B, _>(self))
    }
}

/// A stack of encoder layers (`nn.TransformerEncoder(encoder_layer, num_layers, norm)`): the
/// layers are `num_layers` copies of `encoder_layer`, each with its own parameters (as PyTorch's
/// deep copies: they start equal), under `layers.0.…`, `layers.1.…`; then an optional final
/// `norm`.
pub struct TransformerEncoder<E: Float = f32, B: Backend = Cpu> {
    /// The encoder layers, run in order.
    pub layers: ModuleList<TransformerEncoderLayer<E, B>>,
    /// A final LayerNorm (pre-norm stacks need one).
    pub norm: Option<LayerNorm<E, B>>,
}

impl<E: Float, B: Backend> TransformerEncoder<E, B> {
    /// `num_layers` copies of `encoder_layer`, then `norm` if given.
    pub fn new(
        encoder_layer: TransformerEncoderLayer<E, B>,
        num_layers: usize,
        norm: Option<LayerNorm<E, B>>,
    ) -> Result<Self> {
        if num_layers == 0 {
            return Err(Error::msg(
                "TransformerEncoder: num_layers must be at least 1",
            ));
        }
        let mut layers = ModuleList::new();
        for _ in 1..num_layers {
            layers.push(encoder_layer.deep_clone()?);
        }
        layers.push(encoder_layer);
        Ok(TransformerEncoder { layers, norm })
    }

    /// Every layer on `src` in turn with the same masks (see
    /// [`TransformerEncoderLayer::forward`]), then the final norm.
    pub fn forward(
        &self,
        src: &Tensor<E, B>,
        mask: Option<AttnMask<'_, E, B>>,
        src_key_padding_mask: Option<AttnMask<'_, E, B>>,
        is_causal: bool,
    ) -> Result<Tensor<E, B>> {
        let mut x = src.clone();
        for layer in &self.layers {
            x = layer.forward(&x, mask, src_key_padding_mask, is_causal)?;
        }
        match &self.norm {
            Some(norm) => norm.forward(&x),
            None => Ok(x),
        }
    }
}

impl<E: Float, B: Backend> Module<E, B> for TransformerEncoder<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.module("layers", &self.layers);
        if let Some(norm) = &self.norm {
            v.module("norm", norm);
        }
    }
}

/// The stack without masks: how it runs inside a `Sequential`.
impl<E: Float, B: Backend> Forward<E, B> for TransformerEncoder<E, B> {
    fn forward(&self, src: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        TransformerEncoder::forward(self, src, None, None, false)
    }
}

impl<E: Float, B: Backend> std::fmt::Display for TransformerEncoder<E, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&repr::<E, B, _>(self))
    }
}
