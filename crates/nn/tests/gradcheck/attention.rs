//! Gradient checks of the attention layers (`ATTENTION_LAYERS`), in f64 against central
//! differences. Every parameter is an input, put into the layer in place of its own, so its
//! gradient is checked too. Sizes are tiny: each input element costs two forward passes.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Bool, Result};
use nanotorch_nn::{
    generate_square_subsequent_mask, scaled_dot_product_attention, Activation, AttnMask,
    DecoderMasks, LayerNorm, LearnedPositionalEmbedding, Linear, MhaOptions, Module, ModuleList,
    MultiheadAttention, PositionalEncoding, TransformerDecoderLayer, TransformerEncoder,
    TransformerEncoderLayer, TransformerLayerOptions,
};

type T = Tensor<f64, Cpu>;

/// Leaves drawn from N(0, 1) that require grad, one per shape.
fn inputs(shapes: &[Vec<usize>]) -> Vec<T> {
    shapes
        .iter()
        .map(|s| T::randn(s.clone(), &Cpu).unwrap().requires_grad_(true))
        .collect()
}

fn bools(values: &[u8], shape: &[usize]) -> Result<Tensor<Bool, Cpu>> {
    Tensor::from_vec(
        values.iter().map(|&v| Bool::from(v != 0)).collect(),
        shape.to_vec(),
        &Cpu,
    )
}

/// Shapes of a MultiheadAttention's parameters: in_proj_weight, in_proj_bias, out_proj.
fn mha_shapes(e: usize) -> Vec<Vec<usize>> {
    vec![vec![3 * e, e], vec![3 * e], vec![e, e], vec![e]]
}

fn linear_shapes(i: usize, o: usize) -> Vec<Vec<usize>> {
    vec![vec![o, i], vec![o]]
}

fn norm_shapes(d: usize) -> Vec<Vec<usize>> {
    vec![vec![d], vec![d]]
}

/// Parameters of an encoder layer, in the order `set_encoder_layer` takes them.
fn encoder_layer_shapes(d: usize, ff: usize) -> Vec<Vec<usize>> {
    [
        mha_shapes(d),
        linear_shapes(d, ff),
        linear_shapes(ff, d),
        norm_shapes(d),
        norm_shapes(d),
    ]
    .concat()
}

fn set_mha(m: &mut MultiheadAttention<f64, Cpu>, p: &[T]) {
    m.in_proj_weight = p[0].clone();
    m.in_proj_bias = Some(p[1].clone());
    set_linear(&mut m.out_proj, &p[2..4]);
}

fn set_linear(l: &mut Linear<f64, Cpu>, p: &[T]) {
    l.weight = p[0].clone();
    l.bias = Some(p[1].clone());
}

fn set_norm(n: &mut LayerNorm<f64, Cpu>, p: &[T]) {
    n.weight = Some(p[0].clone());
    n.bias = Some(p[1].clone());
}

/// Puts 12 tensors into an encoder layer (see `encoder_layer_shapes`).
fn set_encoder_layer(l: &mut TransformerEncoderLayer<f64, Cpu>, p: &[T]) {
    set_mha(&mut l.self_attn, &p[0..4]);
    set_linear(&mut l.linear1, &p[4..6]);
    set_linear(&mut l.linear2, &p[6..8]);
    set_norm(&mut l.norm1, &p[8..10]);
    set_norm(&mut l.norm2, &p[10..12]);
}

fn options() -> TransformerLayerOptions {
    TransformerLayerOptions::new()
        .dim_feedforward(6)
        .dropout(0.0)
        .batch_first(true)
}

fn encoder_layer(
    o: &TransformerLayerOptions,
    p: &[T],
) -> Result<TransformerEncoderLayer<f64, Cpu>> {
    let mut layer = TransformerEncoderLayer::with_options(4, 2, o, &Cpu)?;
    set_encoder_layer(&mut layer, p);
    layer.eval();
    Ok(layer)
}

fn flat(parts: &[T]) -> Result<T> {
    let parts: Vec<T> = parts
        .iter()
        .map(|p| p.flatten(0, -1))
        .collect::<Result<_>>()?;
    Tensor::cat(&parts, 0)
}

/// One case per name in `ATTENTION_LAYERS`.
pub fn cases() -> Vec<super::Case> {
    vec![
        (
            "scaled_dot_product_attention",
            || inputs(&[vec![2, 3, 4], vec![2, 5, 4], vec![2, 5, 3], vec![3, 5]]),
            |x| {
                // Row 1 of the boolean mask is empty: zeros, with zero gradient.
                let allowed = bools(&[1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1], &[3, 5])?;
                let (q, k, v) = (&x[0], &x[1], &x[2]);
                let a = scaled_dot_product_attention(
                    q,
                    k,
                    v,
                    Some(AttnMask::Bool(&allowed)),
                    0.0,
                    false,
                    None,
                )?;
                let b = scaled_dot_product_attention(
                    q,
                    k,
                    v,
                    Some(AttnMask::Additive(&x[3])),
                    0.0,
                    false,
                    Some(0.6),
                )?;
                let c = scaled_dot_product_attention(q, k, v, None, 0.0, true, None)?;
                a.add(&b)?.add(&c)
            },
        ),
        (
            "MultiheadAttention",
            || {
                let mut shapes = vec![vec![2, 3, 4], vec![2, 4, 4]];
                shapes.extend(mha_shapes(4));
                inputs(&shapes)
            },
            |x| {
                let mut cross = MultiheadAttention::with_options(4, 2, 0.0, true, true, &Cpu)?;
                set_mha(&mut cross, &x[2..6]);
                let kpm = bools(&[0, 0, 1, 0, 0, 0, 0, 1], &[2, 4])?;
                let opts = MhaOptions::new().key_padding_mask(AttnMask::Bool(&kpm));
                let (out, attn) = cross.forward(&x[0], &x[1], &x[1], &opts)?;
                // Sequence-first self-attention (the packed projection) with per-head weights.
                let mut own = MultiheadAttention::new(4, 2, &Cpu)?;
                set_mha(&mut own, &x[2..6]);
                // x[0] read sequence-first is [L = 2, N = 3, E = 4].
                let mask = bools(&[0, 1, 0, 0], &[2, 2])?;
                let opts = MhaOptions::new()
                    .attn_mask(AttnMask::Bool(&mask))
                    .average_attn_weights(false);
                let (out2, attn2) = own.forward(&x[0], &x[0], &x[0], &opts)?;
                flat(&[out, attn.unwrap(), out2, attn2.unwrap()])
            },
        ),
        (
            "TransformerEncoderLayer",
            || {
                let mut shapes = vec![vec![2, 3, 4]];
                shapes.extend(encoder_layer_shapes(4, 6));
                inputs(&shapes)
            },
            |x| {
                let post = encoder_layer(&options(), &x[1..])?;
                let kpm = bools(&[0, 0, 1, 0, 0, 0], &[2, 3])?;
                let a = post.forward(&x[0], None, Some(AttnMask::Bool(&kpm)), false)?;
                let o = options().norm_first(true).activation(Activation::GELU);
                let pre = encoder_layer(&o, &x[1..])?;
                let causal = generate_square_subsequent_mask(3, &Cpu)?;
                let b = pre.forward(&x[0], Some(AttnMask::Additive(&causal)), None, true)?;
                a.add(&b)
            },
        ),
        (
            "TransformerDecoderLayer",
            || {
                let mut shapes = vec![vec![2, 3, 4], vec![2, 2, 4]];
                shapes.extend(mha_shapes(4));
                shapes.extend(mha_shapes(4));
                shapes.extend(linear_shapes(4, 6));
                shapes.extend(linear_shapes(6, 4));
                for _ in 0..3 {
                    shapes.extend(norm_shapes(4));
                }
                inputs(&shapes)
            },
            |x| {
                let causal = generate_square_subsequent_mask(3, &Cpu)?;
                let mkpm = bools(&[0, 1, 0, 0], &[2, 2])?;
                let masks = DecoderMasks {
                    tgt_mask: Some(AttnMask::Additive(&causal)),
                    memory_key_padding_mask: Some(AttnMask::Bool(&mkpm)),
                    ..DecoderMasks::default()
                };
                let mut total: Option<T> = None;
                for norm_first in [false, true] {
                    let o = options().norm_first(norm_first);
                    let mut layer = TransformerDecoderLayer::with_options(4, 2, &o, &Cpu)?;
                    let p = &x[2..];
                    set_mha(&mut layer.self_attn, &p[0..4]);
                    set_mha(&mut layer.multihead_attn, &p[4..8]);
                    set_linear(&mut layer.linear1, &p[8..10]);
                    set_linear(&mut layer.linear2, &p[10..12]);
                    set_norm(&mut layer.norm1, &p[12..14]);
                    set_norm(&mut layer.norm2, &p[14..16]);
                    set_norm(&mut layer.norm3, &p[16..18]);
                    layer.eval();
                    let out = layer.forward(&x[0], &x[1], &masks)?;
                    total = Some(match total {
                        Some(t) => t.add(&out)?,
                        None => out,
                    });
                }
                Ok(total.expect("two layers ran"))
            },
        ),
        (
            "TransformerEncoder",
            || {
                let mut shapes = vec![vec![2, 3, 4]];
                shapes.extend(encoder_layer_shapes(4, 6));
                shapes.extend(encoder_layer_shapes(4, 6));
                shapes.extend(norm_shapes(4));
                inputs(&shapes)
            },
            |x| {
                let mut norm = LayerNorm::new([4], &Cpu)?;
                set_norm(&mut norm, &x[25..27]);
                // Two layers with their own parameters, as `TransformerEncoder::new` stacks them.
                let layers = [&x[1..13], &x[13..25]]
                    .into_iter()
                    .map(|p| encoder_layer(&options(), p))
                    .collect::<Result<ModuleList<_>>>()?;
                let encoder = TransformerEncoder {
                    layers,
                    norm: Some(norm),
                };
                let kpm = bools(&[0, 0, 0, 0, 1, 0], &[2, 3])?;
                encoder.forward(&x[0], None, Some(AttnMask::Bool(&kpm)), false)
            },
        ),
        (
            "PositionalEncoding",
            || inputs(&[vec![3, 2, 4]]),
            |x| {
                let mut pe = PositionalEncoding::new(4, 0.1, 8, &Cpu)?;
                pe.eval();
                pe.forward(&x[0])?.mul(&x[0])
            },
        ),
        (
            "LearnedPositionalEmbedding",
            || inputs(&[vec![2, 3, 4], vec![5, 4]]),
            |x| {
                let mut pos = LearnedPositionalEmbedding::new(5, 4, &Cpu)?.batch_first(true);
                pos.weight = x[1].clone();
                pos.forward(&x[0])?.mul(&x[0])
            },
        ),
    ]
}
