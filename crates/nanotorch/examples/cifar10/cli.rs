//! The command line, and the check that the data files are there before anything is built.

use clap::Parser;
use std::path::{Path, PathBuf};

/// Train ResNet-9 on CIFAR-10 binary batches (32×32 colour images, 10 classes) with the
/// DAWNBench recipe: random crop + flip, one-cycle SGD with Nesterov momentum, label smoothing.
#[derive(Parser, Debug, Clone)]
#[command(version)]
pub struct Args {
    /// The folder of the extracted binary version (`cifar-10-batches-bin`).
    #[arg(long, default_value = "data/cifar-10-batches-bin")]
    pub data: PathBuf,
    /// Passes over the training set.
    #[arg(long, default_value_t = 24)]
    pub epochs: usize,
    /// Samples per batch.
    #[arg(long, default_value_t = 512)]
    pub batch_size: usize,
    /// The peak learning rate of the one-cycle schedule.
    #[arg(long, default_value_t = 0.4)]
    pub lr: f64,
    /// SGD's L2 penalty.
    #[arg(long, default_value_t = 5e-4)]
    pub weight_decay: f64,
    /// Cross-entropy's label smoothing.
    #[arg(long, default_value_t = 0.2)]
    pub label_smoothing: f64,
    /// Channels of the network's first stage (64 is ResNet-9; smaller is faster and weaker).
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// Train on the first N training images only (all of them by default).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Seed for initialisation, shuffling and augmentation: the same seed gives the same run.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where the loss/accuracy plot (SVG) goes.
    #[arg(long, default_value = "out/cifar10/training.svg")]
    pub out: PathBuf,
    /// Threads for the CPU kernels (sets NANOTORCH_NUM_THREADS; default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Data-loading worker threads (0: load on the training thread).
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
    /// Hide the progress bars (for logs and CI).
    #[arg(long)]
    pub quiet: bool,
    /// Exit with an error if the final test accuracy is below this fraction (a smoke test).
    #[arg(long)]
    pub expect_accuracy: Option<f64>,
}

/// The six batch files of `cifar-10-batches-bin`, with what each holds.
pub const FILES: [(&str, &str); 6] = [
    ("data_batch_1.bin", "10,000 training images"),
    ("data_batch_2.bin", "10,000 training images"),
    ("data_batch_3.bin", "10,000 training images"),
    ("data_batch_4.bin", "10,000 training images"),
    ("data_batch_5.bin", "10,000 training images"),
    ("test_batch.bin", "10,000 test images"),
];

/// The page the data set comes from (nothing here downloads it).
pub const DATASET_PAGE: &str = "https://www.cs.toronto.edu/~kriz/cifar.html";

/// `None` when every file is in `dir`; otherwise a message saying which are missing and where
/// to put them.
pub fn missing_files(dir: &Path) -> Option<String> {
    let missing = FILES
        .iter()
        .filter(|(name, _)| !dir.join(name).is_file())
        .count();
    if missing == 0 {
        return None;
    }
    let mut message = format!(
        "error: CIFAR-10 not found in {} ({missing} of its {} files missing).\n\n\
         nanotorch never downloads data. Put the binary batches in that folder:\n\n",
        dir.display(),
        FILES.len()
    );
    let width = FILES
        .iter()
        .map(|(name, _)| dir.join(name).display().to_string().len())
        .max()
        .unwrap_or(0);
    for (name, what) in FILES {
        let path = dir.join(name);
        let state = if path.is_file() { "found" } else { "MISSING" };
        message += &format!("  {:<width$}  {what:<22}  {state}\n", path.display());
    }
    message += &format!(
        "\nThey are the \"CIFAR-10 binary version (suitable for C programs)\" on {DATASET_PAGE}: \
         cifar-10-binary.tar.gz unpacks to a folder cifar-10-batches-bin/ holding them. Then \
         run:\n\n  cargo run --release -p nanotorch --example cifar10 -- --data {}\n",
        dir.display()
    );
    Some(message)
}
