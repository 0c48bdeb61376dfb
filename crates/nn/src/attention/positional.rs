//! Positions for attention, which by itself ignores order: the fixed sinusoidal encoding of
//! "Attention is all you need" and a learned table of position vectors (GPT's `wpe`).

use crate::module::repr;
use crate::{init, Dropout, Forward, Module, Visitor};
use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// `x` plus the first `L` rows of `table` (`[max_len, d_model]`) along `x`'s sequence axis
/// (`x` is `[L, E]`, `[L, N, E]`, or `[N, L, E]` when `batch_first`).
fn add_positions<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    batch_first: bool,
    table: &Tensor<E, B>,
) -> Result<Tensor<E, B>> {
    let (max_len, d_model) = (table.dims()[0], table.dims()[1]);
    let seq_axis = match x.rank() {
        2 => 0,
        3 if batch_first => 1,
        3 => 0,
        _ => {
            return Err(Error::invalid(
                op,
                "input must be [L, E], [L, N, E] or, with batch_first, [N, L, E]",
                x.shape(),
            ))
        }
    };
    let len = x.dims()[seq_axis];
    if x.dims()[x.rank() - 1] != d_model {
        return Err(Error::ShapeMismatch {
            op,
            what: "the input's last axis must equal d_model (the table is [max_len, d_model])",
            lhs: x.shape().clone(),
            rhs: table.shape().clone(),
        });
    }
    if len > max_len {
        return Err(Error::invalid(
            op,
            format!("sequence length {len} exceeds max_len {max_len}"),
            x.shape(),
        ));
    }
    let positions = table.narrow(0, 0, len)?;
    let positions = match (x.rank(), seq_axis) {
        (3, 0) => positions.unsqueeze(1)?,
        (3, _) => positions.unsqueeze(0)?,
        _ => positions,
    };
    x.add(&positions)
}

/// The sinusoidal positional encoding of "Attention is all you need", as the PyTorch tutorial's
/// `PositionalEncoding(d_model, dropout=0.1, max_len=5000)`: adds
/// `pe[pos, 2i] = sin(pos / 10000^(2i/d_model))` and `pe[pos, 2i+1] = cos(pos / 10000^(2i/d_model))`
/// to its input, then applies dropout. `pe` is a buffer (saved, not trained) of shape
/// `[max_len, 1, d_model]`, the tutorial's, so its state dict loads.
///
/// Inputs are `[L, N, d_model]` (the tutorial's layout), `[N, L, d_model]` after
/// [`PositionalEncoding::batch_first`], or `[L, d_model]`.
pub struct PositionalEncoding<E: Float = f32, B: Backend = Cpu> {
    /// Dropout after the sum.
    pub dropout: Dropout,
    pe: Tensor<E, B>,
    batch_first: bool,
}

impl<E: Float, B: Backend> PositionalEncoding<E, B> {
    /// The encoding for sequences of up to `max_len` positions.
    pub fn new(d_model: usize, dropout: f64, max_len: usize, backend: &B) -> Result<Self> {
        if d_model == 0 || max_len == 0 {
            return Err(Error::msg(format!(
                "PositionalEncoding: d_model ({d_model}) and max_len ({max_len}) must be positive"
            )));
        }
        // Computed once on the host in f64: the table is a constant.
        let ln_base = -(10000f64).ln() / d_model as f64;
        let mut pe = Vec::with_capacity(max_len * d_model);
        for pos in 0..max_len {
            for j in 0..d_model {
                let angle = pos as f64 * ((j - j % 2) as f64 * ln_base).exp();
                pe.push(E::from_f64(if j % 2 == 0 {
                    angle.sin()
                } else {
                    angle.cos()
                }));
            }
        }
        Ok(PositionalEncoding {
            dropout: Dropout::new(dropout),
            pe: Tensor::from_vec(pe, [max_len, 1, d_model], backend)?,
            batch_first: false,
        })
    }

    /// Takes `[N, L, d_model]` inputs instead of `[L, N, d_model]`.
    pub fn batch_first(mut self, batch_first: bool) -> Self {
        self.batch_first = batch_first;
        self
    }

    /// The buffer `pe`, `[max_len, 1, d_model]`.
    pub fn pe(&self) -> &Tensor<E, B> {
        &self.pe
    }

    /// `dropout(x + pe[:L])`.
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let table = self.pe.squeeze(1)?;
        let out = add_positions("PositionalEncoding", x, self.batch_first, &table)?;
        self.dropout.forward(&out)
    }
}

impl<E: Float, B: Backend> Module<E, B> for PositionalEncoding<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.module("dropout", &self.dropout);
        v.buffer("pe", &self.pe);
    }

    fn extra_repr(&self) -> String {
        format!(
            "d_model={}, max_len={}, batch_first={}",
            self.pe.dims()[2],
            self.pe.dims()[0],
            self.batch_first
        )
    }
}

/// A learned position vector per position (GPT's `wpe`): a `[max_len, d_model]` table drawn from
/// N(0, 1), as `nn.Embedding(max_len, d_model)`, whose first `L` rows are added to the input.
/// Its state dict is the embedding's (`weight`).
///
/// Inputs are `[L, N, d_model]`, `[N, L, d_model]` after
/// [`LearnedPositionalEmbedding::batch_first`], or `[L, d_model]`.
pub struct LearnedPositionalEmbedding<E: Float = f32, B: Backend = Cpu> {
    /// `[max_len, d_model]`.
    pub weight: Tensor<E, B>,
    batch_first: bool,
}

impl<E: Float, B: Backend> LearnedPositionalEmbedding<E, B> {
    /// A table for up to `max_len` positions.
    pub fn new(max_len: usize, d_model: usize, backend: &B) -> Result<Self> {
        Ok(LearnedPositionalEmbedding {
            weight: init::normal([max_len, d_model], 0.0, 1.0, backend)?,
            batch_first: false,
        })
    }

    /// Takes `[N, L, d_model]` inputs instead of `[L, N, d_model]`.
    pub fn batch_first(mut self, batch_first: bool) -> Self {
        self.batch_first = batch_first;
        self
    }

    /// The vectors of positions `0..len`, `[len, d_model]` (the same as embedding
    /// `arange(len)`).
    pub fn positions(&self, len: usize) -> Result<Tensor<E, B>> {
        self.weight.narrow(0, 0, len)
    }

    /// `x + weight[:L]`.
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        add_positions(
            "LearnedPositionalEmbedding",
            x,
            self.batch_first,
            &self.weight,
        )
    }
}

impl<E: Float, B: Backend> Module<E, B> for LearnedPositionalEmbedding<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.parameter("weight", &self.weight);
    }

    fn extra_repr(&self) -> String {
        format!(
            "max_len={}, d_model={}, batch_first={}",
            self.weight.dims()[0],
            self.weight.dims()[1],
            self.batch_first
        )
    }
}

impl<E: Float, B: Backend> Forward<E, B> for PositionalEncoding<E, B> {
    fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        PositionalEncoding::forward(self, x)
    }
}

impl<E: Float, B: Backend> Forward<E, B> for LearnedPositionalEmbedding<E, B> {
    fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        LearnedPositionalEmbedding::forward(self, x)
    }
}

impl<E: Float, B: Backend> std::fmt::Display for PositionalEncoding<E, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&repr::<E, B, _>(self))
    }
}

impl<E: Float, B: Backend> std::fmt::Display for LearnedPositionalEmbedding<E, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&repr::<E, B, _>(self))
    }
}
