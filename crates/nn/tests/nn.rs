//! Layers, losses, state dicts and checkpoints on hand-checked cases.

use nanotorch_autograd::{manual_seed, no_grad, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_nn::functional::{
    cross_entropy, cross_entropy_with, huber_loss, l1_loss, mse_loss, smooth_l1_loss,
};
use nanotorch_nn::{
    load_safetensors, parse_safetensors, save_safetensors, to_safetensors_bytes, Dropout,
    LeakyReLU, Linear, LogSoftmax, Module, ReLU, Reduction, Sequential, Softmax, StateDict, Tanh,
};

type T = Tensor<f64, Cpu>;

fn t(data: &[f64], shape: &[usize]) -> T {
    Tensor::from_slice(data, shape.to_vec(), &Cpu).unwrap()
}

fn mlp() -> Sequential<f64, Cpu> {
    Sequential::new()
        .append(Linear::new(3, 4, &Cpu).unwrap())
        .append(ReLU)
        .append(Dropout::new(0.5))
        .append(Linear::new(4, 2, &Cpu).unwrap())
}

#[test]
fn cross_entropy_matches_the_definition() {
    // Row 0: logits (1, 2, 3), target 2: −ln(e³/(e¹+e²+e³)) = ln(1 + e⁻¹ + e⁻²) = 0.40760596.
    // Row 1: logits (0, 0, 0), target 0: ln 3 = 1.09861229.
    let logits = t(&[1.0, 2.0, 3.0, 0.0, 0.0, 0.0], &[2, 3]);
    let targets = Tensor::from_vec(vec![2i64, 0], [2], &Cpu).unwrap();
    let row0 = (1.0 + (-1.0f64).exp() + (-2.0f64).exp()).ln();
    let row1 = 3f64.ln();
    let mean = cross_entropy(&logits, &targets).unwrap().item().unwrap();
    assert!((mean - (row0 + row1) / 2.0).abs() < 1e-12);
    let none = cross_entropy_with(&logits, &targets, Reduction::None)
        .unwrap()
        .to_vec()
        .unwrap();
    assert!((none[0] - 0.40760596444).abs() < 1e-10 && (none[1] - 1.09861228867).abs() < 1e-10);
    let sum = cross_entropy_with(&logits, &targets, Reduction::Sum)
        .unwrap()
        .item()
        .unwrap();
    assert!((sum - (row0 + row1)).abs() < 1e-12);
}

#[test]
fn regression_losses_match_the_definitions() {
    let a = t(&[1.0, -2.0, 3.0], &[3]);
    let b = t(&[0.5, 0.0, 3.0], &[3]);
    // (0.25 + 4 + 0) / 3 and (0.5 + 2 + 0) / 3
    assert!(
        (mse_loss(&a, &b, Reduction::Mean).unwrap().item().unwrap() - 4.25 / 3.0).abs() < 1e-12
    );
    assert!((l1_loss(&a, &b, Reduction::Sum).unwrap().item().unwrap() - 2.5).abs() < 1e-12);
    let err = mse_loss(&a, &t(&[1.0], &[1]), Reduction::Mean)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("mse_loss") && err.contains("[3]") && err.contains("[1]"),
        "{err}"
    );
}

#[test]
fn smooth_l1_and_huber_match_pytorch_formulas() {
    // d = input − target = [0.25, -2.0, 0.0, 1.0]
    let a = t(&[1.25, -2.0, 3.0, 1.0], &[4]);
    let b = t(&[1.0, 0.0, 3.0, 0.0], &[4]);
    // smooth_l1, beta = 0.5: |d| < 0.5 -> 0.5·d²/0.5 = d², else |d| − 0.25
    //   [0.0625, 1.75, 0.0, 0.75], sum 2.5625, mean 0.640625
    let s = smooth_l1_loss(&a, &b, Reduction::None, 0.5).unwrap();
    let want = [0.0625, 1.75, 0.0, 0.75];
    for (g, w) in s.to_vec().unwrap().iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "{g} vs {w}");
    }
    let m = smooth_l1_loss(&a, &b, Reduction::Mean, 0.5).unwrap();
    assert!((m.item().unwrap() - 0.640625).abs() < 1e-12);
    // beta = 0 is L1: 0.25 + 2 + 0 + 1 = 3.25
    let l1 = smooth_l1_loss(&a, &b, Reduction::Sum, 0.0).unwrap();
    assert!((l1.item().unwrap() - 3.25).abs() < 1e-12);
    // huber, delta = 1.5: |d| < 1.5 -> 0.5·d², else 1.5·(|d| − 0.75)
    //   [0.03125, 1.5·1.25 = 1.875, 0.0, 0.5], sum 2.40625
    let h = huber_loss(&a, &b, Reduction::Sum, 1.5).unwrap();
    assert!((h.item().unwrap() - 2.40625).abs() < 1e-12);
    assert!(huber_loss(&a, &b, Reduction::Sum, 0.0).is_err());
    assert!(smooth_l1_loss(&a, &b, Reduction::Sum, -1.0).is_err());
}

#[test]
fn leaky_relu_softmax_log_softmax_match_their_formulas() {
    let x = t(&[-2.0, 0.0, 3.0], &[3]);
    // slope 0.1: [-0.2, 0, 3]; default slope is PyTorch's 0.01
    let y = LeakyReLU::new(0.1).forward(&x).unwrap().to_vec().unwrap();
    assert_eq!(y, vec![-0.2, 0.0, 3.0]);
    assert_eq!(LeakyReLU::default().negative_slope, 0.01);
    // softmax([0, ln 3]) along dim 1 = [1/4, 3/4]; log of that = [-ln 4, ln 3 - ln 4]
    let z = t(&[0.0, 3f64.ln(), 0.0, 0.0], &[2, 2]);
    let s = Softmax::new(1).forward(&z).unwrap().to_vec().unwrap();
    for (g, w) in s.iter().zip([0.25, 0.75, 0.5, 0.5]) {
        assert!((g - w).abs() < 1e-12, "{g} vs {w}");
    }
    let l = LogSoftmax::new(-1).forward(&z).unwrap().to_vec().unwrap();
    let want = [
        -(4f64.ln()),
        3f64.ln() - 4f64.ln(),
        -(2f64.ln()),
        -(2f64.ln()),
    ];
    for (g, w) in l.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "{g} vs {w}");
    }
    assert_eq!(
        format!("{}", LeakyReLU::new(0.2)),
        "LeakyReLU(negative_slope=0.2)"
    );
}

#[test]
fn functional_activations_match_their_formulas() {
    use nanotorch_nn::functional::{gelu, leaky_relu, softmax};
    let x = t(&[1.0, -3.0], &[2]);
    // gelu_tanh(1) = 0.5·(1 + tanh(√(2/π)·(1 + 0.044715))) = 0.8411919906082768
    // gelu(1) = 0.5·(1 + erf(1/√2)) = 0.8413447460685429
    let g = gelu(&x, true).unwrap().to_vec().unwrap();
    assert!((g[0] - 0.8411919906082768).abs() < 1e-12, "{}", g[0]);
    let g = gelu(&x, false).unwrap().to_vec().unwrap();
    assert!((g[0] - 0.8413447460685429).abs() < 1e-12, "{}", g[0]);
    // leaky_relu slope 0.5: [1, -1.5]
    assert_eq!(
        leaky_relu(&x, 0.5).unwrap().to_vec().unwrap(),
        vec![1.0, -1.5]
    );
    // softmax([1, -3]) = [1, e^-4] / (1 + e^-4)
    let s = softmax(&x, 0).unwrap().to_vec().unwrap();
    assert!((s[0] - 1.0 / (1.0 + (-4f64).exp())).abs() < 1e-12);
}

#[test]
fn normal_inits_have_pytorch_std() {
    use nanotorch_nn::init::{kaiming_normal, ones, xavier_normal, zeros, FanMode};
    manual_seed(5);
    let std = |v: Vec<f64>| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    };
    // [out 400, in 100], relu gain √2: fan_in std √2/10 ≈ 0.1414, fan_out std √2/20 ≈ 0.0707
    let w: T = kaiming_normal([400, 100], None, FanMode::FanIn, "relu", &Cpu).unwrap();
    let s = std(w.to_vec().unwrap());
    assert!((s - 2f64.sqrt() / 10.0).abs() < 0.005, "{s}");
    let w: T = kaiming_normal([400, 100], None, FanMode::FanOut, "relu", &Cpu).unwrap();
    let s = std(w.to_vec().unwrap());
    assert!((s - 2f64.sqrt() / 20.0).abs() < 0.0025, "{s}");
    // xavier gain 1: √(2/500) ≈ 0.0632
    let w: T = xavier_normal([400, 100], 1.0, &Cpu).unwrap();
    let s = std(w.to_vec().unwrap());
    assert!((s - (2.0f64 / 500.0).sqrt()).abs() < 0.0025, "{s}");
    let z: T = zeros([2, 3], &Cpu).unwrap();
    assert!(z.requires_grad() && z.to_vec().unwrap().iter().all(|&v| v == 0.0));
    let o: T = ones([3], &Cpu).unwrap();
    assert_eq!(o.to_vec().unwrap(), vec![1.0; 3]);
}

#[test]
fn linear_has_pytorch_layout_and_init_bounds() {
    manual_seed(5);
    let layer = Linear::<f32, Cpu>::new(100, 7, &Cpu).unwrap();
    assert_eq!(layer.weight.dims(), &[7, 100]);
    assert_eq!(layer.bias.as_ref().unwrap().dims(), &[7]);
    let bound = 0.1f32; // 1/√100
    let w = layer.weight.to_vec().unwrap();
    assert!(w.iter().all(|v| v.abs() <= bound));
    assert!(
        w.iter().any(|v| v.abs() > 0.9 * bound),
        "draws should fill the interval"
    );
    let x = Tensor::<f32, Cpu>::ones([5, 100], &Cpu).unwrap();
    assert_eq!(layer.forward(&x).unwrap().dims(), &[5, 7]);
    let err = layer
        .forward(&Tensor::ones([5, 99], &Cpu).unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("Linear") && err.contains("[5, 99]"), "{err}");
}

#[test]
fn named_parameters_use_pytorch_names() {
    let names: Vec<String> = mlp()
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["0.weight", "0.bias", "3.weight", "3.bias"]);
}

#[test]
fn eval_reaches_children() {
    manual_seed(1);
    let mut model = mlp();
    let x = t(&[0.5, -1.0, 2.0], &[1, 3]);
    model.eval();
    let a = model.forward(&x).unwrap().to_vec().unwrap();
    let b = model.forward(&x).unwrap().to_vec().unwrap();
    assert_eq!(a, b, "no dropout in eval mode");
    model.train();
    let outs: Vec<Vec<f64>> = (0..8)
        .map(|_| model.forward(&x).unwrap().to_vec().unwrap())
        .collect();
    assert!(
        outs.iter().any(|o| o != &a),
        "dropout is active in training mode"
    );
}

#[test]
fn state_dict_round_trip_through_a_checkpoint() {
    manual_seed(2);
    let mut model = mlp();
    model.eval();
    let dir = std::env::temp_dir().join(format!("nanotorch-nn-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");
    save_safetensors(&model.state_dict(), &path).unwrap();
    let mut fresh = mlp();
    fresh.eval();
    let x = t(&[0.5, -1.0, 2.0, 1.0, 1.0, 1.0], &[2, 3]);
    assert_ne!(
        fresh.forward(&x).unwrap().to_vec().unwrap(),
        model.forward(&x).unwrap().to_vec().unwrap()
    );
    let loaded: StateDict<f64, Cpu> = load_safetensors(&path, &Cpu).unwrap();
    fresh.load_state_dict(&loaded, true).unwrap();
    assert_eq!(
        fresh.forward(&x).unwrap().to_vec().unwrap(),
        model.forward(&x).unwrap().to_vec().unwrap()
    );
    // Atomic write: no temporary file is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .collect();
    assert_eq!(leftovers.len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_checkpoints_are_clear_errors() {
    let state = mlp().state_dict();
    let good = to_safetensors_bytes(&state).unwrap();
    let parse = |bytes: &[u8]| {
        parse_safetensors::<f64, Cpu>(bytes, "test", &Cpu)
            .map(|_| ())
            .unwrap_err()
            .to_string()
    };
    assert!(parse(&good[..5]).contains("too short"));
    let truncated = parse(&good[..good.len() - 4]);
    assert!(truncated.contains("outside"), "{truncated}");
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(parse(&huge).contains("header length"));
    let mut not_json = good.clone();
    not_json[8] = b'#';
    assert!(parse(&not_json).contains("not valid JSON"));
    // A header whose offsets point past the end of the data.
    let header = br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8000]}}"#;
    let mut forged = (header.len() as u64).to_le_bytes().to_vec();
    forged.extend_from_slice(header);
    forged.extend_from_slice(&[0u8; 8]);
    assert!(parse(&forged).contains("outside"));
    // Shape and byte span that disagree.
    let header = br#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#;
    let mut forged = (header.len() as u64).to_le_bytes().to_vec();
    forged.extend_from_slice(header);
    forged.extend_from_slice(&[0u8; 8]);
    assert!(parse(&forged).contains("needs 12 bytes"));
}

#[test]
fn load_state_dict_rejects_missing_unexpected_and_misshapen_keys() {
    let model = mlp();
    let mut state = model.state_dict();
    state.remove("3.bias");
    assert!(model
        .load_state_dict(&state, true)
        .unwrap_err()
        .to_string()
        .contains("missing key `3.bias`"));
    model.load_state_dict(&state, false).unwrap();
    let mut state = model.state_dict();
    state.insert("extra".into(), t(&[1.0], &[1]));
    assert!(model
        .load_state_dict(&state, true)
        .unwrap_err()
        .to_string()
        .contains("unexpected key `extra`"));
    let mut state = model.state_dict();
    state.insert("0.bias".into(), t(&[1.0], &[1]));
    let err = model.load_state_dict(&state, true).unwrap_err().to_string();
    assert!(
        err.contains("0.bias") && err.contains("[4]") && err.contains("[1]"),
        "{err}"
    );
}

#[test]
fn reads_a_file_written_by_python_safetensors() {
    // Written by tests/data/make_fixture.py with the `safetensors` package:
    // a = [[1, 2, 3], [4, 5, 6]] (F32), b = [0.5, -0.25] (F64).
    let bytes = include_bytes!("data/fixture.safetensors");
    let state = parse_safetensors::<f64, Cpu>(bytes, "fixture", &Cpu).unwrap();
    assert_eq!(state["a"].dims(), &[2, 3]);
    assert_eq!(
        state["a"].to_vec().unwrap(),
        vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    );
    assert_eq!(state["b"].to_vec().unwrap(), vec![0.5, -0.25]);
}

/// Trains `model` with plain SGD on full batches and returns the final loss.
fn fit(model: &Sequential<f64, Cpu>, x: &T, loss: impl Fn(&T) -> T, steps: usize, lr: f64) -> f64 {
    let mut last = f64::INFINITY;
    for _ in 0..steps {
        let l = loss(&model.forward(x).unwrap());
        l.backward().unwrap();
        no_grad(|| {
            for p in model.parameters() {
                let g = p.grad().unwrap();
                p.array()
                    .assign(&p.array().sub(&g.array().mul_scalar(lr).unwrap()).unwrap())
                    .unwrap();
                p.zero_grad();
            }
        });
        last = l.item().unwrap();
    }
    last
}

#[test]
fn an_mlp_fits_xor() {
    manual_seed(3);
    let model = Sequential::new()
        .append(Linear::new(2, 8, &Cpu).unwrap())
        .append(Tanh)
        .append(Linear::new(8, 2, &Cpu).unwrap());
    let x = t(&[0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], &[4, 2]);
    let y = Tensor::from_vec(vec![0i64, 1, 1, 0], [4], &Cpu).unwrap();
    let loss = fit(&model, &x, |out| cross_entropy(out, &y).unwrap(), 500, 0.5);
    assert!(loss < 0.05, "XOR loss {loss}");
    let predicted = model
        .forward(&x)
        .unwrap()
        .argmax(Some(1), false)
        .unwrap()
        .to_vec()
        .unwrap();
    assert_eq!(predicted, vec![0, 1, 1, 0]);
}

#[test]
fn an_mlp_fits_a_small_regression() {
    manual_seed(4);
    // y = sin(x) on 32 points in [-3, 3].
    let xs: Vec<f64> = (0..32).map(|i| -3.0 + 6.0 * i as f64 / 31.0).collect();
    let x = t(&xs, &[32, 1]);
    let y = t(&xs.iter().map(|v| v.sin()).collect::<Vec<_>>(), &[32, 1]);
    let model = Sequential::new()
        .append(Linear::new(1, 32, &Cpu).unwrap())
        .append(Tanh)
        .append(Linear::new(32, 1, &Cpu).unwrap());
    let loss = fit(
        &model,
        &x,
        |out| mse_loss(out, &y, Reduction::Mean).unwrap(),
        2000,
        0.1,
    );
    assert!(loss < 0.01, "regression MSE {loss}");
}
