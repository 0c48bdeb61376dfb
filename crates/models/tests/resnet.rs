//! The models' structure, init and training mode (their values against PyTorch's are in
//! `pytorch_fixtures.rs`).

use nanotorch_autograd::{manual_seed, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_models::{
    resnet18, resnet18_with, resnet50_with, resnet9, BlockKind, ResNet, ResNet9Options,
    ResNetOptions,
};
use nanotorch_nn::functional::cross_entropy;
use nanotorch_nn::{Forward, Module};

type T = Tensor<f32, Cpu>;

fn input(shape: [usize; 4]) -> T {
    let n = shape.iter().product::<usize>();
    let data = (0..n).map(|i| ((i as f32) * 0.37).sin()).collect();
    Tensor::from_vec(data, shape, &Cpu).unwrap()
}

fn batch_norms(model: &dyn Module) -> Vec<(String, &dyn Module)> {
    model
        .named_modules()
        .into_iter()
        .filter(|(_, m)| m.module_name() == "BatchNorm2d")
        .collect()
}

/// Sample mean and standard deviation.
fn moments(t: &T) -> (f64, f64) {
    let v = t.to_vec().unwrap();
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| f64::from(x)).sum::<f64>() / n;
    let var = v
        .iter()
        .map(|&x| (f64::from(x) - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean, var.sqrt())
}

#[test]
fn torchvision_init() {
    manual_seed(7);
    let model = resnet18::<f32, Cpu>(10, &Cpu).unwrap();
    let state = model.state_dict();
    // kaiming_normal_(mode="fan_out", nonlinearity="relu"): N(0, 2 / (out·kh·kw)).
    for (key, fan_out) in [
        ("conv1.weight", 64 * 49),
        ("layer4.1.conv2.weight", 512 * 9),
        ("layer2.0.downsample.0.weight", 128),
    ] {
        let (mean, std) = moments(&state[key]);
        let want = (2.0 / fan_out as f64).sqrt();
        assert!(mean.abs() < 0.05 * want, "{key}: mean {mean}");
        assert!(
            (std / want - 1.0).abs() < 0.03,
            "{key}: std {std}, want {want}"
        );
    }
    for (name, _) in batch_norms(&model) {
        assert!(state[&format!("{name}.weight")]
            .to_vec()
            .unwrap()
            .iter()
            .all(|&w| w == 1.0));
        assert!(state[&format!("{name}.bias")]
            .to_vec()
            .unwrap()
            .iter()
            .all(|&b| b == 0.0));
    }
    // nn.Linear's default: U(±1/√in_features) for weight and bias.
    let bound = 1.0 / 512f32.sqrt();
    for key in ["fc.weight", "fc.bias"] {
        let v = state[key].to_vec().unwrap();
        assert!(v.iter().all(|x| x.abs() <= bound), "{key}");
        assert!(
            v.iter().any(|x| x.abs() > bound / 2.0),
            "{key} is not spread over its range"
        );
    }
    assert!(!state
        .keys()
        .any(|k| k.starts_with("conv1.bias") || k.ends_with("conv2.bias")));
}

#[test]
fn zero_init_residual_zeroes_exactly_the_last_norm_of_each_block() {
    let options = ResNetOptions {
        num_classes: 10,
        zero_init_residual: true,
    };
    let basic = resnet18_with::<f32, Cpu>(options, &Cpu).unwrap();
    let bottleneck = resnet50_with::<f32, Cpu>(options, &Cpu).unwrap();
    for (model, last) in [(&basic, ".bn2"), (&bottleneck, ".bn3")] {
        let norms = batch_norms(model);
        let mut zeroed = 0;
        for (name, norm) in norms {
            let weight = norm.state_dict()["weight"].to_vec().unwrap();
            let is_last = name.starts_with("layer") && name.ends_with(last);
            let want = if is_last { 0.0 } else { 1.0 };
            assert!(
                weight.iter().all(|&w| w == want),
                "{name}: {:?}",
                &weight[..2]
            );
            zeroed += usize::from(is_last);
        }
        assert_eq!(zeroed, if last == ".bn2" { 8 } else { 16 });
    }
    for stage in [&basic.layer1, &basic.layer4] {
        for block in stage.iter() {
            let w = block.last_norm().weight.as_ref().unwrap().to_vec().unwrap();
            assert!(w.iter().all(|&w| w == 0.0));
        }
    }
    // Each block starts as the identity, so a block without a projection passes its (non-
    // negative) input through: layer1 of resnet18 has none.
    let x = input([1, 64, 8, 8]).relu().unwrap();
    let y = basic.layer1.forward(&x).unwrap();
    assert_eq!(y.to_vec().unwrap(), x.to_vec().unwrap());
}

#[test]
fn train_mode_gives_finite_gradients_for_every_parameter() {
    manual_seed(3);
    let mut model = resnet18::<f32, Cpu>(10, &Cpu).unwrap();
    model.train();
    let targets = Tensor::<i64, Cpu>::from_vec(vec![3, 7], [2], &Cpu).unwrap();
    let logits = model.forward(&input([2, 3, 32, 32])).unwrap();
    cross_entropy(&logits, &targets)
        .unwrap()
        .backward()
        .unwrap();
    let params = model.named_parameters();
    assert_eq!(params.len(), 62);
    for (name, p) in params {
        let g = p.grad().unwrap_or_else(|| panic!("{name} has no gradient"));
        assert_eq!(g.dims(), p.dims(), "{name}");
        let g = g.to_vec().unwrap();
        assert!(
            g.iter().all(|v| v.is_finite()),
            "{name}: non-finite gradient"
        );
        assert!(g.iter().any(|&v| v != 0.0), "{name}: gradient is all zero");
    }
    // Training mode used batch statistics and advanced every norm's running averages once.
    for (name, norm) in batch_norms(&model) {
        let state = norm.state_dict();
        assert_eq!(state["num_batches_tracked"].item().unwrap(), 1.0, "{name}");
        assert!(state["running_mean"]
            .to_vec()
            .unwrap()
            .iter()
            .any(|&m| m != 0.0));
    }
}

#[test]
fn train_and_eval_reach_every_batch_norm() {
    let mut model = resnet18::<f32, Cpu>(10, &Cpu).unwrap();
    let mut small = resnet9::<f32, Cpu>(10, &Cpu).unwrap();
    assert_eq!(batch_norms(&model).len(), 20);
    assert_eq!(batch_norms(&small).len(), 8);
    model.eval();
    small.eval();
    assert!(batch_norms(&model).iter().all(|(_, m)| !m.is_training()));
    assert!(batch_norms(&small).iter().all(|(_, m)| !m.is_training()));
    // In eval mode a forward pass leaves the running statistics alone.
    small.forward(&input([2, 3, 32, 32])).unwrap();
    assert!(batch_norms(&small)
        .iter()
        .all(|(_, m)| m.state_dict()["num_batches_tracked"].item().unwrap() == 0.0));
    model.train();
    assert!(batch_norms(&model).iter().all(|(_, m)| m.is_training()));
}

#[test]
fn module_tree_prints_as_torchvision() {
    let model = resnet18::<f32, Cpu>(10, &Cpu).unwrap();
    let text = model.to_string();
    for line in [
        "ResNet(",
        "  (layer2): Sequential(",
        "    (0): BasicBlock(",
        "      (downsample): Sequential(",
        "        (1): BatchNorm2d(",
        "  (avgpool): AdaptiveAvgPool2d(",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(line)),
            "no line `{line}` in\n{text}"
        );
    }
    let bottleneck = resnet50_with::<f32, Cpu>(ResNetOptions::default(), &Cpu).unwrap();
    assert!(bottleneck.to_string().contains("(0): Bottleneck("));
    assert_eq!(bottleneck.fc.weight.dims(), [1000, 2048]);
    assert_eq!(bottleneck.num_parameters(), 25_557_032); // torchvision's resnet50
    assert_eq!(model.num_parameters(), 11_181_642); // resnet18 with 10 classes
}

#[test]
fn any_depth_and_input_size() {
    let tiny = ResNet::<f32, Cpu>::new(
        BlockKind::Basic,
        [1, 1, 1, 1],
        ResNetOptions::default(),
        &Cpu,
    )
    .unwrap();
    assert_eq!(tiny.layer3.len(), 1);
    let mut tiny = tiny;
    tiny.eval();
    // 7×7 shrinks to 1×1 after the stem; odd sizes round up at each stride.
    assert_eq!(
        tiny.forward(&input([1, 3, 7, 9])).unwrap().dims(),
        [1, 1000]
    );
    let err = ResNet::<f32, Cpu>::new(
        BlockKind::Basic,
        [2, 0, 2, 2],
        ResNetOptions::default(),
        &Cpu,
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("[2, 0, 2, 2]"), "{err}");
    let bad = tiny
        .forward(&input([1, 4, 32, 32]))
        .unwrap_err()
        .to_string();
    assert!(bad.contains("conv2d") || bad.contains("Conv2d"), "{bad}");
}

#[test]
fn resnet9_options() {
    let model = resnet9::<f32, Cpu>(100, &Cpu).unwrap();
    assert!(model.linear.bias.is_none());
    assert_eq!(model.scale, 0.125);
    let with_bias = nanotorch_models::resnet9_with::<f32, Cpu>(
        ResNet9Options {
            num_classes: 5,
            scale: 1.0,
            bias: true,
            width: 16,
        },
        &Cpu,
    )
    .unwrap();
    assert!(with_bias.state_dict().contains_key("linear.bias"));
    assert_eq!(with_bias.prep.conv.weight.dims(), [16, 3, 3, 3]);
    assert_eq!(
        with_bias
            .layer3
            .residual
            .as_ref()
            .unwrap()
            .res2
            .conv
            .weight
            .dims(),
        [128, 128, 3, 3]
    );
    assert_eq!(with_bias.linear.weight.dims(), [5, 128]);
    let zero = ResNet9Options {
        width: 0,
        ..ResNet9Options::default()
    };
    assert!(nanotorch_models::resnet9_with::<f32, Cpu>(zero, &Cpu).is_err());
    // The logits are the linear layer's output times the scale.
    let mut m = model;
    m.eval();
    let x = input([1, 3, 32, 32]);
    let y = m.forward(&x).unwrap();
    m.scale = 1.0;
    let unscaled = m.forward(&x).unwrap();
    for (a, b) in y.to_vec().unwrap().iter().zip(unscaled.to_vec().unwrap()) {
        assert!((a - 0.125 * b).abs() <= 1e-6 * (1.0 + b.abs()));
    }
    assert_eq!(y.dims(), [1, 100]);
}
