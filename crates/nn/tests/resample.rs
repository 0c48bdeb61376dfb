//! `interpolate`/`Upsample` against PyTorch (outputs and input gradients of a weighted-sum loss,
//! read from `fixtures/resample.safetensors`, which `fixtures/make_resample.py` wrote in float64),
//! their errors, and the channel dropouts `Dropout1d`/`Dropout2d`.

use nanotorch_autograd::{manual_seed, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_nn::{
    dropout1d, dropout2d, interpolate, parse_safetensors, Dropout1d, Dropout2d, Forward,
    InterpolateMode, Module, Resize, StateDict, Upsample,
};

type T = Tensor<f64, Cpu>;

use InterpolateMode::{Bilinear, Linear, Nearest, NearestExact, Trilinear};

fn fixture() -> StateDict<f64, Cpu> {
    let bytes = include_bytes!("fixtures/resample.safetensors");
    parse_safetensors::<f64, Cpu>(bytes, "resample.safetensors", &Cpu).unwrap()
}

fn get(fx: &StateDict<f64, Cpu>, name: &str) -> T {
    fx.get(name)
        .unwrap_or_else(|| panic!("fixture has no `{name}`"))
        .clone()
}

fn assert_close(got: &T, want: &T, what: &str) {
    assert_eq!(got.dims(), want.dims(), "{what}: shapes differ");
    let (g, w) = (got.to_vec().unwrap(), want.to_vec().unwrap());
    for (i, (g, w)) in g.iter().zip(&w).enumerate() {
        assert!(
            (g - w).abs() <= 1e-12 * w.abs().max(1.0),
            "{what}[{i}]: {g} vs PyTorch's {w}"
        );
    }
}

/// The cases of `make_resample.py`, with the same arguments.
fn cases() -> Vec<(&'static str, Resize, InterpolateMode, bool)> {
    vec![
        ("nearest_up2", 2.0.into(), Nearest, false),
        ("nearest_size_up", (5, 7).into(), Nearest, false),
        ("nearest_size_down", (2, 3).into(), Nearest, false),
        ("nearest_scale_mixed", (1.7, 0.6).into(), Nearest, false),
        ("nearest_1d", 2.5.into(), Nearest, false),
        ("nearest_3d", 1.5.into(), Nearest, false),
        ("nearest_exact", (5, 3).into(), NearestExact, false),
        ("bilinear_up", (5, 7).into(), Bilinear, false),
        ("bilinear_up_aligned", (5, 7).into(), Bilinear, true),
        ("bilinear_down", (2, 3).into(), Bilinear, false),
        ("bilinear_down_aligned", (2, 3).into(), Bilinear, true),
        ("bilinear_scale_mixed", (1.7, 0.6).into(), Bilinear, false),
        ("bilinear_scale_aligned", 2.5.into(), Bilinear, true),
        ("linear_scale", 1.5.into(), Linear, false),
        ("linear_to_one_aligned", 1.into(), Linear, true),
        ("trilinear", (3, 2, 3).into(), Trilinear, false),
    ]
}

#[test]
fn interpolate_matches_pytorch_values_and_gradients() {
    let fx = fixture();
    for (name, resize, mode, align) in cases() {
        let x = get(&fx, &format!("{name}.x")).requires_grad_(true);
        let y = interpolate(&x, resize, mode, align).unwrap();
        assert_close(&y, &get(&fx, &format!("{name}.out")), name);
        y.mul(&get(&fx, &format!("{name}.w")))
            .unwrap()
            .sum()
            .unwrap()
            .backward()
            .unwrap();
        let grad = x.grad().expect("the input has a gradient");
        assert_close(&grad, &get(&fx, &format!("{name}.grad")), name);
    }
}

#[test]
fn interpolate_in_f32_agrees_with_pytorch_to_f32_precision() {
    let fx = fixture();
    for (name, resize, mode, align) in cases() {
        let x = get(&fx, &format!("{name}.x")).cast::<f32>().unwrap();
        let y = interpolate(&x, resize, mode, align).unwrap();
        let want = get(&fx, &format!("{name}.out")).to_vec().unwrap();
        assert_eq!(y.numel(), want.len(), "{name}");
        for (g, w) in y.to_vec().unwrap().iter().zip(&want) {
            assert!((f64::from(*g) - w).abs() < 1e-5, "{name}: {g} vs {w}");
        }
    }
}

#[test]
fn upsample_is_interpolate_with_the_layer_options() {
    let fx = fixture();
    let x = get(&fx, "bilinear_up_aligned.x");
    let layer = Upsample::new((5, 7)).mode(Bilinear).align_corners(true);
    let y = Forward::forward(&layer, &x).unwrap();
    assert_close(&y, &get(&fx, "bilinear_up_aligned.out"), "Upsample");
    assert_eq!(layer.to_string(), "Upsample(size=(5, 7), mode='bilinear')");
    assert_eq!(
        Upsample::new(2.0).to_string(),
        "Upsample(scale_factor=2.0, mode='nearest')"
    );
    assert!(Module::<f64, Cpu>::parameters(&layer).is_empty());
}

#[test]
fn a_size_equal_to_the_input_copies_whatever_the_factor() {
    // floor(3 · 1.2) = 3: PyTorch copies rather than resample with 1/1.2
    let x = T::from_vec(vec![1.0, 5.0, 2.0], [1, 1, 3], &Cpu).unwrap();
    for mode in [Nearest, Linear] {
        let y = interpolate(&x, 1.2, mode, false).unwrap();
        assert_eq!(y.to_vec().unwrap(), vec![1.0, 5.0, 2.0]);
    }
}

fn error(x: &T, resize: impl Into<Resize>, mode: InterpolateMode, align: bool) -> String {
    let e = interpolate(x, resize, mode, align).unwrap_err().to_string();
    assert!(e.starts_with("interpolate: "), "{e}");
    e
}

#[test]
fn interpolate_errors_name_the_op_the_problem_and_the_shape() {
    let x3 = T::zeros([1, 2, 4], &Cpu).unwrap();
    let x4 = T::zeros([1, 2, 4, 4], &Cpu).unwrap();
    let e = error(&x3, 8, Bilinear, false);
    assert!(
        e.contains("'bilinear' needs a 4-D") && e.contains("[1, 2, 4]"),
        "{e}"
    );
    let e = error(&x4, 8, Linear, false);
    assert!(
        e.contains("'linear' needs a 3-D") && e.contains("[1, 2, 4, 4]"),
        "{e}"
    );
    let e = error(&T::zeros([2, 4], &Cpu).unwrap(), 8, Nearest, false);
    assert!(e.contains("3-D to 5-D"), "{e}");
    let e = error(&x4, 8, Nearest, true);
    assert!(e.contains("align_corners"), "{e}");
    let e = error(&x4, (2, 3, 4), Nearest, false);
    assert!(
        e.contains("3 sizes or scale factors for 2 spatial axes"),
        "{e}"
    );
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let e = error(&x4, bad, Bilinear, false);
        assert!(e.contains("not positive and finite"), "{e}");
    }
    let e = error(&x4, 0.1, Nearest, false);
    assert!(e.contains("output size of spatial axis 2 is 0"), "{e}");
    let e = error(&x4, (0, 3), Nearest, false);
    assert!(e.contains("output size"), "{e}");
    let e = error(&T::zeros([1, 1, 0, 3], &Cpu).unwrap(), 2, Nearest, false);
    assert!(e.contains("empty"), "{e}");
}

/// Per leading position (`[n, c]` flattened), the values of `y / x` over the channel's elements:
/// all equal (up to the division's rounding) for a channel mask.
fn channel_factors(x: &T, y: &T, channels: usize) -> Vec<Vec<f64>> {
    let (x, y) = (x.to_vec().unwrap(), y.to_vec().unwrap());
    let per = x.len() / channels;
    (0..channels)
        .map(|c| (0..per).map(|i| y[c * per + i] / x[c * per + i]).collect())
        .collect()
}

/// `x` with no zeros, so a zero in the output can only come from the mask.
fn nonzero(shape: &[usize]) -> T {
    let n: usize = shape.iter().product();
    T::from_vec(
        (0..n).map(|i| 1.0 + i as f64).collect(),
        shape.to_vec(),
        &Cpu,
    )
    .unwrap()
}

#[test]
fn channel_dropout_zeroes_whole_channels_and_scales_the_rest() {
    let p = 0.3;
    let scale = 1.0 / (1.0 - p);
    // (input shape, number of masked positions): [c, l] is unbatched, [n, c, l] and [n, c, h, w]
    // mask (n, c); a 3-D input to dropout2d is [n, c, l], as in PyTorch
    let cases: Vec<(&str, Vec<usize>, usize)> = vec![
        ("dropout1d", vec![40, 3], 40),
        ("dropout1d", vec![5, 8, 3], 40),
        ("dropout2d", vec![5, 8, 2, 3], 40),
        ("dropout2d", vec![5, 8, 3], 40),
    ];
    for (op, shape, channels) in cases {
        manual_seed(7);
        let x = nonzero(&shape);
        let y = match op {
            "dropout1d" => dropout1d(&x, p, true),
            _ => dropout2d(&x, p, true),
        }
        .unwrap();
        let mut dropped = 0;
        for factors in channel_factors(&x, &y, channels) {
            let first = factors[0];
            assert!(
                first == 0.0 || (first - scale).abs() < 1e-12,
                "{op} {shape:?}: factor {first}"
            );
            assert!(
                factors.iter().all(|&f| (f - first).abs() < 1e-12),
                "{op} {shape:?}: a channel is partly dropped: {factors:?}"
            );
            dropped += usize::from(first == 0.0);
        }
        // 40 channels at p = 0.3: 12 expected; both ends keep the test meaningful
        assert!(
            (3..=25).contains(&dropped),
            "{op} {shape:?}: {dropped} of 40 dropped"
        );
    }
}

#[test]
fn the_gradient_is_the_mask() {
    manual_seed(3);
    let x = nonzero(&[4, 6, 2, 2]).requires_grad_(true);
    let y = dropout2d(&x, 0.5, true).unwrap();
    y.sum().unwrap().backward().unwrap();
    let grad = x.grad().unwrap().to_vec().unwrap();
    let ratio: Vec<f64> = y
        .to_vec()
        .unwrap()
        .iter()
        .zip(x.to_vec().unwrap())
        .map(|(y, x)| y / x)
        .collect();
    assert_eq!(grad, ratio);
}

#[test]
fn eval_mode_is_the_identity_and_p_is_checked() {
    let x = nonzero(&[2, 3, 4, 4]);
    let mut layer = Dropout2d::new(0.9);
    Module::<f64, Cpu>::eval(&mut layer);
    let y = layer.forward(&x).unwrap();
    assert_eq!(y.to_vec().unwrap(), x.to_vec().unwrap());
    Module::<f64, Cpu>::train(&mut layer);
    manual_seed(1);
    let y = layer.forward(&x).unwrap();
    assert_ne!(y.to_vec().unwrap(), x.to_vec().unwrap());
    // p = 1 drops everything, p = 0 nothing
    assert!(dropout1d(&nonzero(&[2, 3, 4]), 1.0, true)
        .unwrap()
        .to_vec()
        .unwrap()
        .iter()
        .all(|&v| v == 0.0));
    let x1 = nonzero(&[2, 3, 4]);
    assert_eq!(
        Dropout1d::new(0.0).forward(&x1).unwrap().to_vec().unwrap(),
        x1.to_vec().unwrap()
    );
    let e = Dropout1d::new(1.5).forward(&x1).unwrap_err().to_string();
    assert!(e.starts_with("dropout1d: ") && e.contains("1.5"), "{e}");
    assert_eq!(
        Dropout1d::default().to_string(),
        "Dropout1d(p=0.5, inplace=False)"
    );
}

#[test]
fn channel_dropout_refuses_other_ranks() {
    let e = dropout1d(&nonzero(&[2, 3, 4, 5]), 0.5, true)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("dropout1d: ") && e.contains("[2, 3, 4, 5]"),
        "{e}"
    );
    let e = dropout2d(&nonzero(&[3, 4]), 0.5, false)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("dropout2d: ") && e.contains("[3, 4]"), "{e}");
}
