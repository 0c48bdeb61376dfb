//! micrograd's demo: a small MLP learns to separate two interleaving half moons.
//!
//! ```text
//! cargo run --release --example moons -- --help
//! ```
//!
//! It trains a `2 → 16 → 16 → 2` ReLU network on the whole data set at once (200 points of
//! scikit-learn's `make_moons`, noise 0.1), prints the loss and accuracy every few epochs, then
//! the learned decision boundary as ASCII art over the data's range (`.` and `#` for the two
//! predicted classes, `o` and `x` for the data points of class 0 and 1) and writes the same
//! picture as an SVG into the output folder it names. The same seed gives the same output.

mod common;

use clap::Parser;
use nanotorch::prelude::*;
use nanotorch::{data, nn};
use std::path::{Path, PathBuf};

/// Train a small MLP on two moons and draw its decision boundary.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Full-batch training steps.
    #[arg(long, default_value_t = 200)]
    epochs: usize,
    /// Learning rate (Adam).
    #[arg(long, default_value_t = 0.02)]
    lr: f64,
    /// Number of points.
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// Standard deviation of the Gaussian noise added to the points.
    #[arg(long, default_value_t = 0.1)]
    noise: f32,
    /// Hidden layer sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,16")]
    hidden: Vec<usize>,
    /// Seed for the data and the initialisation: the same seed gives the same run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where the decision-boundary image goes.
    #[arg(long, default_value = "out/moons")]
    out: PathBuf,
    /// Print only the final accuracy and where the image went (no per-epoch lines, no ASCII).
    #[arg(long)]
    quiet: bool,
    /// Exit with an error if the final training accuracy is below this fraction (a smoke test).
    #[arg(long)]
    expect_accuracy: Option<f64>,
}

/// Columns and rows of the decision-boundary grid (ASCII and SVG alike).
const COLS: usize = 60;
const ROWS: usize = 24;

type Model = Sequential<f32, Cpu>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    if args.samples < 2 {
        return Err("--samples must be at least 2 (one point per moon)".into());
    }
    manual_seed(args.seed);

    let moons = data::datasets::moons(args.samples, args.noise, args.seed)?;
    let n = moons.len();
    let points = moons.features().to_vec();
    let labels = moons.labels().to_vec();
    let x = Tensor::from_slice(&points, [n, 2], &Cpu)?;
    let y = Tensor::<i64>::from_slice(&labels, [n], &Cpu)?;
    println!(
        "moons: {n} points, noise {}, seed {}",
        args.noise, args.seed
    );

    let mut model = common::mlp(2, &args.hidden, 2)?;
    let mut optimizer = Adam::new(
        model.parameters(),
        AdamOptions {
            lr: args.lr,
            ..Default::default()
        },
    )?;
    if !args.quiet {
        println!("model: {model}\noptimizer: Adam, lr {}", args.lr);
    }

    let report_every = (args.epochs / 10).max(1);
    for epoch in 1..=args.epochs {
        optimizer.zero_grad();
        let logits = model.forward(&x)?;
        let loss = nn::functional::cross_entropy(&logits, &y)?;
        loss.backward()?;
        optimizer.step()?;
        if !args.quiet && (epoch % report_every == 0 || epoch == 1 || epoch == args.epochs) {
            // The accuracy of the logits this step's update started from.
            let accuracy = accuracy_of(&logits, &labels)?;
            println!(
                "epoch {epoch:>4}/{}: loss {:.4}  accuracy {:.1}%",
                args.epochs,
                loss.item()?,
                100.0 * accuracy
            );
        }
    }

    // The final model, evaluated once more, without recording a graph.
    model.eval();
    let (final_accuracy, grid, area) = no_grad(|| -> nanotorch::Result<_> {
        let accuracy = accuracy_of(&model.forward(&x)?, &labels)?;
        let area = Area::around(&points);
        let grid = predict_grid(&model, &area)?;
        Ok((accuracy, grid, area))
    })?;

    if !args.quiet {
        println!("\ndecision boundary ('.' class 0, '#' class 1; data: 'o' class 0, 'x' class 1):");
        print!("{}", ascii(&grid, &area, &points, &labels));
        println!(
            "x from {:.2} to {:.2}, y from {:.2} to {:.2}\n",
            area.x0, area.x1, area.y0, area.y1
        );
    }

    std::fs::create_dir_all(&args.out)?;
    let image = args.out.join("decision_boundary.svg");
    plot(&grid, &area, &points, &labels, &image)?;
    println!(
        "final training accuracy {:.1}% after {} epochs",
        100.0 * final_accuracy,
        args.epochs
    );
    println!("wrote {} (in {})", image.display(), args.out.display());
    if let Some(expected) = args.expect_accuracy {
        if final_accuracy < expected {
            return Err(format!(
                "training accuracy {final_accuracy:.4} is below the expected {expected}"
            )
            .into());
        }
    }
    Ok(())
}

/// The fraction of rows of `logits` whose largest entry is at the label's index.
fn accuracy_of(logits: &Tensor, labels: &[i64]) -> nanotorch::Result<f64> {
    let predicted = logits.argmax(Some(1), false)?.to_vec()?;
    let correct = predicted.iter().zip(labels).filter(|(p, t)| p == t).count();
    Ok(correct as f64 / labels.len().max(1) as f64)
}

/// The rectangle drawn: the data's bounding box plus a margin of a tenth of its size.
struct Area {
    x0: f64,
    x1: f64,
    y0: f64,
    y1: f64,
}

impl Area {
    fn around(points: &[f32]) -> Self {
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in points.chunks_exact(2) {
            let (x, y) = (f64::from(p[0]), f64::from(p[1]));
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        let (mx, my) = (0.1 * (x1 - x0).max(1e-3), 0.1 * (y1 - y0).max(1e-3));
        Area {
            x0: x0 - mx,
            x1: x1 + mx,
            y0: y0 - my,
            y1: y1 + my,
        }
    }

    /// The centre of grid cell (`col`, `row`); row 0 is the top (largest y).
    fn cell_centre(&self, col: usize, row: usize) -> (f64, f64) {
        let x = self.x0 + (col as f64 + 0.5) / COLS as f64 * (self.x1 - self.x0);
        let y = self.y1 - (row as f64 + 0.5) / ROWS as f64 * (self.y1 - self.y0);
        (x, y)
    }

    /// The grid cell a point falls in.
    fn cell_of(&self, x: f64, y: f64) -> (usize, usize) {
        let col = ((x - self.x0) / (self.x1 - self.x0) * COLS as f64).floor();
        let row = ((self.y1 - y) / (self.y1 - self.y0) * ROWS as f64).floor();
        (
            (col.max(0.0) as usize).min(COLS - 1),
            (row.max(0.0) as usize).min(ROWS - 1),
        )
    }
}

/// The predicted class at the centre of every grid cell, row-major from the top-left, in one
/// batched forward pass.
fn predict_grid(model: &Model, area: &Area) -> nanotorch::Result<Vec<i64>> {
    let mut centres = Vec::with_capacity(2 * COLS * ROWS);
    for row in 0..ROWS {
        for col in 0..COLS {
            let (x, y) = area.cell_centre(col, row);
            centres.extend([x as f32, y as f32]);
        }
    }
    let grid = Tensor::from_vec(centres, [ROWS * COLS, 2], &Cpu)?;
    model.forward(&grid)?.argmax(Some(1), false)?.to_vec()
}

/// The grid as text, with the data points drawn over it.
fn ascii(grid: &[i64], area: &Area, points: &[f32], labels: &[i64]) -> String {
    let mut cells: Vec<char> = grid
        .iter()
        .map(|&c| if c == 0 { '.' } else { '#' })
        .collect();
    for (p, &label) in points.chunks_exact(2).zip(labels) {
        let (col, row) = area.cell_of(f64::from(p[0]), f64::from(p[1]));
        cells[row * COLS + col] = if label == 0 { 'o' } else { 'x' };
    }
    cells
        .chunks(COLS)
        .map(|row| row.iter().collect::<String>() + "\n")
        .collect()
}

/// The grid as coloured cells with the data points on top, as an SVG.
fn plot(
    grid: &[i64],
    area: &Area,
    points: &[f32],
    labels: &[i64],
    path: &Path,
) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let root = SVGBackend::new(path, (720, 360)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("two moons: decision boundary", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(area.x0..area.x1, area.y0..area.y1)?;
    chart.configure_mesh().disable_mesh().draw()?;
    let (dx, dy) = (
        (area.x1 - area.x0) / COLS as f64,
        (area.y1 - area.y0) / ROWS as f64,
    );
    let shade = [RGBColor(198, 219, 239), RGBColor(252, 208, 162)];
    chart.draw_series((0..ROWS).flat_map(|row| {
        (0..COLS).map(move |col| {
            let x = area.x0 + col as f64 * dx;
            let y = area.y1 - row as f64 * dy;
            let class = grid[row * COLS + col].clamp(0, 1) as usize;
            Rectangle::new([(x, y), (x + dx, y - dy)], shade[class].filled())
        })
    }))?;
    let ink = [RGBColor(31, 119, 180), RGBColor(230, 85, 13)];
    chart.draw_series(points.chunks_exact(2).zip(labels).map(|(p, &label)| {
        let colour = ink[label.clamp(0, 1) as usize];
        Circle::new((f64::from(p[0]), f64::from(p[1])), 3, colour.filled())
    }))?;
    root.present()?;
    Ok(())
}
