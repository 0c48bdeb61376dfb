//! The models against PyTorch: `tests/fixtures/make_resnet_fixtures.py` built each one in
//! PyTorch (torchvision's resnet code written out, and Page's ResNet-9), filled every parameter
//! and buffer from a deterministic generator keyed by (state-dict key, element index), and
//! recorded the state-dict keys with shapes and dtypes, the input's shape and the eval-mode
//! logits (computed in f64). These tests rebuild the same tensors with the same generator, write
//! them as a safetensors file as PyTorch would (F32, and I64 for `num_batches_tracked`), load it
//! with strict key matching and compare the logits.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_models::{resnet18, resnet34, resnet50, resnet9};
use nanotorch_nn::{parse_safetensors, Forward};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::OnceLock;

fn fixture() -> &'static Value {
    static FIXTURE: OnceLock<Value> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        serde_json::from_str(include_str!("fixtures/resnet_fixtures.json")).expect("fixture JSON")
    })
}

/// The script's generator: splitmix64's stream seeded by FNV-1a-64 of the key; the top 24 bits
/// of draw `i` (so `u = draw / 2^24` is exact in f32).
fn draw(key: &str, i: u64) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    for b in key.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3);
    }
    let mut z = h.wrapping_add((i + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) >> 40
}

fn uniform(key: &str, i: u64) -> f64 {
    draw(key, i) as f64 / (1u64 << 24) as f64
}

/// What the script puts under `key` (the rules in its docstring), in f64 before the one
/// rounding to f32.
fn values(key: &str, shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let fan_in: usize = shape.iter().skip(1).product();
    (0..n as u64)
        .map(|i| {
            let u = uniform(key, i);
            let v = if key.ends_with("running_var") {
                0.5 + u
            } else if shape.len() >= 2 && key != "input" {
                (2.0 * u - 1.0) / (fan_in as f64).sqrt()
            } else {
                2.0 * u - 1.0
            };
            v as f32
        })
        .collect()
}

fn counter(key: &str) -> i64 {
    (uniform(key, 0) * 1000.0) as i64
}

/// A safetensors file as PyTorch writes a state dict: F32 tensors, I64 counters.
fn checkpoint(keys: &[(String, Vec<usize>, String)]) -> Vec<u8> {
    let (mut header, mut data) = (serde_json::Map::new(), Vec::new());
    for (key, shape, dtype) in keys {
        let begin = data.len();
        match dtype.as_str() {
            "F32" => {
                for v in values(key, shape) {
                    data.extend_from_slice(&v.to_le_bytes());
                }
            }
            "I64" => data.extend_from_slice(&counter(key).to_le_bytes()),
            other => panic!("{key}: dtype {other} not in the fixture's vocabulary"),
        }
        header.insert(
            key.clone(),
            json!({"dtype": dtype, "shape": shape, "data_offsets": [begin, data.len()]}),
        );
    }
    let mut header = serde_json::to_vec(&Value::Object(header)).unwrap();
    while !header.len().is_multiple_of(8) {
        header.push(b' ');
    }
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header);
    bytes.extend(data);
    bytes
}

struct Case {
    input_shape: Vec<usize>,
    keys: Vec<(String, Vec<usize>, String)>,
    logits: Vec<f64>,
}

fn case(name: &str) -> Case {
    let model = fixture()["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no fixture for {name}"));
    let dims = |v: &Value| -> Vec<usize> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect()
    };
    Case {
        input_shape: dims(&model["input_shape"]),
        keys: model["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                let name = k[0].as_str().unwrap().to_string();
                (name, dims(&k[1]), k[2].as_str().unwrap().to_string())
            })
            .collect(),
        logits: model["logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect(),
    }
}

/// Keys and shapes equal PyTorch's; the checkpoint loads strictly; the I64 counters arrive
/// exactly; the eval-mode logits are PyTorch's within 1e-4.
fn check(name: &str, mut model: impl Forward) {
    let case = case(name);
    let ours = model.state_dict();
    let theirs: BTreeSet<&str> = case.keys.iter().map(|(k, _, _)| k.as_str()).collect();
    let our_keys: BTreeSet<&str> = ours.keys().map(String::as_str).collect();
    assert_eq!(
        our_keys.symmetric_difference(&theirs).collect::<Vec<_>>(),
        Vec::<&&str>::new(),
        "{name}: state-dict keys differ from PyTorch's"
    );
    for (key, shape, _) in &case.keys {
        assert_eq!(ours[key].dims(), &shape[..], "{name}: shape of {key}");
    }

    let state = parse_safetensors::<f32, Cpu>(&checkpoint(&case.keys), name, &Cpu).unwrap();
    let report = model.load_state_dict(&state, true).unwrap();
    assert!(report.is_complete(), "{name}: {report}");
    let ours = model.state_dict();
    for (key, _, dtype) in &case.keys {
        if dtype == "I64" {
            assert_eq!(ours[key].item().unwrap(), counter(key) as f32, "{key}");
        }
    }

    model.eval();
    let input = Tensor::from_vec(
        values("input", &case.input_shape),
        case.input_shape.clone(),
        &Cpu,
    )
    .unwrap();
    let logits = model.forward(&input).unwrap();
    assert_eq!(
        logits.dims(),
        [case.input_shape[0], case.logits.len() / case.input_shape[0]]
    );
    let got = logits.to_vec().unwrap();
    let worst = got
        .iter()
        .zip(&case.logits)
        .map(|(&g, &want)| (f64::from(g) - want).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= 1e-4,
        "{name}: logits differ from PyTorch's by up to {worst:e}"
    );
}

#[test]
fn the_generator_is_the_scripts() {
    for probe in fixture()["generator_probe"].as_array().unwrap() {
        let (key, i) = (probe[0].as_str().unwrap(), probe[1].as_u64().unwrap());
        assert_eq!(
            draw(key, i),
            probe[2].as_u64().unwrap(),
            "draw {i} of {key}"
        );
    }
}

#[test]
fn resnet18_matches_pytorch() {
    check("resnet18", resnet18::<f32, Cpu>(10, &Cpu).unwrap());
}

/// A torchvision-shaped checkpoint (1000 classes, the shape of the pretrained weights) at
/// 64×64, where the final maps are 2×2 and the average pool averages.
#[test]
fn resnet18_with_imagenet_head_matches_pytorch() {
    check("resnet18_1000", resnet18::<f32, Cpu>(1000, &Cpu).unwrap());
}

#[test]
fn resnet34_matches_pytorch() {
    check("resnet34", resnet34::<f32, Cpu>(10, &Cpu).unwrap());
}

#[test]
fn resnet50_matches_pytorch() {
    check("resnet50", resnet50::<f32, Cpu>(10, &Cpu).unwrap());
}

#[test]
fn resnet9_matches_pytorch() {
    check("resnet9", resnet9::<f32, Cpu>(10, &Cpu).unwrap());
}
