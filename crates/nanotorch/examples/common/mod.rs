//! What the classification examples share: the MLP they build, the optimizer choice, the
//! training loop with its progress bar, evaluation, and the checkpoint, plot and summary at the
//! end. Each example keeps only what is its own: its data and its model.
//!
//! Included with `mod common;` by several examples, each of which uses a different part, so
//! unused-code warnings are turned off for this file alone.
#![allow(dead_code)]

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use nanotorch::nn::{self, Forward};
use nanotorch::optim;
use nanotorch::prelude::*;
use std::path::Path;
use std::time::Instant;

/// A batch of inputs and class labels.
pub type Batch = (Tensor, Tensor<i64>);

/// The optimizers the examples offer on their command line.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum OptimizerKind {
    Sgd,
    Adam,
    Adamw,
}

/// One epoch's numbers.
pub struct EpochStats {
    pub train_loss: f64,
    pub test_loss: f64,
    pub test_accuracy: f64,
}

/// `inputs → hidden… → classes` with ReLU between layers.
pub fn mlp(inputs: usize, hidden: &[usize], classes: usize) -> nanotorch::Result<Sequential> {
    let mut model = Sequential::new();
    let mut width = inputs;
    for &h in hidden {
        model = model.append(Linear::new(width, h, &Cpu)?).append(ReLU);
        width = h;
    }
    Ok(model.append(Linear::new(width, classes, &Cpu)?))
}

/// The optimizer of `kind` over `params` (SGD with momentum 0.9; Adam and AdamW with PyTorch's
/// defaults).
pub fn make_optimizer(
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

/// One pass over `batches` in training mode: cross-entropy, backward, step. Returns the mean
/// training loss per sample.
pub fn train_epoch<M: Forward>(
    model: &mut M,
    optimizer: &mut dyn Optimizer,
    batches: impl IntoIterator<Item = nanotorch::Result<Batch>>,
    bar: &ProgressBar,
) -> nanotorch::Result<f64> {
    model.train();
    let (mut loss_sum, mut seen) = (0.0, 0usize);
    for batch in batches {
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
    Ok(loss_sum / seen.max(1) as f64)
}

/// Mean loss and accuracy over `batches`, in evaluation mode and without recording a graph;
/// the model is back in training mode afterwards.
pub fn evaluate<M: Forward>(
    model: &mut M,
    batches: impl IntoIterator<Item = nanotorch::Result<Batch>>,
) -> nanotorch::Result<(f64, f64)> {
    model.eval();
    let result = no_grad(|| {
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
        for batch in batches {
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

/// How long and how loudly to train.
pub struct Schedule {
    pub epochs: usize,
    /// Batches per training epoch, for the progress bar.
    pub batches: usize,
    pub quiet: bool,
}

/// Trains for `schedule.epochs` epochs, printing each epoch's training loss, test loss and test
/// accuracy; `train` and `test` give each epoch's batches.
pub fn fit<M, Tr, Te>(
    model: &mut M,
    optimizer: &mut dyn Optimizer,
    schedule: &Schedule,
    mut train: impl FnMut() -> Tr,
    mut test: impl FnMut() -> Te,
) -> nanotorch::Result<Vec<EpochStats>>
where
    M: Forward,
    Tr: IntoIterator<Item = nanotorch::Result<Batch>>,
    Te: IntoIterator<Item = nanotorch::Result<Batch>>,
{
    let mut history = Vec::with_capacity(schedule.epochs);
    for epoch in 1..=schedule.epochs {
        let bar = progress_bar(schedule.batches, epoch, schedule.epochs, schedule.quiet);
        let train_loss = train_epoch(model, optimizer, train(), &bar)?;
        bar.finish_and_clear();
        let (test_loss, test_accuracy) = evaluate(model, test())?;
        println!(
            "epoch {epoch:>3}/{}: train loss {train_loss:.4}  test loss {test_loss:.4}  \
             test accuracy {:.2}%",
            schedule.epochs,
            100.0 * test_accuracy
        );
        history.push(EpochStats {
            train_loss,
            test_loss,
            test_accuracy,
        });
    }
    Ok(history)
}

/// The end of a run: a safetensors checkpoint `name.safetensors` and a loss/accuracy plot in
/// `out`, the final accuracy and time, and an error if the accuracy is below `expect_accuracy`.
pub fn finish(
    model: &impl Module,
    history: &[EpochStats],
    out: &Path,
    name: &str,
    started: Instant,
    expect_accuracy: Option<f64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let final_accuracy = history.last().map_or(0.0, |s| s.test_accuracy);
    std::fs::create_dir_all(out)?;
    let checkpoint = out.join(format!("{name}.safetensors"));
    nn::save_safetensors(&model.state_dict(), &checkpoint)?;
    let plot = out.join("training.svg");
    plot_history(history, &plot)?;
    println!(
        "final test accuracy {:.2}% after {} epochs in {:.1} s",
        100.0 * final_accuracy,
        history.len(),
        started.elapsed().as_secs_f64()
    );
    println!(
        "wrote {} and {} (in {})",
        checkpoint.display(),
        plot.display(),
        out.display()
    );
    if let Some(expected) = expect_accuracy {
        if final_accuracy < expected {
            return Err(format!(
                "test accuracy {final_accuracy:.4} is below the expected {expected}"
            )
            .into());
        }
    }
    Ok(())
}

/// Loss (train and test) and test accuracy per epoch, as an SVG with two panels.
pub fn plot_history(history: &[EpochStats], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
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
