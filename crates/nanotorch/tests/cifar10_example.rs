//! The `cifar10` example end to end on a small synthetic data set written in the CIFAR-10
//! binary format (a label byte, then 1,024 red, 1,024 green and 1,024 blue bytes per record),
//! where each class has its own colour: the example must learn it (chance is 10%) and draw its
//! plot. The example's own files are compiled in here, so the test runs the same code as
//! `cargo run --example cifar10`.

#[path = "../examples/cifar10/cli.rs"]
mod cli;
#[path = "../examples/cifar10/plot.rs"]
mod plot;
#[path = "../examples/cifar10/train.rs"]
mod train;

use clap::Parser;
use std::path::{Path, PathBuf};

const RECORD: usize = 1 + 3 * 32 * 32;

/// A fresh empty folder under the system's temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "nanotorch-cifar10-example-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `n` records, class `i % 10` for record `i`: every pixel of a class-`c` image is the colour
/// `(25c, 250 − 25c, 100 + 150·(c odd))` plus uniform noise in ±48 from a xorshift stream.
fn records(n: usize, state: &mut u64) -> Vec<u8> {
    let mut noise = || {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        (*state % 97) as i32 - 48
    };
    let mut bytes = Vec::with_capacity(n * RECORD);
    for i in 0..n {
        let c = (i % 10) as i32;
        let colour = [25 * c, 250 - 25 * c, 100 + 150 * (c % 2)];
        bytes.push(c as u8);
        for base in colour {
            bytes.extend((0..1024).map(|_| (base + noise()).clamp(0, 255) as u8));
        }
    }
    bytes
}

/// The six files of `cifar-10-batches-bin` in `dir`: `train` training records spread over the
/// five training batches and `test` records in the test batch.
fn write_synthetic(dir: &Path, train: usize, test: usize) {
    let mut state = 0x2545_f491_4f6c_dd1d;
    for b in 1..=5 {
        let n = train / 5 + usize::from(b <= train % 5);
        std::fs::write(
            dir.join(format!("data_batch_{b}.bin")),
            records(n, &mut state),
        )
        .unwrap();
    }
    std::fs::write(dir.join("test_batch.bin"), records(test, &mut state)).unwrap();
}

fn args(extra: &[&str]) -> cli::Args {
    cli::Args::try_parse_from(std::iter::once("cifar10").chain(extra.iter().copied())).unwrap()
}

#[test]
fn learns_synthetic_cifar_and_draws_the_plot() {
    let dir = temp_dir("learns");
    write_synthetic(&dir, 250, 100);
    let plot = dir.join("out/plot.svg");
    let (data, out) = (dir.display().to_string(), plot.display().to_string());
    assert!(cli::missing_files(&dir).is_none());
    #[rustfmt::skip]
    let args = args(&[
        "--data", &data, "--out", &out, "--epochs", "4", "--batch-size", "20", "--limit", "200",
        "--width", "8", "--lr", "0.2", "--quiet",
    ]);
    let history = train::run(&args).unwrap();

    assert_eq!(history.len(), 4);
    let (first, last) = (history[0], history[3]);
    assert!(
        last.train_loss < first.train_loss,
        "training loss did not fall: {history:?}"
    );
    assert!(
        last.test_accuracy > 0.5 && last.train_accuracy > 0.5,
        "no better than chance (0.1) on class colours: {history:?}"
    );
    assert!(history.iter().all(|s| s.seconds > 0.0));
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("accuracy (%)") && svg.contains("test"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_files_are_named_with_where_to_put_them() {
    let dir = temp_dir("missing");
    std::fs::write(dir.join("data_batch_1.bin"), records(1, &mut 7)).unwrap();
    let message = cli::missing_files(&dir).expect("five files are missing");
    assert!(message.contains("5 of its 6 files missing"), "{message}");
    let line = |name: &str| {
        message
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no line for {name}:\n{message}"))
            .to_string()
    };
    assert!(line("data_batch_1.bin").ends_with("found"), "{message}");
    for name in ["data_batch_2.bin", "data_batch_5.bin", "test_batch.bin"] {
        let l = line(name);
        assert!(
            l.ends_with("MISSING") && l.contains(&data_path(&dir, name)),
            "{l}"
        );
    }
    for hint in [cli::DATASET_PAGE, "cifar-10-batches-bin", "never downloads"] {
        assert!(message.contains(hint), "no {hint:?} in:\n{message}");
    }

    let nowhere = dir.join("nowhere");
    let message = cli::missing_files(&nowhere).unwrap();
    assert!(message.contains("6 of its 6 files missing"), "{message}");
    // The reader says the same, naming the first file it lacks, if called anyway.
    let args = args(&["--data", &nowhere.display().to_string()]);
    let e = train::run(&args).unwrap_err().to_string();
    assert!(e.contains("data_batch_1.bin"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

fn data_path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

#[test]
fn defaults_are_the_dawnbench_recipe_and_bad_settings_fail_early() {
    let a = args(&[]);
    assert_eq!((a.epochs, a.batch_size, a.width), (24, 512, 64));
    assert_eq!((a.lr, a.weight_decay, a.label_smoothing), (0.4, 5e-4, 0.2));
    assert_eq!((a.limit, a.threads), (None, None));
    // Checked before any file is read: the folder need not exist.
    for (flag, value) in [("--epochs", "0"), ("--batch-size", "0"), ("--limit", "0")] {
        let e = train::run(&args(&["--data", "/nonexistent", flag, value]))
            .unwrap_err()
            .to_string();
        assert!(e.contains(flag) && e.contains("at least 1"), "{e}");
    }
    let e = train::run(&args(&["--data", "/nonexistent", "--lr=-1"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("--lr"), "{e}");
}
