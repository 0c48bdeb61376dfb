//! Times one SGD-with-momentum step over the parameters of the MLP 784-256-128-10 (f32), the
//! optimizer's share of the training-step benchmark: `cargo run --release -p nanotorch-optim
//! --example sgd_step`.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_optim::{Optimizer, SgdOptions, SGD};
use std::time::Instant;

fn main() -> nanotorch_ndarray_core::Result<()> {
    let shapes: [&[usize]; 6] = [&[256, 784], &[256], &[128, 256], &[128], &[10, 128], &[10]];
    let params: Vec<Tensor<f32, Cpu>> = shapes
        .iter()
        .map(|s| Tensor::rand(s.to_vec(), &Cpu).map(|t| t.requires_grad_(true)))
        .collect::<Result<_, _>>()?;
    for p in &params {
        p.set_grad(Some(Tensor::rand(p.dims().to_vec(), &Cpu)?));
    }
    let numel: usize = params.iter().map(|p| p.numel()).sum();
    let mut opt = SGD::new(
        params,
        SgdOptions {
            lr: 1e-3,
            momentum: 0.9,
            ..Default::default()
        },
    )?;
    for _ in 0..20 {
        opt.step()?;
    }
    let runs = 500;
    let start = Instant::now();
    for _ in 0..runs {
        opt.step()?;
    }
    let per = start.elapsed().as_secs_f64() / runs as f64;
    println!(
        "SGD momentum 0.9 step over {numel} f32 parameters: {:.1} µs ({:.2} ns per parameter)",
        per * 1e6,
        per * 1e9 / numel as f64
    );
    Ok(())
}
