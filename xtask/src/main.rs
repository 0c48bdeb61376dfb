//! `cargo xtask <command>`: the project's build, test and benchmark driver.
//!
//! Every command prints each step it runs and stops at the first failure with a non-zero exit.

mod bench;
mod book;
mod cuda;
mod gradcheck;
mod release;
mod test_all;
mod util;

use util::Result;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  test-all [--list] [--skip a,b] [--from STEP]
        fmt check, clippy -D warnings, every test and doctest, CUDA checks, gradcheck (what CI runs)
  gradcheck [-- TEST-ARGS]
        every `tests/gradcheck.rs` target in the workspace
  bench [--device cpu|cuda] [--only a,b] [--threads N] [--repeat R] [--runs N] [--compare]
        benchmarks, one JSON line per case; --compare adds PyTorch's figures and ratios
  ptx [--check] [--install-nvcc]
        compile kernels/*.cu to PTX (or check it is fresh)
  test-cuda [--build-only] [--bundle DIR]
        build (and run, with a GPU) the CUDA backend tests; --bundle builds them and the device
        bench into DIR with a run.sh for a machine with only an NVIDIA driver
  book [--open]
        build the HTML book (mdBook, installed from crates.io when absent) into target/book
  release [X.Y.Z] [--dry-run] [--no-verify]
        without a version: pre-release checks (versions agree, metadata, `cargo package`);
        with one: bump, CHANGELOG, test-all, package, publish --dry-run, annotated tag";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let rest = &args[1..];
    if rest.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return;
    }
    let rest_no_dashes: Vec<String> = rest.iter().filter(|a| *a != "--").cloned().collect();
    let result: Result<()> = match command.as_str() {
        "test-all" => test_all::test_all(rest),
        "gradcheck" => gradcheck::gradcheck(&rest_no_dashes),
        "bench" => bench::bench(rest),
        "book" => book::book(rest),
        "release" => release::release(rest),
        "ptx" => cuda::ptx(rest),
        "test-cuda" => cuda::test_cuda(rest),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}").into()),
    };
    if let Err(e) = result {
        eprintln!("xtask {command}: error: {e}");
        std::process::exit(1);
    }
}
