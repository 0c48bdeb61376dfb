//! The convolution layers against PyTorch: `tests/fixtures/conv.safetensors` holds inputs,
//! weights and PyTorch's outputs (made once by `tests/fixtures/make_conv.py`, float64), and each
//! layer set up like the PyTorch call must reproduce them: within 1e-10 in f64, 1e-5 in f32.
//! Then the layers' own contract: init bounds, state-dict keys, group errors, `extra_repr`.

use nanotorch_autograd::{PadMode, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::Float;
use nanotorch_nn::{
    load_safetensors, Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d, Module, StateDict,
};

fn fixture<E: Float>() -> StateDict<E, Cpu> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/conv.safetensors"
    );
    load_safetensors(path, &Cpu).unwrap()
}

fn assert_close<E: Float>(got: &Tensor<E, Cpu>, want: &Tensor<E, Cpu>, tolerance: f64, case: &str) {
    assert_eq!(got.dims(), want.dims(), "{case}");
    let (got, want) = (got.to_vec().unwrap(), want.to_vec().unwrap());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let (g, w) = (g.to_f64(), w.to_f64());
        assert!(
            (g - w).abs() <= tolerance * (1.0 + w.abs()),
            "{case}, element {i}: {g} vs {w}"
        );
    }
}

/// Every fixture case through the layer that PyTorch's call describes, in element type `E`.
fn matches_pytorch<E: Float>(tolerance: f64) {
    let t = fixture::<E>();
    let get = |key: &str| t[key].clone();
    let bias = |case: &str| t.get(&format!("{case}.b")).cloned();
    let check = |case: &str, y: Tensor<E, Cpu>| {
        assert_close(&y, &get(&format!("{case}.y")), tolerance, case)
    };

    let mut conv = Conv2d::new(4, 6, (3, 3), &Cpu)
        .unwrap()
        .groups(2)
        .unwrap()
        .stride((2, 1))
        .padding((1, 0))
        .dilation((1, 2));
    (conv.weight, conv.bias) = (get("grouped.w"), bias("grouped"));
    check("grouped", conv.forward(&get("grouped.x")).unwrap());

    let mut conv = Conv2d::new(3, 3, (3, 3), &Cpu)
        .unwrap()
        .groups(3)
        .unwrap()
        .padding((1, 1));
    (conv.weight, conv.bias) = (get("depthwise.w"), bias("depthwise"));
    check("depthwise", conv.forward(&get("depthwise.x")).unwrap());

    let mut conv = Conv2d::new(2, 3, (3, 3), &Cpu)
        .unwrap()
        .padding((1, 2))
        .padding_mode(PadMode::Reflect);
    (conv.weight, conv.bias) = (get("reflect.w"), bias("reflect"));
    check("reflect", conv.forward(&get("reflect.x")).unwrap());

    let mut conv = Conv1d::new(2, 3, 3, &Cpu)
        .unwrap()
        .padding(2)
        .padding_mode(PadMode::Circular);
    (conv.weight, conv.bias) = (get("circular.w"), bias("circular"));
    check("circular", conv.forward(&get("circular.x")).unwrap());

    let mut conv = Conv2d::new(2, 2, (4, 2), &Cpu)
        .unwrap()
        .padding_same()
        .dilation((1, 2))
        .without_bias();
    conv.weight = get("same.w");
    check("same", conv.forward(&get("same.x")).unwrap());

    let mut conv = ConvTranspose2d::new(4, 6, (3, 3), &Cpu)
        .unwrap()
        .groups(2)
        .unwrap()
        .stride((2, 2))
        .padding((1, 1))
        .output_padding((1, 1));
    (conv.weight, conv.bias) = (get("transpose2d.w"), bias("transpose2d"));
    check("transpose2d", conv.forward(&get("transpose2d.x")).unwrap());

    let mut conv = ConvTranspose1d::new(2, 3, 3, &Cpu)
        .unwrap()
        .stride(3)
        .padding(1)
        .output_padding(2);
    (conv.weight, conv.bias) = (get("transpose1d.w"), bias("transpose1d"));
    check("transpose1d", conv.forward(&get("transpose1d.x")).unwrap());

    let mut conv = ConvTranspose1d::new(2, 2, 2, &Cpu)
        .unwrap()
        .dilation(2)
        .output_padding(1)
        .without_bias();
    conv.weight = get("transpose1d_dilated.w");
    check(
        "transpose1d_dilated",
        conv.forward(&get("transpose1d_dilated.x")).unwrap(),
    );

    let x = get("pad.x");
    let pads: [(&str, &[isize], PadMode, f64); 4] = [
        ("reflect", &[2, 1, 1, 2], PadMode::Reflect, 0.0),
        ("replicate", &[3, 0, 1, 1], PadMode::Replicate, 0.0),
        ("circular", &[1, 2, 2, 0], PadMode::Circular, 0.0),
        ("constant", &[-1, 2, 1, -1], PadMode::Constant, 1.5),
    ];
    for (name, pad, mode, value) in pads {
        let key = format!("pad.{name}");
        assert_close(
            &x.pad(pad, mode, value).unwrap(),
            &get(&key),
            tolerance,
            &key,
        );
    }
}

#[test]
fn layers_match_pytorch_in_f64() {
    matches_pytorch::<f64>(1e-10);
}

#[test]
fn layers_match_pytorch_in_f32() {
    matches_pytorch::<f32>(1e-5);
}

/// Largest |value| of a tensor.
fn max_abs(t: &Tensor<f64, Cpu>) -> f64 {
    t.to_vec().unwrap().iter().fold(0.0, |m, v| m.max(v.abs()))
}

#[test]
fn weights_have_pytorchs_layout_and_init_bound() {
    // fan_in = weight.size(1)·∏k: in/groups for a convolution, out/groups for a transposed one.
    let conv = Conv2d::<f64>::new(8, 12, (3, 3), &Cpu)
        .unwrap()
        .groups(4)
        .unwrap();
    assert_eq!(conv.weight.dims(), &[12, 2, 3, 3]);
    let bound = 1.0 / 18f64.sqrt();
    assert!(max_abs(&conv.weight) <= bound && max_abs(&conv.weight) > 0.8 * bound);
    assert!(max_abs(conv.bias.as_ref().unwrap()) <= bound);

    let transpose = ConvTranspose2d::<f64>::new(8, 6, (5, 5), &Cpu)
        .unwrap()
        .groups(2)
        .unwrap();
    assert_eq!(transpose.weight.dims(), &[8, 3, 5, 5]);
    assert_eq!(transpose.bias.as_ref().unwrap().dims(), &[6]);
    let bound = 1.0 / 75f64.sqrt();
    assert!(max_abs(&transpose.weight) <= bound && max_abs(&transpose.weight) > 0.8 * bound);

    let transpose = ConvTranspose1d::<f64>::new(4, 2, 3, &Cpu)
        .unwrap()
        .without_bias();
    assert_eq!(transpose.weight.dims(), &[4, 2, 3]);
    let keys: Vec<String> = transpose.state_dict().into_keys().collect();
    assert_eq!(keys, ["weight"]);
    let keys: Vec<String> = conv.state_dict().into_keys().collect();
    assert_eq!(keys, ["bias", "weight"]);
}

#[test]
fn groups_must_divide_both_channel_counts() {
    let err = Conv2d::<f32>::new(6, 4, (3, 3), &Cpu)
        .unwrap()
        .groups(4)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("Conv2d") && err.contains("in_channels = 6"),
        "{err}"
    );
    let err = ConvTranspose1d::<f32>::new(4, 6, 3, &Cpu)
        .unwrap()
        .groups(4)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("ConvTranspose1d") && err.contains("out_channels = 6"),
        "{err}"
    );
    assert!(Conv1d::<f32>::new(4, 4, 3, &Cpu)
        .unwrap()
        .groups(0)
        .is_err());
}

#[test]
fn same_padding_keeps_the_size_and_refuses_a_stride() {
    let x = Tensor::<f32, Cpu>::ones([1, 2, 7], &Cpu).unwrap();
    let conv = Conv1d::new(2, 3, 4, &Cpu)
        .unwrap()
        .padding_same()
        .dilation(3);
    assert_eq!(conv.forward(&x).unwrap().dims(), &[1, 3, 7]);
    let err = conv.stride(2).forward(&x).unwrap_err().to_string();
    assert!(err.contains("conv1d") && err.contains("'same'"), "{err}");
    let valid = Conv1d::<f32>::new(2, 3, 4, &Cpu)
        .unwrap()
        .padding(3)
        .padding_valid();
    assert_eq!(valid.forward(&x).unwrap().dims(), &[1, 3, 4]);
}

#[test]
fn extra_repr_shows_the_non_default_options() {
    let conv = Conv2d::<f32>::new(4, 8, (3, 3), &Cpu)
        .unwrap()
        .groups(4)
        .unwrap()
        .padding_same()
        .padding_mode(PadMode::Circular);
    assert_eq!(
        conv.to_string(),
        "Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), padding=same, dilation=(1, 1), \
         groups=4, bias=true, padding_mode=circular)"
    );
    let transpose = ConvTranspose1d::<f32>::new(2, 4, 3, &Cpu)
        .unwrap()
        .stride(2)
        .output_padding(1)
        .without_bias();
    assert_eq!(
        transpose.to_string(),
        "ConvTranspose1d(2, 4, kernel_size=3, stride=2, padding=0, output_padding=1, dilation=1, \
         bias=false)"
    );
}
