//! Sequence-model workloads, the same as torch_bench.py: forward and backward of a one-layer
//! LSTM (input 32, hidden 128, 35 steps, batch 32, batch first, loss = sum of the output), and
//! one AdamW training step of a 2-layer GPT (width 128, 4 heads, context 64, batch 16, vocabulary
//! 65, an untied head with bias, causal attention).

use crate::harness::Bench;
use nanotorch::array::Backend;
use nanotorch::autograd::{manual_seed, Tensor};
use nanotorch::nn::functional::{cross_entropy, scaled_dot_product_attention};
use nanotorch::nn::{
    Embedding, Forward, LayerNorm, Linear, Module, RnnOptions, Sequential, Visitor, GELU, LSTM,
};
use nanotorch::optim::{AdamW, AdamWOptions, Optimizer};

type Res = Result<(), Box<dyn std::error::Error>>;

/// Every sequence case selected by `bench`.
pub fn run<B: Backend>(backend: &B, bench: &Bench) -> Res {
    manual_seed(0);
    let case = "lstm_fwd_bwd/s35b32h128";
    if bench.want(case) {
        let lstm: LSTM<f32, B> =
            LSTM::with_options(32, 128, RnnOptions::new().batch_first(true), backend)?;
        let x = Tensor::<f32, B>::randn([32, 35, 32], backend)?;
        let step = || -> nanotorch::Result<()> {
            lstm.zero_grad();
            lstm.forward(&x, None)?.0.sum_all()?.backward()
        };
        let t = bench.time(backend, || step().expect("lstm step"))?;
        bench.emit(case, t, None);
    }

    let case = "gpt_train_step/l2d128c64b16";
    if bench.want(case) {
        let (vocab, ctx, batch) = (65, 64, 16);
        let model = Gpt::new(vocab, 2, 4, 128, ctx, backend)?;
        let mut opt = AdamW::new(
            model.parameters(),
            AdamWOptions {
                lr: 3e-4,
                ..Default::default()
            },
        )?;
        let idx = Tensor::<i64, B>::randint(0, vocab as i64, [batch, ctx], backend)?;
        let tgt = Tensor::<i64, B>::randint(0, vocab as i64, [batch * ctx], backend)?;
        let mut step = || -> nanotorch::Result<()> {
            opt.zero_grad();
            let logits = model.forward(&idx)?.reshape([-1, vocab as isize])?;
            cross_entropy(&logits, &tgt)?.backward()?;
            opt.step()
        };
        let t = bench.time(backend, || step().expect("gpt step"))?;
        bench.emit(case, t, None);
    }
    Ok(())
}

/// torch_bench.py's pre-norm block.
struct Block<B: Backend> {
    ln1: LayerNorm<f32, B>,
    qkv: Linear<f32, B>,
    proj: Linear<f32, B>,
    ln2: LayerNorm<f32, B>,
    mlp: Sequential<f32, B>,
    heads: usize,
}

impl<B: Backend> Module<f32, B> for Block<B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, f32, B>) {
        v.module("ln1", &self.ln1);
        v.module("ln2", &self.ln2);
        v.module("qkv", &self.qkv);
        v.module("proj", &self.proj);
        v.module("mlp", &self.mlp);
    }
}

impl<B: Backend> Forward<f32, B> for Block<B> {
    fn forward(&self, x: &Tensor<f32, B>) -> nanotorch::Result<Tensor<f32, B>> {
        let (b, t, c) = (x.dims()[0], x.dims()[1], x.dims()[2]);
        let heads = |z: &Tensor<f32, B>| {
            z.reshape([b, t, self.heads, c / self.heads])?
                .transpose(1, 2)
        };
        let qkv = self.qkv.forward(&self.ln1.forward(x)?)?.split(c, 2)?;
        let (q, k, v) = (heads(&qkv[0])?, heads(&qkv[1])?, heads(&qkv[2])?);
        let y = scaled_dot_product_attention(&q, &k, &v, None, 0.0, true, None)?;
        let x = x.add(&self.proj.forward(&y.transpose(1, 2)?.reshape([b, t, c])?)?)?;
        x.add(&self.mlp.forward(&self.ln2.forward(&x)?)?)
    }
}

/// torch_bench.py's GPT: token and position embeddings, blocks, LayerNorm, a linear head.
struct Gpt<B: Backend> {
    tok: Embedding<f32, B>,
    pos: Embedding<f32, B>,
    blocks: Sequential<f32, B>,
    ln: LayerNorm<f32, B>,
    head: Linear<f32, B>,
    backend: B,
}

impl<B: Backend> Gpt<B> {
    fn new(
        vocab: usize,
        layers: usize,
        heads: usize,
        d: usize,
        ctx: usize,
        backend: &B,
    ) -> nanotorch::Result<Self> {
        let mut blocks = Sequential::new();
        for _ in 0..layers {
            blocks.push(Block {
                ln1: LayerNorm::new([d], backend)?,
                qkv: Linear::new(d, 3 * d, backend)?,
                proj: Linear::new(d, d, backend)?,
                ln2: LayerNorm::new([d], backend)?,
                mlp: Sequential::new()
                    .append(Linear::new(d, 4 * d, backend)?)
                    .append(GELU::new())
                    .append(Linear::new(4 * d, d, backend)?),
                heads,
            });
        }
        Ok(Gpt {
            tok: Embedding::new(vocab, d, backend)?,
            pos: Embedding::new(ctx, d, backend)?,
            blocks,
            ln: LayerNorm::new([d], backend)?,
            head: Linear::new(d, vocab, backend)?,
            backend: backend.clone(),
        })
    }

    fn forward(&self, idx: &Tensor<i64, B>) -> nanotorch::Result<Tensor<f32, B>> {
        let t = idx.dims()[1];
        let positions = Tensor::<i64, B>::arange(0.0, t as f64, 1.0, &self.backend)?;
        let x = self.tok.forward(idx)?.add(&self.pos.forward(&positions)?)?;
        self.head
            .forward(&self.ln.forward(&self.blocks.forward(&x)?)?)
    }
}

impl<B: Backend> Module<f32, B> for Gpt<B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, f32, B>) {
        v.module("tok", &self.tok);
        v.module("pos", &self.pos);
        v.module("blocks", &self.blocks);
        v.module("ln", &self.ln);
        v.module("head", &self.head);
    }
}
