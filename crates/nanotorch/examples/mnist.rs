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

use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use nanotorch::prelude::*;
use nanotorch::{data, nn, optim};
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

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OptimizerKind {
    Sgd,
    Adam,
    Adamw,
}

/// One epoch's numbers.
struct EpochStats {
    train_loss: f64,
    test_loss: f64,
    test_accuracy: f64,
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

    let mut model = mlp(pixels, &args.hidden, 10)?;
    let mut optimizer = make_optimizer(args.optimizer, args.lr, model.parameters())?;
    println!(
        "model: {model}\noptimizer: {:?}, lr {}",
        args.optimizer, args.lr
    );

    let mut history = Vec::with_capacity(args.epochs);
    for epoch in 1..=args.epochs {
        let bar = progress_bar(train_loader.len(), epoch, args.epochs, args.quiet);
        model.train();
        let (mut loss_sum, mut seen) = (0.0, 0usize);
        for batch in train_loader.iter() {
            let (x, y) = batch?;
            optimizer.zero_grad();
            let loss = nn::functional::cross_entropy(&model.forward(&x)?, &y)?;
            loss.backward()?;
            optimizer.step()?;
            let n = y.numel();
            loss_sum += loss.item()? as f64 * n as f64;
            seen += n;
            bar.inc(1);
        }
        bar.finish_and_clear();
        let (test_loss, test_accuracy) = evaluate(&mut model, &test_loader)?;
        let stats = EpochStats {
            train_loss: loss_sum / seen.max(1) as f64,
            test_loss,
            test_accuracy,
        };
        println!(
            "epoch {epoch:>3}/{}: train loss {:.4}  test loss {:.4}  test accuracy {:.2}%",
            args.epochs,
            stats.train_loss,
            stats.test_loss,
            100.0 * stats.test_accuracy
        );
        history.push(stats);
    }

    let final_accuracy = history.last().map_or(0.0, |s| s.test_accuracy);
    std::fs::create_dir_all(&args.out)?;
    let checkpoint = args.out.join("mnist_mlp.safetensors");
    nn::save_safetensors(&model.state_dict(), &checkpoint)?;
    let plot = args.out.join("training.svg");
    plot_history(&history, &plot)?;
    println!(
        "final test accuracy {:.2}% after {} epochs in {:.1} s",
        100.0 * final_accuracy,
        args.epochs,
        started.elapsed().as_secs_f64()
    );
    println!(
        "wrote {} and {} (in {})",
        checkpoint.display(),
        plot.display(),
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
    Ok(())
}

type Model = Sequential<f32, Cpu>;

/// `inputs → hidden… → classes` with ReLU between layers.
fn mlp(inputs: usize, hidden: &[usize], classes: usize) -> nanotorch::Result<Model> {
    let mut model = Sequential::new();
    let mut width = inputs;
    for &h in hidden {
        model = model.append(Linear::new(width, h, &Cpu)?).append(ReLU);
        width = h;
    }
    Ok(model.append(Linear::new(width, classes, &Cpu)?))
}

/// `[1, h, w]` samples as `[h * w]` rows (no copy of the pixels).
fn flatten(ds: data::TensorDataset) -> nanotorch::Result<data::TensorDataset> {
    let pixels = ds.sample_shape().numel();
    ds.reshape_samples([pixels])
}

fn make_optimizer(
    kind: OptimizerKind,
    lr: f64,
    params: Vec<Tensor>,
) -> nanotorch::Result<Box<dyn Optimizer>> {
    Ok(match kind {
        OptimizerKind::Sgd => Box::new(SGD::new(
            params,
            SgdOptions {
                lr,
                momentum: 0.9,
                ..Default::default()
            },
        )?),
        OptimizerKind::Adam => Box::new(Adam::new(
            params,
            AdamOptions {
                lr,
                ..Default::default()
            },
        )?),
        OptimizerKind::Adamw => Box::new(optim::AdamW::new(
            params,
            optim::AdamWOptions {
                lr,
                ..Default::default()
            },
        )?),
    })
}

fn progress_bar(batches: usize, epoch: usize, epochs: usize, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(batches as u64);
    bar.set_style(
        ProgressStyle::with_template("epoch {msg} [{bar:30}] {pos}/{len} batches")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(format!("{epoch}/{epochs}"));
    bar
}

/// Mean loss and accuracy over a loader, in evaluation mode and without recording a graph.
fn evaluate<C>(
    model: &mut Model,
    loader: &data::DataLoader<data::TensorDataset, C>,
) -> nanotorch::Result<(f64, f64)>
where
    C: data::Collate<data::Sample, Batch = (Tensor, Tensor<i64>)> + 'static,
{
    model.eval();
    let result = no_grad(|| {
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
        for batch in loader.iter() {
            let (x, y) = batch?;
            let logits = model.forward(&x)?;
            loss_sum +=
                nn::functional::cross_entropy_with(&logits, &y, nn::Reduction::Sum)?.item()? as f64;
            let predicted = logits.argmax(Some(1), false)?.to_vec()?;
            correct += predicted
                .iter()
                .zip(y.to_vec()?)
                .filter(|(p, t)| **p == *t)
                .count();
            seen += y.numel();
        }
        let seen = seen.max(1) as f64;
        Ok((loss_sum / seen, correct as f64 / seen))
    });
    model.train();
    result
}

/// Loss (train and test) and test accuracy per epoch, as an SVG with two panels.
fn plot_history(history: &[EpochStats], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (960, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(480);
    let epochs = history.len().max(2) as f64;
    let max_loss = history
        .iter()
        .map(|s| s.train_loss.max(s.test_loss))
        .fold(0.0, f64::max)
        .max(1e-3);

    let mut loss_chart = ChartBuilder::on(&left)
        .caption("loss", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(1.0..epochs, 0.0..max_loss * 1.05)?;
    loss_chart.configure_mesh().x_desc("epoch").draw()?;
    let series = |f: fn(&EpochStats) -> f64| {
        history
            .iter()
            .enumerate()
            .map(move |(i, s)| ((i + 1) as f64, f(s)))
    };
    loss_chart
        .draw_series(LineSeries::new(series(|s| s.train_loss), &BLUE))?
        .label("train")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLUE));
    loss_chart
        .draw_series(LineSeries::new(series(|s| s.test_loss), &RED))?
        .label("test")
        .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RED));
    loss_chart
        .configure_series_labels()
        .border_style(BLACK)
        .draw()?;

    let mut acc_chart = ChartBuilder::on(&right)
        .caption("test accuracy (%)", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(1.0..epochs, 0.0..100.0)?;
    acc_chart.configure_mesh().x_desc("epoch").draw()?;
    acc_chart.draw_series(LineSeries::new(series(|s| 100.0 * s.test_accuracy), &GREEN))?;
    root.present()?;
    Ok(())
}
