//! `scaled_dot_product_attention`: attention as two matmuls around a masked softmax,
//! `softmax(Q·Kᵀ·scale + mask)·V`, composed from autograd ops so its gradient needs no rule of
//! its own.

use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Bool, Error, Float, Result, Shape};

/// An attention mask: boolean or additive, as PyTorch accepts either.
///
/// What `true` means depends on who reads the mask, exactly as in PyTorch:
/// - [`scaled_dot_product_attention`]: `true` = the position **takes part** in attention;
/// - [`crate::MultiheadAttention`] and the transformer layers (`attn_mask`,
///   `key_padding_mask`, `src_mask`, …): `true` = the position is **masked out**.
///
/// An additive mask is added to the scores before the softmax: `0` keeps a position and `-inf`
/// removes it (any other value shifts the score).
#[derive(Debug)]
pub enum AttnMask<'a, E: Float, B: Backend> {
    /// A boolean mask (see the type's docs for what `true` means where).
    Bool(&'a Tensor<Bool, B>),
    /// A float mask added to the attention scores.
    Additive(&'a Tensor<E, B>),
}

impl<E: Float, B: Backend> Clone for AttnMask<'_, E, B> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E: Float, B: Backend> Copy for AttnMask<'_, E, B> {}

impl<E: Float, B: Backend> AttnMask<'_, E, B> {
    /// The mask's shape.
    pub fn shape(&self) -> &Shape {
        match self {
            AttnMask::Bool(m) => m.shape(),
            AttnMask::Additive(m) => m.shape(),
        }
    }

    /// The mask as a bias added to the scores: an additive mask as it is, a boolean one as `0`
    /// where attending is allowed and `-inf` where it is not; `true_masks` says which boolean
    /// value means "masked" (PyTorch's `_canonical_mask` for `true_masks = true`).
    pub(crate) fn to_bias(self, true_masks: bool) -> Result<Tensor<E, B>> {
        match self {
            AttnMask::Additive(m) => Ok(m.clone()),
            AttnMask::Bool(m) => {
                let flags = m.cast::<E>()?;
                let zero = Tensor::scalar(E::ZERO, m.backend())?;
                let neg_inf = Tensor::scalar(E::from_f64(f64::NEG_INFINITY), m.backend())?;
                if true_masks {
                    Tensor::where_cond(&flags, &neg_inf, &zero)
                } else {
                    Tensor::where_cond(&flags, &zero, &neg_inf)
                }
            }
        }
    }
}

/// How the scores are masked before the softmax.
pub(crate) enum ScoreMask<E: Float, B: Backend> {
    /// 1 where attending is allowed, 0 where the score becomes `-inf`.
    Allowed(Tensor<E, B>),
    /// The causal mask (key `j` seen from query `i` when `j ≤ i`): every row keeps key 0, so
    /// no row is empty; applied inside [`Tensor::causal_softmax`].
    Causal,
    /// Added to the scores.
    Bias(Tensor<E, B>),
}

/// `[L, S]` with `-inf` above the diagonal and `0` on and below it: the additive causal mask
/// that PyTorch's `nn.Transformer.generate_square_subsequent_mask(sz)` returns, for the
/// `attn_mask`/`src_mask`/`tgt_mask` of [`crate::MultiheadAttention`] and the transformer layers.
pub fn generate_square_subsequent_mask<E: Float, B: Backend>(
    sz: usize,
    backend: &B,
) -> Result<Tensor<E, B>> {
    let future = causal_allowed::<E, B>(sz, sz, backend)?.eq(E::ZERO)?;
    let zero = Tensor::scalar(E::ZERO, backend)?;
    let neg_inf = Tensor::scalar(E::from_f64(f64::NEG_INFINITY), backend)?;
    Tensor::where_cond(&future, &neg_inf, &zero)
}

/// `[L, S]`: 1 where key `j` may be seen from query `i` under a causal mask (`j ≤ i`, the lower
/// triangle aligned at the top left, as PyTorch's `tril` of an `[L, S]` matrix of ones), else 0.
/// Built on the device by comparing two aranges, with no host loop over elements.
pub(crate) fn causal_allowed<E: Float, B: Backend>(
    l: usize,
    s: usize,
    backend: &B,
) -> Result<Tensor<E, B>> {
    let rows = Tensor::<E, B>::arange(0.0, l as f64, 1.0, backend)?.reshape([l, 1])?;
    let cols = Tensor::<E, B>::arange(0.0, s as f64, 1.0, backend)?.reshape([1, s])?;
    cols.le(&rows)
}

/// Checks the shapes of `query [..., L, E]`, `key [..., S, E]` and `value [..., S, Ev]` and
/// returns the shape of the scores, `[batch..., L, S]`.
pub(crate) fn scores_shape<E: Float, B: Backend>(
    op: &'static str,
    query: &Tensor<E, B>,
    key: &Tensor<E, B>,
    value: &Tensor<E, B>,
) -> Result<Shape> {
    for (name, t) in [("query", query), ("key", key), ("value", value)] {
        if t.rank() < 2 {
            return Err(Error::invalid(
                op,
                format!("{name} must have at least 2 axes ([..., sequence, features])"),
                t.shape(),
            ));
        }
    }
    let (q, k, v) = (query.dims(), key.dims(), value.dims());
    if q[q.len() - 1] != k[k.len() - 1] {
        return Err(Error::ShapeMismatch {
            op,
            what: "query and key must have the same last axis (E)",
            lhs: query.shape().clone(),
            rhs: key.shape().clone(),
        });
    }
    if k[k.len() - 2] != v[v.len() - 2] {
        return Err(Error::ShapeMismatch {
            op,
            what: "key and value must have the same sequence axis (S, the second to last)",
            lhs: key.shape().clone(),
            rhs: value.shape().clone(),
        });
    }
    let batch = |d: &[usize]| Shape::new(d[..d.len() - 2].to_vec());
    let qk = Shape::broadcast(op, &batch(q), &batch(k))?;
    let qkv = Shape::broadcast(op, &qk, &batch(v))?;
    let mut dims = qkv.dims().to_vec();
    dims.extend([q[q.len() - 2], k[k.len() - 2]]);
    Ok(Shape::new(dims))
}

/// Checks that a mask of shape `mask` broadcasts to the scores' shape (without growing it).
pub(crate) fn check_mask_shape(
    op: &'static str,
    what: &'static str,
    mask: &Shape,
    scores: &Shape,
) -> Result<()> {
    match Shape::broadcast(op, mask, scores) {
        Ok(s) if s == *scores => Ok(()),
        _ => Err(Error::ShapeMismatch {
            op,
            what,
            lhs: mask.clone(),
            rhs: scores.clone(),
        }),
    }
}

/// `softmax(query·keyᵀ·scale + mask)` over the last axis, then dropout with probability
/// `dropout_p` (none at 0): the attention weights `[..., L, S]`. A row whose every score is
/// masked (`-inf`) gets weights of zero rather than NaN, as PyTorch's SDPA does; its gradient
/// is zero too.
pub(crate) fn attention_weights<E: Float, B: Backend>(
    query: &Tensor<E, B>,
    key: &Tensor<E, B>,
    mask: Option<&ScoreMask<E, B>>,
    scale: Option<f64>,
    dropout_p: f64,
) -> Result<Tensor<E, B>> {
    let e = query.dims()[query.rank() - 1];
    let scale = scale.unwrap_or(1.0 / (e.max(1) as f64).sqrt());
    let products = query.matmul(&key.transpose(-2, -1)?)?;
    if let Some(ScoreMask::Causal) = mask {
        // Scale, mask and softmax in one op: no mask tensor, no masked copy of the scores.
        return finish(products.causal_softmax(E::from_f64(scale))?, dropout_p);
    }
    let scores = products.mul_scalar(E::from_f64(scale))?;
    let neg_inf = E::from_f64(f64::NEG_INFINITY);
    let weights = match mask {
        None => scores.softmax(-1)?,
        Some(mask) => {
            let scores = match mask {
                ScoreMask::Allowed(allowed) => {
                    let fill = Tensor::scalar(neg_inf, scores.backend())?;
                    Tensor::where_cond(allowed, &scores, &fill)?
                }
                ScoreMask::Bias(bias) => scores.add(bias)?,
                // Handled above.
                ScoreMask::Causal => scores,
            };
            // Rows with nothing to attend to: softmax would give 0/0. They are found on the
            // detached scores (one reduction), and only when there are some are the two extra
            // selects paid for; the softmax then sees finite zeros in those rows, so neither
            // the value nor the gradient is NaN.
            let dead = scores.detach().max_dims(&[-1], true)?.eq(neg_inf)?;
            if dead.sum_all()?.item()? == E::ZERO {
                scores.softmax(-1)?
            } else {
                let zero = Tensor::scalar(E::ZERO, scores.backend())?;
                let finite = Tensor::where_cond(&dead, &zero, &scores)?;
                Tensor::where_cond(&dead, &zero, &finite.softmax(-1)?)?
            }
        }
    };
    finish(weights, dropout_p)
}

/// Dropout on the attention weights, skipped at `p = 0`.
fn finish<E: Float, B: Backend>(weights: Tensor<E, B>, dropout_p: f64) -> Result<Tensor<E, B>> {
    if dropout_p == 0.0 {
        Ok(weights)
    } else {
        weights.dropout(dropout_p, true)
    }
}

/// Scaled dot-product attention, as `torch.nn.functional.scaled_dot_product_attention`:
/// `softmax(query·keyᵀ·scale + mask)·value` for `query [..., L, E]`, `key [..., S, E]` and
/// `value [..., S, Ev]`, giving `[..., L, Ev]` (the leading axes broadcast).
///
/// - `attn_mask` broadcasts to `[..., L, S]`: [`AttnMask::Bool`] with `true` where a query may
///   attend to a key (PyTorch's convention for this function), or [`AttnMask::Additive`], added
///   to the scores.
/// - `is_causal`: query `i` sees keys `0..=i` only (the top-left lower triangle of `[L, S]`);
///   an error together with `attn_mask`, as in PyTorch.
/// - `dropout_p`: dropout on the attention weights when above 0 (it always applies: pass 0 in
///   evaluation, as with PyTorch's function).
/// - `scale`: defaults to `1/√E`.
///
/// A query row with no key to attend to gives zeros, as PyTorch's does.
///
/// ```
/// use nanotorch_autograd::Tensor;
/// use nanotorch_backend_cpu::Cpu;
/// use nanotorch_nn::scaled_dot_product_attention;
/// # fn main() -> nanotorch_ndarray_core::Result<()> {
/// let q = Tensor::<f64, Cpu>::randn([2, 4, 8], &Cpu)?; // [batch, L, E]
/// let out = scaled_dot_product_attention(&q, &q, &q, None, 0.0, true, None)?;
/// assert_eq!(out.dims(), [2, 4, 8]);
/// # Ok(()) }
/// ```
pub fn scaled_dot_product_attention<E: Float, B: Backend>(
    query: &Tensor<E, B>,
    key: &Tensor<E, B>,
    value: &Tensor<E, B>,
    attn_mask: Option<AttnMask<'_, E, B>>,
    dropout_p: f64,
    is_causal: bool,
    scale: Option<f64>,
) -> Result<Tensor<E, B>> {
    const OP: &str = "scaled_dot_product_attention";
    let scores = scores_shape(OP, query, key, value)?;
    let mask = match (attn_mask, is_causal) {
        (Some(_), true) => {
            return Err(Error::msg(format!(
                "{OP}: attn_mask and is_causal were both given; pass one (is_causal builds the \
                 causal mask itself)"
            )))
        }
        (Some(m), false) => {
            check_mask_shape(
                OP,
                "attn_mask must broadcast to the attention scores [..., L, S]",
                m.shape(),
                &scores,
            )?;
            Some(match m {
                AttnMask::Bool(b) => ScoreMask::Allowed(b.cast::<E>()?),
                AttnMask::Additive(a) => ScoreMask::Bias(a.clone()),
            })
        }
        (None, true) => Some(ScoreMask::Causal),
        (None, false) => None,
    };
    attention_weights(query, key, mask.as_ref(), scale, dropout_p)?.matmul(value)
}
