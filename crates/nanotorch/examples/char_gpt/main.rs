//! A character-level GPT trained on the Shakespeare plays bundled with nanotorch-data.
//!
//! ```text
//! cargo run --release --example char_gpt -- --help
//! ```
//!
//! The default configuration is the one of its PyTorch twin, `bench-peers/torch_char_gpt.py`:
//! 4 pre-norm blocks of width 128 with 4 heads, a context of 128 characters, tied embeddings,
//! GPT-2 initialisation; AdamW (lr 2e-3, betas 0.9/0.99, weight decay 0.1) with 100 warm-up steps
//! then cosine decay, gradients clipped to norm 1, batches of 16 windows, 3,000 steps. The
//! validation loss (20 fixed batches) is printed every `--eval-every` steps.
//!
//! In `--out`: `model.safetensors` and `optimizer.json` (the checkpoint, written at every
//! evaluation and at the end), `history.csv` (every step's training loss and each validation
//! loss) and `loss.svg`. `--resume` continues from the checkpoint; batches are drawn from a
//! stream per step and the learning rate is a function of the step, so a resumed run takes the
//! same steps as an uninterrupted one (`cargo xtask test-all` checks this on a few steps).

mod model;

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use model::{CharLstm, CharModel, Gpt, GptConfig};
use nanotorch::data::datasets::{random_windows, shakespeare, CharCorpus};
use nanotorch::data::rand::Rng;
use nanotorch::data::seed::generator;
use nanotorch::nn::{self, Module};
use nanotorch::optim::{self, clip_grad_norm_, AdamW, AdamWOptions, Optimizer};
use nanotorch::prelude::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Train a small GPT (or LSTM) on eight Shakespeare plays, one character at a time.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Which model: the GPT, or an LSTM (`--layers` and `--width` apply to both).
    #[arg(long, value_enum, default_value_t = ModelKind::Gpt)]
    model: ModelKind,
    /// Optimizer steps in all (the cosine schedule ends here).
    #[arg(long, default_value_t = 3000)]
    steps: usize,
    /// Stop after this step without finishing the schedule (to test `--resume`).
    #[arg(long)]
    stop_after: Option<usize>,
    /// Continue from the checkpoint in `--out`.
    #[arg(long)]
    resume: bool,
    /// Transformer blocks, or LSTM layers [default: 4 for the GPT, 2 for the LSTM].
    #[arg(long)]
    layers: Option<usize>,
    /// Attention heads per block.
    #[arg(long, default_value_t = 4)]
    heads: usize,
    /// Width of the model.
    #[arg(long, default_value_t = 128)]
    width: usize,
    /// Context length in characters.
    #[arg(long, default_value_t = 128)]
    context: usize,
    /// Windows per batch.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// Linear warm-up steps before the cosine decay.
    #[arg(long, default_value_t = 100)]
    warmup: usize,
    /// AdamW's decoupled weight decay.
    #[arg(long, default_value_t = 0.1)]
    weight_decay: f64,
    /// Largest gradient norm (clipped above).
    #[arg(long, default_value_t = 1.0)]
    clip: f64,
    /// Steps between validation losses.
    #[arg(long, default_value_t = 250)]
    eval_every: usize,
    /// Batches in each validation loss.
    #[arg(long, default_value_t = 20)]
    eval_batches: usize,
    /// Seed of the initialisation and of the batches.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Characters to sample at the end (0: none).
    #[arg(long, default_value_t = 400)]
    sample_len: usize,
    /// Sampling temperature (lower: more conservative).
    #[arg(long, default_value_t = 0.8)]
    temperature: f64,
    /// Sample only among the `k` most likely characters.
    #[arg(long)]
    top_k: Option<usize>,
    /// Where the checkpoint, history and plot go.
    #[arg(long, default_value = "out/char_gpt")]
    out: PathBuf,
    /// Hide the progress bar (for logs and CI).
    #[arg(long)]
    quiet: bool,
    /// Exit with an error if the last validation loss is above this (a smoke test).
    #[arg(long)]
    expect_val_loss: Option<f64>,
}

/// The model families `--model` offers.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum ModelKind {
    /// Pre-norm transformer blocks with causal self-attention.
    Gpt,
    /// An LSTM over the window.
    Lstm,
}

/// Every step's training loss and each validation loss, as `history.csv` keeps them.
#[derive(Default)]
struct History {
    train: Vec<(usize, f32)>,
    val: Vec<(usize, f64)>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    manual_seed(args.seed);
    let corpus = shakespeare()?;
    let config = GptConfig {
        vocab: corpus.vocab.len(),
        context: args.context,
        width: args.width,
        heads: args.heads,
        layers: args.layers.unwrap_or(match args.model {
            ModelKind::Gpt => 4,
            ModelKind::Lstm => 2,
        }),
    };
    let model = match args.model {
        ModelKind::Gpt => CharModel::Gpt(Gpt::new(config)?),
        ModelKind::Lstm => CharModel::Lstm(CharLstm::new(config)?),
    };
    let mut optimizer = AdamW::new(
        model.parameters(),
        AdamWOptions {
            lr: args.lr,
            betas: (0.9, 0.99),
            weight_decay: args.weight_decay,
            ..Default::default()
        },
    )?;
    std::fs::create_dir_all(&args.out)?;
    let (mut step, mut history) = if args.resume {
        resume(&model, &mut optimizer, &args.out)?
    } else {
        (0, History::default())
    };
    println!(
        "char_gpt ({:?}): {} parameters, vocabulary {}, {} training and {} validation characters{}",
        args.model,
        model.num_parameters(),
        config.vocab,
        corpus.train.len(),
        corpus.val.len(),
        if step > 0 {
            format!(", resuming at step {step}")
        } else {
            String::new()
        }
    );

    let last = args.stop_after.unwrap_or(args.steps).min(args.steps);
    let bar = progress_bar(args.steps, step, args.quiet);
    let started = Instant::now();
    let mut tokens = 0usize;
    while step <= last {
        if step % args.eval_every.max(1) == 0 || step == last {
            let val = evaluate(&model, &corpus, &args)?;
            history.val.push((step, val));
            let line = format!(
                "step {step:>5}  val loss {val:.4}  {:.1} s",
                started.elapsed().as_secs_f64()
            );
            // A hidden bar prints nothing, so quiet runs print the line themselves.
            if bar.is_hidden() {
                println!("{line}");
            } else {
                bar.println(line);
            }
            save_checkpoint(&model, &optimizer, step, &history, &args.out)?;
        }
        if step == last {
            break;
        }
        optimizer.set_lr(0, lr_at(step, &args))?;
        let (x, y) = batch(&corpus.train, step, &args)?;
        let logits = model.forward(&x)?;
        let loss = cross_entropy(
            &logits.reshape([-1, config.vocab as isize])?,
            &y.reshape([-1])?,
        )?;
        optimizer.zero_grad();
        loss.backward()?;
        clip_grad_norm_(&model.parameters(), args.clip, 2.0)?;
        optimizer.step()?;
        let loss = loss.item()?;
        history.train.push((step, loss));
        step += 1;
        tokens += args.batch * args.context;
        bar.set_position(step as u64);
        bar.set_message(format!(
            "loss {loss:.3}  {:.0} tokens/s",
            tokens as f64 / started.elapsed().as_secs_f64()
        ));
    }
    bar.finish_and_clear();
    plot(&history, &args.out.join("loss.svg"))?;
    println!(
        "{} steps in {:.1} s; wrote {} (checkpoint, history.csv, loss.svg)",
        step,
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    if args.sample_len > 0 {
        println!(
            "--- sample (temperature {}, top-k {:?}) ---",
            args.temperature, args.top_k
        );
        println!("{}", sample(&model, &corpus, &args)?);
    }
    if let (Some(limit), Some(&(_, val))) = (args.expect_val_loss, history.val.last()) {
        if val > limit {
            return Err(format!("validation loss {val:.4} is above the expected {limit}").into());
        }
    }
    Ok(())
}

/// The learning rate at `step`: linear warm-up to `lr`, then cosine decay to 0 at `steps` (the
/// twin's `lr_at`).
fn lr_at(step: usize, args: &Args) -> f64 {
    if step < args.warmup {
        return args.lr * (step + 1) as f64 / args.warmup as f64;
    }
    let progress =
        (step - args.warmup) as f64 / (args.steps.saturating_sub(args.warmup)).max(1) as f64;
    args.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// The training batch of `step`: windows drawn from the seed's stream `step`, so any run that
/// reaches `step` (resumed or not) trains on the same characters.
fn batch(
    tokens: &[i64],
    step: usize,
    args: &Args,
) -> nanotorch::Result<(Tensor<i64>, Tensor<i64>)> {
    let mut rng = generator(args.seed, step as u64);
    windows(tokens, &mut rng, args)
}

fn windows(
    tokens: &[i64],
    rng: &mut nanotorch::data::seed::DataRng,
    args: &Args,
) -> nanotorch::Result<(Tensor<i64>, Tensor<i64>)> {
    let (x, y) = random_windows(tokens, args.context, args.batch, rng)?;
    let shape = [args.batch, args.context];
    Ok((
        Tensor::from_vec(x, shape, &Cpu)?,
        Tensor::from_vec(y, shape, &Cpu)?,
    ))
}

/// Mean loss over `eval_batches` fixed validation batches (the same ones at every evaluation).
fn evaluate(model: &CharModel, corpus: &CharCorpus, args: &Args) -> nanotorch::Result<f64> {
    let mut rng = generator(1234, 0);
    let vocab = corpus.vocab.len() as isize;
    no_grad(|| {
        let mut total = 0.0;
        for _ in 0..args.eval_batches {
            let (x, y) = windows(&corpus.val, &mut rng, args)?;
            let logits = model.forward(&x)?.reshape([-1, vocab])?;
            total += f64::from(cross_entropy(&logits, &y.reshape([-1])?)?.item()?);
        }
        Ok(total / args.eval_batches.max(1) as f64)
    })
}

/// `sample_len` characters continuing a newline, each drawn from the softmax of the last
/// position's logits divided by the temperature, among the `top_k` most likely if given.
fn sample(model: &CharModel, corpus: &CharCorpus, args: &Args) -> nanotorch::Result<String> {
    let mut rng = generator(args.seed, u64::MAX);
    let mut ids = corpus.vocab.encode("\n")?;
    no_grad(|| {
        for _ in 0..args.sample_len {
            let window = &ids[ids.len().saturating_sub(args.context)..];
            let x = Tensor::from_vec(window.to_vec(), [1, window.len()], &Cpu)?;
            let logits = model.forward(&x)?;
            let last = logits.narrow(1, window.len() - 1, 1)?.to_vec()?;
            ids.push(draw(&last, args.temperature, args.top_k, &mut rng) as i64);
        }
        corpus.vocab.decode(&ids[1..])
    })
}

/// An index drawn from `softmax(logits / temperature)`, restricted to the `top_k` largest.
fn draw(logits: &[f32], temperature: f64, top_k: Option<usize>, rng: &mut impl Rng) -> usize {
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    order.truncate(top_k.unwrap_or(logits.len()).max(1));
    let top = f64::from(logits[order[0]]);
    let t = temperature.max(1e-6);
    let weights: Vec<f64> = order
        .iter()
        .map(|&i| ((f64::from(logits[i]) - top) / t).exp())
        .collect();
    let mut u = rng.gen::<f64>() * weights.iter().sum::<f64>();
    for (&i, w) in order.iter().zip(&weights) {
        if u < *w {
            return i;
        }
        u -= w;
    }
    order[order.len() - 1]
}

fn progress_bar(steps: usize, at: usize, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(steps as u64);
    bar.set_style(
        ProgressStyle::with_template("[{bar:30}] {pos}/{len} steps  {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_position(at as u64);
    bar
}

/// Writes the model, the optimizer (with the step it is at) and the history, each atomically.
fn save_checkpoint(
    model: &CharModel,
    optimizer: &AdamW<f32, Cpu>,
    step: usize,
    history: &History,
    out: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    nn::save_safetensors(&model.state_dict(), out.join("model.safetensors"))?;
    let saved = serde_json::json!({ "step": step, "optimizer": optimizer.state_dict()? });
    let text = serde_json::to_string(&saved)?;
    nn::write_atomically(out.join("optimizer.json"), |w| w.write_all(text.as_bytes()))?;
    let mut csv = String::from("step,train_loss,val_loss\n");
    for &(s, loss) in &history.train {
        writeln!(csv, "{s},{loss:?},")?;
    }
    for &(s, loss) in &history.val {
        writeln!(csv, "{s},,{loss:?}")?;
    }
    nn::write_atomically(out.join("history.csv"), |w| w.write_all(csv.as_bytes()))?;
    Ok(())
}

/// Loads the checkpoint in `out` into `model` and `optimizer`; returns its step and history.
fn resume(
    model: &CharModel,
    optimizer: &mut AdamW<f32, Cpu>,
    out: &Path,
) -> Result<(usize, History), Box<dyn std::error::Error>> {
    let weights = nn::load_safetensors(out.join("model.safetensors"), &Cpu)?;
    model.load_state_dict(&weights, true)?;
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("optimizer.json"))?)?;
    let step = saved["step"].as_u64().ok_or("optimizer.json: no step")? as usize;
    let state: optim::StateDict = serde_json::from_value(saved["optimizer"].clone())?;
    optimizer.load_state_dict(&state)?;
    let mut history = History::default();
    for line in std::fs::read_to_string(out.join("history.csv"))?
        .lines()
        .skip(1)
    {
        let f: Vec<&str> = line.split(',').collect();
        let at: usize = f[0].parse()?;
        match (f.get(1), f.get(2)) {
            (Some(t), _) if !t.is_empty() && at < step => history.train.push((at, t.parse()?)),
            (_, Some(v)) if !v.is_empty() && at < step => history.val.push((at, v.parse()?)),
            _ => {}
        }
    }
    Ok((step, history))
}

/// Training loss (per step, smoothed over 50) and validation loss against the step, as an SVG.
fn plot(history: &History, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (720, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let steps = history.train.last().map_or(1, |&(s, _)| s + 1).max(2) as f64;
    let smoothed: Vec<(f64, f64)> = history
        .train
        .iter()
        .enumerate()
        .map(|(i, &(s, _))| {
            let from = i.saturating_sub(49);
            let window = &history.train[from..=i];
            let mean = window.iter().map(|&(_, l)| f64::from(l)).sum::<f64>() / window.len() as f64;
            (s as f64, mean)
        })
        .collect();
    let top = smoothed
        .iter()
        .map(|p| p.1)
        .chain(history.val.iter().map(|v| v.1))
        .fold(0.0, f64::max)
        .max(1e-3);
    let mut chart = ChartBuilder::on(&root)
        .caption("char_gpt loss", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0.0..steps, 0.0..top * 1.05)?;
    chart.configure_mesh().x_desc("step").draw()?;
    chart
        .draw_series(LineSeries::new(smoothed, &BLUE))?
        .label("train (mean of 50 steps)")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE));
    chart
        .draw_series(LineSeries::new(
            history.val.iter().map(|&(s, v)| (s as f64, v)),
            &RED,
        ))?
        .label("validation")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED));
    chart.configure_series_labels().border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}
