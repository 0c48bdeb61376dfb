//! The run itself: data with augmentation, the model, one-cycle SGD, and per-epoch numbers.

use crate::cli::Args;
use indicatif::{ProgressBar, ProgressStyle};
use nanotorch::data::{
    self, Compose, Normalize, RandomCrop, RandomHorizontalFlip, TensorCollate, TensorDataset,
    Transformed,
};
use nanotorch::models::{resnet9_with, ResNet9, ResNet9Options};
use nanotorch::nn::functional::{cross_entropy_opts, CrossEntropyOptions};
use nanotorch::optim::{AnnealStrategy, LrScheduler, OneCycleLR, OneCycleOptions};
use nanotorch::prelude::*;
use std::time::Instant;

/// Per-channel mean and standard deviation of the CIFAR-10 training pixels (in `[0, 1]`).
pub const CIFAR10_MEAN: [f32; 3] = [0.4914, 0.4822, 0.4465];
/// See [`CIFAR10_MEAN`].
pub const CIFAR10_STD: [f32; 3] = [0.2470, 0.2435, 0.2616];

/// One epoch's numbers.
#[derive(Debug, Clone, Copy)]
pub struct EpochStats {
    /// Mean (label-smoothed) loss over the epoch's augmented training batches.
    pub train_loss: f64,
    /// Fraction of training samples classified right, as seen during the epoch.
    pub train_accuracy: f64,
    /// Mean loss on the test set (label-smoothed, as in training, so the two compare).
    pub test_loss: f64,
    /// Fraction of test images classified right.
    pub test_accuracy: f64,
    /// Seconds spent training in this epoch (evaluation not included).
    pub seconds: f64,
}

type Error = Box<dyn std::error::Error>;
type Batch = (Tensor, Tensor<i64>);

/// Trains as `args` says, prints a line per epoch and writes the plot to `args.out`. (`main`
/// first checks for every file with [`missing_files`](crate::cli::missing_files); here a missing
/// file is the reader's error, naming the first one.)
pub fn run(args: &Args) -> Result<Vec<EpochStats>, Error> {
    check(args)?;
    let started = Instant::now();
    manual_seed(args.seed);

    let mut train = data::readers::cifar10(&args.data, true)?;
    let test = data::readers::cifar10(&args.data, false)?;
    if let Some(limit) = args.limit.filter(|&l| l < train.len()) {
        train = train.select(&(0..limit).collect::<Vec<_>>())?;
    }
    println!(
        "CIFAR-10 from {}: {} training and {} test images",
        args.data.display(),
        train.len(),
        test.len()
    );
    // Batch norm cannot train on a last batch of one image, and a short last batch is a noisy
    // step: drop it whenever there is at least one whole batch.
    let drop_last = train.len() >= args.batch_size;
    let train_loader = data::DataLoader::new(augmented(train, args.seed)?, args.batch_size)
        .shuffle(true)
        .seed(args.seed)
        .drop_last(drop_last)
        .num_workers(args.workers)
        .collate(TensorCollate::new(Cpu));
    let test_loader = data::DataLoader::new(normalized(test)?, 500)
        .num_workers(args.workers)
        .collate(TensorCollate::new(Cpu));

    let mut model = model(args.width)?;
    let params: usize = model.parameters().iter().map(|p| p.numel()).sum();
    println!("model: {params} parameters (width {})", args.width);
    let mut optimizer = SGD::new(
        model.parameters(),
        SgdOptions {
            lr: args.lr,
            momentum: 0.9,
            nesterov: true,
            weight_decay: args.weight_decay,
            ..Default::default()
        },
    )?;
    // DAWNBench's schedule: a linear ramp to the peak over the first quarter of the steps (its
    // 5 of 24 epochs), then linearly down to almost nothing.
    let mut schedule = OneCycleLR::new(
        &mut optimizer,
        args.lr,
        args.epochs * train_loader.len(),
        OneCycleOptions {
            pct_start: 0.25,
            anneal_strategy: AnnealStrategy::Linear,
            ..Default::default()
        },
    )?;
    let loss_options = CrossEntropyOptions::new().label_smoothing(args.label_smoothing);

    let mut history = Vec::with_capacity(args.epochs);
    for epoch in 1..=args.epochs {
        let bar = progress_bar(train_loader.len(), epoch, args);
        let epoch_start = Instant::now();
        model.train();
        let mut totals = Totals::default();
        for batch in train_loader.iter() {
            let (x, y) = batch?;
            optimizer.zero_grad();
            let logits = model.forward(&x)?;
            let loss = cross_entropy_opts(&logits, &y, &loss_options)?;
            loss.backward()?;
            optimizer.step()?;
            schedule.step(&mut optimizer)?;
            let loss = loss.item()? as f64;
            totals.add(loss, &logits, &y)?;
            bar.set_message(format!("loss {loss:.3}"));
            bar.inc(1);
        }
        let seconds = epoch_start.elapsed().as_secs_f64();
        bar.finish_and_clear();
        let (train_loss, train_accuracy) = totals.means();
        let (test_loss, test_accuracy) = evaluate(&mut model, test_loader.iter(), &loss_options)?;
        println!(
            "epoch {epoch:>2}/{}: train loss {train_loss:.4} acc {:5.2}% | test loss \
             {test_loss:.4} acc {:5.2}% | {seconds:.1} s",
            args.epochs,
            100.0 * train_accuracy,
            100.0 * test_accuracy,
        );
        history.push(EpochStats {
            train_loss,
            train_accuracy,
            test_loss,
            test_accuracy,
            seconds,
        });
    }

    crate::plot::write(&history, &args.out)?;
    let final_accuracy = history.last().map_or(0.0, |s| s.test_accuracy);
    let training: f64 = history.iter().map(|s| s.seconds).sum();
    println!(
        "final test accuracy {:.2}% after {} epochs in {:.1} s ({:.1} s training per epoch); \
         plot in {}",
        100.0 * final_accuracy,
        history.len(),
        started.elapsed().as_secs_f64(),
        training / history.len() as f64,
        args.out.display()
    );
    if let Some(expected) = args.expect_accuracy {
        if final_accuracy < expected {
            return Err(format!(
                "test accuracy {final_accuracy:.4} is below the expected {expected}"
            )
            .into());
        }
    }
    Ok(history)
}

/// Settings that cannot train, rejected before the data is read.
fn check(args: &Args) -> Result<(), Error> {
    let positive = [
        ("--epochs", args.epochs),
        ("--batch-size", args.batch_size),
        ("--width", args.width),
        ("--limit", args.limit.unwrap_or(1)),
    ];
    if let Some((flag, _)) = positive.iter().find(|(_, v)| *v == 0) {
        return Err(format!("{flag} must be at least 1").into());
    }
    if !(args.lr > 0.0 && args.lr.is_finite()) {
        return Err(format!("--lr must be a positive number, not {}", args.lr).into());
    }
    Ok(())
}

/// The training transforms: pad by 4 and crop back to 32×32 at a random place, flip half the
/// images, then normalise each channel.
fn augmented(
    train: TensorDataset,
    seed: u64,
) -> Result<Transformed<TensorDataset, Compose>, Error> {
    let transform = Compose::default()
        .then(RandomCrop::new(32, 32, 4))
        .then(RandomHorizontalFlip::default())
        .then(normalize()?);
    Ok(Transformed::new(train, transform, seed))
}

/// The test images, only normalised.
fn normalized(test: TensorDataset) -> Result<Transformed<TensorDataset, Normalize>, Error> {
    Ok(Transformed::new(test, normalize()?, 0))
}

fn normalize() -> nanotorch::Result<Normalize> {
    Normalize::new(CIFAR10_MEAN.to_vec(), CIFAR10_STD.to_vec())
}

/// Page's ResNet-9 at `width` channels in its first stage (64 is his network).
fn model(width: usize) -> nanotorch::Result<ResNet9<f32, Cpu>> {
    let options = ResNet9Options {
        num_classes: 10,
        width,
        ..ResNet9Options::default()
    };
    resnet9_with(options, &Cpu)
}

/// Running sums of loss and correct predictions over an epoch.
#[derive(Default)]
struct Totals {
    loss: f64,
    correct: usize,
    seen: usize,
}

impl Totals {
    /// Adds a batch whose mean loss is `mean_loss`.
    fn add(&mut self, mean_loss: f64, logits: &Tensor, y: &Tensor<i64>) -> nanotorch::Result<()> {
        let n = y.numel();
        let predicted = logits.argmax(Some(1), false)?.to_vec()?;
        self.correct += predicted
            .iter()
            .zip(y.to_vec()?)
            .filter(|(p, t)| **p == *t)
            .count();
        self.loss += mean_loss * n as f64;
        self.seen += n;
        Ok(())
    }

    /// Mean loss and accuracy.
    fn means(&self) -> (f64, f64) {
        let seen = self.seen.max(1) as f64;
        (self.loss / seen, self.correct as f64 / seen)
    }
}

/// Mean loss and accuracy over `batches` in evaluation mode, without a graph.
fn evaluate<M: Forward>(
    model: &mut M,
    batches: impl IntoIterator<Item = nanotorch::Result<Batch>>,
    loss_options: &CrossEntropyOptions<f32, Cpu>,
) -> nanotorch::Result<(f64, f64)> {
    model.eval();
    let result = no_grad(|| {
        let mut totals = Totals::default();
        for batch in batches {
            let (x, y) = batch?;
            let logits = model.forward(&x)?;
            let loss = cross_entropy_opts(&logits, &y, loss_options)?.item()?;
            totals.add(loss as f64, &logits, &y)?;
        }
        Ok(totals.means())
    });
    model.train();
    result
}

fn progress_bar(batches: usize, epoch: usize, args: &Args) -> ProgressBar {
    if args.quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(batches as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "epoch {epoch}/{} [{{bar:30}}] {{pos}}/{{len}} batches, {{elapsed}} (eta {{eta}}) {{msg}}",
            args.epochs
        ))
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar
}
