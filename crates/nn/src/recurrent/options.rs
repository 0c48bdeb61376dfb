//! `RnnOptions`: the keyword arguments every recurrent layer shares, as a builder.

/// The options every recurrent layer shares, PyTorch's keyword arguments with PyTorch's
/// defaults: one layer, biases, time-major input `[seq, batch, feature]`, no dropout, one
/// direction. Builder style:
///
/// ```
/// use nanotorch_backend_cpu::Cpu;
/// use nanotorch_nn::{RnnOptions, LSTM};
/// # fn main() -> nanotorch_ndarray_core::Result<()> {
/// // nn.LSTM(8, 16, num_layers=2, batch_first=True, dropout=0.1, bidirectional=True)
/// let options = RnnOptions::new().num_layers(2).batch_first(true).dropout(0.1).bidirectional(true);
/// let lstm = LSTM::<f32, Cpu>::with_options(8, 16, options, &Cpu)?;
/// assert_eq!(lstm.to_string(), "LSTM(8, 16, num_layers=2, batch_first=true, dropout=0.1, bidirectional=true)");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RnnOptions {
    /// Stacked layers (default 1).
    pub num_layers: usize,
    /// Whether there are biases (default true).
    pub bias: bool,
    /// `[batch, seq, feature]` input and output (default false).
    pub batch_first: bool,
    /// Dropout probability between layers in training (default 0).
    pub dropout: f64,
    /// Both directions (default false).
    pub bidirectional: bool,
}

impl Default for RnnOptions {
    fn default() -> Self {
        RnnOptions {
            num_layers: 1,
            bias: true,
            batch_first: false,
            dropout: 0.0,
            bidirectional: false,
        }
    }
}

impl RnnOptions {
    /// PyTorch's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stacked layers, each reading the previous one's output (default 1).
    pub fn num_layers(mut self, num_layers: usize) -> Self {
        self.num_layers = num_layers;
        self
    }

    /// Whether the layers have biases `bias_ih` and `bias_hh` (default true).
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }

    /// Input and output as `[batch, seq, feature]` instead of `[seq, batch, feature]` (default
    /// false). The states `h0`, `h_n` are `[layers·directions, batch, hidden]` either way.
    pub fn batch_first(mut self, batch_first: bool) -> Self {
        self.batch_first = batch_first;
        self
    }

    /// Dropout probability on the output of every layer but the last, in training mode only
    /// (default 0).
    pub fn dropout(mut self, p: f64) -> Self {
        self.dropout = p;
        self
    }

    /// Run each layer over the sequence in both directions and concatenate the two outputs
    /// (default false).
    pub fn bidirectional(mut self, bidirectional: bool) -> Self {
        self.bidirectional = bidirectional;
        self
    }
}

impl RnnOptions {
    /// 2 when bidirectional, else 1.
    pub(super) fn directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }
}
