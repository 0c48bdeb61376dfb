//! `batch_norm`'s fused training node (one backend kernel each way, per channel) against the same
//! normalisation composed here from recorded ops, `(x − mean)·(var + eps)^(−1/2)·w + b` with the
//! statistics over the batch and every axis but the channel: values, first derivatives of the
//! input, weight and bias, second derivatives (under `create_graph` the node differentiates its
//! closed form), and the running statistics it moves (mean, and the unbiased variance).

mod fused_norm;

use fused_norm::{close, randn, same_derivatives, upstream};
use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::Float;
use nanotorch_nn::functional::{batch_norm, RunningStats};

const EPS: f64 = 1e-5;

/// The definition, composed from recorded ops.
fn composed<E: Float>(
    x: &Tensor<E, Cpu>,
    w: Option<&Tensor<E, Cpu>>,
    b: Option<&Tensor<E, Cpu>>,
) -> Tensor<E, Cpu> {
    let axes: Vec<isize> = std::iter::once(0).chain(2..x.rank() as isize).collect();
    let mut view = vec![x.dims()[1]];
    view.resize(x.rank() - 1, 1);
    let centered = x.sub(&x.mean_dims(&axes, true).unwrap()).unwrap();
    let var = centered.square().unwrap().mean_dims(&axes, true).unwrap();
    let rstd = var.add_scalar(E::from_f64(EPS)).unwrap().rsqrt().unwrap();
    let mut y = centered.mul(&rstd).unwrap();
    if let Some(w) = w {
        y = y.mul(&w.reshape(view.clone()).unwrap()).unwrap();
    }
    if let Some(b) = b {
        y = y.add(&b.reshape(view).unwrap()).unwrap();
    }
    y
}

fn check<E: Float>(dims: &[usize], affine: (bool, bool), tol: f64, seed: u64) {
    let c = dims[1];
    let x = randn::<E>(dims, seed);
    let w = affine.0.then(|| randn::<E>(&[c], seed + 1));
    let b = affine.1.then(|| randn::<E>(&[c], seed + 2));
    let upstream = upstream::<E>(dims, seed + 3);
    let mut leaves = vec![&x];
    leaves.extend(w.as_ref());
    leaves.extend(b.as_ref());
    let what = format!("{dims:?}, affine {affine:?}");

    // Running statistics start at 0 and 1 and move by momentum 0.1 toward the batch's.
    let (mean, var) = (
        Tensor::<E, Cpu>::zeros([c], &Cpu).unwrap(),
        Tensor::<E, Cpu>::ones([c], &Cpu).unwrap(),
    );
    let stats = RunningStats {
        mean: &mean,
        var: &var,
        momentum: 0.1,
    };
    let fused = batch_norm(&x, Some(stats), w.as_ref(), b.as_ref(), true, EPS).unwrap();
    let reference = composed(&x, w.as_ref(), b.as_ref());
    close(&fused, &reference, tol, &format!("values, {what}"));

    let axes: Vec<isize> = std::iter::once(0).chain(2..x.rank() as isize).collect();
    let count = (x.numel() / c) as f64;
    let batch_mean = x.mean_dims(&axes, false).unwrap();
    let batch_var = x.var_dims(&axes, 0, false).unwrap();
    let want_mean = batch_mean.mul_scalar(E::from_f64(0.1)).unwrap();
    let want_var = batch_var
        .mul_scalar(E::from_f64(0.1 * count / (count - 1.0)))
        .unwrap()
        .add_scalar(E::from_f64(0.9))
        .unwrap();
    close(&mean, &want_mean, tol, &format!("running mean, {what}"));
    close(&var, &want_var, tol, &format!("running var, {what}"));

    same_derivatives((&fused, &reference), &leaves, &upstream, tol, &what);
}

#[test]
fn fused_batch_norm_matches_the_definition_in_f64() {
    let mut seed = 1;
    for dims in [
        &[4usize, 3][..],
        &[2, 3, 5],
        &[3, 4, 5, 6],
        &[16, 5, 1, 1],
        &[2, 2, 17],
        // Runs of 64 and more are taken a channel at a time, shorter ones a row at a time.
        &[3, 2, 70],
    ] {
        for affine in [(true, true), (true, false), (false, true), (false, false)] {
            check::<f64>(dims, affine, 1e-12, seed);
            seed += 10;
        }
    }
}

#[test]
fn fused_batch_norm_matches_the_definition_in_f32_on_threaded_sizes() {
    // resnet18's first stage on 16 images of 32×32, split across threads where there are several.
    check::<f32>(&[16, 64, 8, 8], (true, true), 2e-5, 7);
    // Its last two stages, whose planes are 2×2 and 1×1: taken a sample row at a time.
    check::<f32>(&[16, 256, 2, 2], (true, true), 2e-5, 8);
    check::<f32>(&[16, 512, 1, 1], (true, false), 2e-5, 9);
}
