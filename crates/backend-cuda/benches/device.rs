//! `cargo xtask bench --device cuda`: the foundation's cases at GPU sizes, through the `Backend`
//! trait on `Cuda`, next to the device's copy bandwidth. One JSON line per case, with the fields
//! of the facade's `workloads` bench (`case`, `median_ms`, `min_ms`, `gbps` or `gflops`, `peer`,
//! `device`).
//!
//! Cases: `copy_d2d/<n>` (the driver's device-to-device memcpy: the bandwidth ceiling),
//! `copy_kernel/<n>` (a contiguous `copy_strided`), `sgemm/<s>` for s = 256 … 4096,
//! `add`, `mul`, `exp` at 16M and 256M f32 elements, and `sum_all` / `sum_last` over a
//! 4096×4096 f32 matrix. Bytes moved count each element read and written once.
//!
//! Without a GPU (or built without the `cuda` feature) it prints one `SKIPPED` line and exits 0,
//! or, with `NANOTORCH_REQUIRE_GPU=1` (the test bundle's run.sh), exits 1. Timings include a
//! `synchronize()` after each repetition: launches are asynchronous.
//! Directly: `cargo bench -p nanotorch-backend-cuda --features cuda --bench device -- --only sgemm`.

/// `--only a,b` (a case, or the part of a case name before `/`) and `--repeat R`.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
struct Args {
    only: Vec<String>,
    repeat: usize,
}

#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
impl Args {
    fn parse() -> Result<Args, String> {
        let mut args = Args {
            only: Vec::new(),
            repeat: 10,
        };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            match a.as_str() {
                "--only" => {
                    let v = it.next().ok_or("--only needs a value")?;
                    args.only = v.split(',').map(String::from).collect();
                }
                "--repeat" => {
                    let v = it.next().ok_or("--repeat needs a value")?;
                    args.repeat = v
                        .parse()
                        .ok()
                        .filter(|&r| r > 0)
                        .ok_or(format!("--repeat wants a positive integer, not `{v}`"))?;
                }
                // `cargo bench` passes `--bench`; ignore it and libtest-style filters.
                _ => {}
            }
        }
        Ok(args)
    }

    fn want(&self, case: &str) -> bool {
        self.only.is_empty()
            || self
                .only
                .iter()
                .any(|o| o == case || case.split('/').next() == Some(o.as_str()))
    }
}

#[cfg(not(feature = "cuda"))]
fn main() {
    let _ = Args::parse();
    println!(
        "SKIPPED bench --device cuda: nanotorch-backend-cuda was built without the `cuda` feature"
    );
}

#[cfg(feature = "cuda")]
fn main() {
    let args = match Args::parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    let cuda = match nanotorch_backend_cuda::Cuda::new(0) {
        Ok(c) => c,
        Err(e) if nanotorch_backend_cuda::testing::gpu_required() => {
            eprintln!("bench --device cuda: NANOTORCH_REQUIRE_GPU=1 but no CUDA device: {e}");
            std::process::exit(1);
        }
        Err(e) => {
            println!("SKIPPED bench --device cuda: no CUDA device: {e}");
            return;
        }
    };
    if let Err(e) = gpu::run(&cuda, &args) {
        eprintln!("bench: error: {e}");
        std::process::exit(1);
    }
}

#[cfg(feature = "cuda")]
mod gpu {
    use super::Args;
    use nanotorch_backend_cuda::Cuda;
    use nanotorch_ndarray_core::{
        Backend, BinaryOp, Layout, RandomDist, ReduceOp, Result, UnaryOp,
    };
    use std::time::Instant;

    const WARMUP: usize = 2;
    const NORMAL: RandomDist = RandomDist::Normal {
        mean: 0.0,
        std: 1.0,
    };

    /// Median and minimum wall time in ms of `f` followed by a device synchronisation.
    fn time<T>(cuda: &Cuda, args: &Args, mut f: impl FnMut() -> Result<T>) -> Result<(f64, f64)> {
        for _ in 0..WARMUP {
            drop(f()?);
            cuda.synchronize()?;
        }
        let mut ms = Vec::with_capacity(args.repeat);
        for _ in 0..args.repeat {
            let t = Instant::now();
            let out = f()?;
            cuda.synchronize()?;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            drop(out);
        }
        ms.sort_by(f64::total_cmp);
        Ok((ms[ms.len() / 2], ms[0]))
    }

    fn emit(cuda: &Cuda, case: &str, (median, min): (f64, f64), rate: (&str, f64)) {
        println!(
            "{{\"case\": \"{case}\", \"median_ms\": {median:.4}, \"min_ms\": {min:.4}, \"{}\": {:.2}, \
             \"peer\": \"nanotorch-{}\", \"device\": \"cuda:{} ({})\"}}",
            rate.0,
            rate.1,
            env!("CARGO_PKG_VERSION"),
            cuda.ordinal(),
            cuda.device_name().replace('"', "'"),
        );
    }

    /// GB/s for `bytes` moved in `ms` milliseconds.
    fn gbps(bytes: f64, (median, _): (f64, f64)) -> f64 {
        bytes / median / 1e6
    }

    pub(super) fn run(cuda: &Cuda, args: &Args) -> Result<()> {
        // Copy bandwidth first: the ceiling for everything memory-bound below.
        for n in [1usize << 24, 1 << 28] {
            let (d2d, kern) = (format!("copy_d2d/{n}"), format!("copy_kernel/{n}"));
            if !(args.want(&d2d) || args.want(&kern)) {
                continue;
            }
            let x = cuda.random::<f32>(n, NORMAL, 1)?;
            let bytes = 8.0 * n as f64;
            if args.want(&d2d) {
                let t = time(cuda, args, || cuda.copy_device(&x))?;
                emit(cuda, &d2d, t, ("gbps", gbps(bytes, t)));
            }
            if args.want(&kern) {
                let l = Layout::contiguous(vec![n]);
                let t = time(cuda, args, || cuda.copy_strided(&x, &l))?;
                emit(cuda, &kern, t, ("gbps", gbps(bytes, t)));
            }
        }

        for s in [256usize, 512, 1024, 2048, 4096] {
            let case = format!("sgemm/{s}");
            if !args.want(&case) {
                continue;
            }
            let a = cuda.random::<f32>(s * s, NORMAL, 2)?;
            let b = cuda.random::<f32>(s * s, NORMAL, 3)?;
            let l = Layout::contiguous(vec![1, s, s]);
            let t = time(cuda, args, || cuda.matmul(&a, &l, &b, &l))?;
            let flop = 2.0 * (s * s * s) as f64;
            emit(cuda, &case, t, ("gflops", flop / t.0 / 1e6));
        }

        for n in [1usize << 24, 1 << 28] {
            let wanted = |op: &str| args.want(&format!("{op}/{n}"));
            if !(wanted("add") || wanted("mul") || wanted("exp")) {
                continue;
            }
            let l = Layout::contiguous(vec![n]);
            let x = cuda.random::<f32>(n, NORMAL, 4)?;
            let y = cuda.random::<f32>(n, NORMAL, 5)?;
            for (op, name) in [(BinaryOp::Add, "add"), (BinaryOp::Mul, "mul")] {
                if wanted(name) {
                    let t = time(cuda, args, || cuda.binary(op, &x, &l, &y, &l))?;
                    let case = format!("{name}/{n}");
                    emit(cuda, &case, t, ("gbps", gbps(12.0 * n as f64, t)));
                }
            }
            if wanted("exp") {
                let t = time(cuda, args, || cuda.unary(UnaryOp::Exp, &x, &l))?;
                emit(
                    cuda,
                    &format!("exp/{n}"),
                    t,
                    ("gbps", gbps(8.0 * n as f64, t)),
                );
            }
        }

        let (sum_all, sum_last) = ("sum_all/4096x4096", "sum_last/4096x4096");
        if args.want(sum_all) || args.want(sum_last) {
            let m = cuda.random::<f32>(4096 * 4096, NORMAL, 6)?;
            let l = Layout::contiguous(vec![4096, 4096]);
            let bytes = 4.0 * 4096.0 * 4096.0;
            if args.want(sum_all) {
                let t = time(cuda, args, || cuda.reduce(ReduceOp::Sum, &m, &l, &[0, 1]))?;
                emit(cuda, sum_all, t, ("gbps", gbps(bytes, t)));
            }
            if args.want(sum_last) {
                let t = time(cuda, args, || cuda.reduce(ReduceOp::Sum, &m, &l, &[1]))?;
                emit(cuda, sum_last, t, ("gbps", gbps(bytes, t)));
            }
        }
        Ok(())
    }
}
