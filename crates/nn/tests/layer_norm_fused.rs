//! `layer_norm`'s fused node (one backend kernel each way) against the same normalisation
//! composed here from recorded ops, `(x − mean)·(var + eps)^(−1/2)·w + b`: values, first
//! derivatives of the input, weight and bias, and second derivatives (under `create_graph` the
//! fused node differentiates its closed form). Shapes cover one and several normalised axes,
//! rows that are not a multiple of the kernel's 16 lanes, more rows than one block of the
//! weight-gradient sums, and arrays big enough to be split across threads.

mod fused_norm;

use fused_norm::{close, randn, same_derivatives, upstream};
use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::Float;
use nanotorch_nn::functional::layer_norm;

const EPS: f64 = 1e-5;

/// The definition, composed from recorded ops.
fn composed<E: Float>(
    x: &Tensor<E, Cpu>,
    normalized: &[usize],
    w: Option<&Tensor<E, Cpu>>,
    b: Option<&Tensor<E, Cpu>>,
) -> Tensor<E, Cpu> {
    let axes: Vec<isize> = (1..=normalized.len() as isize).map(|i| -i).collect();
    let centered = x.sub(&x.mean_dims(&axes, true).unwrap()).unwrap();
    let var = centered.square().unwrap().mean_dims(&axes, true).unwrap();
    let rstd = var.add_scalar(E::from_f64(EPS)).unwrap().rsqrt().unwrap();
    let mut y = centered.mul(&rstd).unwrap();
    if let Some(w) = w {
        y = y.mul(w).unwrap();
    }
    if let Some(b) = b {
        y = y.add(b).unwrap();
    }
    y
}

/// One case: values and first derivatives at `tol`, second derivatives at `tol2`.
fn check<E: Float>(dims: &[usize], normalized: usize, affine: (bool, bool), tol: f64, seed: u64) {
    let norm_shape = &dims[dims.len() - normalized..];
    let x = randn::<E>(dims, seed);
    let w = affine.0.then(|| randn::<E>(norm_shape, seed + 1));
    let b = affine.1.then(|| randn::<E>(norm_shape, seed + 2));
    let upstream = upstream::<E>(dims, seed + 3);
    let mut leaves = vec![&x];
    leaves.extend(w.as_ref());
    leaves.extend(b.as_ref());
    let what = format!("{dims:?} over {norm_shape:?}, affine {affine:?}");

    let fused = layer_norm(&x, norm_shape, w.as_ref(), b.as_ref(), EPS).unwrap();
    let reference = composed(&x, norm_shape, w.as_ref(), b.as_ref());
    close(&fused, &reference, tol, &format!("values, {what}"));

    same_derivatives((&fused, &reference), &leaves, &upstream, tol, &what);
}

#[test]
fn fused_layer_norm_matches_the_definition_in_f64() {
    let mut seed = 1;
    for (dims, normalized) in [
        (&[3usize, 5][..], 1),
        (&[2, 3, 4], 2),
        (&[7, 33], 1),
        (&[70, 48], 1), // more rows than one block of the weight's gradient sums
        (&[9], 1),
    ] {
        for affine in [(true, true), (true, false), (false, true), (false, false)] {
            check::<f64>(dims, normalized, affine, 1e-12, seed);
            seed += 10;
        }
    }
}

#[test]
fn fused_layer_norm_matches_the_definition_in_f32_on_threaded_sizes() {
    // 1024 rows of 128: a GPT step's shape, split across threads when the machine has several.
    check::<f32>(&[16, 64, 128], 1, (true, true), 2e-5, 7);
    check::<f32>(&[300, 37], 1, (true, false), 2e-5, 8);
}
