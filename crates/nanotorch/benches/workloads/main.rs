//! `cargo xtask bench`: nanotorch's benchmark workloads, one JSON line per case, with the case
//! names and fields of `../shared/bench-peers/torch_bench.py` so the two outputs join on `case`.
//!
//! One module per layer; each has `run<B: Backend>(&B, &Bench)`, generic over the device, and
//! `main` calls them in order. A later layer adds its module and one line in [`run_all`].
//!
//! Run it through `cargo xtask bench`, which sets the thread variables; directly:
//! `cargo bench -p nanotorch --bench workloads -- --only sgemm --threads 2`.

mod autograd;
mod foundation;
mod harness;
mod peak;
mod resnet;
mod sequence;
mod train;

use harness::Bench;
use nanotorch::array::Backend;

type Res = Result<(), Box<dyn std::error::Error>>;

/// Every layer's workloads on `backend`.
fn run_all<B: Backend>(backend: &B, bench: &Bench) -> Res {
    peak::run(backend, bench)?;
    foundation::run(backend, bench)?;
    autograd::run(backend, bench)?;
    train::run(backend, bench)?;
    sequence::run(backend, bench)?;
    resnet::run(backend, bench)?;
    Ok(())
}

fn main() {
    let bench = match Bench::from_args() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    let result = match bench.device.as_str() {
        "cpu" => run_all(&nanotorch::Cpu, &bench),
        "cuda" => run_cuda(&bench),
        other => Err(format!("unknown device `{other}` (cpu or cuda)").into()),
    };
    if let Err(e) = result {
        eprintln!("bench: error: {e}");
        std::process::exit(1);
    }
}

#[cfg(feature = "cuda")]
fn run_cuda(bench: &Bench) -> Res {
    let cuda = nanotorch::Cuda::new(0)?;
    run_all(&cuda, bench)
}

#[cfg(not(feature = "cuda"))]
fn run_cuda(_bench: &Bench) -> Res {
    Err("this build has no CUDA backend: build with `--features cuda` (`cargo xtask bench --device cuda` does)".into())
}
