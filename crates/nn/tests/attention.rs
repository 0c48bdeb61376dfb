//! Attention and transformer layers against PyTorch: outputs and gradients (of a weighted-sum
//! loss, with respect to every input and every parameter) read from `data/attention.safetensors`,
//! which `data/make_attention_fixture.py` wrote with PyTorch in float64. Each module loads the
//! PyTorch state dict saved with its case unchanged (strict keys and shapes). Plus init, dropout,
//! layer copies and errors.

use nanotorch_autograd::{manual_seed, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::Bool;
use nanotorch_nn::{
    generate_square_subsequent_mask, parse_safetensors, scaled_dot_product_attention, Activation,
    AttnMask, DecoderMasks, Forward, LayerNorm, LearnedPositionalEmbedding, MhaOptions, Module,
    MultiheadAttention, PositionalEncoding, Sequential, StateDict, TransformerDecoderLayer,
    TransformerEncoder, TransformerEncoderLayer, TransformerLayerOptions,
};

type T = Tensor<f64, Cpu>;

const TOL: f64 = 1e-10;

fn fixture() -> StateDict<f64, Cpu> {
    let bytes = include_bytes!("data/attention.safetensors");
    parse_safetensors::<f64, Cpu>(bytes, "attention.safetensors", &Cpu).unwrap()
}

fn get(fx: &StateDict<f64, Cpu>, name: &str) -> T {
    fx.get(name)
        .unwrap_or_else(|| panic!("fixture has no `{name}`"))
        .clone()
}

/// A fresh leaf that requires grad, with the fixture's values.
fn leaf(fx: &StateDict<f64, Cpu>, name: &str) -> T {
    let t = get(fx, name);
    T::from_vec(t.to_vec().unwrap(), t.shape().clone(), &Cpu)
        .unwrap()
        .requires_grad_(true)
}

/// A boolean mask saved as 0/1 floats.
fn bool_mask(fx: &StateDict<f64, Cpu>, name: &str) -> Tensor<Bool, Cpu> {
    get(fx, name).cast::<Bool>().unwrap()
}

/// The PyTorch state dict saved under `case.model.`, keys unchanged.
fn state(fx: &StateDict<f64, Cpu>, case: &str) -> StateDict<f64, Cpu> {
    let prefix = format!("{case}.model.");
    fx.iter()
        .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|k| (k.to_string(), v.clone())))
        .collect()
}

fn assert_close(got: &T, want: &T, what: &str) {
    assert_eq!(got.dims(), want.dims(), "{what}: shapes differ");
    let (g, w) = (got.to_vec().unwrap(), want.to_vec().unwrap());
    for (i, (g, w)) in g.iter().zip(&w).enumerate() {
        let ok = if w.is_finite() {
            (g - w).abs() <= TOL * w.abs().max(1.0)
        } else {
            g == w
        };
        assert!(ok, "{what}: element {i} is {g}, PyTorch has {w}");
    }
}

/// `Σ out · w_name` over the named outputs, with the fixture's loss weights; runs backward.
fn backward(fx: &StateDict<f64, Cpu>, case: &str, outputs: &[(&str, &T)]) {
    let mut loss: Option<T> = None;
    for (name, out) in outputs {
        assert_close(
            out,
            &get(fx, &format!("{case}.{name}")),
            &format!("{case}.{name}"),
        );
        let term = out
            .mul(&get(fx, &format!("{case}.w_{name}")))
            .unwrap()
            .sum_all()
            .unwrap();
        loss = Some(match loss {
            Some(l) => l.add(&term).unwrap(),
            None => term,
        });
    }
    loss.unwrap().backward().unwrap();
}

fn check_input_grads(fx: &StateDict<f64, Cpu>, case: &str, inputs: &[(&str, &T)]) {
    for (name, t) in inputs {
        let grad = t
            .grad()
            .unwrap_or_else(|| panic!("{case}: no gradient for {name}"));
        assert_close(
            &grad,
            &get(fx, &format!("{case}.grad.{name}")),
            &format!("{case}.grad.{name}"),
        );
    }
}

/// Every parameter's gradient against PyTorch's, and the same set of parameters.
fn check_param_grads<M: Module<f64, Cpu>>(fx: &StateDict<f64, Cpu>, case: &str, model: &M) {
    let prefix = format!("{case}.grad.model.");
    let mut expected: Vec<&str> = fx.keys().filter_map(|k| k.strip_prefix(&prefix)).collect();
    let mut ours: Vec<String> = model
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    expected.sort();
    ours.sort();
    assert_eq!(
        ours, expected,
        "{case}: parameter names differ from PyTorch's"
    );
    for (name, p) in model.named_parameters() {
        let grad = p
            .grad()
            .unwrap_or_else(|| panic!("{case}: no gradient for {name}"));
        assert_close(
            &grad,
            &get(fx, &format!("{prefix}{name}")),
            &format!("{case} {name}"),
        );
    }
}

fn load<M: Module<f64, Cpu>>(fx: &StateDict<f64, Cpu>, case: &str, model: &mut M) {
    model.load_state_dict(&state(fx, case), true).unwrap();
    model.eval();
}

// --- scaled_dot_product_attention ---------------------------------------------------------------

#[test]
fn sdpa_with_a_bool_mask_matches_pytorch() {
    // Mask row 1 is all false: PyTorch gives zeros there, and zero gradients.
    let fx = fixture();
    let (q, k, v) = (
        leaf(&fx, "sdpa_bool.q"),
        leaf(&fx, "sdpa_bool.k"),
        leaf(&fx, "sdpa_bool.v"),
    );
    let mask = bool_mask(&fx, "sdpa_bool.mask");
    let out =
        scaled_dot_product_attention(&q, &k, &v, Some(AttnMask::Bool(&mask)), 0.0, false, None)
            .unwrap();
    backward(&fx, "sdpa_bool", &[("out", &out)]);
    check_input_grads(&fx, "sdpa_bool", &[("q", &q), ("k", &k), ("v", &v)]);
}

#[test]
fn sdpa_with_an_additive_mask_and_a_scale_matches_pytorch() {
    let fx = fixture();
    let c = "sdpa_additive";
    let (q, k, v) = (
        leaf(&fx, "sdpa_additive.q"),
        leaf(&fx, "sdpa_additive.k"),
        leaf(&fx, "sdpa_additive.v"),
    );
    let mask = get(&fx, "sdpa_additive.mask");
    let out = scaled_dot_product_attention(
        &q,
        &k,
        &v,
        Some(AttnMask::Additive(&mask)),
        0.0,
        false,
        Some(0.7),
    )
    .unwrap();
    backward(&fx, c, &[("out", &out)]);
    check_input_grads(&fx, c, &[("q", &q), ("k", &k), ("v", &v)]);
}

#[test]
fn sdpa_is_causal_matches_pytorch_with_more_keys_than_queries() {
    let fx = fixture();
    let c = "sdpa_causal";
    let (q, k, v) = (
        leaf(&fx, "sdpa_causal.q"),
        leaf(&fx, "sdpa_causal.k"),
        leaf(&fx, "sdpa_causal.v"),
    );
    let out = scaled_dot_product_attention(&q, &k, &v, None, 0.0, true, None).unwrap();
    backward(&fx, c, &[("out", &out)]);
    check_input_grads(&fx, c, &[("q", &q), ("k", &k), ("v", &v)]);
}

#[test]
fn sdpa_dropout_applies_to_the_weights_only_when_asked() {
    manual_seed(3);
    let q = T::randn([2, 3, 4], &Cpu).unwrap();
    let plain = scaled_dot_product_attention(&q, &q, &q, None, 0.0, false, None).unwrap();
    // p = 1 drops every weight: the output is zero.
    let all = scaled_dot_product_attention(&q, &q, &q, None, 1.0, false, None).unwrap();
    assert!(all.to_vec().unwrap().iter().all(|&x| x == 0.0));
    let some = scaled_dot_product_attention(&q, &q, &q, None, 0.5, false, None).unwrap();
    assert_ne!(some.to_vec().unwrap(), plain.to_vec().unwrap());
    let err = scaled_dot_product_attention(&q, &q, &q, None, 1.5, false, None).unwrap_err();
    assert!(err.to_string().contains("dropout"), "{err}");
}

// --- MultiheadAttention ---------------------------------------------------------------------------

#[test]
fn mha_batch_first_with_key_padding_mask_and_averaged_weights_matches_pytorch() {
    let fx = fixture();
    let c = "mha";
    let mut mha =
        MultiheadAttention::<f64, Cpu>::with_options(6, 3, 0.0, true, true, &Cpu).unwrap();
    load(&fx, c, &mut mha);
    let (q, k, v) = (leaf(&fx, "mha.q"), leaf(&fx, "mha.k"), leaf(&fx, "mha.v"));
    let kpm = bool_mask(&fx, "mha.key_padding_mask");
    let options = MhaOptions::new().key_padding_mask(AttnMask::Bool(&kpm));
    let (out, attn) = mha.forward(&q, &k, &v, &options).unwrap();
    let attn = attn.expect("need_weights is on by default");
    assert_eq!(attn.dims(), [2, 3, 4]);
    backward(&fx, c, &[("out", &out), ("attn", &attn)]);
    check_input_grads(&fx, c, &[("q", &q), ("k", &k), ("v", &v)]);
    check_param_grads(&fx, c, &mha);
}

#[test]
fn mha_sequence_first_with_a_bool_attn_mask_and_per_head_weights_matches_pytorch() {
    // A boolean attn_mask is true where attending is NOT allowed (MHA's convention).
    let fx = fixture();
    let c = "mha_heads";
    let mut mha = MultiheadAttention::<f64, Cpu>::new(6, 2, &Cpu).unwrap();
    load(&fx, c, &mut mha);
    let x = leaf(&fx, "mha_heads.x");
    let mask = bool_mask(&fx, "mha_heads.attn_mask");
    let options = MhaOptions::new()
        .attn_mask(AttnMask::Bool(&mask))
        .average_attn_weights(false);
    let (out, attn) = mha.forward(&x, &x, &x, &options).unwrap();
    let attn = attn.unwrap();
    assert_eq!(attn.dims(), [2, 2, 4, 4]);
    backward(&fx, c, &[("out", &out), ("attn", &attn)]);
    check_input_grads(&fx, c, &[("x", &x)]);
    check_param_grads(&fx, c, &mha);
}

#[test]
fn mha_unbatched_with_a_3d_float_mask_matches_pytorch() {
    let fx = fixture();
    let c = "mha_unbatched";
    let mut mha = MultiheadAttention::<f64, Cpu>::new(4, 2, &Cpu).unwrap();
    load(&fx, c, &mut mha);
    let x = leaf(&fx, "mha_unbatched.x");
    let mask = get(&fx, "mha_unbatched.attn_mask");
    let options = MhaOptions::new()
        .attn_mask(AttnMask::Additive(&mask))
        .need_weights(false);
    let (out, attn) = mha.forward(&x, &x, &x, &options).unwrap();
    assert!(attn.is_none());
    backward(&fx, c, &[("out", &out)]);
    check_input_grads(&fx, c, &[("x", &x)]);
    check_param_grads(&fx, c, &mha);
}

#[test]
fn mha_has_pytorchs_parameters_and_init() {
    manual_seed(0);
    let mha = MultiheadAttention::<f64, Cpu>::new(8, 2, &Cpu).unwrap();
    let names: Vec<(String, Vec<usize>)> = mha
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.dims().to_vec()))
        .collect();
    assert_eq!(
        names,
        [
            ("in_proj_weight".to_string(), vec![24, 8]),
            ("in_proj_bias".to_string(), vec![24]),
            ("out_proj.weight".to_string(), vec![8, 8]),
            ("out_proj.bias".to_string(), vec![8]),
        ]
    );
    assert_eq!(
        (mha.embed_dim(), mha.num_heads(), mha.head_dim()),
        (8, 2, 4)
    );
    // xavier_uniform_ on [3E, E]: U(±√(6 / (E + 3E))); out_proj.weight: Linear's U(±1/√E).
    let xavier = (6.0f64 / 32.0).sqrt();
    let w = mha.in_proj_weight.to_vec().unwrap();
    assert!(w.iter().all(|x| x.abs() <= xavier));
    assert!(
        w.iter().any(|x| x.abs() > 1.0 / 8f64.sqrt()),
        "wider than Linear's bound"
    );
    let o = mha.out_proj.weight.to_vec().unwrap();
    assert!(o.iter().all(|x| x.abs() <= 1.0 / 8f64.sqrt()));
    for bias in [
        mha.in_proj_bias.as_ref().unwrap(),
        mha.out_proj.bias.as_ref().unwrap(),
    ] {
        assert!(bias.to_vec().unwrap().iter().all(|&b| b == 0.0));
    }
    let no_bias =
        MultiheadAttention::<f64, Cpu>::with_options(8, 2, 0.0, false, false, &Cpu).unwrap();
    assert_eq!(no_bias.named_parameters().len(), 2);
}

#[test]
fn mha_dropout_applies_in_training_mode_only() {
    manual_seed(5);
    let mut mha =
        MultiheadAttention::<f64, Cpu>::with_options(4, 2, 0.5, true, true, &Cpu).unwrap();
    let x = T::randn([2, 3, 4], &Cpu).unwrap();
    let options = MhaOptions::new();
    let (_, train_w) = mha.forward(&x, &x, &x, &options).unwrap();
    mha.eval();
    let (_, eval_w) = mha.forward(&x, &x, &x, &options).unwrap();
    // In evaluation the averaged weights are a softmax: each row sums to 1.
    for s in eval_w
        .unwrap()
        .sum_dims(&[-1], false)
        .unwrap()
        .to_vec()
        .unwrap()
    {
        assert!((s - 1.0).abs() < 1e-12);
    }
    let train_sums = train_w
        .unwrap()
        .sum_dims(&[-1], false)
        .unwrap()
        .to_vec()
        .unwrap();
    assert!(
        train_sums.iter().any(|s| (s - 1.0).abs() > 1e-6),
        "dropout changed nothing"
    );
}

// --- Transformer layers ----------------------------------------------------------------------------

fn small() -> TransformerLayerOptions {
    TransformerLayerOptions::new().dim_feedforward(8)
}

#[test]
fn encoder_layer_post_norm_relu_matches_pytorch() {
    let fx = fixture();
    let c = "enc_post_relu";
    let mut layer =
        TransformerEncoderLayer::<f64, Cpu>::with_options(6, 2, &small().batch_first(true), &Cpu)
            .unwrap();
    load(&fx, c, &mut layer);
    let src = leaf(&fx, "enc_post_relu.src");
    let kpm = bool_mask(&fx, "enc_post_relu.src_key_padding_mask");
    let out = layer
        .forward(&src, None, Some(AttnMask::Bool(&kpm)), false)
        .unwrap();
    backward(&fx, c, &[("out", &out)]);
    check_input_grads(&fx, c, &[("src", &src)]);
    check_param_grads(&fx, c, &layer);
}

#[test]
fn encoder_layer_pre_norm_gelu_with_a_causal_mask_matches_pytorch() {
    let fx = fixture();
    let c = "enc_pre_gelu";
    let options = small().activation(Activation::GELU).norm_first(true);
    let mut layer =
        TransformerEncoderLayer::<f64, Cpu>::with_options(6, 3, &options, &Cpu).unwrap();
    load(&fx, c, &mut layer);
    let src = leaf(&fx, "enc_pre_gelu.src");
    // PyTorch's generate_square_subsequent_mask, bit for bit (−inf above the diagonal).
    let causal = generate_square_subsequent_mask::<f64, Cpu>(4, &Cpu).unwrap();
    assert_close(&causal, &get(&fx, "enc_pre_gelu.src_mask"), "causal mask");
    let out = layer
        .forward(&src, Some(AttnMask::Additive(&causal)), None, true)
        .unwrap();
    backward(&fx, c, &[("out", &out)]);
    check_input_grads(&fx, c, &[("src", &src)]);
    check_param_grads(&fx, c, &layer);
}

#[test]
fn decoder_layer_matches_pytorch() {
    let fx = fixture();
    let c = "dec";
    let mut layer =
        TransformerDecoderLayer::<f64, Cpu>::with_options(6, 2, &small().batch_first(true), &Cpu)
            .unwrap();
    load(&fx, c, &mut layer);
    let (tgt, memory) = (leaf(&fx, "dec.tgt"), leaf(&fx, "dec.memory"));
    let causal = get(&fx, "dec.tgt_mask");
    let mkpm = bool_mask(&fx, "dec.memory_key_padding_mask");
    let masks = DecoderMasks {
        tgt_mask: Some(AttnMask::Additive(&causal)),
        memory_key_padding_mask: Some(AttnMask::Bool(&mkpm)),
        tgt_is_causal: true,
        ..DecoderMasks::default()
    };
    let out = layer.forward(&tgt, &memory, &masks).unwrap();
    backward(&fx, c, &[("out", &out)]);
    check_input_grads(&fx, c, &[("tgt", &tgt), ("memory", &memory)]);
    check_param_grads(&fx, c, &layer);
}

#[test]
fn encoder_of_two_layers_with_a_final_norm_matches_pytorch() {
    let fx = fixture();
    let c = "encoder";
    let layer =
        TransformerEncoderLayer::<f64, Cpu>::with_options(6, 2, &small().batch_first(true), &Cpu)
            .unwrap();
    let mut encoder =
        TransformerEncoder::new(layer, 2, Some(LayerNorm::new([6], &Cpu).unwrap())).unwrap();
    load(&fx, c, &mut encoder);
    let src = leaf(&fx, "encoder.src");
    let kpm = bool_mask(&fx, "encoder.src_key_padding_mask");
    let out = encoder
        .forward(&src, None, Some(AttnMask::Bool(&kpm)), false)
        .unwrap();
    backward(&fx, c, &[("out", &out)]);
    check_input_grads(&fx, c, &[("src", &src)]);
    check_param_grads(&fx, c, &encoder);
}

#[test]
fn encoder_layers_start_equal_but_are_independent_copies() {
    manual_seed(1);
    let layer = TransformerEncoderLayer::<f64, Cpu>::with_options(4, 2, &small(), &Cpu).unwrap();
    let encoder = TransformerEncoder::new(layer, 3, None).unwrap();
    let state = encoder.state_dict();
    let w0 = &state["layers.0.linear1.weight"];
    let w2 = &state["layers.2.linear1.weight"];
    assert_eq!(w0.to_vec().unwrap(), w2.to_vec().unwrap());
    w0.array()
        .assign(T::zeros([8, 4], &Cpu).unwrap().array())
        .unwrap();
    assert!(
        w2.to_vec().unwrap().iter().any(|&x| x != 0.0),
        "layers share storage"
    );
    assert_eq!(encoder.named_parameters().len(), 3 * 12);
    assert!(state.contains_key("layers.1.self_attn.out_proj.bias"));
}

#[test]
fn transformer_layers_run_in_a_sequential_and_switch_dropout_with_eval() {
    manual_seed(2);
    let options = small().batch_first(true).dropout(0.3);
    let mut model: Sequential<f64, Cpu> = Sequential::new()
        .append(
            LearnedPositionalEmbedding::new(5, 4, &Cpu)
                .unwrap()
                .batch_first(true),
        )
        .append(TransformerEncoderLayer::with_options(4, 2, &options, &Cpu).unwrap());
    let x = T::randn([2, 3, 4], &Cpu).unwrap();
    model.eval();
    let a = Forward::forward(&model, &x).unwrap().to_vec().unwrap();
    let b = Forward::forward(&model, &x).unwrap().to_vec().unwrap();
    assert_eq!(a, b, "evaluation mode must be deterministic");
    model.train();
    let c = Forward::forward(&model, &x).unwrap().to_vec().unwrap();
    assert_ne!(a, c, "training mode applies dropout");
}

// --- Positions ---------------------------------------------------------------------------------------

#[test]
fn sinusoidal_positions_match_the_pytorch_tutorial() {
    let fx = fixture();
    let mut pe = PositionalEncoding::<f64, Cpu>::new(6, 0.1, 10, &Cpu).unwrap();
    assert_close(pe.pe(), &get(&fx, "positional.pe"), "pe");
    // The buffer is in the state dict under the tutorial's name, and loads.
    let saved: StateDict<f64, Cpu> = [("pe".to_string(), get(&fx, "positional.pe"))].into();
    pe.load_state_dict(&saved, true).unwrap();
    assert!(pe.parameters().is_empty());
    pe.eval();
    // [L, N, E]: position l's row is added to every batch entry.
    let x = T::zeros([3, 2, 6], &Cpu).unwrap();
    let out = pe.forward(&x).unwrap().to_vec().unwrap();
    let table = pe.pe().to_vec().unwrap();
    for l in 0..3 {
        for n in 0..2 {
            assert_eq!(out[(l * 2 + n) * 6..][..6], table[l * 6..][..6]);
        }
    }
    let err = pe
        .forward(&T::zeros([11, 1, 6], &Cpu).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("exceeds max_len 10"), "{err}");
}

#[test]
fn learned_positions_add_the_first_rows_of_their_table() {
    manual_seed(4);
    let pos = LearnedPositionalEmbedding::<f64, Cpu>::new(5, 3, &Cpu)
        .unwrap()
        .batch_first(true);
    assert_eq!(pos.state_dict().keys().collect::<Vec<_>>(), ["weight"]);
    let x = T::randn([2, 4, 3], &Cpu).unwrap().requires_grad_(true);
    let out = pos.forward(&x).unwrap();
    let (xv, ov, w) = (
        x.to_vec().unwrap(),
        out.to_vec().unwrap(),
        pos.weight.to_vec().unwrap(),
    );
    for n in 0..2 {
        for l in 0..4 {
            for e in 0..3 {
                let i = (n * 4 + l) * 3 + e;
                assert_eq!(ov[i], xv[i] + w[l * 3 + e]);
            }
        }
    }
    out.sum_all().unwrap().backward().unwrap();
    // Rows 0..4 were used twice (batch of 2), row 4 never.
    let g = pos.weight.grad().unwrap().to_vec().unwrap();
    assert_eq!(
        g,
        [2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 0.0, 0.0, 0.0]
    );
}

// --- Errors ------------------------------------------------------------------------------------------

#[test]
fn bad_arguments_are_clear_errors() {
    let err = MultiheadAttention::<f64, Cpu>::new(6, 4, &Cpu)
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("embed_dim 6 must be divisible by num_heads 4"),
        "{err}"
    );

    let q = T::zeros([2, 3, 4], &Cpu).unwrap();
    let k = T::zeros([2, 5, 4], &Cpu).unwrap();
    let bad = T::zeros([3, 4], &Cpu).unwrap();
    let err =
        scaled_dot_product_attention(&q, &k, &k, Some(AttnMask::Additive(&bad)), 0.0, false, None)
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("scaled_dot_product_attention")
            && err.contains("[3, 4]")
            && err.contains("[2, 3, 5]"),
        "{err}"
    );

    let mask = Tensor::<Bool, Cpu>::from_vec(vec![Bool::TRUE; 15], [3, 5], &Cpu).unwrap();
    let err =
        scaled_dot_product_attention(&q, &k, &k, Some(AttnMask::Bool(&mask)), 0.0, true, None)
            .unwrap_err()
            .to_string();
    assert!(err.contains("attn_mask and is_causal"), "{err}");

    let err = scaled_dot_product_attention(
        &q,
        &T::zeros([2, 5, 3], &Cpu).unwrap(),
        &k,
        None,
        0.0,
        false,
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("same last axis") && err.contains("[2, 5, 3]"),
        "{err}"
    );

    let mha = MultiheadAttention::<f64, Cpu>::with_options(4, 2, 0.0, true, true, &Cpu).unwrap();
    let kpm = Tensor::<Bool, Cpu>::from_vec(vec![Bool::FALSE; 6], [2, 3], &Cpu).unwrap();
    let err = mha
        .forward(
            &k,
            &k,
            &k,
            &MhaOptions::new().key_padding_mask(AttnMask::Bool(&kpm)),
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("MultiheadAttention") && err.contains("[2, 3]") && err.contains("[2, 5]"),
        "{err}"
    );
    let err = mha
        .forward(&k, &k, &k, &MhaOptions::new().is_causal(true))
        .unwrap_err()
        .to_string();
    assert!(err.contains("needs attn_mask"), "{err}");
    let err = mha
        .forward(
            &T::zeros([2, 5, 6], &Cpu).unwrap(),
            &k,
            &k,
            &MhaOptions::new(),
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("embed_dim") && err.contains("[2, 5, 6]"),
        "{err}"
    );

    assert!(Activation::from_name("tanh").is_err());
    assert_eq!(Activation::from_name("gelu").unwrap(), Activation::GELU);
}
