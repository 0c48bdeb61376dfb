//! Forward values of the ops autograd composes itself (not single backend kernels), against naive
//! references written plainly here from PyTorch's documented definitions.

use nanotorch_autograd::{manual_seed, Tensor};
use nanotorch_backend_cpu::Cpu;

type T = Tensor<f64, Cpu>;

fn randn(shape: &[usize]) -> T {
    Tensor::randn(shape.to_vec(), &Cpu).unwrap()
}

fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-10 * (1.0 + w.abs()),
            "element {i}: {g} vs {w}"
        );
    }
}

#[test]
fn conv2d_matches_the_definition() {
    manual_seed(1);
    let (n, c, h, w, o, kh, kw) = (2, 3, 6, 5, 4, 3, 2);
    let (stride, pad, dil) = ((2, 1), (1, 0), (1, 2));
    let x = randn(&[n, c, h, w]);
    let k = randn(&[o, c, kh, kw]);
    let b = randn(&[o]);
    let out = x.conv2d(&k, Some(&b), stride, pad, dil).unwrap();
    let oh = (h + 2 * pad.0 - dil.0 * (kh - 1) - 1) / stride.0 + 1;
    let ow = (w + 2 * pad.1 - dil.1 * (kw - 1) - 1) / stride.1 + 1;
    assert_eq!(out.dims(), &[n, o, oh, ow]);
    let (xv, kv, bv) = (
        x.to_vec().unwrap(),
        k.to_vec().unwrap(),
        b.to_vec().unwrap(),
    );
    let mut want = vec![0.0; n * o * oh * ow];
    for ni in 0..n {
        for oi in 0..o {
            for y in 0..oh {
                for z in 0..ow {
                    let mut acc = bv[oi];
                    for ci in 0..c {
                        for i in 0..kh {
                            for j in 0..kw {
                                let row = (y * stride.0 + i * dil.0) as isize - pad.0 as isize;
                                let col = (z * stride.1 + j * dil.1) as isize - pad.1 as isize;
                                if row >= 0 && col >= 0 && (row as usize) < h && (col as usize) < w
                                {
                                    let xi = ((ni * c + ci) * h + row as usize) * w + col as usize;
                                    acc += xv[xi] * kv[((oi * c + ci) * kh + i) * kw + j];
                                }
                            }
                        }
                    }
                    want[((ni * o + oi) * oh + y) * ow + z] = acc;
                }
            }
        }
    }
    assert_close(&out.to_vec().unwrap(), &want);
}

#[test]
fn pooling_matches_the_definition() {
    manual_seed(2);
    let x = randn(&[2, 3, 4, 6]);
    let xv = x.to_vec().unwrap();
    let max = x.max_pool2d((2, 3), (2, 3)).unwrap();
    let avg = x.avg_pool2d((2, 3), (2, 3)).unwrap();
    assert_eq!(max.dims(), &[2, 3, 2, 2]);
    let (mut want_max, mut want_avg) = (vec![], vec![]);
    for nc in 0..6 {
        for y in 0..2 {
            for z in 0..2 {
                let window: Vec<f64> = (0..2)
                    .flat_map(|i| (0..3).map(move |j| (i, j)))
                    .map(|(i, j)| xv[nc * 24 + (y * 2 + i) * 6 + z * 3 + j])
                    .collect();
                want_max.push(window.iter().cloned().fold(f64::NEG_INFINITY, f64::max));
                want_avg.push(window.iter().sum::<f64>() / 6.0);
            }
        }
    }
    assert_close(&max.to_vec().unwrap(), &want_max);
    assert_close(&avg.to_vec().unwrap(), &want_avg);
}

#[test]
fn softmax_family_and_statistics_match_the_definitions() {
    manual_seed(3);
    let x = randn(&[3, 4]).mul_scalar(5.0).unwrap();
    let xv = x.to_vec().unwrap();
    let rows: Vec<&[f64]> = xv.chunks(4).collect();
    let softmax: Vec<f64> = rows
        .iter()
        .flat_map(|r| {
            let z: f64 = r.iter().map(|v| v.exp()).sum();
            r.iter().map(move |v| v.exp() / z)
        })
        .collect();
    assert_close(&x.softmax(-1).unwrap().to_vec().unwrap(), &softmax);
    let log_softmax: Vec<f64> = softmax.iter().map(|p| p.ln()).collect();
    assert_close(&x.log_softmax(1).unwrap().to_vec().unwrap(), &log_softmax);
    let lse: Vec<f64> = rows
        .iter()
        .map(|r| r.iter().map(|v| v.exp()).sum::<f64>().ln())
        .collect();
    assert_close(&x.logsumexp(&[-1], false).unwrap().to_vec().unwrap(), &lse);
    // Unbiased variance and the population standard deviation over axis 0.
    let var: Vec<f64> = (0..4)
        .map(|j| {
            let col: Vec<f64> = rows.iter().map(|r| r[j]).collect();
            let mean = col.iter().sum::<f64>() / 3.0;
            col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / 2.0
        })
        .collect();
    assert_close(&x.var_dims(&[0], 1, false).unwrap().to_vec().unwrap(), &var);
    let std0: Vec<f64> = var.iter().map(|v| (v * 2.0 / 3.0).sqrt()).collect();
    assert_close(
        &x.std_dims(&[0], 0, false).unwrap().to_vec().unwrap(),
        &std0,
    );
}

#[test]
fn piecewise_activations_match_the_definitions() {
    let x = Tensor::from_vec(vec![-2.0f64, -0.5, 0.25, 3.0], [4], &Cpu).unwrap();
    let xv = x.to_vec().unwrap();
    let leaky: Vec<f64> = xv
        .iter()
        .map(|&v| if v > 0.0 { v } else { 0.1 * v })
        .collect();
    assert_close(&x.leaky_relu(0.1).unwrap().to_vec().unwrap(), &leaky);
    let elu: Vec<f64> = xv
        .iter()
        .map(|&v| if v > 0.0 { v } else { 1.5 * (v.exp() - 1.0) })
        .collect();
    assert_close(&x.elu(1.5).unwrap().to_vec().unwrap(), &elu);
    let clamp: Vec<f64> = xv.iter().map(|&v| v.clamp(-1.0, 0.5)).collect();
    assert_close(
        &x.clamp(Some(-1.0), Some(0.5)).unwrap().to_vec().unwrap(),
        &clamp,
    );
}

#[test]
fn dropout_keeps_expected_fraction_and_scales() {
    manual_seed(4);
    let x = Tensor::<f64, Cpu>::ones([10_000], &Cpu).unwrap();
    let y = x.dropout(0.25, true).unwrap().to_vec().unwrap();
    let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / 10_000.0;
    assert!((kept - 0.75).abs() < 0.02, "kept {kept}");
    assert!(y
        .iter()
        .all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-12));
    assert_eq!(
        x.dropout(0.25, false).unwrap().to_vec().unwrap(),
        vec![1.0; 10_000]
    );
    assert!(x.dropout(1.5, true).is_err());
}

#[test]
fn creation_functions() {
    let l = Tensor::<f64, Cpu>::linspace(0.0, 1.0, 5, &Cpu).unwrap();
    assert_eq!(l.to_vec().unwrap(), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    let e = Tensor::<f32, Cpu>::eye(3, &Cpu).unwrap();
    assert_eq!(
        e.to_vec().unwrap(),
        vec![1., 0., 0., 0., 1., 0., 0., 0., 1.]
    );
    manual_seed(9);
    let a = Tensor::<f32, Cpu>::randn([8], &Cpu)
        .unwrap()
        .to_vec()
        .unwrap();
    manual_seed(9);
    let b = Tensor::<f32, Cpu>::randn([8], &Cpu)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(a, b, "manual_seed makes draws reproducible");
    let r = Tensor::<i64, Cpu>::randint(3, 7, [1000], &Cpu)
        .unwrap()
        .to_vec()
        .unwrap();
    assert!(r.iter().all(|v| (3..7).contains(v)) && (3..7).all(|k| r.contains(&k)));
}
