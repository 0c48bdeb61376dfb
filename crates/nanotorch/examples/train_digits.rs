//! The main job: train an MLP on the UCI digits bundled with nanotorch-data, offline.
//!
//! ```text
//! cargo run --release --example train_digits -- --help
//! ```
//!
//! Per epoch: a progress bar over the training batches, then the epoch's mean training loss, the
//! test loss and the test accuracy. At the end: the final test accuracy, a safetensors checkpoint
//! of the model and a loss/accuracy plot (SVG), both in the output folder it names. The same
//! seed gives the same numbers, bit for bit.

mod common;

use clap::Parser;
use common::{OptimizerKind, Schedule};
use nanotorch::data;
use nanotorch::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

/// Train an MLP classifier on the bundled 8×8 digits (1,438 train / 359 test images).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Passes over the training set.
    #[arg(long, default_value_t = 40)]
    epochs: usize,
    /// Samples per batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Optimizer.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adam)]
    optimizer: OptimizerKind,
    /// Seed for initialisation, shuffling and dropout: the same seed gives the same run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Hidden layer sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "128,64")]
    hidden: Vec<usize>,
    /// Where the checkpoint and the plot go.
    #[arg(long, default_value = "out/train_digits")]
    out: PathBuf,
    /// Data-loading worker threads (0: load on the training thread).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Hide the progress bars (for logs and CI).
    #[arg(long)]
    quiet: bool,
    /// Exit with an error if the final test accuracy is below this fraction (a smoke test).
    #[arg(long)]
    expect_accuracy: Option<f64>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let started = Instant::now();
    manual_seed(args.seed);

    let (train, test) = data::datasets::digits()?;
    println!(
        "digits: {} training and {} test images of 8x8 pixels, 10 classes",
        train.len(),
        test.len()
    );
    // Pixel counts are 0..=16: scale to [0, 1] once, up front.
    let train = scale(train)?;
    let test = scale(test)?;
    let train_loader = data::DataLoader::new(train, args.batch_size)
        .shuffle(true)
        .seed(args.seed)
        .num_workers(args.workers)
        .collate(data::TensorCollate::new(Cpu));
    let test_loader = data::DataLoader::new(test, 512).collate(data::TensorCollate::new(Cpu));

    let mut model = common::mlp(64, &args.hidden, 10)?;
    let mut optimizer = common::make_optimizer(args.optimizer, args.lr, model.parameters())?;
    println!(
        "model: {model}\noptimizer: {:?}, lr {}",
        args.optimizer, args.lr
    );
    let schedule = Schedule {
        epochs: args.epochs,
        batches: train_loader.len(),
        quiet: args.quiet,
    };
    let history = common::fit(
        &mut model,
        optimizer.as_mut(),
        &schedule,
        || train_loader.iter(),
        || test_loader.iter(),
    )?;
    common::finish(
        &model,
        &history,
        &args.out,
        "digits_mlp",
        started,
        args.expect_accuracy,
    )
}

/// Pixel counts 0..=16 scaled to [0, 1].
fn scale(ds: data::TensorDataset) -> nanotorch::Result<data::TensorDataset> {
    let features = ds.features().iter().map(|v| v / 16.0).collect();
    data::TensorDataset::new(features, ds.sample_shape().clone(), ds.labels().to_vec())
}
