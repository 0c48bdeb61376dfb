//! One time step: the shared step rules of the three recurrences, and the cells `RNNCell`,
//! `LSTMCell` and `GRUCell` that run them on a single input.

use super::fused::lstm_pointwise;
use super::Nonlinearity;
use crate::module::repr;
use crate::{init, Forward, Module, Visitor};
use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result, Shape};

/// Which recurrence a layer or cell runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Rnn(Nonlinearity),
    Lstm,
    Gru,
}

impl Kind {
    /// How many gates share one weight matrix: `weight_ih` is `[gates·hidden, input]`.
    pub(super) fn gates(self) -> usize {
        match self {
            Kind::Rnn(_) => 1,
            Kind::Lstm => 4,
            Kind::Gru => 3,
        }
    }
}

/// A step's new hidden state and, for LSTM, its new cell state.
pub(super) type NewState<E, B> = (Tensor<E, B>, Option<Tensor<E, B>>);

/// An LSTM state `(h, c)` passed by reference, or `None` for zeros.
pub(super) type LstmStateRef<'a, E, B> = Option<(&'a Tensor<E, B>, &'a Tensor<E, B>)>;

/// The parameters of one layer in one direction (or of a cell), gates stacked as PyTorch stacks
/// them: `weight_ih` `[gates·hidden, input]`, `weight_hh` `[gates·hidden, hidden]`, biases
/// `[gates·hidden]`, with gates = 1 (RNN), 4 (LSTM: i, f, g, o) or 3 (GRU: r, z, n). One entry of
/// [`crate::LSTM::all_weights`] (PyTorch's `all_weights`).
pub struct RnnWeights<E: Float = f32, B: Backend = Cpu> {
    /// Input-to-hidden weights, `[gates·hidden, input]`.
    pub weight_ih: Tensor<E, B>,
    /// Hidden-to-hidden weights, `[gates·hidden, hidden]`.
    pub weight_hh: Tensor<E, B>,
    /// Input-to-hidden bias, `[gates·hidden]`, if the layer has biases.
    pub bias_ih: Option<Tensor<E, B>>,
    /// Hidden-to-hidden bias, `[gates·hidden]`, if the layer has biases.
    pub bias_hh: Option<Tensor<E, B>>,
}

impl<E: Float, B: Backend> RnnWeights<E, B> {
    /// PyTorch's init: every parameter uniform in `±1/√hidden`, drawn in PyTorch's order
    /// (`weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`).
    pub(super) fn init(
        kind: Kind,
        input: usize,
        hidden: usize,
        bias: bool,
        backend: &B,
    ) -> Result<Self> {
        let bound = 1.0 / (hidden.max(1) as f64).sqrt();
        let rows = kind.gates() * hidden;
        let draw = |shape: Vec<usize>| init::uniform(shape, -bound, bound, backend);
        let weight_ih = draw(vec![rows, input])?;
        let weight_hh = draw(vec![rows, hidden])?;
        let bias_ih = bias.then(|| draw(vec![rows])).transpose()?;
        let bias_hh = bias.then(|| draw(vec![rows])).transpose()?;
        Ok(RnnWeights {
            weight_ih,
            weight_hh,
            bias_ih,
            bias_hh,
        })
    }

    /// Names the four parameters with `suffix` (`_l0`, `_l1_reverse`, or empty for a cell).
    pub(super) fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>, suffix: &str) {
        v.parameter(&format!("weight_ih{suffix}"), &self.weight_ih);
        v.parameter(&format!("weight_hh{suffix}"), &self.weight_hh);
        v.parameter(&format!("bias_ih{suffix}"), self.bias_ih.as_ref());
        v.parameter(&format!("bias_hh{suffix}"), self.bias_hh.as_ref());
    }

    /// Checks every shape (the fields are public, so a forward pass must not trust them).
    pub(super) fn check(
        &self,
        op: &'static str,
        kind: Kind,
        input: usize,
        hidden: usize,
        suffix: &str,
    ) -> Result<()> {
        let rows = kind.gates() * hidden;
        let expect = |name: &str, t: &Tensor<E, B>, dims: &[usize]| {
            if t.dims() == dims {
                Ok(())
            } else {
                Err(Error::msg(format!(
                    "{op}: {name}{suffix} has shape {} but must be {}",
                    t.shape(),
                    Shape::from(dims.to_vec())
                )))
            }
        };
        expect("weight_ih", &self.weight_ih, &[rows, input])?;
        expect("weight_hh", &self.weight_hh, &[rows, hidden])?;
        if let Some(b) = &self.bias_ih {
            expect("bias_ih", b, &[rows])?;
        }
        if let Some(b) = &self.bias_hh {
            expect("bias_hh", b, &[rows])?;
        }
        Ok(())
    }

    /// The input's share of every gate for a batch of inputs `x` `[m, input]`:
    /// `x·W_ihᵀ + b_ih`, `[m, gates·hidden]`. For RNN and LSTM `b_hh` is folded in here too
    /// (it only ever adds to the same sum); GRU keeps it in the hidden share, where the reset gate
    /// multiplies it.
    pub(super) fn project(&self, kind: Kind, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let w_t = self.weight_ih.t()?;
        let bias = match (&self.bias_ih, &self.bias_hh, kind) {
            (Some(bi), Some(bh), Kind::Rnn(_) | Kind::Lstm) => Some(bi.add(bh)?),
            (Some(bi), _, _) => Some(bi.clone()),
            (None, Some(bh), Kind::Rnn(_) | Kind::Lstm) => Some(bh.clone()),
            (None, _, _) => None,
        };
        match bias {
            // `addmm` adds the bias to the product's blocks as they are computed (same bits).
            Some(b) if x.rank() == 2 && b.rank() <= 1 => b.addmm(x, &w_t, E::ONE, E::ONE),
            Some(b) => x.matmul(&w_t)?.add(&b),
            None => x.matmul(&w_t),
        }
    }

    /// The bias that stays in the hidden share of a step: GRU's `b_hh` (see [`Self::project`]).
    pub(super) fn step_bias(&self, kind: Kind) -> Option<&Tensor<E, B>> {
        match kind {
            Kind::Gru => self.bias_hh.as_ref(),
            Kind::Rnn(_) | Kind::Lstm => None,
        }
    }
}

/// One step from the input's share of the gates `xp` `[n, gates·hidden]` (from
/// [`RnnWeights::project`]) and the state `h` `[n, hidden]` (and `c` for LSTM): the new `h` and
/// `c`. `hp` is the state's share of every gate, `h·W_hhᵀ` `[n, gates·hidden]` (one matrix
/// product for all gates, left to the caller: a layer records it with `step_weight.rs`);
/// `b_hh` is [`RnnWeights::step_bias`].
pub(super) fn step<E: Float, B: Backend>(
    kind: Kind,
    xp: &Tensor<E, B>,
    hp: Tensor<E, B>,
    h: &Tensor<E, B>,
    c: Option<&Tensor<E, B>>,
    b_hh: Option<&Tensor<E, B>>,
) -> Result<NewState<E, B>> {
    match kind {
        Kind::Rnn(act) => {
            let pre = xp.add(&hp)?;
            let h = match act {
                Nonlinearity::Tanh => pre.tanh()?,
                Nonlinearity::ReLU => pre.relu()?,
            };
            Ok((h, None))
        }
        Kind::Lstm => {
            let c = c.ok_or_else(|| Error::msg("LSTM step: missing cell state"))?;
            // i, f, g, o = σ, σ, tanh, σ (pre); c' = f ⊙ c + i ⊙ g; h' = o ⊙ tanh(c'), as two
            // recorded ops rather than a dozen (see `fused.rs`).
            let (h, c) = lstm_pointwise(&xp.add(&hp)?, c)?;
            Ok((h, Some(c)))
        }
        Kind::Gru => {
            let hp = match b_hh {
                Some(b) => hp.add(b)?,
                None => hp,
            };
            let x = xp.chunk(3, -1)?;
            let hg = hp.chunk(3, -1)?;
            let r = x[0].add(&hg[0])?.sigmoid()?;
            let z = x[1].add(&hg[1])?.sigmoid()?;
            let n = x[2].add(&r.mul(&hg[2])?)?.tanh()?;
            // (1 − z)·n + z·h, written with one product fewer.
            let h = n.add(&z.mul(&h.sub(&n)?)?)?;
            Ok((h, None))
        }
    }
}

/// A cell: one step of a recurrence on `[batch, input]` (or unbatched `[input]`) inputs.
struct CellCore<E: Float, B: Backend> {
    kind: Kind,
    weights: RnnWeights<E, B>,
}

/// The shapes a cell works with, checked: whether the input was unbatched, the batch size and
/// the input as `[batch, input]`.
fn cell_input<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    weight_ih: &Tensor<E, B>,
) -> Result<(bool, Tensor<E, B>)> {
    let input = weight_ih.dims().get(1).copied().unwrap_or(0);
    if !(1..=2).contains(&x.rank()) || x.dims()[x.rank() - 1] != input {
        return Err(Error::ShapeMismatch {
            op,
            what: "expected input [batch, input_size] or [input_size] (weight_ih is \
                   [gates*hidden_size, input_size])",
            lhs: x.shape().clone(),
            rhs: weight_ih.shape().clone(),
        });
    }
    let unbatched = x.rank() == 1;
    let x = if unbatched {
        x.unsqueeze(0)?
    } else {
        x.clone()
    };
    Ok((unbatched, x))
}

/// A given state `[batch, hidden]` (`[hidden]` for an unbatched input), checked, or zeros.
fn cell_state<E: Float, B: Backend>(
    op: &'static str,
    what: &'static str,
    state: Option<&Tensor<E, B>>,
    unbatched: bool,
    batch: usize,
    hidden: usize,
    backend: &B,
) -> Result<Tensor<E, B>> {
    let expected: Vec<usize> = if unbatched {
        vec![hidden]
    } else {
        vec![batch, hidden]
    };
    match state {
        None => Tensor::zeros([batch, hidden], backend),
        Some(s) if s.dims() == expected.as_slice() => {
            if unbatched {
                s.unsqueeze(0)
            } else {
                Ok(s.clone())
            }
        }
        Some(s) => Err(Error::ShapeMismatch {
            op,
            what,
            lhs: s.shape().clone(),
            rhs: Shape::from(expected),
        }),
    }
}

impl<E: Float, B: Backend> CellCore<E, B> {
    fn new(kind: Kind, input: usize, hidden: usize, backend: &B) -> Result<Self> {
        Ok(CellCore {
            kind,
            weights: RnnWeights::init(kind, input, hidden, true, backend)?,
        })
    }

    fn hidden(&self) -> usize {
        self.weights.weight_hh.dims().get(1).copied().unwrap_or(0)
    }

    /// One step; `c` only for LSTM. Returns the new state in the caller's (un)batched shape.
    fn forward(
        &self,
        op: &'static str,
        x: &Tensor<E, B>,
        h: Option<&Tensor<E, B>>,
        c: Option<&Tensor<E, B>>,
    ) -> Result<NewState<E, B>> {
        let (unbatched, x) = cell_input(op, x, &self.weights.weight_ih)?;
        let (batch, input, hidden) = (x.dims()[0], x.dims()[1], self.hidden());
        self.weights.check(op, self.kind, input, hidden, "")?;
        let state = |s, what| cell_state(op, what, s, unbatched, batch, hidden, x.backend());
        let h = state(
            h,
            "the hidden state must be [batch, hidden_size] ([hidden_size] unbatched)",
        )?;
        let c = match self.kind {
            Kind::Lstm => Some(state(
                c,
                "the cell state must be [batch, hidden_size] ([hidden_size] unbatched)",
            )?),
            _ => None,
        };
        let xp = self.weights.project(self.kind, &x)?;
        let b_hh = self.weights.step_bias(self.kind);
        let hp = h.matmul(&self.weights.weight_hh.t()?)?;
        let (h, c) = step(self.kind, &xp, hp, &h, c.as_ref(), b_hh)?;
        let shaped = |t: Tensor<E, B>| if unbatched { t.squeeze(0) } else { Ok(t) };
        Ok((shaped(h)?, c.map(shaped).transpose()?))
    }

    fn extra_repr(&self) -> String {
        let w = &self.weights;
        let mut s = format!(
            "{}, {}",
            w.weight_ih.dims().get(1).copied().unwrap_or(0),
            self.hidden()
        );
        if w.bias_ih.is_none() {
            s.push_str(", bias=false");
        }
        if let Kind::Rnn(Nonlinearity::ReLU) = self.kind {
            s.push_str(", nonlinearity=relu");
        }
        s
    }
}

macro_rules! cell {
    ($(#[$doc:meta])* $name:ident, $kind:expr, $torch:literal) => {
        $(#[$doc])*
        pub struct $name<E: Float = f32, B: Backend = Cpu> {
            core: CellCore<E, B>,
        }

        impl<E: Float, B: Backend> $name<E, B> {
            #[doc = concat!("`nn.", $torch, "(input_size, hidden_size)`: with biases, every \
                parameter uniform in `±1/√hidden_size`.")]
            pub fn new(input_size: usize, hidden_size: usize, backend: &B) -> Result<Self> {
                if hidden_size == 0 {
                    return Err(Error::msg(concat!($torch, ": hidden_size must be positive")));
                }
                Ok($name {
                    core: CellCore::new($kind, input_size, hidden_size, backend)?,
                })
            }

            /// Without biases (`bias=False`).
            pub fn without_bias(mut self) -> Self {
                self.core.weights.bias_ih = None;
                self.core.weights.bias_hh = None;
                self
            }

            /// `input_size`.
            pub fn input_size(&self) -> usize {
                self.core.weights.weight_ih.dims().get(1).copied().unwrap_or(0)
            }

            /// `hidden_size`.
            pub fn hidden_size(&self) -> usize {
                self.core.hidden()
            }

            /// The parameters: `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` (public fields, as
            /// `Linear`'s; a forward pass checks their shapes).
            pub fn weights(&self) -> &RnnWeights<E, B> {
                &self.core.weights
            }

            /// The parameters, to replace (a forward pass checks their shapes).
            pub fn weights_mut(&mut self) -> &mut RnnWeights<E, B> {
                &mut self.core.weights
            }
        }

        impl<E: Float, B: Backend> Module<E, B> for $name<E, B> {
            fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
                self.core.weights.visit(v, "");
            }

            fn extra_repr(&self) -> String {
                self.core.extra_repr()
            }
        }

        impl<E: Float, B: Backend> std::fmt::Display for $name<E, B> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&repr::<E, B, _>(self))
            }
        }
    };
}

cell!(
    /// One step of an Elman RNN (`nn.RNNCell`): `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`
    /// (or `relu`, see [`RNNCell::nonlinearity`]). Input `[batch, input]` or `[input]`, state
    /// `[batch, hidden]` or `[hidden]`.
    RNNCell,
    Kind::Rnn(Nonlinearity::Tanh),
    "RNNCell"
);
cell!(
    /// One LSTM step (`nn.LSTMCell`), gates i, f, g, o stacked in `weight_ih` `[4·hidden, input]`.
    /// Input `[batch, input]` or `[input]`; state `(h, c)`, each `[batch, hidden]` or `[hidden]`.
    LSTMCell,
    Kind::Lstm,
    "LSTMCell"
);
cell!(
    /// One GRU step (`nn.GRUCell`), gates r, z, n stacked in `weight_ih` `[3·hidden, input]`; the
    /// reset gate multiplies `W_hn h + b_hn`. Input `[batch, input]` or `[input]`, state
    /// `[batch, hidden]` or `[hidden]`.
    GRUCell,
    Kind::Gru,
    "GRUCell"
);

impl<E: Float, B: Backend> RNNCell<E, B> {
    /// With `nonlinearity` (PyTorch's `nonlinearity="relu"`); changes no parameter.
    pub fn nonlinearity(mut self, nonlinearity: Nonlinearity) -> Self {
        self.core.kind = Kind::Rnn(nonlinearity);
        self
    }

    /// The new hidden state from input `x` and state `h` (zeros when `None`).
    pub fn forward(&self, x: &Tensor<E, B>, h: Option<&Tensor<E, B>>) -> Result<Tensor<E, B>> {
        Ok(self.core.forward("RNNCell", x, h, None)?.0)
    }
}

impl<E: Float, B: Backend> GRUCell<E, B> {
    /// The new hidden state from input `x` and state `h` (zeros when `None`).
    pub fn forward(&self, x: &Tensor<E, B>, h: Option<&Tensor<E, B>>) -> Result<Tensor<E, B>> {
        Ok(self.core.forward("GRUCell", x, h, None)?.0)
    }
}

impl<E: Float, B: Backend> LSTMCell<E, B> {
    /// The new state `(h', c')` from input `x` and state `(h, c)` (zeros when `None`).
    pub fn forward(
        &self,
        x: &Tensor<E, B>,
        state: LstmStateRef<'_, E, B>,
    ) -> Result<(Tensor<E, B>, Tensor<E, B>)> {
        let (h, c) = match state {
            Some((h, c)) => (Some(h), Some(c)),
            None => (None, None),
        };
        let (h, c) = self.core.forward("LSTMCell", x, h, c)?;
        let c = c.ok_or_else(|| Error::msg("LSTMCell: no cell state came back"))?;
        Ok((h, c))
    }
}

/// The single-tensor form (for a `Sequential`): one step from a zero state, returning `h'`.
impl<E: Float, B: Backend> Forward<E, B> for RNNCell<E, B> {
    fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        RNNCell::forward(self, x, None)
    }
}

/// The single-tensor form (for a `Sequential`): one step from a zero state, returning `h'`.
impl<E: Float, B: Backend> Forward<E, B> for GRUCell<E, B> {
    fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        GRUCell::forward(self, x, None)
    }
}
