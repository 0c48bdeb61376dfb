//! ResNet-9 on CIFAR-10, the DAWNBench way, for those who have the files: nanotorch never
//! downloads anything.
//!
//! ```text
//! cargo run --release -p nanotorch --example cifar10 -- --data DIR
//! ```
//!
//! `DIR` is the folder `cifar-10-batches-bin` that the binary version of CIFAR-10
//! (`cifar-10-binary.tar.gz` from <https://www.cs.toronto.edu/~kriz/cifar.html>) unpacks to:
//! `data_batch_1.bin` … `data_batch_5.bin` (50,000 training images) and `test_batch.bin`
//! (10,000 test images).
//!
//! The recipe is David Page's DAWNBench one: ResNet-9, random 32×32 crops of the image padded
//! by 4, random horizontal flips and per-channel normalisation as data transforms, SGD with
//! Nesterov momentum 0.9 and weight decay 5e-4, a one-cycle learning-rate schedule peaking at
//! 0.4, batches of 512 and label smoothing 0.2. Per epoch it shows a progress bar, then the
//! training loss and accuracy, the test loss and accuracy and the epoch's time; at the end it
//! writes a loss/accuracy plot (SVG). When files are missing it says which and where to put
//! them, and exits with status 2. `--limit` and `--width` make quick runs.
//!
//! The code is in three files: `cli.rs` (the flags and the file check), `train.rs` (data,
//! model, optimizer, the loop) and `plot.rs`.

mod cli;
mod plot;
mod train;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    if let Some(message) = cli::missing_files(&args.data) {
        eprintln!("{message}");
        return ExitCode::from(2);
    }
    if let Some(threads) = args.threads {
        // Read once, by the first kernel that splits its work: set it before any runs.
        std::env::set_var("NANOTORCH_NUM_THREADS", threads.to_string());
    }
    match train::run(&args) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
