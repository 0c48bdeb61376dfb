//! `cargo xtask test-all`: every check CI runs, in order, stopping at the first failure.
//!
//! The steps are one list, [`STEPS`]; a later layer adds its check with one line there.

use crate::util::{self, cargo, format_duration, no_more_args, take_flag, take_value, Result};
use crate::{cuda, gradcheck};
use std::time::Duration;

/// What a step does.
pub enum Action {
    /// `cargo <args>` from the workspace root.
    Cargo(&'static [&'static str]),
    /// An xtask function (which prints what it runs itself).
    Task(fn() -> Result<()>),
}

/// One named step of `test-all`.
pub struct Step {
    /// The name `--skip` and `--from` accept.
    pub name: &'static str,
    /// What it runs.
    pub action: Action,
}

impl Step {
    const fn cargo(name: &'static str, args: &'static [&'static str]) -> Step {
        Step {
            name,
            action: Action::Cargo(args),
        }
    }

    const fn task(name: &'static str, f: fn() -> Result<()>) -> Step {
        Step {
            name,
            action: Action::Task(f),
        }
    }
}

/// The checks, in the order they run. Cheap checks first, so a formatting slip fails in seconds.
/// clippy and the tests share the dev profile of the root `Cargo.toml`, so dependencies are
/// compiled once for both.
pub const STEPS: &[Step] = &[
    Step::cargo("fmt", &["fmt", "--all", "--", "--check"]),
    Step::cargo(
        "clippy",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    ),
    // Unit, integration and doctests of every crate, the book (`docs/`) included.
    Step::cargo("test", &["test", "--workspace"]),
    Step::task("cuda", cuda::test_all_steps),
    Step::task("gradcheck", gradcheck::check_all),
    // The main job, one short epoch in the test profile (examples were built by `test`): a smoke
    // test that accuracy rises well above chance (10%), not a timing.
    Step::cargo(
        "train_digits",
        &[
            "run",
            "-p",
            "nanotorch",
            "--example",
            "train_digits",
            "--",
            "--epochs",
            "1",
            "--quiet",
            "--expect-accuracy",
            "0.5",
            "--out",
            "target/smoke/train_digits",
        ],
    ),
    // The convolution path on the same data: two epochs of the small CNN, well above chance.
    Step::cargo(
        "digits_cnn",
        &[
            "run",
            "-p",
            "nanotorch",
            "--example",
            "digits_cnn",
            "--",
            "--epochs",
            "2",
            "--expect-accuracy",
            "0.5",
        ],
    ),
    Step::task("char_gpt", char_gpt_resume),
    Step::task("mpi", mpi_checks),
];

/// A tiny `char_gpt` run of 12 steps must learn (validation loss from ln 76 ≈ 4.33 to below
/// 3.8), the same run stopped after 6 steps and resumed from its checkpoint must record the same
/// history, bit for bit, and the LSTM variant must learn as well.
fn char_gpt_resume() -> Result<()> {
    let dir = util::root().join("target/smoke/char_gpt");
    let run = |out: &str, extra: &[&str]| -> Result<()> {
        let mut cmd = cargo();
        cmd.args(["run", "-p", "nanotorch", "--example", "char_gpt", "--"]);
        cmd.args([
            "--steps",
            "12",
            "--warmup",
            "2",
            "--lr",
            "1e-2",
            "--width",
            "32",
            "--heads",
            "2",
            "--context",
            "32",
            "--batch",
            "8",
            "--eval-every",
            "6",
            "--eval-batches",
            "2",
            "--sample-len",
            "40",
            "--quiet",
            "--expect-val-loss",
            "3.8",
        ]);
        cmd.arg("--out").arg(dir.join(out)).args(extra);
        util::run(&mut cmd)
    };
    let _ = std::fs::remove_dir_all(&dir);
    run("whole", &["--layers", "1"])?;
    run("resumed", &["--layers", "1", "--stop-after", "6"])?;
    run("resumed", &["--layers", "1", "--resume"])?;
    let history = |out: &str| std::fs::read_to_string(dir.join(out).join("history.csv"));
    if history("whole")? != history("resumed")? {
        return Err(format!(
            "char_gpt: the run resumed at step 6 recorded another history than the whole run \
             (compare {}/whole/history.csv and resumed/history.csv)",
            dir.display()
        )
        .into());
    }
    println!("char_gpt: the resumed run matches the whole run step for step");
    // The same data and loop with the 2-layer LSTM of `--model lstm`: it must learn too.
    run("lstm", &["--model", "lstm"])
}

/// nanotorch-distributed over real processes (its `mpi` feature): clippy with the feature, the
/// `mpirun -np 2` and `-np 3` test jobs (`crates/distributed/tests/mpirun.rs`: DDP equals the
/// combined batch, the sampler covers each epoch, a failing or hung rank ends the job with a clear
/// error), and two epochs of `train_digits_ddp` on 2 ranks. Skipped, saying so, without `mpirun`.
fn mpi_checks() -> Result<()> {
    if std::process::Command::new("mpirun")
        .arg("--version")
        .output()
        .is_err()
    {
        println!(
            "mpi: SKIPPED: no `mpirun` on PATH, so the multi-process tests did not run \
             (install Open MPI: apt-get install openmpi-bin libopenmpi-dev; .ci/run does as root)"
        );
        return Ok(());
    }
    let with_mpi = ["-p", "nanotorch-distributed", "--features", "mpi"];
    util::run(cargo().arg("clippy").args(with_mpi).args([
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    util::run(
        cargo()
            .arg("test")
            .args(with_mpi)
            .args(["--test", "mpirun"]),
    )?;
    util::run(
        cargo()
            .arg("build")
            .args(with_mpi)
            .args(["--example", "train_digits_ddp"]),
    )?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| util::root().join("target"));
    util::run(
        std::process::Command::new("mpirun")
            .args(["--allow-run-as-root", "--oversubscribe", "-np", "2"])
            .arg(target.join("debug/examples/train_digits_ddp"))
            .args(["--epochs", "2", "--expect-accuracy", "0.5"]),
    )
}

/// `cargo xtask test-all [--list] [--skip a,b] [--from NAME]`.
pub fn test_all(args: &[String]) -> Result<()> {
    let mut args = args.to_vec();
    let list = take_flag(&mut args, "--list");
    let skip: Vec<String> = take_value(&mut args, "--skip")?
        .map(|s| {
            s.split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    let from = take_value(&mut args, "--from")?;
    no_more_args("test-all", &args)?;

    let names: Vec<&str> = STEPS.iter().map(|s| s.name).collect();
    for name in skip.iter().chain(from.iter()) {
        if !names.contains(&name.as_str()) {
            return Err(format!(
                "no step named `{name}`; the steps are: {}",
                names.join(", ")
            )
            .into());
        }
    }
    if list {
        for step in STEPS {
            match &step.action {
                Action::Cargo(a) => println!("{:<10} cargo {}", step.name, a.join(" ")),
                Action::Task(_) => println!("{:<10} (xtask task)", step.name),
            }
        }
        return Ok(());
    }

    let start_at = from
        .as_deref()
        .map(|f| names.iter().position(|n| *n == f).unwrap_or(0))
        .unwrap_or(0);
    let mut times: Vec<(&str, Duration)> = Vec::new();
    let (result, total) = util::timed(|| -> Result<()> {
        for step in &STEPS[start_at..] {
            if skip.iter().any(|s| s == step.name) {
                println!("\n==> {} (skipped, --skip)", step.name);
                continue;
            }
            println!("\n==> {}", step.name);
            let (r, took) = util::timed(|| match &step.action {
                Action::Cargo(a) => util::run(cargo().args(*a)),
                Action::Task(f) => f(),
            });
            times.push((step.name, took));
            r.map_err(|e| {
                format!(
                    "step `{}` failed after {}: {e}",
                    step.name,
                    format_duration(took)
                )
            })?;
        }
        Ok(())
    });
    println!("\n==> test-all timings");
    for (name, took) in &times {
        println!("  {name:<10} {}", format_duration(*took));
    }
    println!("  {:<10} {}", "total", format_duration(total));
    result?;
    println!("test-all: every step passed");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_names_are_unique_so_skip_and_from_are_unambiguous() {
        for (i, a) in STEPS.iter().enumerate() {
            for b in &STEPS[i + 1..] {
                assert_ne!(a.name, b.name, "two test-all steps are named `{}`", a.name);
            }
        }
    }

    #[test]
    fn unknown_step_names_are_rejected_with_the_list() {
        let err = test_all(&["--skip".into(), "nope".into()])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no step named `nope`") && err.contains("clippy"),
            "{err}"
        );
    }
}
