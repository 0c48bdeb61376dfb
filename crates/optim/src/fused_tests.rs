//! The fused step (the backend's one-pass kernel) against the composed one (whole-array ops) on
//! the CPU: the same arithmetic in the same order, so every parameter must agree to the bit after
//! every step, for every option of every algorithm. The composed path is what a backend without
//! a fused kernel runs; the trajectories of both are also held to independent references in
//! `tests/optimizers.rs` (which runs the fused one).

use crate::update::tests::COMPOSED_ONLY;
use crate::*;
use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Float, Result};

/// Sizes: a scalar, a small matrix, and one large enough for the kernel to split it over the
/// threads (so piece boundaries are exercised).
const SIZES: [&[usize]; 3] = [&[], &[3, 5], &[300, 250]];

/// Deterministic values in about [-2, 2] (a 64-bit LCG), different for each `seed`.
fn values<E: Float>(n: usize, seed: u64) -> Vec<E> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005) ^ 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            E::from_f64(((x >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0)
        })
        .collect()
}

fn params<E: Float>() -> Vec<Tensor<E, Cpu>> {
    SIZES
        .iter()
        .enumerate()
        .map(|(i, dims)| {
            let n = dims.iter().product();
            Tensor::from_slice(&values::<E>(n, i as u64), dims.to_vec(), &Cpu)
                .unwrap()
                .requires_grad_(true)
        })
        .collect()
}

/// Builds an optimizer over the given parameters.
type Make<E> = dyn Fn(Vec<Tensor<E, Cpu>>) -> Result<Box<dyn Optimizer>>;

/// Three steps of the optimizer `make` builds, with fresh gradients each step; the parameters'
/// bits after each step.
fn trajectory<E: Float>(make: &Make<E>, composed: bool) -> Vec<Vec<E>> {
    COMPOSED_ONLY.with(|c| c.set(composed));
    let ps = params::<E>();
    let mut opt = make(ps.clone()).unwrap();
    let mut out = Vec::new();
    for step in 0..3u64 {
        for (i, p) in ps.iter().enumerate() {
            let g = values::<E>(p.numel(), 100 + 10 * step + i as u64);
            p.set_grad(Some(
                Tensor::from_slice(&g, p.dims().to_vec(), &Cpu).unwrap(),
            ));
        }
        opt.step().unwrap();
        out.push(ps.iter().flat_map(|p| p.to_vec().unwrap()).collect());
    }
    COMPOSED_ONLY.with(|c| c.set(false));
    out
}

fn check<E: Float>(name: &str, make: &Make<E>) {
    let fused = trajectory(make, false);
    let composed = trajectory(make, true);
    for (step, (f, c)) in fused.iter().zip(&composed).enumerate() {
        let first_gap = f
            .iter()
            .zip(c)
            .position(|(a, b)| a.to_f64().to_bits() != b.to_f64().to_bits());
        assert!(
            first_gap.is_none(),
            "{name} ({:?}), step {}: element {:?} fused {:?} composed {:?}",
            E::DTYPE,
            step + 1,
            first_gap,
            first_gap.map(|i| f[i]),
            first_gap.map(|i| c[i]),
        );
        // The step moved something (a comparison of two untouched copies would pass vacuously).
        assert!(f
            .iter()
            .zip(
                &params::<E>()
                    .iter()
                    .flat_map(|p| p.to_vec().unwrap())
                    .collect::<Vec<_>>()
            )
            .any(|(a, b)| a != b));
    }
}

macro_rules! cases {
    ($($name:literal => $opt:ident($options:expr);)*) => {
        fn all<E: Float>() {
            $(check::<E>($name, &|ps| Ok(Box::new($opt::new(ps, $options)?)));)*
        }
    };
}

cases! {
    "sgd" => SGD(SgdOptions { lr: 0.1, ..Default::default() });
    "sgd lr 1" => SGD(SgdOptions { lr: 1.0, ..Default::default() });
    "sgd wd maximize" => SGD(SgdOptions { lr: 0.1, weight_decay: 0.01, maximize: true, ..Default::default() });
    "sgd momentum dampening wd" => SGD(SgdOptions { lr: 0.05, momentum: 0.9, dampening: 0.3, weight_decay: 1e-3, ..Default::default() });
    "sgd nesterov maximize" => SGD(SgdOptions { lr: 0.05, momentum: 0.8, nesterov: true, maximize: true, ..Default::default() });
    "sgd nesterov momentum 1" => SGD(SgdOptions { lr: 0.05, momentum: 1.0, nesterov: true, ..Default::default() });
    "adam" => Adam(AdamOptions::default());
    "adam wd amsgrad" => Adam(AdamOptions { lr: 0.01, weight_decay: 0.1, amsgrad: true, ..Default::default() });
    "adam maximize betas" => Adam(AdamOptions { betas: (0.5, 0.0), maximize: true, ..Default::default() });
    "adamw" => AdamW(AdamWOptions::default());
    "adamw amsgrad maximize" => AdamW(AdamWOptions { lr: 0.02, amsgrad: true, maximize: true, ..Default::default() });
    "rmsprop" => RMSprop(RmspropOptions::default());
    "rmsprop momentum" => RMSprop(RmspropOptions { momentum: 0.9, ..Default::default() });
    "rmsprop centered wd" => RMSprop(RmspropOptions { centered: true, weight_decay: 0.1, ..Default::default() });
    "rmsprop momentum centered maximize" => RMSprop(RmspropOptions { momentum: 0.5, centered: true, maximize: true, alpha: 0.9, ..Default::default() });
    "adagrad" => Adagrad(AdagradOptions::default());
    "adagrad decay wd init" => Adagrad(AdagradOptions { lr_decay: 0.1, weight_decay: 0.05, initial_accumulator_value: 0.3, ..Default::default() });
    "adagrad maximize" => Adagrad(AdagradOptions { maximize: true, eps: 1e-3, ..Default::default() });
}

#[test]
fn fused_steps_match_the_composed_steps_to_the_bit_f32() {
    all::<f32>();
}

#[test]
fn fused_steps_match_the_composed_steps_to_the_bit_f64() {
    all::<f64>();
}
