//! Recurrent layers: [`RNN`], [`LSTM`] and [`GRU`] over whole sequences, and the single-step
//! [`RNNCell`], [`LSTMCell`] and [`GRUCell`], with PyTorch's names, shapes, gate order, init and
//! state-dict keys, so a PyTorch state dict loads unchanged.
//!
//! The step rules (PyTorch's, `σ` the logistic sigmoid, `⊙` the element-wise product):
//!
//! - RNN: `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)` (or `relu`).
//! - LSTM, gates in the order i, f, g, o:
//!   `i, f, g, o = σ, σ, tanh, σ (W_ih x + b_ih + W_hh h + b_hh)`, `c' = f ⊙ c + i ⊙ g`,
//!   `h' = o ⊙ tanh(c')`.
//! - GRU, gates r, z, n: `r = σ(W_ir x + b_ir + W_hr h + b_hr)`, `z` likewise,
//!   `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`, `h' = (1 − z) ⊙ n + z ⊙ h`. The reset gate
//!   multiplies `W_hn h + b_hn`, bias included, as PyTorch (and cuDNN) do.
//!
//! Every gate's weights are stacked into one matrix (`weight_ih` is `[gates·hidden, input]`), so
//! a time step costs one matrix product for all gates, and the input's share of every step is one
//! product over the whole sequence, computed before the loop. An LSTM layer runs each direction
//! as one recorded op whose backward pass through time is written by hand (`sequence.rs`): per
//! step one product and one fused cell each way, the weights' gradients one product each. RNN
//! and GRU layers (and the LSTM under `create_graph`) record step by step, kept linear in the
//! sequence and low per step: the steps are `unbind` views of that product, the LSTM's
//! element-wise step is two recorded ops with hand-written rules (`fused.rs`), and `W_hh`'s
//! gradient is one product over the whole sequence (`step_weight.rs`).

mod cell;
mod fused;
mod layer;
mod options;
mod sequence;
mod step_weight;

pub use cell::{GRUCell, LSTMCell, RNNCell, RnnWeights};
pub use layer::{GRU, LSTM, RNN};
pub use options::RnnOptions;

/// Every recurrent layer of this module. `tests/gradcheck.rs` fails if any name here has no
/// gradcheck case in `tests/gradcheck/recurrent.rs`.
pub const RECURRENT_LAYERS: &[&str] = &["RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"];

/// The element-wise function of a plain RNN or RNN cell (PyTorch's `nonlinearity` argument:
/// `"tanh"`, the default, or `"relu"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Nonlinearity {
    /// `tanh` (the default).
    #[default]
    Tanh,
    /// `max(x, 0)`.
    ReLU,
}

impl std::fmt::Display for Nonlinearity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Nonlinearity::Tanh => "tanh",
            Nonlinearity::ReLU => "relu",
        })
    }
}
