//! The main job's training on real MNIST, for those who have the files: nanotorch never
//! downloads anything.
//!
//! ```text
//! cargo run --release --example mnist -- --data DIR
//! ```
//!
//! `DIR` holds the four standard IDX files, raw or gzipped (the ones torchvision keeps in
//! `MNIST/raw/` work as they are; so do Fashion-MNIST's and KMNIST's):
//!
//! ```text
//! train-images-idx3-ubyte   train-labels-idx1-ubyte   (60,000 training images)
//! t10k-images-idx3-ubyte    t10k-labels-idx1-ubyte    (10,000 test images)
//! ```
//!
//! It trains a `784 → 256 → 128 → 10` ReLU MLP exactly as `train_digits` does (progress bar,
//! per-epoch losses and test accuracy, then a safetensors checkpoint and a loss/accuracy plot in
//! the output folder it names). When the files are missing it says where to put which files and
//! exits with status 2.

mod common;

use clap::Parser;
use common::{OptimizerKind, Schedule};
use nanotorch::data;
use nanotorch::prelude::*;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

/// Train an MLP classifier on MNIST-format IDX files (28×28 images, 10 classes).
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The folder holding the four MNIST IDX files (raw or .gz).
    #[arg(long, default_value = "data/mnist")]
    data: PathBuf,
    /// Passes over the training set.
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Samples per batch.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Optimizer.
    #[arg(long, value_enum, default_value_t = OptimizerKind::Adam)]
    optimizer: OptimizerKind,
    /// Seed for initialisation and shuffling: the same seed gives the same run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Hidden layer sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "256,128")]
    hidden: Vec<usize>,
    /// Train on the first N training images only (all of them by default).
    #[arg(long)]
    limit: Option<usize>,
    /// Where the checkpoint and the plot go.
    #[arg(long, default_value = "out/mnist")]
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

/// The four files, as (file-name stem, what it holds). The reader also accepts a `.gz` suffix
/// and the `train-images.idx3-ubyte` spelling.
const FILES: [(&str, &str); 4] = [
    ("train-images-idx3-ubyte", "60,000 training images"),
    ("train-labels-idx1-ubyte", "their labels"),
    ("t10k-images-idx3-ubyte", "10,000 test images"),
    ("t10k-labels-idx1-ubyte", "their labels"),
];

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(message) = missing_files(&args.data) {
        eprintln!("{message}");
        return ExitCode::from(2);
    }
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `None` when every file is there; otherwise what to put where.
fn missing_files(dir: &Path) -> Option<String> {
    let found = |stem: &str| {
        let dotted = stem.replacen("-idx", ".idx", 1);
        [stem, dotted.as_str()]
            .iter()
            .flat_map(|s| [s.to_string(), format!("{s}.gz")])
            .any(|name| dir.join(name).is_file())
    };
    let missing: Vec<_> = FILES.iter().filter(|(stem, _)| !found(stem)).collect();
    if missing.is_empty() {
        return None;
    }
    let mut message = format!(
        "error: MNIST not found in {} ({} of its 4 files missing).\n\n\
         nanotorch never downloads data. Put the four MNIST IDX files in that folder, raw or \
         gzipped (.gz):\n\n",
        dir.display(),
        missing.len()
    );
    let shown = |stem: &str| dir.join(format!("{stem}[.gz]")).display().to_string();
    let width = FILES.iter().map(|(stem, _)| shown(stem).len()).max();
    for (stem, what) in FILES {
        let state = if found(stem) { "found" } else { "MISSING" };
        let path = shown(stem);
        let width = width.unwrap_or(0);
        message += &format!("  {path:<width$}  {what:<22}  {state}\n");
    }
    message += &format!(
        "\nThey are on the MNIST page and its mirrors; the files torchvision keeps in \
         MNIST/raw/ work as they are (so do Fashion-MNIST's and KMNIST's). Then run:\n\n  \
         cargo run --release --example mnist -- --data {}\n",
        dir.display()
    );
    Some(message)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    manual_seed(args.seed);

    // Samples come as [1, 28, 28] in [0, 1]; the MLP wants a flat row of pixels.
    let mut train = flatten(data::readers::mnist(&args.data, true)?)?;
    let test = flatten(data::readers::mnist(&args.data, false)?)?;
    if let Some(limit) = args.limit {
        if limit < train.len() {
            train = train.select(&(0..limit).collect::<Vec<_>>())?;
        }
    }
    let pixels = train.sample_shape().numel();
    println!(
        "MNIST from {}: {} training and {} test images of {pixels} pixels, 10 classes",
        args.data.display(),
        train.len(),
        test.len()
    );
    let train_loader = data::DataLoader::new(train, args.batch_size)
        .shuffle(true)
        .seed(args.seed)
        .num_workers(args.workers)
        .collate(data::TensorCollate::new(Cpu));
    let test_loader = data::DataLoader::new(test, 1000).collate(data::TensorCollate::new(Cpu));

    let mut model = common::mlp(pixels, &args.hidden, 10)?;
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
        "mnist_mlp",
        started,
        args.expect_accuracy,
    )
}

/// `[1, h, w]` samples as `[h * w]` rows (no copy of the pixels).
fn flatten(ds: data::TensorDataset) -> nanotorch::Result<data::TensorDataset> {
    let pixels = ds.sample_shape().numel();
    ds.reshape_samples([pixels])
}
