//! `cargo xtask test-cuda --bundle DIR`: the CUDA tests and device benchmark, built here against
//! the stub libcuda, laid out as a folder that runs on a machine with only an NVIDIA driver (no
//! Rust, no CUDA toolkit):
//!
//! ```text
//! DIR/run.sh              runs everything, prints one summary line, exits non-zero on a failure
//! DIR/tests/<name>        the test binaries of nanotorch-backend-cuda (--features cuda)
//! DIR/bench/device        the device benchmark (release build)
//! DIR/stub/libcuda.so.1   the stub, used only where the machine has no driver
//! DIR/MANIFEST            what was built, from which commit, and how to run it
//! ```
//!
//! The binaries are found from cargo's JSON messages (`compiler-artifact` with an `executable`),
//! not guessed from file names. The kernels' PTX is embedded in the binaries (`include_str!`), so
//! nothing else is shipped. Each binary links `libcuda.so.1` by soname: a driver machine loads its
//! own; elsewhere run.sh points the loader at the stub, and every test takes its no-GPU path.
//!
//! run.sh sets `NANOTORCH_REQUIRE_GPU=1` unless the caller set it: on the GPU machine a test that
//! finds no device fails rather than skips. `NANOTORCH_REQUIRE_GPU=0 ./run.sh` allows skips.

use crate::util::{cargo, root, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Builds the bundle into `dir` (created, or emptied of a previous bundle's files).
pub fn bundle(dir: &Path) -> Result<()> {
    let stub = super::make_libcuda_stub()?;
    let mut tests = cargo();
    tests.args([
        "test",
        "-p",
        "nanotorch-backend-cuda",
        "--features",
        "cuda",
        "--tests",
        "--no-run",
    ]);
    let tests = artifacts(&mut tests, &stub)?;
    let mut bench = cargo();
    bench.args([
        "bench",
        "-p",
        "nanotorch-backend-cuda",
        "--features",
        "cuda",
        "--bench",
        "device",
        "--no-run",
    ]);
    let benches = artifacts(&mut bench, &stub)?;
    if tests.is_empty() || benches.is_empty() {
        return Err("test-cuda --bundle: cargo reported no test or bench executables".into());
    }

    for sub in ["tests", "bench", "stub"] {
        let p = dir.join(sub);
        if p.exists() {
            fs::remove_dir_all(&p)?;
        }
        fs::create_dir_all(&p)?;
    }
    let mut manifest = format!(
        "nanotorch CUDA test bundle (cargo xtask test-cuda --bundle)\n\
         built from commit {}\n\
         run: ./run.sh   (NANOTORCH_REQUIRE_GPU=1 by default: no GPU = failure;\n      \
         NANOTORCH_REQUIRE_GPU=0 ./run.sh lets CUDA tests skip)\n\
         needs: an NVIDIA driver (libcuda.so.1); no Rust, no CUDA toolkit. PTX is embedded.\n\n",
        git_commit()
    );
    for (sub, list) in [("tests", &tests), ("bench", &benches)] {
        for (name, exe) in list {
            let to = dir.join(sub).join(name);
            fs::copy(exe, &to)?;
            strip_debug(&to);
            manifest.push_str(&format!("{sub}/{name}  <- {}\n", exe.display()));
        }
    }
    fs::copy(
        stub.join("lib64/libcuda.so.1"),
        dir.join("stub/libcuda.so.1"),
    )?;
    manifest.push_str("stub/libcuda.so.1  (every entry point returns CUDA_ERROR_NO_DEVICE)\n");
    fs::write(dir.join("MANIFEST"), manifest)?;
    let script = dir.join("run.sh");
    fs::write(&script, RUN_SH)?;
    set_executable(&script)?;
    println!(
        "test-cuda --bundle: {} test binaries and {} bench in {}; run {}",
        tests.len(),
        benches.len(),
        dir.display(),
        script.display()
    );
    Ok(())
}

/// Runs a cargo build with `--message-format=json-render-diagnostics` against the stub and
/// returns `(name, executable)` for each executable artifact of nanotorch-backend-cuda.
fn artifacts(cmd: &mut Command, stub: &Path) -> Result<Vec<(String, PathBuf)>> {
    cmd.arg("--message-format=json-render-diagnostics")
        .env("CUDA_LIBRARY_PATH", stub)
        .stderr(Stdio::inherit());
    println!("$ {}", crate::util::describe(cmd));
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!("`{}` failed ({})", crate::util::describe(cmd), out.status).into());
    }
    let mut found = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(exe) = msg["executable"].as_str() else {
            continue;
        };
        let package = msg["package_id"].as_str().unwrap_or_default();
        if !package.contains("backend-cuda") {
            continue;
        }
        let target = msg["target"]["name"].as_str().unwrap_or("unnamed");
        let kinds = msg["target"]["kind"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        // The library's own unit tests are a binary too; call it `unit`.
        let name = if kinds.iter().any(|k| k == "lib") {
            "unit".to_string()
        } else {
            target.to_string()
        };
        found.push((name, PathBuf::from(exe)));
    }
    Ok(found)
}

/// The current commit, or `unknown` (the bundle is still usable without git).
fn git_commit() -> String {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Drops debug info (the dev profile's binaries are mostly DWARF), keeping symbols for
/// backtraces. Best effort: without `strip` the bundle is only bigger.
fn strip_debug(path: &Path) {
    let _ = Command::new("strip")
        .arg("--strip-debug")
        .arg(path)
        .stderr(Stdio::null())
        .status();
}

fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut perm = fs::metadata(path)?.permissions();
    perm.set_mode(0o755);
    fs::set_permissions(path, perm)?;
    Ok(())
}

/// The bundle's driver script: plain bash and coreutils, nothing from Rust or CUDA.
const RUN_SH: &str = r#"#!/usr/bin/env bash
# Runs nanotorch's CUDA test binaries and device benchmark from this bundle and prints one
# summary line. Generated by `cargo xtask test-cuda --bundle`; see MANIFEST.
#   NANOTORCH_REQUIRE_GPU=1 (the default here): a CUDA test that finds no GPU fails.
#   NANOTORCH_REQUIRE_GPU=0: such tests skip, printing SKIPPED.
#   NANOTORCH_BUNDLE_LOGS=DIR: where the per-binary logs go (default: ./logs, or a temp dir).
#   BENCH_ARGS: arguments for bench/device (default: --repeat 5).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
export NANOTORCH_REQUIRE_GPU="${NANOTORCH_REQUIRE_GPU:-1}"
logs="${NANOTORCH_BUNDLE_LOGS:-$here/logs}"
mkdir -p "$logs" 2>/dev/null && [ -w "$logs" ] || logs="$(mktemp -d)"

has_driver() {
    if command -v ldconfig >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1'; then
        return 0
    fi
    for p in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/lib/wsl/lib; do
        [ -e "$p/libcuda.so.1" ] && return 0
    done
    return 1
}

if has_driver; then
    gpu="driver found"
    if command -v nvidia-smi >/dev/null 2>&1; then
        gpu="$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n1)"
    fi
    echo "run.sh: NVIDIA driver found (${gpu:-no name}); NANOTORCH_REQUIRE_GPU=$NANOTORCH_REQUIRE_GPU"
else
    gpu="none (no libcuda.so.1: ran against the bundled stub)"
    echo "run.sh: NO NVIDIA DRIVER on this machine (libcuda.so.1 not found). Running against the"
    echo "        bundled stub libcuda: every CUDA test takes its no-GPU path, which is a FAILURE"
    echo "        with NANOTORCH_REQUIRE_GPU=1 (now: $NANOTORCH_REQUIRE_GPU) and a skip otherwise."
    export LD_LIBRARY_PATH="$here/stub${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

total_p=0; total_f=0; total_s=0; parts=""
for bin in "$here"/tests/*; do
    [ -x "$bin" ] || continue
    name="$(basename "$bin")"
    log="$logs/$name.log"
    # One thread: one GPU, and SKIPPED lines that do not interleave.
    "$bin" --test-threads=1 --nocapture >"$log" 2>&1
    rc=$?
    passed=0; failed=0
    while read -r p f; do
        passed=$((passed + p)); failed=$((failed + f))
    done < <(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed;.*/\1 \2/p' "$log")
    # libtest prints "test name ... " before the test runs, so a SKIPPED line may start mid-line.
    skipped=$(grep -oE 'SKIPPED [^:]+: no CUDA device' "$log" | wc -l)
    passed=$((passed - skipped))
    if [ "$passed" -lt 0 ]; then passed=0; fi
    note=""
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        # It died before reporting (a missing library, a crash): count the binary as failed.
        failed=1; note=" rc=$rc"
    fi
    echo "run.sh: $name: passed=$passed failed=$failed skipped=$skipped$note (log: $log)"
    total_p=$((total_p + passed)); total_f=$((total_f + failed)); total_s=$((total_s + skipped))
    parts="$parts $name=$passed/$failed/$skipped$note"
done

for bin in "$here"/bench/*; do
    [ -x "$bin" ] || continue
    name="bench-$(basename "$bin")"
    log="$logs/$name.log"
    # shellcheck disable=SC2086
    "$bin" ${BENCH_ARGS:---repeat 5} >"$log" 2>&1
    rc=$?
    cases=$(grep -c '"case"' "$log")
    if [ "$rc" -ne 0 ]; then
        state="failed(rc=$rc)"; total_f=$((total_f + 1))
    elif grep -q '^SKIPPED' "$log"; then
        state="skipped"; total_s=$((total_s + 1))
    else
        state="ran($cases cases)"; total_p=$((total_p + 1))
    fi
    echo "run.sh: $name: $state (log: $log)"
    parts="$parts $name=$state"
done

if [ "$total_f" -eq 0 ]; then verdict=OK; else verdict=FAILED; fi
echo "SUMMARY $verdict passed=$total_p failed=$total_f skipped=$total_s | gpu: $gpu | NANOTORCH_REQUIRE_GPU=$NANOTORCH_REQUIRE_GPU | per binary (passed/failed/skipped):$parts"
[ "$total_f" -eq 0 ]
"#;
