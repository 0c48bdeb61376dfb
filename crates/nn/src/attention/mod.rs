//! Attention and transformer layers, with PyTorch's names, shapes, defaults, init and state-dict
//! keys: [`scaled_dot_product_attention`] (attention as two matmuls around a masked softmax),
//! [`MultiheadAttention`], [`TransformerEncoderLayer`], [`TransformerDecoderLayer`],
//! [`TransformerEncoder`], and positions ([`PositionalEncoding`],
//! [`LearnedPositionalEmbedding`]).
//!
//! Masks are [`AttnMask`]s, boolean or additive. Mind PyTorch's two boolean conventions, kept
//! here: for [`scaled_dot_product_attention`] `true` means "may attend"; for
//! [`MultiheadAttention`] and the transformer layers `true` means "masked out".

mod multihead;
mod positional;
mod sdpa;
mod transformer;

pub use multihead::{MhaOptions, MhaOutput, MultiheadAttention};
pub use positional::{LearnedPositionalEmbedding, PositionalEncoding};
pub use sdpa::{generate_square_subsequent_mask, scaled_dot_product_attention, AttnMask};
pub use transformer::{
    Activation, DecoderMasks, TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer,
    TransformerLayerOptions,
};

/// Every attention layer and function of this crate with a gradient to check.
/// `tests/gradcheck.rs` (its `attention` module) fails if any name here has no gradcheck case.
pub const ATTENTION_LAYERS: &[&str] = &[
    "scaled_dot_product_attention",
    "MultiheadAttention",
    "TransformerEncoderLayer",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "PositionalEncoding",
    "LearnedPositionalEmbedding",
];
