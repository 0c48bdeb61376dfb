//! `cargo xtask <command>`: the project's build, test and benchmark driver.
//!
//! Every command prints each step it runs and stops at the first failure with a non-zero exit.

mod cuda;
mod util;

use util::Result;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  test-all            fmt check, clippy -D warnings, every test and doctest, gradcheck, examples
  gradcheck           gradient checks of every differentiable op
  bench [--device cpu|cuda] [--only a,b]   benchmarks, one JSON line per case
  ptx [--check] [--install-nvcc]           compile kernels/*.cu to PTX (or check it is fresh)
  test-cuda [--build-only]                 build (and run, with a GPU) the CUDA backend tests
  release             checks that every crate packages for crates.io";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(command) = args.first() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let rest = &args[1..];
    let result: Result<()> = match command.as_str() {
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
