//! A small convolutional network on the bundled 8×8 digits: the same data as `train_digits`,
//! seen as `[1, 8, 8]` images instead of 64 numbers, through `Conv2d` and `MaxPool2d`.
//!
//! ```text
//! cargo run --release --example digits_cnn -- --epochs 15
//! ```

mod common;

use clap::Parser;
use common::Schedule;
use nanotorch::data;
use nanotorch::nn::{AvgPool2d, Conv2d, Flatten, MaxPool2d, Unflatten};
use nanotorch::prelude::*;
use std::path::PathBuf;
use std::time::Instant;

/// Train a CNN on the bundled 8×8 digits (1,438 train / 359 test images).
#[derive(Parser, Debug)]
struct Args {
    /// Passes over the training set.
    #[arg(long, default_value_t = 15)]
    epochs: usize,
    /// Samples per batch.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 3e-3)]
    lr: f64,
    /// Seed of weights and shuffling: the same seed gives the same numbers.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where the checkpoint and the plot go.
    #[arg(long, default_value = "out/digits_cnn")]
    out: PathBuf,
    /// Hide the progress bars (for logs and CI).
    #[arg(long)]
    quiet: bool,
    /// Exit with an error if the final test accuracy is below this fraction (a smoke test).
    #[arg(long)]
    expect_accuracy: Option<f64>,
}

/// `[n, 64]` → `[n, 1, 8, 8]` → conv 3×3 (16) → ReLU → max-pool 2 → conv 3×3 (32) → ReLU →
/// average-pool 2 → `[n, 32·2·2]` → linear → 10 logits: one `Sequential`, as in PyTorch.
fn cnn() -> nanotorch::Result<Sequential> {
    Ok(Sequential::new()
        .append(Unflatten::new(1, [1, 8, 8]))
        .append(Conv2d::new(1, 16, (3, 3), &Cpu)?.padding((1, 1)))
        .append(ReLU)
        .append(MaxPool2d::new((2, 2)))
        .append(Conv2d::new(16, 32, (3, 3), &Cpu)?.padding((1, 1)))
        .append(ReLU)
        .append(AvgPool2d::new((2, 2)))
        .append(Flatten::new())
        .append(Linear::new(32 * 2 * 2, 10, &Cpu)?))
}

/// Pixel counts 0..=16 scaled to [0, 1], as rows of 64: the model unflattens them itself.
fn scale(ds: data::TensorDataset) -> nanotorch::Result<data::TensorDataset> {
    let pixels = ds.features().iter().map(|v| v / 16.0).collect();
    data::TensorDataset::new(pixels, ds.sample_shape().clone(), ds.labels().to_vec())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let started = Instant::now();
    manual_seed(args.seed);
    let (train, test) = data::datasets::digits()?;
    let train_loader = data::DataLoader::new(scale(train)?, args.batch_size)
        .shuffle(true)
        .seed(args.seed)
        .collate(data::TensorCollate::new(Cpu));
    let test_loader =
        data::DataLoader::new(scale(test)?, 512).collate(data::TensorCollate::new(Cpu));

    let mut model = cnn()?;
    println!("model: {model}");
    let options = AdamOptions {
        lr: args.lr,
        ..Default::default()
    };
    let mut optimizer = Adam::new(model.parameters(), options)?;
    let schedule = Schedule {
        epochs: args.epochs,
        batches: train_loader.len(),
        quiet: args.quiet,
    };
    let history = common::fit(
        &mut model,
        &mut optimizer,
        &schedule,
        || train_loader.iter(),
        || test_loader.iter(),
    )?;
    common::finish(
        &model,
        &history,
        &args.out,
        "digits_cnn",
        started,
        args.expect_accuracy,
    )
}
