//! The picture at the end: loss and accuracy per epoch, train and test, as an SVG.

use crate::train::EpochStats;
use std::path::Path;

/// Writes two panels to `path` (its folder is created): loss, and accuracy in percent, each
/// with a training and a test line.
pub fn write(history: &[EpochStats], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let root = SVGBackend::new(path, (960, 400)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(480);
    let epochs = history.len().max(2) as f64;
    let max_loss = history
        .iter()
        .map(|s| s.train_loss.max(s.test_loss))
        .filter(|l| l.is_finite())
        .fold(1e-3, f64::max);
    let series = move |f: fn(&EpochStats) -> f64| {
        history
            .iter()
            .enumerate()
            .map(move |(i, s)| ((i + 1) as f64, f(s)))
    };
    type Panel<'a> = (&'a str, f64, fn(&EpochStats) -> f64, fn(&EpochStats) -> f64);
    let panels: [(_, Panel); 2] = [
        (
            &left,
            ("loss", max_loss * 1.05, |s| s.train_loss, |s| s.test_loss),
        ),
        (
            &right,
            (
                "accuracy (%)",
                100.0,
                |s| 100.0 * s.train_accuracy,
                |s| 100.0 * s.test_accuracy,
            ),
        ),
    ];
    for (area, (caption, top, train, test)) in panels {
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 20))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(40)
            .build_cartesian_2d(1.0..epochs, 0.0..top)?;
        chart.configure_mesh().x_desc("epoch").draw()?;
        for (name, f, colour) in [("train", train, BLUE), ("test", test, RED)] {
            chart
                .draw_series(LineSeries::new(series(f), colour))?
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour));
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
