//! Gradient checks of the recurrent layers (`RECURRENT_LAYERS`): the input, the initial state
//! and every parameter of every layer and direction are inputs of the check, and the checked
//! output joins the output sequence with the final states. Lengths and a two-layer
//! bidirectional stack are covered, so the masks and the reverse direction are checked too.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::Result;
use nanotorch_nn::{
    GRUCell, LSTMCell, Nonlinearity, RNNCell, RnnOptions, RnnWeights, GRU, LSTM, RNN,
};

type T = Tensor<f64, Cpu>;

fn randn(shape: &[usize]) -> T {
    Tensor::randn(shape.to_vec(), &Cpu)
        .unwrap()
        .requires_grad_(true)
}

/// Random parameters for `layers × directions` entries: `weight_ih`, `weight_hh`, `bias_ih`,
/// `bias_hh` each, in `all_weights` order.
fn parameters(
    gates: usize,
    input: usize,
    hidden: usize,
    layers: usize,
    directions: usize,
) -> Vec<T> {
    let rows = gates * hidden;
    let mut out = Vec::new();
    for layer in 0..layers {
        let width = if layer == 0 {
            input
        } else {
            hidden * directions
        };
        for _ in 0..directions {
            out.push(randn(&[rows, width]));
            out.push(randn(&[rows, hidden]));
            out.push(randn(&[rows]));
            out.push(randn(&[rows]));
        }
    }
    out
}

/// Puts `params` (four per entry, as [`parameters`] makes them) into `weights`, so that the
/// check differentiates with respect to them.
fn install(weights: &mut [RnnWeights<f64, Cpu>], params: &[T]) {
    for (w, p) in weights.iter_mut().zip(params.chunks(4)) {
        w.weight_ih = p[0].clone();
        w.weight_hh = p[1].clone();
        w.bias_ih = Some(p[2].clone());
        w.bias_hh = Some(p[3].clone());
    }
}

/// Everything a layer returns, as one flat tensor.
fn joined(parts: &[&T]) -> Result<T> {
    let flat = parts
        .iter()
        .map(|t| t.reshape([t.numel()]))
        .collect::<Result<Vec<_>>>()?;
    Tensor::cat(&flat, 0)
}

// Sizes: 3 steps, a batch of 2, 2 input features, 2 hidden units.
const STEPS: usize = 3;
const BATCH: usize = 2;
const INPUT: usize = 2;
const HIDDEN: usize = 2;

/// The cases, one per name in `RECURRENT_LAYERS`.
pub fn cases() -> Vec<super::Case> {
    vec![
        (
            // two layers, both directions, from a given h0
            "RNN",
            || {
                let mut v = vec![randn(&[STEPS, BATCH, INPUT]), randn(&[4, BATCH, HIDDEN])];
                v.extend(parameters(1, INPUT, HIDDEN, 2, 2));
                v
            },
            |x| {
                let opts = RnnOptions::new().num_layers(2).bidirectional(true);
                let mut rnn = RNN::with_options(INPUT, HIDDEN, opts, &Cpu)?;
                install(rnn.all_weights_mut(), &x[2..]);
                let (out, h_n) = rnn.forward(&x[0], Some(&x[1]))?;
                joined(&[&out, &h_n])
            },
        ),
        (
            // both directions, batch first, sequences of lengths 3 and 1, from a given (h0, c0)
            "LSTM",
            || {
                let mut v = vec![
                    randn(&[BATCH, STEPS, INPUT]),
                    randn(&[2, BATCH, HIDDEN]),
                    randn(&[2, BATCH, HIDDEN]),
                ];
                v.extend(parameters(4, INPUT, HIDDEN, 1, 2));
                v
            },
            |x| {
                let opts = RnnOptions::new().bidirectional(true).batch_first(true);
                let mut lstm = LSTM::with_options(INPUT, HIDDEN, opts, &Cpu)?;
                install(lstm.all_weights_mut(), &x[3..]);
                let (out, (h_n, c_n)) =
                    lstm.forward_with_lengths(&x[0], &[STEPS, 1], Some((&x[1], &x[2])))?;
                joined(&[&out, &h_n, &c_n])
            },
        ),
        (
            // two layers, both directions, full-length sequences: the whole-sequence op
            "LSTM",
            || {
                let mut v = vec![
                    randn(&[STEPS, BATCH, INPUT]),
                    randn(&[4, BATCH, HIDDEN]),
                    randn(&[4, BATCH, HIDDEN]),
                ];
                v.extend(parameters(4, INPUT, HIDDEN, 2, 2));
                v
            },
            |x| {
                let opts = RnnOptions::new().num_layers(2).bidirectional(true);
                let mut lstm = LSTM::with_options(INPUT, HIDDEN, opts, &Cpu)?;
                install(lstm.all_weights_mut(), &x[3..]);
                let (out, (h_n, c_n)) = lstm.forward(&x[0], Some((&x[1], &x[2])))?;
                joined(&[&out, &h_n, &c_n])
            },
        ),
        (
            // two layers, lengths 2 and 3, from a given h0
            "GRU",
            || {
                let mut v = vec![randn(&[STEPS, BATCH, INPUT]), randn(&[2, BATCH, HIDDEN])];
                v.extend(parameters(3, INPUT, HIDDEN, 2, 1));
                v
            },
            |x| {
                let mut gru =
                    GRU::with_options(INPUT, HIDDEN, RnnOptions::new().num_layers(2), &Cpu)?;
                install(gru.all_weights_mut(), &x[2..]);
                let (out, h_n) = gru.forward_with_lengths(&x[0], &[2, STEPS], Some(&x[1]))?;
                joined(&[&out, &h_n])
            },
        ),
        (
            // relu: a kink at 0, which random pre-activations miss with probability ~1
            "RNNCell",
            || {
                let mut v = vec![randn(&[BATCH, INPUT]), randn(&[BATCH, HIDDEN])];
                v.extend(parameters(1, INPUT, HIDDEN, 1, 1));
                v
            },
            |x| {
                let mut cell = RNNCell::new(INPUT, HIDDEN, &Cpu)?.nonlinearity(Nonlinearity::ReLU);
                install(std::slice::from_mut(cell.weights_mut()), &x[2..]);
                cell.forward(&x[0], Some(&x[1]))
            },
        ),
        (
            "LSTMCell",
            || {
                let mut v = vec![
                    randn(&[BATCH, INPUT]),
                    randn(&[BATCH, HIDDEN]),
                    randn(&[BATCH, HIDDEN]),
                ];
                v.extend(parameters(4, INPUT, HIDDEN, 1, 1));
                v
            },
            |x| {
                let mut cell = LSTMCell::new(INPUT, HIDDEN, &Cpu)?;
                install(std::slice::from_mut(cell.weights_mut()), &x[3..]);
                let (h, c) = cell.forward(&x[0], Some((&x[1], &x[2])))?;
                joined(&[&h, &c])
            },
        ),
        (
            "GRUCell",
            || {
                let mut v = vec![randn(&[BATCH, INPUT]), randn(&[BATCH, HIDDEN])];
                v.extend(parameters(3, INPUT, HIDDEN, 1, 1));
                v
            },
            |x| {
                let mut cell = GRUCell::new(INPUT, HIDDEN, &Cpu)?;
                install(std::slice::from_mut(cell.weights_mut()), &x[2..]);
                cell.forward(&x[0], Some(&x[1]))
            },
        ),
    ]
}
