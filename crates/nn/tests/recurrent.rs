//! Recurrent layers against PyTorch: outputs, final states and the gradients of a scalar loss
//! w.r.t. the input, the initial state and every parameter, on the fixture written by
//! `tests/data/make_recurrent_fixture.py` (PyTorch state dicts loaded unchanged, strict); plus
//! the semantics a fixture cannot show alone: lengths, dropout placement, unbatched input,
//! init, names and errors.

use nanotorch_autograd::{manual_seed, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_nn::{
    parse_safetensors, GRUCell, LSTMCell, Module, Nonlinearity, RNNCell, RnnOptions, StateDict,
    GRU, LSTM, RNN,
};

type T = Tensor<f64, Cpu>;

/// Sizes of every fixture case.
const INPUT: usize = 3;
const HIDDEN: usize = 4;

/// One case of the fixture: the tensors saved under `<name>.`.
struct Case {
    name: &'static str,
    all: StateDict<f64, Cpu>,
}

impl Case {
    fn load(name: &'static str) -> Case {
        let bytes = include_bytes!("data/recurrent.safetensors");
        let all = parse_safetensors::<f64, Cpu>(bytes, "recurrent.safetensors", &Cpu).unwrap();
        Case { name, all }
    }

    fn get(&self, key: &str) -> T {
        let full = format!("{}.{key}", self.name);
        self.all
            .get(&full)
            .unwrap_or_else(|| panic!("fixture has no `{full}`"))
            .detach()
    }

    /// A fixture tensor as a fresh leaf that requires grad.
    fn leaf(&self, key: &str) -> T {
        self.get(key).requires_grad_(true)
    }

    /// The PyTorch state dict, under PyTorch's own keys.
    fn state(&self) -> StateDict<f64, Cpu> {
        let prefix = format!("{}.state.", self.name);
        self.all
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|k| (k.to_string(), v.clone())))
            .collect()
    }

    fn lengths(&self) -> Vec<usize> {
        self.get("lengths")
            .to_vec()
            .unwrap()
            .into_iter()
            .map(|l| l as usize)
            .collect()
    }

    /// Loads the state dict into `module` (strict: every key PyTorch's, none missing).
    fn load_into(&self, module: &impl Module<f64, Cpu>) {
        module
            .load_state_dict(&self.state(), true)
            .unwrap_or_else(|e| panic!("{}: {e}", self.name));
    }

    fn check(&self, actual: &T, key: &str) {
        let expected = self.get(key);
        let what = format!("{}.{key}", self.name);
        assert_eq!(actual.dims(), expected.dims(), "{what}: shape");
        let (a, e) = (actual.to_vec().unwrap(), expected.to_vec().unwrap());
        let worst = a
            .iter()
            .zip(&e)
            .map(|(a, e)| (a - e).abs())
            .fold(0.0, f64::max);
        assert!(worst <= 1e-10, "{what}: off by {worst:e}");
    }

    fn check_grad(&self, leaf: &T, key: &str) {
        let grad = leaf
            .grad()
            .unwrap_or_else(|| panic!("{}: no gradient for {key}", self.name));
        self.check(&grad, &format!("grad.{key}"));
    }

    /// Every parameter's gradient against PyTorch's, by PyTorch's name.
    fn check_parameter_grads(&self, module: &impl Module<f64, Cpu>) {
        let params = module.named_parameters();
        assert!(!params.is_empty());
        for (name, p) in params {
            self.check_grad(&p, &name);
        }
    }
}

fn cube(t: &T) -> T {
    t.mul(t).unwrap().mul(t).unwrap()
}

/// The fixture's loss: `sum(output²) + sum(h_n³) (+ sum(c_n))`.
fn layer_loss(output: &T, h_n: &T, c_n: Option<&T>) -> T {
    let loss = output
        .square()
        .unwrap()
        .sum_all()
        .unwrap()
        .add(&cube(h_n).sum_all().unwrap())
        .unwrap();
    match c_n {
        Some(c) => loss.add(&c.sum_all().unwrap()).unwrap(),
        None => loss,
    }
}

/// Runs an RNN or GRU case (`forward(x, h0)`-shaped) and checks everything against PyTorch.
fn check_single_state_layer<M: Module<f64, Cpu>>(
    case: &Case,
    module: M,
    has_h0: bool,
    forward: impl Fn(&M, &T, Option<&[usize]>, Option<&T>) -> nanotorch_ndarray_core::Result<(T, T)>,
) {
    case.load_into(&module);
    let x = case.leaf("input");
    let h0 = has_h0.then(|| case.leaf("h0"));
    let lengths = case
        .all
        .contains_key(&format!("{}.lengths", case.name))
        .then(|| case.lengths());
    let (out, h_n) = forward(&module, &x, lengths.as_deref(), h0.as_ref()).unwrap();
    case.check(&out, "output");
    case.check(&h_n, "h_n");
    layer_loss(&out, &h_n, None).backward().unwrap();
    case.check_grad(&x, "input");
    if let Some(h0) = &h0 {
        case.check_grad(h0, "h0");
    }
    case.check_parameter_grads(&module);
}

fn rnn_forward(
    m: &RNN<f64, Cpu>,
    x: &T,
    lengths: Option<&[usize]>,
    h0: Option<&T>,
) -> nanotorch_ndarray_core::Result<(T, T)> {
    match lengths {
        Some(l) => m.forward_with_lengths(x, l, h0),
        None => m.forward(x, h0),
    }
}

fn gru_forward(
    m: &GRU<f64, Cpu>,
    x: &T,
    lengths: Option<&[usize]>,
    h0: Option<&T>,
) -> nanotorch_ndarray_core::Result<(T, T)> {
    match lengths {
        Some(l) => m.forward_with_lengths(x, l, h0),
        None => m.forward(x, h0),
    }
}

fn check_lstm(case: &Case, lstm: LSTM<f64, Cpu>, has_state: bool) {
    case.load_into(&lstm);
    let x = case.leaf("input");
    let state = has_state.then(|| (case.leaf("h0"), case.leaf("c0")));
    let state_refs = state.as_ref().map(|(h, c)| (h, c));
    let lengths = case
        .all
        .contains_key(&format!("{}.lengths", case.name))
        .then(|| case.lengths());
    let (out, (h_n, c_n)) = match &lengths {
        Some(l) => lstm.forward_with_lengths(&x, l, state_refs).unwrap(),
        None => lstm.forward(&x, state_refs).unwrap(),
    };
    case.check(&out, "output");
    case.check(&h_n, "h_n");
    case.check(&c_n, "c_n");
    layer_loss(&out, &h_n, Some(&c_n)).backward().unwrap();
    case.check_grad(&x, "input");
    if let Some((h0, c0)) = &state {
        case.check_grad(h0, "h0");
        case.check_grad(c0, "c0");
    }
    case.check_parameter_grads(&lstm);
}

fn options() -> RnnOptions {
    RnnOptions::new()
}

#[test]
fn rnn_tanh_two_layers_with_h0_matches_pytorch() {
    let rnn = RNN::with_options(INPUT, HIDDEN, options().num_layers(2), &Cpu).unwrap();
    check_single_state_layer(&Case::load("rnn_tanh"), rnn, true, rnn_forward);
}

#[test]
fn rnn_relu_bidirectional_without_bias_matches_pytorch() {
    let rnn = RNN::with_options(
        INPUT,
        HIDDEN,
        options().bias(false).bidirectional(true),
        &Cpu,
    )
    .unwrap()
    .nonlinearity(Nonlinearity::ReLU);
    check_single_state_layer(&Case::load("rnn_relu"), rnn, false, rnn_forward);
}

#[test]
fn lstm_with_initial_state_matches_pytorch() {
    let lstm = LSTM::new(INPUT, HIDDEN, &Cpu).unwrap();
    check_lstm(&Case::load("lstm"), lstm, true);
}

#[test]
fn lstm_two_layers_bidirectional_batch_first_matches_pytorch() {
    let opts = options()
        .num_layers(2)
        .bidirectional(true)
        .batch_first(true);
    let lstm = LSTM::with_options(INPUT, HIDDEN, opts, &Cpu).unwrap();
    check_lstm(&Case::load("lstm_deep"), lstm, false);
}

#[test]
fn gru_bidirectional_with_h0_matches_pytorch() {
    let gru = GRU::with_options(INPUT, HIDDEN, options().bidirectional(true), &Cpu).unwrap();
    check_single_state_layer(&Case::load("gru"), gru, true, gru_forward);
}

#[test]
fn gru_unbatched_input_matches_pytorch() {
    let gru = GRU::with_options(INPUT, HIDDEN, options().num_layers(2), &Cpu).unwrap();
    check_single_state_layer(&Case::load("gru_unbatched"), gru, true, gru_forward);
}

#[test]
fn lstm_with_lengths_matches_pack_padded_sequence() {
    let opts = options().num_layers(2).bidirectional(true);
    let lstm = LSTM::with_options(INPUT, HIDDEN, opts, &Cpu).unwrap();
    check_lstm(&Case::load("lstm_packed"), lstm, true);
}

#[test]
fn gru_with_lengths_batch_first_matches_pack_padded_sequence() {
    let opts = options().bidirectional(true).batch_first(true);
    let gru = GRU::with_options(INPUT, HIDDEN, opts, &Cpu).unwrap();
    check_single_state_layer(&Case::load("gru_packed"), gru, true, gru_forward);
}

#[test]
fn rnn_with_lengths_matches_pack_padded_sequence() {
    let rnn = RNN::with_options(INPUT, HIDDEN, options().bidirectional(true), &Cpu).unwrap();
    check_single_state_layer(&Case::load("rnn_packed"), rnn, false, rnn_forward);
}

/// A one-state cell case: `h = cell(x, h0)`, loss `sum(h²)`.
fn check_single_state_cell<M: Module<f64, Cpu>>(
    case: &Case,
    cell: M,
    forward: impl Fn(&M, &T, Option<&T>) -> nanotorch_ndarray_core::Result<T>,
) {
    case.load_into(&cell);
    let (x, h0) = (case.leaf("input"), case.leaf("h0"));
    let h = forward(&cell, &x, Some(&h0)).unwrap();
    case.check(&h, "h");
    h.square().unwrap().sum_all().unwrap().backward().unwrap();
    case.check_grad(&x, "input");
    case.check_grad(&h0, "h0");
    case.check_parameter_grads(&cell);
}

#[test]
fn rnn_cells_match_pytorch() {
    let cell = RNNCell::new(INPUT, HIDDEN, &Cpu).unwrap();
    check_single_state_cell(&Case::load("rnn_cell"), cell, |c, x, h| c.forward(x, h));
    let cell = RNNCell::new(INPUT, HIDDEN, &Cpu)
        .unwrap()
        .nonlinearity(Nonlinearity::ReLU);
    check_single_state_cell(&Case::load("rnn_cell_relu"), cell, |c, x, h| {
        c.forward(x, h)
    });
}

#[test]
fn gru_cells_match_pytorch() {
    let cell = GRUCell::new(INPUT, HIDDEN, &Cpu).unwrap();
    check_single_state_cell(&Case::load("gru_cell"), cell, |c, x, h| c.forward(x, h));
    // Unbatched (1-d input and state) and without biases.
    let cell = GRUCell::new(INPUT, HIDDEN, &Cpu).unwrap().without_bias();
    check_single_state_cell(&Case::load("gru_cell_unbatched"), cell, |c, x, h| {
        c.forward(x, h)
    });
}

#[test]
fn lstm_cell_matches_pytorch() {
    let case = Case::load("lstm_cell");
    let cell = LSTMCell::new(INPUT, HIDDEN, &Cpu).unwrap();
    case.load_into(&cell);
    let (x, h0, c0) = (case.leaf("input"), case.leaf("h0"), case.leaf("c0"));
    let (h, c) = cell.forward(&x, Some((&h0, &c0))).unwrap();
    case.check(&h, "h");
    case.check(&c, "c");
    let loss = h.square().unwrap().sum_all().unwrap();
    loss.add(&cube(&c).sum_all().unwrap())
        .unwrap()
        .backward()
        .unwrap();
    case.check_grad(&x, "input");
    case.check_grad(&h0, "h0");
    case.check_grad(&c0, "c0");
    case.check_parameter_grads(&cell);
}

#[test]
fn parameter_names_are_pytorchs() {
    let opts = options().num_layers(2).bidirectional(true);
    let lstm = LSTM::<f64, Cpu>::with_options(INPUT, HIDDEN, opts, &Cpu).unwrap();
    let names: Vec<String> = lstm
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    // PyTorch's `_flat_weights_names` order: per layer, per direction, w_ih, w_hh, b_ih, b_hh.
    let mut expected = Vec::new();
    for layer in 0..2 {
        for suffix in ["", "_reverse"] {
            for p in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] {
                expected.push(format!("{p}_l{layer}{suffix}"));
            }
        }
    }
    assert_eq!(names, expected);
    let shapes: Vec<Vec<usize>> = lstm
        .parameters()
        .iter()
        .map(|p| p.dims().to_vec())
        .collect();
    assert_eq!(shapes[0], [16, 3]); // layer 0 reads the input
    assert_eq!(shapes[8], [16, 8]); // layer 1 reads both directions of layer 0
    assert_eq!(shapes[9], [16, 4]);
    let cell = GRUCell::<f64, Cpu>::new(INPUT, HIDDEN, &Cpu).unwrap();
    let names: Vec<String> = cell
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]);
    let rnn = RNN::<f64, Cpu>::with_options(INPUT, HIDDEN, options().bias(false), &Cpu).unwrap();
    assert_eq!(rnn.named_parameters().len(), 2);
}

#[test]
fn every_parameter_starts_uniform_in_one_over_sqrt_hidden() {
    manual_seed(5);
    let hidden = 16;
    let bound = 1.0 / (hidden as f64).sqrt();
    let gru = GRU::<f64, Cpu>::with_options(10, hidden, options().num_layers(2), &Cpu).unwrap();
    let cell = LSTMCell::<f64, Cpu>::new(10, hidden, &Cpu).unwrap();
    let params = gru.parameters().into_iter().chain(cell.parameters());
    for p in params {
        let v = p.to_vec().unwrap();
        let (lo, hi) = v
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        assert!(lo >= -bound && hi <= bound, "{lo}..{hi} outside ±{bound}");
        // at least 48 draws per tensor: both halves of the range are reached
        assert!(
            lo < -0.5 * bound && hi > 0.5 * bound,
            "{lo}..{hi} not spread over ±{bound}"
        );
        assert!(p.requires_grad());
    }
}

#[test]
fn printing_follows_pytorchs_repr() {
    let opts = options()
        .num_layers(2)
        .bias(false)
        .batch_first(true)
        .dropout(0.5)
        .bidirectional(true);
    let rnn = RNN::<f32, Cpu>::with_options(3, 4, opts, &Cpu).unwrap();
    assert_eq!(
        rnn.to_string(),
        "RNN(3, 4, num_layers=2, bias=false, batch_first=true, dropout=0.5, bidirectional=true)"
    );
    assert_eq!(
        GRU::<f32, Cpu>::new(3, 4, &Cpu).unwrap().to_string(),
        "GRU(3, 4)"
    );
    let cell = RNNCell::<f32, Cpu>::new(3, 4, &Cpu)
        .unwrap()
        .without_bias()
        .nonlinearity(Nonlinearity::ReLU);
    assert_eq!(
        cell.to_string(),
        "RNNCell(3, 4, bias=false, nonlinearity=relu)"
    );
    assert_eq!(
        LSTMCell::<f32, Cpu>::new(3, 4, &Cpu).unwrap().to_string(),
        "LSTMCell(3, 4)"
    );
}

fn randn(shape: &[usize]) -> T {
    Tensor::randn(shape.to_vec(), &Cpu).unwrap()
}

fn max_diff(a: &T, b: &T) -> f64 {
    assert_eq!(a.dims(), b.dims());
    let (a, b) = (a.to_vec().unwrap(), b.to_vec().unwrap());
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[test]
fn a_padded_sequence_gives_what_it_gives_alone() {
    // Sequence 1 (length 2) of a padded batch, against the same sequence run alone, unpadded:
    // the same outputs at its real steps, zeros after, the same final states, in both directions.
    manual_seed(7);
    let opts = options().num_layers(2).bidirectional(true);
    let lstm = LSTM::<f64, Cpu>::with_options(INPUT, HIDDEN, opts, &Cpu).unwrap();
    let x = randn(&[5, 3, INPUT]);
    let (out, (h_n, c_n)) = lstm.forward_with_lengths(&x, &[5, 2, 4], None).unwrap();
    let alone = x.narrow(0, 0, 2).unwrap().narrow(1, 1, 1).unwrap();
    let (out1, (h1, c1)) = lstm.forward(&alone, None).unwrap();
    let real = out.narrow(0, 0, 2).unwrap().narrow(1, 1, 1).unwrap();
    assert!(max_diff(&real, &out1) < 1e-12);
    let padded = out.narrow(0, 2, 3).unwrap().narrow(1, 1, 1).unwrap();
    assert_eq!(
        padded.abs().unwrap().sum_all().unwrap().item().unwrap(),
        0.0
    );
    assert!(max_diff(&h_n.narrow(1, 1, 1).unwrap(), &h1) < 1e-12);
    assert!(max_diff(&c_n.narrow(1, 1, 1).unwrap(), &c1) < 1e-12);
    // The padding's values do not matter.
    let noise = randn(&[3, 1, INPUT]);
    let repadded = Tensor::cat(
        &[
            x.narrow(1, 0, 1).unwrap(),
            Tensor::cat(
                &[x.narrow(0, 0, 2).unwrap().narrow(1, 1, 1).unwrap(), noise],
                0,
            )
            .unwrap(),
            x.narrow(1, 2, 1).unwrap(),
        ],
        1,
    )
    .unwrap();
    let (out2, (h2, _)) = lstm
        .forward_with_lengths(&repadded, &[5, 2, 4], None)
        .unwrap();
    assert!(max_diff(&out, &out2) < 1e-12);
    assert!(max_diff(&h_n, &h2) < 1e-12);
}

#[test]
fn full_lengths_are_the_plain_forward() {
    manual_seed(8);
    let gru =
        GRU::<f64, Cpu>::with_options(INPUT, HIDDEN, options().bidirectional(true), &Cpu).unwrap();
    let x = randn(&[4, 2, INPUT]);
    let (a, ha) = gru.forward(&x, None).unwrap();
    let (b, hb) = gru.forward_with_lengths(&x, &[4, 4], None).unwrap();
    assert_eq!(max_diff(&a, &b), 0.0);
    assert_eq!(max_diff(&ha, &hb), 0.0);
}

#[test]
fn unbatched_input_is_a_batch_of_one() {
    manual_seed(9);
    let opts = options()
        .num_layers(2)
        .bidirectional(true)
        .batch_first(true);
    let lstm = LSTM::<f64, Cpu>::with_options(INPUT, HIDDEN, opts, &Cpu).unwrap();
    let x = randn(&[5, INPUT]);
    let (h0, c0) = (randn(&[4, HIDDEN]), randn(&[4, HIDDEN]));
    let (out, (h_n, c_n)) = lstm.forward(&x, Some((&h0, &c0))).unwrap();
    assert_eq!(out.dims(), [5, 2 * HIDDEN]);
    assert_eq!(h_n.dims(), [4, HIDDEN]);
    // batch_first: the batch of one goes first
    let batched = x.unsqueeze(0).unwrap();
    let (h0b, c0b) = (h0.unsqueeze(1).unwrap(), c0.unsqueeze(1).unwrap());
    let (outb, (hb, cb)) = lstm.forward(&batched, Some((&h0b, &c0b))).unwrap();
    assert!(max_diff(&out, &outb.squeeze(0).unwrap()) < 1e-12);
    assert!(max_diff(&h_n, &hb.squeeze(1).unwrap()) < 1e-12);
    assert!(max_diff(&c_n, &cb.squeeze(1).unwrap()) < 1e-12);
    // A cell on a 1-d input
    let cell = LSTMCell::<f64, Cpu>::new(INPUT, HIDDEN, &Cpu).unwrap();
    let (h, c) = cell.forward(&randn(&[INPUT]), None).unwrap();
    assert_eq!((h.dims(), c.dims()), (&[HIDDEN][..], &[HIDDEN][..]));
}

#[test]
fn dropout_acts_between_layers_only_and_only_in_training() {
    manual_seed(10);
    let x = randn(&[4, 2, INPUT]);
    // Dropout 1 between two layers: the second layer reads zeros, so its output is what a
    // one-layer RNN with the second layer's weights gives on a zero input. It is not zero: no
    // dropout follows the last layer.
    let mut deep =
        RNN::<f64, Cpu>::with_options(INPUT, HIDDEN, options().num_layers(2).dropout(1.0), &Cpu)
            .unwrap();
    let (out, h_n) = deep.forward(&x, None).unwrap();
    let mut top = RNN::<f64, Cpu>::new(HIDDEN, HIDDEN, &Cpu).unwrap();
    {
        let second = &deep.all_weights()[1];
        let w = &mut top.all_weights_mut()[0];
        w.weight_ih = second.weight_ih.clone();
        w.weight_hh = second.weight_hh.clone();
        w.bias_ih = second.bias_ih.clone();
        w.bias_hh = second.bias_hh.clone();
    }
    let (expected, h_top) = top
        .forward(&T::zeros([4, 2, HIDDEN], &Cpu).unwrap(), None)
        .unwrap();
    assert!(max_diff(&out, &expected) < 1e-12);
    assert!(max_diff(&h_n.narrow(0, 1, 1).unwrap(), &h_top) < 1e-12);
    assert!(out.abs().unwrap().sum_all().unwrap().item().unwrap() > 0.0);

    // In evaluation mode dropout is off: the same as the layer without dropout.
    deep.eval();
    let plain =
        RNN::<f64, Cpu>::with_options(INPUT, HIDDEN, options().num_layers(2), &Cpu).unwrap();
    plain.load_state_dict(&deep.state_dict(), true).unwrap();
    let (eval_out, _) = deep.forward(&x, None).unwrap();
    let (plain_out, _) = plain.forward(&x, None).unwrap();
    assert_eq!(max_diff(&eval_out, &plain_out), 0.0);
    assert!(max_diff(&eval_out, &out) > 1e-3);

    // One layer: nothing lies between layers, so dropout changes nothing even in training.
    let single =
        LSTM::<f64, Cpu>::with_options(INPUT, HIDDEN, options().dropout(0.9), &Cpu).unwrap();
    let (a, _) = single.forward(&x, None).unwrap();
    let mut single = single;
    single.eval();
    let (b, _) = single.forward(&x, None).unwrap();
    assert_eq!(max_diff(&a, &b), 0.0);
}

#[test]
fn the_single_tensor_form_runs_in_a_sequential() {
    manual_seed(11);
    let gru = GRU::<f64, Cpu>::new(INPUT, HIDDEN, &Cpu).unwrap();
    let x = randn(&[3, 2, INPUT]);
    let (expected, _) = gru.forward(&x, None).unwrap();
    let seq = nanotorch_nn::Sequential::new().append(gru);
    assert_eq!(max_diff(&seq.forward(&x).unwrap(), &expected), 0.0);
    assert_eq!(seq.named_parameters()[0].0, "0.weight_ih_l0");
}

#[test]
fn wrong_input_size_names_the_layer_and_both_shapes() {
    let lstm = LSTM::<f64, Cpu>::new(INPUT, HIDDEN, &Cpu).unwrap();
    let err = lstm
        .forward(&randn(&[5, 2, 6]), None)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("LSTM:"), "{err}");
    assert!(
        err.contains("[5, 2, 6]") && err.contains("[16, 3]"),
        "{err}"
    );
    // rank 4 is not a sequence
    let err = lstm
        .forward(&randn(&[5, 2, 1, 3]), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("LSTM:") && err.contains("[5, 2, 1, 3]"),
        "{err}"
    );

    let cell = GRUCell::<f64, Cpu>::new(INPUT, HIDDEN, &Cpu).unwrap();
    let err = cell.forward(&randn(&[2, 5]), None).unwrap_err().to_string();
    assert!(
        err.starts_with("GRUCell:") && err.contains("[2, 5]") && err.contains("[12, 3]"),
        "{err}"
    );
}

#[test]
fn wrong_state_shapes_and_lengths_are_errors() {
    let gru = GRU::<f64, Cpu>::with_options(INPUT, HIDDEN, options().num_layers(2), &Cpu).unwrap();
    let x = randn(&[5, 3, INPUT]);
    let err = gru
        .forward(&x, Some(&randn(&[1, 3, HIDDEN])))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("GRU:") && err.contains("[1, 3, 4]") && err.contains("[2, 3, 4]"),
        "{err}"
    );
    let lstm = LSTM::<f64, Cpu>::new(INPUT, HIDDEN, &Cpu).unwrap();
    let (h, c) = (randn(&[1, 3, HIDDEN]), randn(&[1, 2, HIDDEN]));
    let err = lstm.forward(&x, Some((&h, &c))).unwrap_err().to_string();
    assert!(
        err.starts_with("LSTM:") && err.contains("c0") && err.contains("[1, 2, 4]"),
        "{err}"
    );
    let cell = RNNCell::<f64, Cpu>::new(INPUT, HIDDEN, &Cpu).unwrap();
    let err = cell
        .forward(&randn(&[3, INPUT]), Some(&randn(&[2, HIDDEN])))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("RNNCell:") && err.contains("[2, 4]") && err.contains("[3, 4]"),
        "{err}"
    );

    for lengths in [&[5, 0, 4][..], &[5, 6, 4], &[5, 4]] {
        let err = gru
            .forward_with_lengths(&x, lengths, None)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("GRU:") && err.contains("lengths"), "{err}");
    }
    let err = gru
        .forward(&randn(&[0, 3, INPUT]), None)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("GRU:"), "{err}");
    // Options PyTorch rejects too.
    assert!(LSTM::<f64, Cpu>::with_options(3, 4, options().dropout(1.5), &Cpu).is_err());
    assert!(LSTM::<f64, Cpu>::with_options(3, 0, options(), &Cpu).is_err());
    assert!(LSTM::<f64, Cpu>::with_options(3, 4, options().num_layers(0), &Cpu).is_err());
    // A replaced weight of the wrong shape is an error at forward time, not a panic.
    let mut rnn = RNN::<f64, Cpu>::new(INPUT, HIDDEN, &Cpu).unwrap();
    rnn.all_weights_mut()[0].weight_hh = randn(&[4, 5]);
    let err = rnn
        .forward(&randn(&[2, 1, INPUT]), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("RNN:") && err.contains("weight_hh_l0") && err.contains("[4, 5]"),
        "{err}"
    );
}
