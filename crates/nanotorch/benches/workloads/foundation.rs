//! The foundation's workloads: GEMM, element-wise maps and reductions on `NDArray`, with the case
//! names of torch_bench.py; on the CPU also `raw_sgemm/...`, matrixmultiply called directly (one
//! thread: its `threading` feature is off, our backend tiles GEMMs over its own helper threads). With
//! `--threads 1` that is the ceiling of our GEMM path (the target: at least 0.95 of its
//! GFLOP/s); with more threads the ratio is what our tiling gains over one call.

use crate::harness::Bench;
use nanotorch::array::{Backend, NDArray, RandomDist};

type Res = Result<(), Box<dyn std::error::Error>>;

const NORMAL: RandomDist = RandomDist::Normal {
    mean: 0.0,
    std: 1.0,
};

/// Every foundation case selected by `bench`.
pub fn run<B: Backend>(backend: &B, bench: &Bench) -> Res {
    let gemms: [(&str, usize, usize, usize); 6] = [
        ("sgemm/64", 64, 64, 64),
        ("sgemm/128", 128, 128, 128),
        ("sgemm/256", 256, 256, 256),
        ("sgemm/512", 512, 512, 512),
        ("sgemm/1024", 1024, 1024, 1024),
        ("sgemm/128x784x256", 128, 784, 256),
    ];
    for (case, m, k, n) in gemms {
        let flop = 2.0 * (m * n * k) as f64;
        if bench.want(case) {
            let a = NDArray::<f32, B>::random([m, k], NORMAL, 1, backend)?;
            let b = NDArray::<f32, B>::random([k, n], NORMAL, 2, backend)?;
            let t = bench.time(backend, || a.matmul(&b).expect("matmul"))?;
            bench.emit(case, t, Some(("gflops", flop / t.0 / 1e6)));
        }
        let raw = format!("raw_{case}");
        if bench.device == "cpu" && bench.want(&raw) {
            let t = raw_sgemm(bench, backend, m, k, n)?;
            bench.emit(&raw, t, Some(("gflops", flop / t.0 / 1e6)));
        }
    }

    let case = "dgemm/512";
    if bench.want(case) {
        let a = NDArray::<f64, B>::random([512, 512], NORMAL, 1, backend)?;
        let b = NDArray::<f64, B>::random([512, 512], NORMAL, 2, backend)?;
        let t = bench.time(backend, || a.matmul(&b).expect("matmul"))?;
        bench.emit(case, t, Some(("gflops", 2.0 * 512f64.powi(3) / t.0 / 1e6)));
    }

    for n in [1usize << 20, 1 << 24] {
        let wanted = |op: &str| bench.want(&format!("{op}/{n}"));
        if !(wanted("add") || wanted("mul") || wanted("exp")) {
            continue;
        }
        let x = NDArray::<f32, B>::random([n], NORMAL, 3, backend)?;
        let y = NDArray::<f32, B>::random([n], NORMAL, 4, backend)?;
        if wanted("add") {
            let t = bench.time(backend, || x.add(&y).expect("add"))?;
            bench.emit(
                &format!("add/{n}"),
                t,
                Some(("gbps", 12.0 * n as f64 / t.0 / 1e6)),
            );
        }
        if wanted("mul") {
            let t = bench.time(backend, || x.mul(&y).expect("mul"))?;
            bench.emit(
                &format!("mul/{n}"),
                t,
                Some(("gbps", 12.0 * n as f64 / t.0 / 1e6)),
            );
        }
        if wanted("exp") {
            let t = bench.time(backend, || x.exp().expect("exp"))?;
            bench.emit(
                &format!("exp/{n}"),
                t,
                Some(("gbps", 8.0 * n as f64 / t.0 / 1e6)),
            );
        }
    }

    unary_cases::<f32, B>(backend, bench, "f32")?;
    unary_cases::<f64, B>(backend, bench, "f64")?;

    let (sum_all, sum_last) = ("sum_all/4096x4096", "sum_last/4096x4096");
    if bench.want(sum_all) || bench.want(sum_last) {
        let m = NDArray::<f32, B>::random([4096, 4096], NORMAL, 5, backend)?;
        let bytes = 4.0 * 4096.0 * 4096.0;
        if bench.want(sum_all) {
            let t = bench.time(backend, || m.sum_all().expect("sum_all"))?;
            bench.emit(sum_all, t, Some(("gbps", bytes / t.0 / 1e6)));
        }
        if bench.want(sum_last) {
            let t = bench.time(backend, || {
                m.sum(&[-1], false).expect("sum over the last axis")
            })?;
            bench.emit(sum_last, t, Some(("gbps", bytes / t.0 / 1e6)));
        }
    }
    Ok(())
}

/// The transcendental unary ops on 1M elements of one dtype, `unary/<op>_<dtype>/1048576`
/// (`--only unary` selects them all): the vectorised FMA polynomials of chapter 2.
fn unary_cases<E: nanotorch::array::Float, B: Backend>(
    backend: &B,
    bench: &Bench,
    dtype: &str,
) -> Res {
    use nanotorch::array::UnaryOp;
    const OPS: [UnaryOp; 9] = [
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::GeluErf,
        UnaryOp::GeluErfGrad,
        UnaryOp::GeluTanh,
        UnaryOp::Silu,
        UnaryOp::Softplus,
    ];
    let n = 1usize << 20;
    let mut x = None;
    for op in OPS {
        let case = format!("unary/{}_{dtype}/{n}", op.name());
        if !bench.want(&case) {
            continue;
        }
        if x.is_none() {
            // |N(0, 1)| + 0.01 keeps log's input positive and every other op in its busy range.
            let r = NDArray::<E, B>::random([n], NORMAL, 6, backend)?;
            x = Some(r.abs()?.add_scalar(E::from_f64(0.01))?);
        }
        let x = x.as_ref().expect("made above");
        let t = bench.time(backend, || x.unary(op).expect("unary"))?;
        let bytes = 2.0 * (n * std::mem::size_of::<E>()) as f64;
        bench.emit(&case, t, Some(("gbps", bytes / t.0 / 1e6)));
    }
    Ok(())
}

/// `C = A·B` straight through `matrixmultiply::sgemm` on row-major buffers, the output allocated
/// per call as our matmul must.
fn raw_sgemm<B: Backend>(
    bench: &Bench,
    backend: &B,
    m: usize,
    k: usize,
    n: usize,
) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let a: Vec<f32> = (0..m * k)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    let b: Vec<f32> = (0..k * n)
        .map(|i| ((i * 104729) % 1000) as f32 / 1000.0 - 0.5)
        .collect();
    bench.time(backend, || {
        let mut c = vec![0f32; m * n];
        // SAFETY: `a` is m×k, `b` is k×n and `c` is m×n, all row-major and alive for the call;
        // the strides below stay inside them.
        unsafe {
            matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
                a.as_ptr(),
                k as isize,
                1,
                b.as_ptr(),
                n as isize,
                1,
                0.0,
                c.as_mut_ptr(),
                n as isize,
                1,
            );
        }
        c
    })
}
