//! `MultiheadAttention`: project queries, keys and values, split them into heads, attend in each
//! head with [`crate::scaled_dot_product_attention`]'s masked softmax, and project the
//! concatenated heads back. Parameters, masks and layouts are PyTorch's, so its state dict loads
//! unchanged.

use super::sdpa::{attention_weights, AttnMask, ScoreMask};
use crate::module::{repr, Training};
use crate::{functional, init, Forward, Linear, Module, Visitor};
use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result, Shape};

const OP: &str = "MultiheadAttention";

/// The optional arguments of [`MultiheadAttention::forward`], with PyTorch's defaults
/// (`need_weights = true`, `average_attn_weights = true`, no masks, `is_causal = false`).
///
/// Masks follow PyTorch's `MultiheadAttention`: a boolean mask is `true` where attending is
/// **not** allowed (the opposite of [`crate::scaled_dot_product_attention`]), an additive one is
/// added to the scores.
#[derive(Debug)]
pub struct MhaOptions<'a, E: Float = f32, B: Backend = Cpu> {
    /// `[N, S]` (`[S]` unbatched): keys to ignore for each sequence (padding).
    pub key_padding_mask: Option<AttnMask<'a, E, B>>,
    /// Whether the attention weights are returned.
    pub need_weights: bool,
    /// `[L, S]`, or `[N·num_heads, L, S]` (`[num_heads, L, S]` unbatched): which query may attend
    /// to which key.
    pub attn_mask: Option<AttnMask<'a, E, B>>,
    /// Whether the returned weights are averaged over the heads (`[N, L, S]`) or kept per head
    /// (`[N, num_heads, L, S]`).
    pub average_attn_weights: bool,
    /// A hint that `attn_mask` is the causal mask. As in PyTorch it needs `attn_mask` (make one
    /// with [`crate::generate_square_subsequent_mask`]); the mask is what is applied.
    pub is_causal: bool,
}

impl<E: Float, B: Backend> Default for MhaOptions<'_, E, B> {
    fn default() -> Self {
        MhaOptions {
            key_padding_mask: None,
            need_weights: true,
            attn_mask: None,
            average_attn_weights: true,
            is_causal: false,
        }
    }
}

impl<'a, E: Float, B: Backend> MhaOptions<'a, E, B> {
    /// PyTorch's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key_padding_mask`.
    pub fn key_padding_mask(mut self, mask: AttnMask<'a, E, B>) -> Self {
        self.key_padding_mask = Some(mask);
        self
    }

    /// Sets `need_weights`.
    pub fn need_weights(mut self, need_weights: bool) -> Self {
        self.need_weights = need_weights;
        self
    }

    /// Sets `attn_mask`.
    pub fn attn_mask(mut self, mask: AttnMask<'a, E, B>) -> Self {
        self.attn_mask = Some(mask);
        self
    }

    /// Sets `average_attn_weights`.
    pub fn average_attn_weights(mut self, average: bool) -> Self {
        self.average_attn_weights = average;
        self
    }

    /// Sets `is_causal`.
    pub fn is_causal(mut self, is_causal: bool) -> Self {
        self.is_causal = is_causal;
        self
    }
}

/// What [`MultiheadAttention::forward`] returns: the attention output, and the attention weights
/// when `need_weights` is on.
pub type MhaOutput<E = f32, B = Cpu> = (Tensor<E, B>, Option<Tensor<E, B>>);

/// Multi-head attention (`nn.MultiheadAttention(embed_dim, num_heads, dropout, bias,
/// batch_first=…)`, with `kdim = vdim = embed_dim` and no `add_bias_kv`/`add_zero_attn`).
///
/// Parameters under PyTorch's names: `in_proj_weight [3E, E]` (the query, key and value
/// projections stacked in that order), `in_proj_bias [3E]`, `out_proj.weight [E, E]`,
/// `out_proj.bias [E]`. Init as PyTorch: Xavier-uniform `in_proj_weight`, zero biases,
/// `out_proj.weight` as a `Linear`'s.
///
/// Inputs are `[L, N, E]` (`[N, L, E]` with `batch_first`) or unbatched `[L, E]`; the output has
/// the query's shape. Dropout on the attention weights applies in training mode only.
///
/// ```
/// use nanotorch_autograd::Tensor;
/// use nanotorch_backend_cpu::Cpu;
/// use nanotorch_ndarray_core::Bool;
/// use nanotorch_nn::{AttnMask, MhaOptions, MultiheadAttention};
/// # fn main() -> nanotorch_ndarray_core::Result<()> {
/// let mha = MultiheadAttention::<f32, Cpu>::with_options(8, 2, 0.0, true, true, &Cpu)?;
/// let x = Tensor::randn([2, 5, 8], &Cpu)?; // [N, L, E]
/// // The last key of the second sequence is padding (true = ignore, as in PyTorch).
/// let mut pad = vec![Bool::FALSE; 10];
/// pad[9] = Bool::TRUE;
/// let pad = Tensor::from_vec(pad, [2, 5], &Cpu)?;
/// let options = MhaOptions::new().key_padding_mask(AttnMask::Bool(&pad));
/// let (out, weights) = mha.forward(&x, &x, &x, &options)?;
/// assert_eq!(out.dims(), [2, 5, 8]);
/// let weights = weights.unwrap(); // [N, L, S], averaged over the heads
/// assert_eq!(weights.dims(), [2, 5, 5]);
/// assert_eq!(weights.to_vec()?[25 + 4], 0.0); // nobody attends to the padding
/// # Ok(()) }
/// ```
pub struct MultiheadAttention<E: Float = f32, B: Backend = Cpu> {
    /// `[3·embed_dim, embed_dim]`: the query, key and value projections, stacked.
    pub in_proj_weight: Tensor<E, B>,
    /// `[3·embed_dim]`, if the layer has biases.
    pub in_proj_bias: Option<Tensor<E, B>>,
    /// The output projection.
    pub out_proj: Linear<E, B>,
    /// Dropout probability on the attention weights (in training mode).
    pub dropout: f64,
    num_heads: usize,
    batch_first: bool,
    training: Training,
}

impl<E: Float, B: Backend> MultiheadAttention<E, B> {
    /// PyTorch's defaults: no dropout, biases, sequence-first layout.
    pub fn new(embed_dim: usize, num_heads: usize, backend: &B) -> Result<Self> {
        Self::with_options(embed_dim, num_heads, 0.0, true, false, backend)
    }

    /// `nn.MultiheadAttention(embed_dim, num_heads, dropout, bias, batch_first=batch_first)`.
    /// `embed_dim` must be a multiple of `num_heads`.
    pub fn with_options(
        embed_dim: usize,
        num_heads: usize,
        dropout: f64,
        bias: bool,
        batch_first: bool,
        backend: &B,
    ) -> Result<Self> {
        if embed_dim == 0 || num_heads == 0 {
            return Err(Error::msg(format!(
                "{OP}: embed_dim and num_heads must be greater than 0, got embed_dim={embed_dim} \
                 and num_heads={num_heads}"
            )));
        }
        if !embed_dim.is_multiple_of(num_heads) {
            return Err(Error::msg(format!(
                "{OP}: embed_dim {embed_dim} must be divisible by num_heads {num_heads}"
            )));
        }
        if !(0.0..=1.0).contains(&dropout) {
            return Err(Error::msg(format!(
                "{OP}: dropout {dropout} is outside [0, 1]"
            )));
        }
        let in_proj_weight = init::xavier_uniform([3 * embed_dim, embed_dim], 1.0, backend)?;
        let in_proj_bias = bias
            .then(|| init::zeros([3 * embed_dim], backend))
            .transpose()?;
        let mut out_proj = Linear::with_bias(embed_dim, embed_dim, bias, backend)?;
        // PyTorch's `_reset_parameters` zeroes out_proj's bias after Linear's own init.
        if bias {
            out_proj.bias = Some(init::zeros([embed_dim], backend)?);
        }
        Ok(MultiheadAttention {
            in_proj_weight,
            in_proj_bias,
            out_proj,
            dropout,
            num_heads,
            batch_first,
            training: Training::new(),
        })
    }

    /// `embed_dim` (E).
    pub fn embed_dim(&self) -> usize {
        self.in_proj_weight.dims()[1]
    }

    /// The number of heads.
    pub fn num_heads(&self) -> usize {
        self.num_heads
    }

    /// `embed_dim / num_heads`.
    pub fn head_dim(&self) -> usize {
        self.embed_dim() / self.num_heads
    }

    /// Whether inputs are `[N, L, E]` (rather than `[L, N, E]`).
    pub fn batch_first(&self) -> bool {
        self.batch_first
    }

    /// Attention of `query` over `key`/`value` (`[L, N, E]`, `[S, N, E]`, `[S, N, E]`; batch
    /// first with `batch_first`; or unbatched `[L, E]`, `[S, E]`). Returns the output, shaped as
    /// `query`, and, with `need_weights`, the attention weights: `[N, L, S]` averaged over heads
    /// or `[N, num_heads, L, S]` (without `N` unbatched).
    ///
    /// Unlike PyTorch's (which gives NaN there when the weights are asked for), a query whose
    /// every key is masked gets zero weights and a zero attention output in every mode.
    pub fn forward(
        &self,
        query: &Tensor<E, B>,
        key: &Tensor<E, B>,
        value: &Tensor<E, B>,
        options: &MhaOptions<'_, E, B>,
    ) -> Result<MhaOutput<E, B>> {
        let batched = self.check_inputs(query, key, value)?;
        let (e, h, d) = (self.embed_dim(), self.num_heads, self.head_dim());

        // Project in the caller's layout: a linear layer acts on the last axis only.
        let w = &self.in_proj_weight;
        let b = self.in_proj_bias.as_ref();
        let (q, k, v) = if query.ptr_eq(key) && key.ptr_eq(value) {
            // Self-attention: one matmul for the three projections.
            let qkv = functional::linear(query, w, b)?.chunk(3, -1)?;
            (qkv[0].clone(), qkv[1].clone(), qkv[2].clone())
        } else {
            let part = |x: &Tensor<E, B>, i: usize| -> Result<Tensor<E, B>> {
                let bias = b.map(|b| b.narrow(0, i * e, e)).transpose()?;
                functional::linear(x, &w.narrow(0, i * e, e)?, bias.as_ref())
            };
            (part(query, 0)?, part(key, 1)?, part(value, 2)?)
        };

        // To [N, L, E], then heads: [N, L, H, D] → [N, H, L, D].
        let to_heads = |x: Tensor<E, B>| -> Result<Tensor<E, B>> {
            let x = self.batch_major(x, batched)?;
            let (n, len) = (x.dims()[0], x.dims()[1]);
            x.reshape([n, len, h, d])?.permute(&[0, 2, 1, 3])
        };
        let (q, k, v) = (to_heads(q)?, to_heads(k)?, to_heads(v)?);
        let (n, l, s) = (q.dims()[0], q.dims()[2], k.dims()[2]);

        let bias = self.mask_bias(options, batched, n, l, s)?;
        let p = if self.training.get() {
            self.dropout
        } else {
            0.0
        };
        let weights = attention_weights(&q, &k, bias.map(ScoreMask::Bias).as_ref(), None, p)?;

        // [N, H, L, D] → [N, L, H·D] → out_proj → the caller's layout.
        let out = weights
            .matmul(&v)?
            .permute(&[0, 2, 1, 3])?
            .reshape([n, l, e])?;
        let out = self.caller_layout(self.out_proj.forward(&out)?, batched)?;

        let weights = if options.need_weights {
            let w = if options.average_attn_weights {
                weights.mean_dims(&[1], false)?
            } else {
                weights
            };
            Some(if batched { w } else { w.squeeze(0)? })
        } else {
            None
        };
        Ok((out, weights))
    }

    /// Checks ranks and feature sizes; returns whether the input is batched.
    fn check_inputs(
        &self,
        query: &Tensor<E, B>,
        key: &Tensor<E, B>,
        value: &Tensor<E, B>,
    ) -> Result<bool> {
        let batched = match query.rank() {
            3 => true,
            2 => false,
            _ => {
                return Err(Error::invalid(
                    OP,
                    "query must be [L, N, E] ([N, L, E] with batch_first) or unbatched [L, E]",
                    query.shape(),
                ))
            }
        };
        if key.rank() != query.rank() || value.rank() != query.rank() {
            return Err(Error::ShapeMismatch {
                op: OP,
                what: "key and value must have the query's rank",
                lhs: query.shape().clone(),
                rhs: if key.rank() != query.rank() {
                    key
                } else {
                    value
                }
                .shape()
                .clone(),
            });
        }
        if key.shape() != value.shape() {
            return Err(Error::ShapeMismatch {
                op: OP,
                what: "key and value must have the same shape",
                lhs: key.shape().clone(),
                rhs: value.shape().clone(),
            });
        }
        let e = self.embed_dim();
        let last = |t: &Tensor<E, B>| t.dims()[t.rank() - 1];
        if last(query) != e || last(key) != e {
            return Err(Error::ShapeMismatch {
                op: OP,
                what:
                    "query's and key's last axis must equal embed_dim (in_proj_weight is [3E, E])",
                lhs: if last(query) != e { query } else { key }.shape().clone(),
                rhs: self.in_proj_weight.shape().clone(),
            });
        }
        if batched {
            let batch_axis = if self.batch_first { 0 } else { 1 };
            if query.dims()[batch_axis] != key.dims()[batch_axis] {
                return Err(Error::ShapeMismatch {
                    op: OP,
                    what: "query and key must have the same batch size",
                    lhs: query.shape().clone(),
                    rhs: key.shape().clone(),
                });
            }
        }
        Ok(batched)
    }

    /// `[N, len, E]` from the caller's layout.
    fn batch_major(&self, x: Tensor<E, B>, batched: bool) -> Result<Tensor<E, B>> {
        match (batched, self.batch_first) {
            (false, _) => x.unsqueeze(0),
            (true, true) => Ok(x),
            (true, false) => x.transpose(0, 1),
        }
    }

    /// The caller's layout from `[N, len, E]`.
    fn caller_layout(&self, x: Tensor<E, B>, batched: bool) -> Result<Tensor<E, B>> {
        match (batched, self.batch_first) {
            (false, _) => x.squeeze(0),
            (true, true) => Ok(x),
            (true, false) => x.transpose(0, 1),
        }
    }

    /// `attn_mask` and `key_padding_mask` as one additive bias broadcastable to `[N, H, L, S]`
    /// (PyTorch converts both to floats and adds them too).
    fn mask_bias(
        &self,
        options: &MhaOptions<'_, E, B>,
        batched: bool,
        n: usize,
        l: usize,
        s: usize,
    ) -> Result<Option<Tensor<E, B>>> {
        let h = self.num_heads;
        if options.is_causal && options.attn_mask.is_none() {
            return Err(Error::msg(format!(
                "{OP}: is_causal is a hint that attn_mask is the causal mask and needs attn_mask \
                 (make one with generate_square_subsequent_mask)"
            )));
        }
        let attn = options
            .attn_mask
            .map(|m| -> Result<Tensor<E, B>> {
                // The shape it should have: [L, S] for a 2-D mask, else [N·num_heads, L, S].
                let want = if m.shape().rank() == 2 {
                    vec![l, s]
                } else {
                    vec![n * h, l, s]
                };
                if m.shape().dims() != want {
                    return Err(Error::ShapeMismatch {
                        op: OP,
                        what: "attn_mask must be [L, S] or [N*num_heads, L, S] ([num_heads, L, S] unbatched)",
                        lhs: m.shape().clone(),
                        rhs: Shape::new(want),
                    });
                }
                let bias = m.to_bias(true)?;
                if want.len() == 2 {
                    bias.reshape([1, 1, l, s])
                } else {
                    bias.reshape([n, h, l, s])
                }
            })
            .transpose()?;
        let padding = options
            .key_padding_mask
            .map(|m| -> Result<Tensor<E, B>> {
                let want = if batched { vec![n, s] } else { vec![s] };
                if m.shape().dims() != want {
                    return Err(Error::ShapeMismatch {
                        op: OP,
                        what: "key_padding_mask must be [N, S] ([S] unbatched)",
                        lhs: m.shape().clone(),
                        rhs: Shape::new(want),
                    });
                }
                m.to_bias(true)?.reshape([n, 1, 1, s])
            })
            .transpose()?;
        Ok(match (attn, padding) {
            (Some(a), Some(p)) => Some(a.add(&p)?),
            (a, p) => a.or(p),
        })
    }
}

impl<E: Float, B: Backend> Module<E, B> for MultiheadAttention<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.training(&self.training);
        v.parameter("in_proj_weight", &self.in_proj_weight);
        v.parameter("in_proj_bias", self.in_proj_bias.as_ref());
        v.module("out_proj", &self.out_proj);
    }

    fn extra_repr(&self) -> String {
        format!(
            "embed_dim={}, num_heads={}, dropout={}, batch_first={}",
            self.embed_dim(),
            self.num_heads,
            self.dropout,
            self.batch_first
        )
    }
}

/// Self-attention of one input (`query = key = value`), without weights or masks: how the layer
/// runs inside a `Sequential`.
impl<E: Float, B: Backend> Forward<E, B> for MultiheadAttention<E, B> {
    fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let options = MhaOptions::new().need_weights(false);
        Ok(MultiheadAttention::forward(self, x, x, x, &options)?.0)
    }
}

impl<E: Float, B: Backend> std::fmt::Display for MultiheadAttention<E, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&repr::<E, B, _>(self))
    }
}

/// A copy with its own storage (PyTorch's `copy.deepcopy`), for stacking clones of a layer.
pub(crate) fn deep_copy<E: Float, B: Backend>(t: &Tensor<E, B>) -> Result<Tensor<E, B>> {
    Ok(Tensor::from_ndarray(t.array().copy()?).requires_grad_(t.requires_grad()))
}

impl<E: Float, B: Backend> MultiheadAttention<E, B> {
    /// A copy with its own parameters (PyTorch's `copy.deepcopy`).
    pub(crate) fn deep_clone(&self) -> Result<Self> {
        Ok(MultiheadAttention {
            in_proj_weight: deep_copy(&self.in_proj_weight)?,
            in_proj_bias: self.in_proj_bias.as_ref().map(deep_copy).transpose()?,
            out_proj: Linear {
                weight: deep_copy(&self.out_proj.weight)?,
                bias: self.out_proj.bias.as_ref().map(deep_copy).transpose()?,
            },
            dropout: self.dropout,
            num_heads: self.num_heads,
            batch_first: self.batch_first,
            training: self.training.clone(),
        })
    }
}
