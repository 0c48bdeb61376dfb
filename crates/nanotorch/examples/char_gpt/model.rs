//! The GPT of `char_gpt`: token and position embeddings, pre-norm blocks of causal self-attention
//! and a GELU MLP, a final LayerNorm, and an output layer tied to the token embedding. The module
//! tree and parameter names are those of `bench-peers/torch_char_gpt.py` (`tok`, `pos`,
//! `blocks.0.ln1`, `blocks.0.qkv`, `blocks.0.mlp.0`, …), so its checkpoints load there too.
//! `--model lstm` trains [`CharLstm`] instead: the same data and loop with a 2-layer LSTM.

use nanotorch::nn::functional::scaled_dot_product_attention;
use nanotorch::nn::{
    self, Embedding, Forward, LayerNorm, Linear, Module, RnnOptions, Sequential, Visitor, GELU,
    LSTM,
};
use nanotorch::prelude::*;
use nanotorch::{Error, Result};

/// The sizes of a [`Gpt`].
#[derive(Debug, Clone, Copy)]
pub struct GptConfig {
    /// Characters in the vocabulary.
    pub vocab: usize,
    /// Longest context (positions the model can see).
    pub context: usize,
    /// Width of the residual stream.
    pub width: usize,
    /// Attention heads per block (`width` must divide by it).
    pub heads: usize,
    /// Blocks.
    pub layers: usize,
}

/// One pre-norm transformer block: `x + attn(ln1(x))`, then `x + mlp(ln2(x))`.
pub struct Block {
    ln1: LayerNorm,
    qkv: Linear,
    proj: Linear,
    ln2: LayerNorm,
    mlp: Sequential,
    heads: usize,
}

impl Block {
    fn new(width: usize, heads: usize) -> Result<Self> {
        Ok(Block {
            ln1: LayerNorm::new([width], &Cpu)?,
            qkv: Linear::new(width, 3 * width, &Cpu)?,
            proj: Linear::new(width, width, &Cpu)?,
            ln2: LayerNorm::new([width], &Cpu)?,
            mlp: Sequential::new()
                .append(Linear::new(width, 4 * width, &Cpu)?)
                .append(GELU::default())
                .append(Linear::new(4 * width, width, &Cpu)?),
            heads,
        })
    }

    /// Causal self-attention over `[batch, time, width]`: one projection makes q, k and v, each
    /// split into heads `[batch, heads, time, width / heads]`.
    fn attention(&self, x: &Tensor) -> Result<Tensor> {
        let (b, t, c) = (x.dims()[0], x.dims()[1], x.dims()[2]);
        let hd = c / self.heads;
        let heads = |part: &Tensor| -> Result<Tensor> {
            part.reshape([b, t, self.heads, hd])?.transpose(1, 2)
        };
        let qkv = self.qkv.forward(x)?.split(c, 2)?;
        let (q, k, v) = (heads(&qkv[0])?, heads(&qkv[1])?, heads(&qkv[2])?);
        let y = scaled_dot_product_attention(&q, &k, &v, None, 0.0, true, None)?;
        self.proj.forward(&y.transpose(1, 2)?.reshape([b, t, c])?)
    }
}

impl Module for Block {
    fn visit<'a>(&'a self, v: &mut Visitor<'a>) {
        v.module("ln1", &self.ln1);
        v.module("ln2", &self.ln2);
        v.module("qkv", &self.qkv);
        v.module("proj", &self.proj);
        v.module("mlp", &self.mlp);
    }
}

impl Forward for Block {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = x.add(&self.attention(&self.ln1.forward(x)?)?)?;
        x.add(&self.mlp.forward(&self.ln2.forward(&x)?)?)
    }
}

/// The character-level GPT.
pub struct Gpt {
    tok: Embedding,
    pos: Embedding,
    blocks: Sequential,
    ln: LayerNorm,
    config: GptConfig,
}

impl Gpt {
    /// A model of `config`'s sizes with GPT-2's initialisation: every Linear and Embedding weight
    /// drawn from N(0, 0.02), biases zero, LayerNorms at (1, 0), as the PyTorch twin does.
    pub fn new(config: GptConfig) -> Result<Self> {
        if config.heads == 0 || !config.width.is_multiple_of(config.heads) {
            return Err(Error::msg(format!(
                "char_gpt: width {} must be a positive multiple of heads {}",
                config.width, config.heads
            )));
        }
        let mut blocks = Sequential::new();
        for _ in 0..config.layers {
            blocks.push(Block::new(config.width, config.heads)?);
        }
        let model = Gpt {
            tok: Embedding::new(config.vocab, config.width, &Cpu)?,
            pos: Embedding::new(config.context, config.width, &Cpu)?,
            blocks,
            ln: LayerNorm::new([config.width], &Cpu)?,
            config,
        };
        for (name, p) in model.named_parameters() {
            let fresh = if name.starts_with("ln") || name.contains(".ln") {
                continue;
            } else if name.ends_with("bias") {
                Tensor::<f32>::zeros(p.dims().to_vec(), &Cpu)?
            } else {
                nn::init::normal::<f32, Cpu>(p.dims().to_vec(), 0.0, 0.02, &Cpu)?
            };
            p.array().assign(fresh.array())?;
        }
        Ok(model)
    }

    /// Next-character logits `[batch, time, vocab]` for ids `[batch, time]` (time ≤ context).
    pub fn forward(&self, ids: &Tensor<i64>) -> Result<Tensor> {
        let t = ids.dims()[1];
        if t > self.config.context {
            return Err(Error::msg(format!(
                "char_gpt: {t} positions exceed the context of {}",
                self.config.context
            )));
        }
        let positions = Tensor::<i64>::arange(0.0, t as f64, 1.0, &Cpu)?;
        let x = self.tok.forward(ids)?.add(&self.pos.forward(&positions)?)?;
        let x = self.ln.forward(&self.blocks.forward(&x)?)?;
        // The output layer is the token embedding, transposed (weight tying).
        x.matmul(&self.tok.weight.t()?)
    }
}

impl Module for Gpt {
    fn visit<'a>(&'a self, v: &mut Visitor<'a>) {
        v.module("tok", &self.tok);
        v.module("pos", &self.pos);
        v.module("blocks", &self.blocks);
        v.module("ln", &self.ln);
    }
}

/// The `--model lstm` alternative: characters embedded, a 2-layer LSTM over the window
/// (batch first), and a linear layer to the vocabulary. PyTorch's default initialisation.
pub struct CharLstm {
    embed: Embedding,
    lstm: LSTM,
    head: Linear,
}

impl CharLstm {
    /// An LSTM model with `config.layers` layers of width `config.width`.
    pub fn new(config: GptConfig) -> Result<Self> {
        let options = RnnOptions::new()
            .num_layers(config.layers)
            .batch_first(true);
        Ok(CharLstm {
            embed: Embedding::new(config.vocab, config.width, &Cpu)?,
            lstm: LSTM::with_options(config.width, config.width, options, &Cpu)?,
            head: Linear::new(config.width, config.vocab, &Cpu)?,
        })
    }

    /// Next-character logits `[batch, time, vocab]` for ids `[batch, time]`.
    pub fn forward(&self, ids: &Tensor<i64>) -> Result<Tensor> {
        let (out, _) = self.lstm.forward(&self.embed.forward(ids)?, None)?;
        self.head.forward(&out)
    }
}

impl Module for CharLstm {
    fn visit<'a>(&'a self, v: &mut Visitor<'a>) {
        v.module("embed", &self.embed);
        v.module("lstm", &self.lstm);
        v.module("head", &self.head);
    }
}

/// The model `char_gpt` trains: the GPT, or the LSTM of `--model lstm`.
pub enum CharModel {
    /// The transformer.
    Gpt(Gpt),
    /// The recurrent network.
    Lstm(CharLstm),
}

impl CharModel {
    /// Next-character logits `[batch, time, vocab]` for ids `[batch, time]`.
    pub fn forward(&self, ids: &Tensor<i64>) -> Result<Tensor> {
        match self {
            CharModel::Gpt(m) => m.forward(ids),
            CharModel::Lstm(m) => m.forward(ids),
        }
    }
}

impl Module for CharModel {
    fn visit<'a>(&'a self, v: &mut Visitor<'a>) {
        match self {
            CharModel::Gpt(m) => m.visit(v),
            CharModel::Lstm(m) => m.visit(v),
        }
    }
}
