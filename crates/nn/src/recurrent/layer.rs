//! The sequence layers `RNN`, `LSTM` and `GRU`: stacks of layers, each run forward (and, when
//! bidirectional, backward) over time, with optional initial states and per-sequence lengths.

use super::cell::{step, Kind, LstmStateRef, RnnWeights};
use super::sequence::lstm_direction;
use super::step_weight::StepWeight;
use super::{Nonlinearity, RnnOptions};
use crate::module::{repr, Training};
use crate::{Forward, Module, Visitor};
use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result, Shape};

/// What `RNN`, `LSTM` and `GRU` share: the options, the weights of every layer and direction,
/// and the training flag (for dropout).
struct RnnBase<E: Float, B: Backend> {
    kind: Kind,
    name: &'static str,
    input_size: usize,
    hidden_size: usize,
    options: RnnOptions,
    /// Layer `l`, direction `d` at `l·directions + d` (PyTorch's `all_weights` order).
    weights: Vec<RnnWeights<E, B>>,
    training: Training,
}

/// A state, checked and split per layer and direction: `[batch, hidden]` each.
type States<E, B> = Vec<Tensor<E, B>>;

/// What a run returns: the output, `h`, and `c` for LSTM.
pub(super) type Ran<E, B> = (Tensor<E, B>, Tensor<E, B>, Option<Tensor<E, B>>);

impl<E: Float, B: Backend> RnnBase<E, B> {
    fn new(
        kind: Kind,
        name: &'static str,
        input_size: usize,
        hidden_size: usize,
        options: RnnOptions,
        backend: &B,
    ) -> Result<Self> {
        if hidden_size == 0 || options.num_layers == 0 {
            return Err(Error::msg(format!(
                "{name}: hidden_size and num_layers must be positive (got {hidden_size} and {})",
                options.num_layers
            )));
        }
        if !(0.0..=1.0).contains(&options.dropout) {
            return Err(Error::msg(format!(
                "{name}: dropout probability {} is outside [0, 1]",
                options.dropout
            )));
        }
        let directions = options.directions();
        let mut weights = Vec::with_capacity(options.num_layers * directions);
        for layer in 0..options.num_layers {
            let input = if layer == 0 {
                input_size
            } else {
                hidden_size * directions
            };
            for _ in 0..directions {
                weights.push(RnnWeights::init(
                    kind,
                    input,
                    hidden_size,
                    options.bias,
                    backend,
                )?);
            }
        }
        Ok(RnnBase {
            kind,
            name,
            input_size,
            hidden_size,
            options,
            weights,
            training: Training::new(),
        })
    }

    fn suffix(&self, index: usize) -> String {
        let directions = self.options.directions();
        let reverse = if index % directions == 1 {
            "_reverse"
        } else {
            ""
        };
        format!("_l{}{reverse}", index / directions)
    }

    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.training(&self.training);
        for (i, w) in self.weights.iter().enumerate() {
            w.visit(v, &self.suffix(i));
        }
    }

    fn extra_repr(&self) -> String {
        let o = &self.options;
        let mut s = format!("{}, {}", self.input_size, self.hidden_size);
        if o.num_layers != 1 {
            s.push_str(&format!(", num_layers={}", o.num_layers));
        }
        if !o.bias {
            s.push_str(", bias=false");
        }
        if o.batch_first {
            s.push_str(", batch_first=true");
        }
        if o.dropout != 0.0 {
            s.push_str(&format!(", dropout={}", o.dropout));
        }
        if o.bidirectional {
            s.push_str(", bidirectional=true");
        }
        if let Kind::Rnn(Nonlinearity::ReLU) = self.kind {
            s.push_str(", nonlinearity=relu");
        }
        s
    }

    /// An initial state `[layers·directions, batch, hidden]` (`[layers·directions, hidden]` for
    /// an unbatched input) split per layer and direction, or zeros.
    fn initial(
        &self,
        what: &'static str,
        state: Option<&Tensor<E, B>>,
        unbatched: bool,
        batch: usize,
        backend: &B,
    ) -> Result<States<E, B>> {
        let count = self.weights.len();
        let Some(state) = state else {
            let zeros = Tensor::zeros([batch, self.hidden_size], backend)?;
            return Ok(vec![zeros; count]);
        };
        let expected = if unbatched {
            vec![count, self.hidden_size]
        } else {
            vec![count, batch, self.hidden_size]
        };
        if state.dims() != expected.as_slice() {
            return Err(Error::ShapeMismatch {
                op: self.name,
                what,
                lhs: state.shape().clone(),
                rhs: Shape::from(expected),
            });
        }
        (0..count)
            .map(|i| state.narrow(0, i, 1)?.reshape([batch, self.hidden_size]))
            .collect()
    }

    /// The whole forward pass. `x` is `[seq, batch, input]` (or batch first, or unbatched
    /// `[seq, input]`); `lengths` are the real lengths of the sequences in the batch. Returns the
    /// output, `h_n` and (LSTM) `c_n`.
    fn run(
        &self,
        x: &Tensor<E, B>,
        lengths: Option<&[usize]>,
        h0: Option<&Tensor<E, B>>,
        c0: Option<&Tensor<E, B>>,
    ) -> Result<Ran<E, B>> {
        let op = self.name;
        let unbatched = x.rank() == 2;
        if !(2..=3).contains(&x.rank()) || x.dims()[x.rank() - 1] != self.input_size {
            return Err(Error::ShapeMismatch {
                op,
                what: "expected input [seq, batch, input_size] ([batch, seq, input_size] with \
                       batch_first, [seq, input_size] unbatched; weight_ih_l0 is \
                       [gates*hidden_size, input_size])",
                lhs: x.shape().clone(),
                rhs: self.weights[0].weight_ih.shape().clone(),
            });
        }
        for (i, w) in self.weights.iter().enumerate() {
            let input = if i < self.options.directions() {
                self.input_size
            } else {
                self.hidden_size * self.options.directions()
            };
            w.check(op, self.kind, input, self.hidden_size, &self.suffix(i))?;
        }
        // Time-major from here on: [seq, batch, input].
        let x = if unbatched {
            x.unsqueeze(1)?
        } else if self.options.batch_first {
            x.transpose(0, 1)?
        } else {
            x.clone()
        };
        let (steps, batch) = (x.dims()[0], x.dims()[1]);
        if steps == 0 {
            return Err(Error::invalid(op, "the sequence is empty", x.shape()));
        }
        let masks = self.masks(lengths, steps, batch, x.backend())?;
        let h_what = "h0 must be [num_layers*num_directions, batch, hidden_size] \
                      ([num_layers*num_directions, hidden_size] unbatched)";
        let hs = self.initial(h_what, h0, unbatched, batch, x.backend())?;
        let cs = match self.kind {
            Kind::Lstm => {
                let c_what = "c0 must be [num_layers*num_directions, batch, hidden_size] \
                              ([num_layers*num_directions, hidden_size] unbatched)";
                Some(self.initial(c_what, c0, unbatched, batch, x.backend())?)
            }
            _ => None,
        };

        let directions = self.options.directions();
        let dropout = self.options.dropout;
        let training = self.training.get();
        // The last layer stacks its steps straight into the output's layout.
        let out_axis = if self.options.batch_first && !unbatched {
            1
        } else {
            0
        };
        let mut input = x;
        let (mut h_n, mut c_n) = (Vec::new(), Vec::new());
        for layer in 0..self.options.num_layers {
            let last = layer + 1 == self.options.num_layers;
            let mut outputs = Vec::with_capacity(directions);
            for d in 0..directions {
                let i = layer * directions + d;
                let c = cs.as_ref().map(|cs| &cs[i]);
                let (out, h, c) = match (self.kind, c) {
                    (Kind::Lstm, Some(c)) => {
                        let (out, h, c) =
                            lstm_direction(&self.weights[i], &input, (&hs[i], c), d == 1, &masks)?;
                        // Batch first: the layout stacking along axis 1 gave the step-by-step path.
                        let out = if last && out_axis == 1 {
                            out.transpose(0, 1)?.contiguous()?
                        } else {
                            out
                        };
                        (out, h, Some(c))
                    }
                    _ => composed_direction(
                        self.kind,
                        &self.weights[i],
                        &input,
                        (&hs[i], c),
                        d == 1,
                        &masks,
                        if last { out_axis } else { 0 },
                    )?,
                };
                outputs.push(out);
                h_n.push(h);
                c_n.extend(c);
            }
            let out = match outputs.as_slice() {
                [forward] => forward.clone(),
                both => Tensor::cat(both, -1)?,
            };
            // Between layers only: PyTorch applies no dropout to the last layer's output.
            input = if last {
                out
            } else {
                out.dropout(dropout, training)?
            };
        }
        let mut output = input;
        let mut h_n = Tensor::stack(&h_n, 0)?;
        let mut c_n = (!c_n.is_empty())
            .then(|| Tensor::stack(&c_n, 0))
            .transpose()?;
        if unbatched {
            output = output.squeeze(1)?;
            h_n = h_n.squeeze(1)?;
            c_n = c_n.map(|c| c.squeeze(1)).transpose()?;
        }
        Ok((output, h_n, c_n))
    }

    /// For each time step, a `[batch, 1]` mask of the sequences still running (1) or already
    /// ended (0); `None` at steps every sequence reaches, and everywhere without `lengths`.
    fn masks(
        &self,
        lengths: Option<&[usize]>,
        steps: usize,
        batch: usize,
        backend: &B,
    ) -> Result<Vec<Option<Tensor<E, B>>>> {
        let Some(lengths) = lengths else {
            return Ok(vec![None; steps]);
        };
        if lengths.len() != batch || lengths.iter().any(|&l| l == 0 || l > steps) {
            return Err(Error::msg(format!(
                "{}: lengths {lengths:?} must give one length in 1..={steps} per sequence of \
                 the batch of {batch}",
                self.name
            )));
        }
        (0..steps)
            .map(|t| {
                if lengths.iter().all(|&l| t < l) {
                    return Ok(None);
                }
                let running = lengths
                    .iter()
                    .map(|&l| if t < l { E::ONE } else { E::ZERO })
                    .collect();
                Tensor::from_vec(running, [batch, 1], backend).map(Some)
            })
            .collect()
    }
}

/// One layer in one direction over `input` `[seq, batch, features]`, from state `(h, c)`, with
/// every step recorded as ordinary ops: the outputs stacked along `out_axis`, and the final `h`
/// and `c`. RNN and GRU layers run this; LSTM layers run `sequence.rs`, which runs this when its
/// backward pass is itself recorded.
///
/// A sequence that has ended (mask 0) keeps its state and outputs zeros, so its final state
/// is the state at its last real step. Going backward, steps past a sequence's end come
/// first and leave its initial state untouched, so it starts at its own last real step:
/// what `pack_padded_sequence` gives PyTorch.
pub(super) fn composed_direction<E: Float, B: Backend>(
    kind: Kind,
    weights: &RnnWeights<E, B>,
    input: &Tensor<E, B>,
    state: (&Tensor<E, B>, Option<&Tensor<E, B>>),
    reverse: bool,
    masks: &[Option<Tensor<E, B>>],
    out_axis: isize,
) -> Result<Ran<E, B>> {
    let (steps, batch, features) = (input.dims()[0], input.dims()[1], input.dims()[2]);
    let width = weights.weight_hh.dims()[0];
    // The input's share of every gate at every step: one product before the loop.
    let projected = weights
        .project(kind, &input.reshape([steps * batch, features])?)?
        .reshape([steps, batch, width])?;
    // One view per step; `unbind`'s backward assembles their gradients once.
    let per_step = projected.unbind(0)?;
    let w_hh = StepWeight::new(&weights.weight_hh)?;
    let b_hh = weights.step_bias(kind);
    let (mut h, mut c) = (state.0.clone(), state.1.cloned());
    let mut outputs: Vec<Option<Tensor<E, B>>> = vec![None; steps];
    let order: Box<dyn Iterator<Item = usize>> = if reverse {
        Box::new((0..steps).rev())
    } else {
        Box::new(0..steps)
    };
    for t in order {
        let xp = &per_step[t];
        let hp = w_hh.apply(&h)?;
        let (h_new, c_new) = step(kind, xp, hp, &h, c.as_ref(), b_hh)?;
        match &masks[t] {
            None => {
                outputs[t] = Some(h_new.clone());
                h = h_new;
                c = c_new;
            }
            Some(mask) => {
                outputs[t] = Some(h_new.mul(mask)?);
                h = Tensor::where_cond(mask, &h_new, &h)?;
                c = match (c_new, &c) {
                    (Some(new), Some(old)) => Some(Tensor::where_cond(mask, &new, old)?),
                    _ => None,
                };
            }
        }
    }
    let outputs: Vec<Tensor<E, B>> = outputs.into_iter().flatten().collect();
    Ok((Tensor::stack(&outputs, out_axis)?, h, c))
}

/// The accessors the three layers share.
macro_rules! layer_common {
    ($name:ident, $kind:expr, $torch:literal) => {
        impl<E: Float, B: Backend> $name<E, B> {
            #[doc = concat!("`nn.", $torch, "(input_size, hidden_size)` with PyTorch's defaults \
                (see [`RnnOptions`]); every parameter uniform in `±1/√hidden_size`.")]
            pub fn new(input_size: usize, hidden_size: usize, backend: &B) -> Result<Self> {
                Self::with_options(input_size, hidden_size, RnnOptions::new(), backend)
            }

            #[doc = concat!("`nn.", $torch, "(input_size, hidden_size, …)` with `options`.")]
            pub fn with_options(
                input_size: usize,
                hidden_size: usize,
                options: RnnOptions,
                backend: &B,
            ) -> Result<Self> {
                Ok($name {
                    base: RnnBase::new($kind, $torch, input_size, hidden_size, options, backend)?,
                })
            }

            /// `input_size`.
            pub fn input_size(&self) -> usize {
                self.base.input_size
            }

            /// `hidden_size`.
            pub fn hidden_size(&self) -> usize {
                self.base.hidden_size
            }

            /// The options it was built with.
            pub fn options(&self) -> RnnOptions {
                self.base.options
            }

            /// The parameters of layer `l`, direction `d` at `l·directions + d` (PyTorch's
            /// `all_weights`).
            pub fn all_weights(&self) -> &[RnnWeights<E, B>] {
                &self.base.weights
            }

            /// The parameters, to replace (a forward pass checks their shapes).
            pub fn all_weights_mut(&mut self) -> &mut [RnnWeights<E, B>] {
                &mut self.base.weights
            }
        }

        impl<E: Float, B: Backend> Module<E, B> for $name<E, B> {
            fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
                self.base.visit(v);
            }

            fn extra_repr(&self) -> String {
                self.base.extra_repr()
            }
        }

        /// The single-tensor form (for a `Sequential`): the output from a zero initial state.
        impl<E: Float, B: Backend> Forward<E, B> for $name<E, B> {
            fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
                Ok(self.base.run(x, None, None, None)?.0)
            }
        }

        impl<E: Float, B: Backend> std::fmt::Display for $name<E, B> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&repr::<E, B, _>(self))
            }
        }
    };
}

/// A multi-layer Elman RNN (`nn.RNN`): `h_t = tanh(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)` (or
/// `relu`, see [`RNN::nonlinearity`]).
///
/// Input `[seq, batch, input]` (`[batch, seq, input]` with `batch_first`, `[seq, input]`
/// unbatched); output `[seq, batch, directions·hidden]`; states `[layers·directions, batch,
/// hidden]`. Parameters `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`, with
/// `_reverse` for the backward direction.
pub struct RNN<E: Float = f32, B: Backend = Cpu> {
    base: RnnBase<E, B>,
}

/// A multi-layer LSTM (`nn.LSTM`), gates i, f, g, o stacked in `weight_ih_l{k}`
/// `[4·hidden, input]`.
///
/// Input `[seq, batch, input]` (`[batch, seq, input]` with `batch_first`, `[seq, input]`
/// unbatched); output `[seq, batch, directions·hidden]`; states `h` and `c`
/// `[layers·directions, batch, hidden]`.
///
/// ```
/// use nanotorch_autograd::Tensor;
/// use nanotorch_backend_cpu::Cpu;
/// use nanotorch_nn::LSTM;
/// # fn main() -> nanotorch_ndarray_core::Result<()> {
/// let lstm = LSTM::<f32, Cpu>::new(10, 20, &Cpu)?;
/// let x = Tensor::randn([5, 3, 10], &Cpu)?; // 5 steps, a batch of 3
/// let (output, (h_n, c_n)) = lstm.forward(&x, None)?;
/// assert_eq!(output.dims(), &[5, 3, 20]);
/// assert_eq!((h_n.dims(), c_n.dims()), (&[1, 3, 20][..], &[1, 3, 20][..]));
/// // Sequences of lengths 5, 2 and 4 padded into one batch: each final state is the state at
/// // that sequence's last real step, and the output is zero past it.
/// let (output, (h_n, _)) = lstm.forward_with_lengths(&x, &[5, 2, 4], None)?;
/// # Ok(()) }
/// ```
pub struct LSTM<E: Float = f32, B: Backend = Cpu> {
    base: RnnBase<E, B>,
}

/// A multi-layer GRU (`nn.GRU`), gates r, z, n stacked in `weight_ih_l{k}` `[3·hidden, input]`;
/// the reset gate multiplies `W_hn h + b_hn`.
///
/// Input `[seq, batch, input]` (`[batch, seq, input]` with `batch_first`, `[seq, input]`
/// unbatched); output `[seq, batch, directions·hidden]`; states `[layers·directions, batch,
/// hidden]`.
pub struct GRU<E: Float = f32, B: Backend = Cpu> {
    base: RnnBase<E, B>,
}

layer_common!(RNN, Kind::Rnn(Nonlinearity::Tanh), "RNN");
layer_common!(LSTM, Kind::Lstm, "LSTM");
layer_common!(GRU, Kind::Gru, "GRU");

impl<E: Float, B: Backend> RNN<E, B> {
    /// With `nonlinearity` (PyTorch's `nonlinearity="relu"`); changes no parameter.
    pub fn nonlinearity(mut self, nonlinearity: Nonlinearity) -> Self {
        self.base.kind = Kind::Rnn(nonlinearity);
        self
    }

    /// The output `[seq, batch, directions·hidden]` and final state `h_n`
    /// `[layers·directions, batch, hidden]`, from `h0` (zeros when `None`).
    pub fn forward(
        &self,
        x: &Tensor<E, B>,
        h0: Option<&Tensor<E, B>>,
    ) -> Result<(Tensor<E, B>, Tensor<E, B>)> {
        let (out, h, _) = self.base.run(x, None, h0, None)?;
        Ok((out, h))
    }

    /// As [`RNN::forward`] for a padded batch of sequences of the given `lengths` (one per
    /// sequence, each in `1..=seq`; PyTorch's `pack_padded_sequence`, in any order): padding
    /// never reaches a state, each `h_n` is the state at that sequence's last real step, and the
    /// output is zero past it (as `pad_packed_sequence` pads).
    pub fn forward_with_lengths(
        &self,
        x: &Tensor<E, B>,
        lengths: &[usize],
        h0: Option<&Tensor<E, B>>,
    ) -> Result<(Tensor<E, B>, Tensor<E, B>)> {
        let (out, h, _) = self.base.run(x, Some(lengths), h0, None)?;
        Ok((out, h))
    }
}

impl<E: Float, B: Backend> GRU<E, B> {
    /// The output `[seq, batch, directions·hidden]` and final state `h_n`
    /// `[layers·directions, batch, hidden]`, from `h0` (zeros when `None`).
    pub fn forward(
        &self,
        x: &Tensor<E, B>,
        h0: Option<&Tensor<E, B>>,
    ) -> Result<(Tensor<E, B>, Tensor<E, B>)> {
        let (out, h, _) = self.base.run(x, None, h0, None)?;
        Ok((out, h))
    }

    /// As [`GRU::forward`] for a padded batch of sequences of the given `lengths`; see
    /// [`RNN::forward_with_lengths`].
    pub fn forward_with_lengths(
        &self,
        x: &Tensor<E, B>,
        lengths: &[usize],
        h0: Option<&Tensor<E, B>>,
    ) -> Result<(Tensor<E, B>, Tensor<E, B>)> {
        let (out, h, _) = self.base.run(x, Some(lengths), h0, None)?;
        Ok((out, h))
    }
}

/// An LSTM's state: `(h, c)`.
type LstmState<E, B> = (Tensor<E, B>, Tensor<E, B>);

impl<E: Float, B: Backend> LSTM<E, B> {
    /// The output `[seq, batch, directions·hidden]` and final state `(h_n, c_n)`, each
    /// `[layers·directions, batch, hidden]`, from `(h0, c0)` (zeros when `None`).
    pub fn forward(
        &self,
        x: &Tensor<E, B>,
        state: LstmStateRef<'_, E, B>,
    ) -> Result<(Tensor<E, B>, LstmState<E, B>)> {
        self.run(x, None, state)
    }

    /// As [`LSTM::forward`] for a padded batch of sequences of the given `lengths`; see
    /// [`RNN::forward_with_lengths`]. Each `h_n` and `c_n` is the state at that sequence's last
    /// real step.
    pub fn forward_with_lengths(
        &self,
        x: &Tensor<E, B>,
        lengths: &[usize],
        state: LstmStateRef<'_, E, B>,
    ) -> Result<(Tensor<E, B>, LstmState<E, B>)> {
        self.run(x, Some(lengths), state)
    }

    fn run(
        &self,
        x: &Tensor<E, B>,
        lengths: Option<&[usize]>,
        state: LstmStateRef<'_, E, B>,
    ) -> Result<(Tensor<E, B>, LstmState<E, B>)> {
        let (h0, c0) = match state {
            Some((h, c)) => (Some(h), Some(c)),
            None => (None, None),
        };
        let (out, h, c) = self.base.run(x, lengths, h0, c0)?;
        let c = c.ok_or_else(|| Error::msg("LSTM: no cell state came back"))?;
        Ok((out, (h, c)))
    }
}
