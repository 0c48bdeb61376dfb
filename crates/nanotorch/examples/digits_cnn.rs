//! A small convolutional network on the bundled 8×8 digits: the same data as `train_digits`,
//! seen as `[1, 8, 8]` images instead of 64 numbers, through `Conv2d` and `MaxPool2d`.
//!
//! ```text
//! cargo run --release --example digits_cnn -- --epochs 15
//! ```

use clap::Parser;
use nanotorch::data;
use nanotorch::nn::{AvgPool2d, Conv2d, Flatten, MaxPool2d};
use nanotorch::prelude::*;
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
    /// Exit with an error if the final test accuracy is below this fraction (a smoke test).
    #[arg(long)]
    expect_accuracy: Option<f64>,
}

/// `[n, 1, 8, 8]` → conv 3×3 (16) → ReLU → max-pool 2 → conv 3×3 (32) → ReLU → average-pool 2
/// → `[n, 32·2·2]` → linear → 10 logits.
fn cnn() -> nanotorch::Result<Sequential<f32, Cpu>> {
    Ok(Sequential::new()
        .append(Conv2d::new(1, 16, (3, 3), &Cpu)?.padding((1, 1)))
        .append(ReLU)
        .append(MaxPool2d::new((2, 2)))
        .append(Conv2d::new(16, 32, (3, 3), &Cpu)?.padding((1, 1)))
        .append(ReLU)
        .append(AvgPool2d::new((2, 2)))
        .append(Flatten)
        .append(Linear::new(32 * 2 * 2, 10, &Cpu)?))
}

/// Pixel counts 0..=16 scaled to [0, 1], each sample shaped as a one-channel image.
fn as_images(ds: data::TensorDataset) -> nanotorch::Result<data::TensorDataset> {
    let pixels = ds.features().iter().map(|v| v / 16.0).collect();
    data::TensorDataset::new(pixels, Shape::new([1, 8, 8]), ds.labels().to_vec())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let started = Instant::now();
    manual_seed(args.seed);
    let (train, test) = data::datasets::digits()?;
    let train_loader = data::DataLoader::new(as_images(train)?, args.batch_size)
        .shuffle(true)
        .seed(args.seed)
        .collate(data::TensorCollate::new(Cpu));
    let test_loader =
        data::DataLoader::new(as_images(test)?, 512).collate(data::TensorCollate::new(Cpu));

    let mut model = cnn()?;
    println!("model: {model}");
    let options = AdamOptions {
        lr: args.lr,
        ..Default::default()
    };
    let mut optimizer = Adam::new(model.parameters(), options)?;
    let mut accuracy = 0.0;
    for epoch in 1..=args.epochs {
        model.train();
        for batch in train_loader.iter() {
            let (x, y) = batch?;
            optimizer.zero_grad();
            cross_entropy(&model.forward(&x)?, &y)?.backward()?;
            optimizer.step()?;
        }
        model.eval();
        let (correct, seen) = no_grad(|| -> nanotorch::Result<(usize, usize)> {
            let (mut correct, mut seen) = (0, 0);
            for batch in test_loader.iter() {
                let (x, y) = batch?;
                let predicted = model.forward(&x)?.argmax(Some(1), false)?.to_vec()?;
                let labels = y.to_vec()?;
                correct += predicted
                    .iter()
                    .zip(&labels)
                    .filter(|(p, t)| p == t)
                    .count();
                seen += labels.len();
            }
            Ok((correct, seen))
        })?;
        accuracy = 100.0 * correct as f64 / seen as f64;
        println!(
            "epoch {epoch:>3}/{}: test accuracy {accuracy:.2}%",
            args.epochs
        );
    }
    println!(
        "final test accuracy {accuracy:.2}% after {} epochs in {:.1} s",
        args.epochs,
        started.elapsed().as_secs_f64()
    );
    if let Some(expected) = args.expect_accuracy {
        if accuracy / 100.0 < expected {
            return Err(
                format!("test accuracy {accuracy:.2}% is below the expected {expected}").into(),
            );
        }
    }
    Ok(())
}
