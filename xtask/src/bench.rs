//! `cargo xtask bench [--device cpu|cuda] [--only NAME[,NAME]] [--threads N] [--repeat R] [--runs N]
//! [--compare]`
//!
//! Runs the `workloads` bench target of the `nanotorch` facade (`crates/nanotorch/benches/workloads/`)
//! in the release profile. It prints one JSON line per case with the case names and fields of
//! `../shared/bench-peers/torch_bench.py`, so that our output and PyTorch's join on `case`.
//!
//! Threads: `--threads N` (default: every core) sets `NANOTORCH_NUM_THREADS` (the CPU backend's
//! threads, GEMM tiles included) for the bench process, and `--threads` for PyTorch's
//! `torch.set_num_threads`.
//!
//! `--compare` also runs PyTorch's script on the same cases twice, as the bench-peers README asks:
//! once plain and once with glibc told to keep freed memory
//! (`MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824`), then prints a table
//! joined on `case` with the time ratios ours/PyTorch (below 1: we are faster). Cases the shared
//! script lacks (`dgemm/512`, `unary/<op>_<dtype>/<n>`) come from `xtask/peers/torch_extra.py`,
//! timed the same way.
//!
//! `--runs N` (default 1) repeats the whole run N times, ours and PyTorch's alternating, and the
//! table gives each side's median over the runs and its run-to-run spread (`(max − min) / median`
//! of the per-run medians): how steady each library is on a shared machine.

use crate::util::{self, cargo, no_more_args, take_flag, take_value, Result};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// glibc settings under which PyTorch keeps (rather than unmaps) its freed large buffers.
const MALLOC_KEEP: [(&str, &str); 2] = [
    ("MALLOC_MMAP_THRESHOLD_", "1073741824"),
    ("MALLOC_TRIM_THRESHOLD_", "1073741824"),
];

/// `cargo xtask bench …`.
pub fn bench(args: &[String]) -> Result<()> {
    let mut args = args.to_vec();
    let device = take_value(&mut args, "--device")?.unwrap_or_else(|| "cpu".into());
    let only = take_value(&mut args, "--only")?;
    let threads = match take_value(&mut args, "--threads")? {
        Some(t) => t
            .parse::<usize>()
            .ok()
            .filter(|&t| t > 0)
            .ok_or_else(|| format!("--threads wants a positive integer, not `{t}`"))?,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let repeat = take_value(&mut args, "--repeat")?;
    let runs = match take_value(&mut args, "--runs")? {
        Some(r) => r
            .parse::<usize>()
            .ok()
            .filter(|&r| r > 0)
            .ok_or_else(|| format!("--runs wants a positive integer, not `{r}`"))?,
        None => 1,
    };
    let compare = take_flag(&mut args, "--compare");
    no_more_args("bench", &args)?;
    if device != "cpu" && device != "cuda" {
        return Err(format!("--device is `cpu` or `cuda`, not `{device}`").into());
    }
    if compare && device != "cpu" {
        return Err("--compare runs PyTorch on the CPU; use it with --device cpu".into());
    }
    let python = torch_python();
    if compare && !python.is_file() {
        return Err(missing_venv(&python).into());
    }

    // On cuda: the GPU-sized cases and the copy bandwidth first; without a GPU they say so and
    // the facade's workloads are skipped.
    if device == "cuda" && !crate::cuda::bench_device(only.as_deref(), repeat.as_deref())? {
        return Ok(());
    }
    let ours_cmd = || -> Result<Command> {
        let mut cmd = cargo();
        cmd.args(["bench", "-p", "nanotorch", "--bench", "workloads"]);
        if device == "cuda" {
            cmd.args(["--features", "cuda"]);
            crate::cuda::link_env(&mut cmd)?;
        }
        cmd.args(["--", "--device", &device, "--threads", &threads.to_string()]);
        if let Some(only) = &only {
            cmd.args(["--only", only]);
        }
        if let Some(r) = &repeat {
            cmd.args(["--repeat", r]);
        }
        cmd.env("NANOTORCH_NUM_THREADS", threads.to_string());
        Ok(cmd)
    };
    let mut ours = vec![run_json_lines(&mut ours_cmd()?)?];
    if !compare {
        for _ in 1..runs {
            ours.push(run_json_lines(&mut ours_cmd()?)?);
        }
        if runs > 1 {
            print_table(&ours, &[], &[]);
        }
        return Ok(());
    }

    // PyTorch on exactly the cases we ran (raw_* cases have no PyTorch twin).
    let cases: Vec<String> = ours[0]
        .iter()
        .filter_map(|r| r["case"].as_str())
        .filter(|c| !c.starts_with("raw_"))
        .map(String::from)
        .collect();
    if cases.is_empty() {
        return Err("the bench printed no cases to compare".into());
    }
    let script = util::root().join("../shared/bench-peers/torch_bench.py");
    if !script.is_file() {
        return Err(format!("PyTorch's bench script is not at {}", script.display()).into());
    }
    let extra = util::root().join("xtask/peers/torch_extra.py");
    let torch_run = |keep_memory: bool| -> Result<Vec<Value>> {
        let mut rows = Vec::new();
        for script in [&script, &extra] {
            let mut c = Command::new(&python);
            c.arg(script).args([
                "--threads",
                &threads.to_string(),
                "--only",
                &cases.join(","),
            ]);
            if let Some(r) = &repeat {
                c.args(["--repeat", r]);
            }
            if keep_memory {
                c.envs(MALLOC_KEEP);
            }
            rows.extend(run_json_lines(&mut c)?);
        }
        Ok(rows)
    };
    let mut plain = vec![torch_run(false)?];
    let mut kept = vec![torch_run(true)?];
    for _ in 1..runs {
        ours.push(run_json_lines(&mut ours_cmd()?)?);
        plain.push(torch_run(false)?);
        kept.push(torch_run(true)?);
    }
    print_table(&ours, &plain, &kept);
    Ok(())
}

/// `~/torchenv/bin/python`, the venv the bench-peers README sets up.
fn torch_python() -> PathBuf {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    home.join("torchenv/bin/python")
}

fn missing_venv(python: &std::path::Path) -> String {
    format!(
        "--compare needs PyTorch in a virtual environment at {}, which is missing.\n\
         Create it once per machine, outside the repository (a few GB):\n\n    \
         python3 -m venv ~/torchenv && ~/torchenv/bin/pip install torch\n",
        python.display()
    )
}

/// Runs `cmd`, echoing its standard output line by line, and returns the lines that are JSON
/// objects.
fn run_json_lines(cmd: &mut Command) -> Result<Vec<Value>> {
    println!("$ {}", util::describe(cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", util::describe(cmd)))?;
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let mut rows = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(&line) {
            rows.push(v);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(format!("`{}` failed ({status})", util::describe(cmd)).into());
    }
    Ok(rows)
}

fn find<'a>(rows: &'a [Value], case: &str) -> Option<&'a Value> {
    rows.iter().find(|r| r["case"] == case)
}

fn cell(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "-".into(), |x| format!("{x:.digits$}"))
}

/// One case's medians over the runs: (median of them, run-to-run spread `(max − min) / median`).
fn over_runs(runs: &[Vec<Value>], case: &str) -> Option<(f64, f64)> {
    let mut t: Vec<f64> = runs
        .iter()
        .filter_map(|rows| find(rows, case)?["median_ms"].as_f64())
        .collect();
    if t.is_empty() {
        return None;
    }
    t.sort_by(f64::total_cmp);
    let n = t.len();
    let median = if n % 2 == 1 {
        t[n / 2]
    } else {
        (t[n / 2 - 1] + t[n / 2]) / 2.0
    };
    Some((median, (t[n - 1] - t[0]) / median))
}

/// The joined table: our median, PyTorch's (plain and memory-keeping), the ratios of times, and
/// with several runs each side's run-to-run spread.
fn print_table(ours: &[Vec<Value>], plain: &[Vec<Value>], kept: &[Vec<Value>]) {
    let peer = |runs: &[Vec<Value>]| {
        runs.first()
            .and_then(|rows| rows.first())
            .and_then(|r| r["peer"].as_str())
            .unwrap_or("torch")
            .to_string()
    };
    let runs = ours.len();
    println!(
        "\nmedian ms{}, ours ({}) vs PyTorch ({}); ratio = ours / PyTorch time (< 1: we are faster);\n\
         `kept` = PyTorch with MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_=1073741824{}",
        if runs > 1 {
            format!(" (median of {runs} runs)")
        } else {
            String::new()
        },
        peer(ours),
        peer(plain),
        if runs > 1 {
            "; sp. = run-to-run spread, (max - min) / median of the runs' medians"
        } else {
            ""
        }
    );
    println!(
        "{:<26} {:>9} {:>9} {:>9} {:>7} {:>7} {:>6} {:>6} {:>6} {:>11}",
        "case", "ours", "torch", "kept", "ratio", "r.kept", "sp.us", "sp.t", "sp.k", "rate"
    );
    let spread = |x: Option<(f64, f64)>| {
        if runs > 1 {
            x.map_or_else(|| "-".into(), |(_, s)| format!("{:.0}%", 100.0 * s))
        } else {
            "-".into()
        }
    };
    for row in &ours[0] {
        let case = row["case"].as_str().unwrap_or("?");
        if case.starts_with("raw_") {
            continue;
        }
        let (o, p, k) = (
            over_runs(ours, case),
            over_runs(plain, case),
            over_runs(kept, case),
        );
        let ratio = |t: Option<(f64, f64)>| o.zip(t).map(|((o, _), (t, _))| o / t);
        let rate = if let Some(g) = row["gflops"].as_f64() {
            format!("{g:.1} GF/s")
        } else if let Some(g) = row["gbps"].as_f64() {
            format!("{g:.1} GB/s")
        } else {
            "-".into()
        };
        println!(
            "{case:<26} {:>9} {:>9} {:>9} {:>7} {:>7} {:>6} {:>6} {:>6} {rate:>11}",
            cell(o.map(|x| x.0), 3),
            cell(p.map(|x| x.0), 3),
            cell(k.map(|x| x.0), 3),
            cell(ratio(p), 2),
            cell(ratio(k), 2),
            spread(o),
            spread(p),
            spread(k),
        );
    }
    let raw: Vec<&Value> = ours[0]
        .iter()
        .filter(|r| r["case"].as_str().is_some_and(|c| c.starts_with("raw_")))
        .collect();
    if !raw.is_empty() {
        println!(
            "\nGEMM through nanotorch vs one raw matrixmultiply call on one thread (GFLOP/s \
             ratio; with --threads 1 the target is >= 0.95, above 1 is what tiling gains)"
        );
        for r in raw {
            let raw_case = r["case"].as_str().unwrap_or("?");
            let case = raw_case.trim_start_matches("raw_");
            let ours_g = find(&ours[0], case).and_then(|x| x["gflops"].as_f64());
            let raw_g = r["gflops"].as_f64();
            println!(
                "{case:<22} {:>8} GF/s vs {:>8} GF/s  = {}",
                cell(ours_g, 1),
                cell(raw_g, 1),
                cell(ours_g.zip(raw_g).map(|(a, b)| a / b), 3)
            );
        }
    }
}
