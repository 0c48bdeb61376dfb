//! One LSTM layer in one direction over a whole sequence as one recorded op, its backward pass
//! (backpropagation through time) written by hand.
//!
//! Why: recorded step by step (`layer::composed_direction`), every step is several nodes, and
//! the engine pays for each in the backward pass: a gradient summed from two consumers, a
//! zero tensor for an unused output, a node to release. At the sizes recurrent layers run (a
//! batch of tens, a hidden state of hundreds) that bookkeeping was a quarter of the bench's LSTM.
//! Here the recurrence is one array op each way (`NDArray::lstm_recurrence` and its backward:
//! per step one product and one fused cell, the CPU backend running each thread's block of the
//! batch through every step), and the backward pass keeps every step's gate gradient in one
//! `[seq·batch, 4·hidden]` array, from which the weights', the input's and the biases'
//! gradients are one product (or sum) each: what cuDNN and PyTorch's CPU kernel do.
//!
//! A node has one output, so the op's is `[seq + 2, batch, hidden]`: the outputs, then `h_n`,
//! then `c_n`; the caller narrows them out (their gradients meet in one array again).
//!
//! Under `create_graph` (grad mode on during backward) the rule runs the layer again with
//! recorded ops and differentiates that, so the gradients it returns are themselves
//! differentiable; the values are the same bits either way (the same kernels in the same order).

use super::cell::{Kind, RnnWeights};
use super::layer::composed_direction;
use nanotorch_autograd::{grad, is_grad_enabled, no_grad, BackwardOptions, Tensor};
use nanotorch_ndarray_core::{Backend, Error, Float, LstmTrace, NDArray, ReduceOp, Result};

/// What a pass returns: the output, `h_n` and `c_n`.
type Ran<E, B> = (Tensor<E, B>, Tensor<E, B>, Tensor<E, B>);

/// The op's inputs in order: the input, `h0`, `c0`, `W_ih`, `W_hh`, then the biases present.
const FIRST_BIAS: usize = 5;

/// The output `[seq, batch, hidden]`, `h_n` and `c_n` (`[batch, hidden]` each) of one LSTM layer
/// in one direction over `input` `[seq, batch, features]` from the state `(h0, c0)`, with the
/// per-step `masks` of `layer.rs` (`None` where every sequence is still running).
pub(super) fn lstm_direction<E: Float, B: Backend>(
    weights: &RnnWeights<E, B>,
    input: &Tensor<E, B>,
    (h0, c0): (&Tensor<E, B>, &Tensor<E, B>),
    reverse: bool,
    masks: &[Option<Tensor<E, B>>],
) -> Result<Ran<E, B>> {
    let (steps, batch, features) = (input.dims()[0], input.dims()[1], input.dims()[2]);
    let hidden = h0.dims()[1];
    let mut inputs = vec![input, h0, c0, &weights.weight_ih, &weights.weight_hh];
    inputs.extend(weights.bias_ih.iter().chain(&weights.bias_hh));
    let record = is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());

    let x = input
        .array()
        .contiguous()?
        .reshape([steps * batch, features])?;
    // The input's share of every gate at every step, biases folded in: one product, the
    // step-by-step path's own (not recorded: this op's rule gives the weights their gradients).
    let xp = no_grad(|| weights.project(Kind::Lstm, &Tensor::from_ndarray(x.clone())))?;
    let xp = xp.array();
    // Copied once: packing a transposed view at every step reads it column by column.
    let w_hh_t = weights.weight_hh.array().t()?.contiguous()?;
    let masks: Vec<Option<NDArray<E, B>>> = masks
        .iter()
        .map(|m| m.as_ref().map(|m| m.array().clone()))
        .collect();
    let state = (h0.array(), c0.array());
    let (out, trace) = NDArray::lstm_recurrence(xp, &w_hh_t, state, &masks, reverse, record)?;

    let all = if let Some(trace) = trace {
        let has_bias = (weights.bias_ih.is_some(), weights.bias_hh.is_some());
        let rule = move |inputs: &[Tensor<E, B>], _: &Tensor<E, B>, d_all: &Tensor<E, B>| {
            if is_grad_enabled() {
                return recorded_rule(inputs, d_all, has_bias, reverse, &masks);
            }
            let through_time = Bptt {
                x: &x,
                trace: &trace,
                masks: &masks,
                reverse,
            };
            through_time.run(inputs, d_all.array())
        };
        Tensor::try_from_op(out, "lstm", &inputs, rule)?
    } else {
        Tensor::from_ndarray(out)
    };
    // One `split_sizes`, not three `narrow`s: its backward assembles the three gradients in one
    // pass, where each narrow's zero-filled a whole `[seq + 2, batch, hidden]` and copied in.
    let mut parts = all.split_sizes(&[steps, 1, 1], 0)?.into_iter();
    let mut next = || {
        parts
            .next()
            .ok_or_else(|| Error::msg("lstm: split_sizes gave fewer than three parts"))
    };
    let out = next()?;
    let (h, c) = (
        next()?.reshape([batch, hidden])?,
        next()?.reshape([batch, hidden])?,
    );
    Ok((out, h, c))
}

/// What the forward pass kept for the hand-written backward pass.
struct Bptt<'a, E: Float, B: Backend> {
    /// The input as `[seq·batch, features]`.
    x: &'a NDArray<E, B>,
    trace: &'a LstmTrace<E, B>,
    masks: &'a [Option<NDArray<E, B>>],
    reverse: bool,
}

impl<E: Float, B: Backend> Bptt<'_, E, B> {
    /// The inputs' gradients from the output's, `d_all` `[seq + 2, batch, hidden]`.
    fn run(
        &self,
        inputs: &[Tensor<E, B>],
        d_all: &NDArray<E, B>,
    ) -> Result<Vec<Option<Tensor<E, B>>>> {
        let h_prev = &self.trace.h_prev;
        let (steps, batch, hidden) = (h_prev.dims()[0], h_prev.dims()[1], h_prev.dims()[2]);
        let (d_pre, dh, dc) = NDArray::lstm_recurrence_backward(
            d_all,
            inputs[4].array(),
            self.trace,
            self.masks,
            self.reverse,
        )?;
        // Every step's share of the weights' and biases' gradients at once: `d_preᵀ·[x; h]`.
        let d_pre_t = d_pre.t()?;
        let wants = |k: usize| inputs[k].requires_grad();
        let leaf = |a: NDArray<E, B>| Some(Tensor::from_ndarray(a));
        let mut grads = vec![
            wants(0)
                .then(|| d_pre.matmul(inputs[3].array())?.reshape(inputs[0].dims()))
                .transpose()?
                .and_then(leaf),
            wants(1).then(|| Tensor::from_ndarray(dh)),
            wants(2).then(|| Tensor::from_ndarray(dc)),
            wants(3)
                .then(|| d_pre_t.matmul(self.x))
                .transpose()?
                .and_then(leaf),
            wants(4)
                .then(|| d_pre_t.matmul(&h_prev.reshape([steps * batch, hidden])?))
                .transpose()?
                .and_then(leaf),
        ];
        let biases = inputs.len() - FIRST_BIAS;
        if biases > 0 {
            let d_bias = d_pre.reduce(ReduceOp::Sum, &[0], false)?;
            grads.extend(
                (FIRST_BIAS..inputs.len())
                    .map(|k| wants(k).then(|| Tensor::from_ndarray(d_bias.clone()))),
            );
        }
        Ok(grads)
    }
}

/// The rule under `create_graph`: the layer run again with recorded ops from the same inputs,
/// differentiated with a recorded backward pass.
fn recorded_rule<E: Float, B: Backend>(
    inputs: &[Tensor<E, B>],
    d_all: &Tensor<E, B>,
    (has_bias_ih, has_bias_hh): (bool, bool),
    reverse: bool,
    masks: &[Option<NDArray<E, B>>],
) -> Result<Vec<Option<Tensor<E, B>>>> {
    let mut biases = inputs[FIRST_BIAS..].iter().cloned();
    let weights = RnnWeights {
        weight_ih: inputs[3].clone(),
        weight_hh: inputs[4].clone(),
        bias_ih: if has_bias_ih { biases.next() } else { None },
        bias_hh: if has_bias_hh { biases.next() } else { None },
    };
    let masks: Vec<Option<Tensor<E, B>>> = masks
        .iter()
        .map(|m| m.as_ref().map(|m| Tensor::from_ndarray(m.clone())))
        .collect();
    let (out, h, c) = composed_direction(
        Kind::Lstm,
        &weights,
        &inputs[0],
        (&inputs[1], Some(&inputs[2])),
        reverse,
        &masks,
        0,
    )?;
    let c = c.ok_or_else(|| Error::msg("lstm: no cell state came back"))?;
    let all = Tensor::cat(&[out, h.unsqueeze(0)?, c.unsqueeze(0)?], 0)?;
    let wanted: Vec<&Tensor<E, B>> = inputs.iter().filter(|t| t.requires_grad()).collect();
    let options = BackwardOptions {
        retain_graph: true,
        create_graph: true,
    };
    let mut found = grad(&all, Some(d_all), &wanted, options)?.into_iter();
    Ok(inputs
        .iter()
        .map(|t| {
            if t.requires_grad() {
                found.next().flatten()
            } else {
                None
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    //! The whole-sequence op against the same layer recorded step by step (whose ops gradcheck
    //! covers): values bit for bit, first derivatives, and second derivatives under
    //! `create_graph`, in both directions, with and without ended sequences and biases.
    use super::{composed_direction, lstm_direction, Kind, RnnWeights};
    use nanotorch_autograd::{grad, BackwardOptions, Tensor};
    use nanotorch_backend_cpu::Cpu;
    use nanotorch_ndarray_core::Result;

    type T = Tensor<f64, Cpu>;
    const STEPS: usize = 4;
    const BATCH: usize = 3;
    const FEATURES: usize = 2;
    const HIDDEN: usize = 3;

    fn leaf(shape: &[usize], seed: f64) -> T {
        let n: usize = shape.iter().product();
        let data = (0..n).map(|k| ((k as f64 + seed) * 0.731).sin()).collect();
        Tensor::from_vec(data, shape.to_vec(), &Cpu)
            .unwrap()
            .requires_grad_(true)
    }

    struct Case {
        x: T,
        h0: T,
        c0: T,
        weights: RnnWeights<f64, Cpu>,
        masks: Vec<Option<T>>,
    }

    impl Case {
        /// Sequences of lengths 4, 2 and 1 when `ended`, else all of 4.
        fn new(ended: bool, biases: (bool, bool)) -> Case {
            let rows = 4 * HIDDEN;
            let masks = (0..STEPS)
                .map(|t| {
                    (ended && t > 0).then(|| {
                        let running = [4, 2, 1].map(|l| if t < l { 1.0 } else { 0.0 });
                        Tensor::from_vec(running.to_vec(), [BATCH, 1], &Cpu).unwrap()
                    })
                })
                .collect();
            Case {
                x: leaf(&[STEPS, BATCH, FEATURES], 0.0),
                h0: leaf(&[BATCH, HIDDEN], 1.0),
                c0: leaf(&[BATCH, HIDDEN], 2.0),
                weights: RnnWeights {
                    weight_ih: leaf(&[rows, FEATURES], 3.0),
                    weight_hh: leaf(&[rows, HIDDEN], 4.0),
                    bias_ih: biases.0.then(|| leaf(&[rows], 5.0)),
                    bias_hh: biases.1.then(|| leaf(&[rows], 6.0)),
                },
                masks,
            }
        }

        fn leaves(&self) -> Vec<&T> {
            let w = &self.weights;
            let mut v = vec![&self.x, &self.h0, &self.c0, &w.weight_ih, &w.weight_hh];
            v.extend(w.bias_ih.iter().chain(&w.bias_hh));
            v
        }

        /// `(output, h_n, c_n)` by the whole-sequence op or step by step.
        fn run(&self, whole: bool, reverse: bool) -> Result<(T, T, T)> {
            let state = (&self.h0, &self.c0);
            if whole {
                return lstm_direction(&self.weights, &self.x, state, reverse, &self.masks);
            }
            let (state, c) = (state.0, Some(state.1));
            let (out, h, c) = composed_direction(
                Kind::Lstm,
                &self.weights,
                &self.x,
                (state, c),
                reverse,
                &self.masks,
                0,
            )?;
            Ok((out, h, c.unwrap()))
        }
    }

    /// A scalar that weighs every output differently.
    fn loss((out, h, c): &(T, T, T)) -> Result<T> {
        let w = leaf(out.dims(), 9.0).detach();
        out.mul(&w)?
            .sum_all()?
            .add(&h.square()?.sum_all()?)?
            .add(&c.mul_scalar(1.5)?.sum_all()?)
    }

    fn close(a: &T, b: &T, what: &str) {
        let (a, b) = (a.to_vec().unwrap(), b.to_vec().unwrap());
        assert_eq!(a.len(), b.len(), "{what}");
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-12, "{what}: {x} vs {y}");
        }
    }

    #[test]
    fn matches_the_step_by_step_layer_to_second_order() {
        for (ended, reverse, biases) in [
            (false, false, (true, true)),
            (false, true, (true, false)),
            (true, false, (false, true)),
            (true, true, (false, false)),
        ] {
            let case = Case::new(ended, biases);
            let what = format!("ended {ended}, reverse {reverse}, biases {biases:?}");
            let (whole, steps) = (
                case.run(true, reverse).unwrap(),
                case.run(false, reverse).unwrap(),
            );
            for (a, b) in [
                (&whole.0, &steps.0),
                (&whole.1, &steps.1),
                (&whole.2, &steps.2),
            ] {
                assert_eq!(a.to_vec().unwrap(), b.to_vec().unwrap(), "values, {what}");
            }
            let leaves = case.leaves();
            let first = |ran: &(T, T, T)| {
                grad(
                    &loss(ran).unwrap(),
                    None,
                    &leaves,
                    BackwardOptions::default(),
                )
                .unwrap()
            };
            for (g, w) in first(&whole).iter().zip(&first(&steps)) {
                close(
                    g.as_ref().unwrap(),
                    w.as_ref().unwrap(),
                    &format!("gradients, {what}"),
                );
            }
            let create = BackwardOptions {
                retain_graph: true,
                create_graph: true,
            };
            let second = |whole_op: bool| {
                let ran = case.run(whole_op, reverse).unwrap();
                let g = grad(
                    &loss(&ran).unwrap(),
                    None,
                    &[&case.weights.weight_hh],
                    create,
                )
                .unwrap()
                .remove(0)
                .unwrap();
                let s = g.square().unwrap().sum_all().unwrap();
                grad(&s, None, &leaves, BackwardOptions::default()).unwrap()
            };
            for (g, w) in second(true).iter().zip(&second(false)) {
                close(
                    g.as_ref().unwrap(),
                    w.as_ref().unwrap(),
                    &format!("second order, {what}"),
                );
            }
        }
    }

    #[test]
    fn records_nothing_without_a_gradient_to_take() {
        let case = Case::new(false, (true, true));
        for t in case.leaves() {
            let _ = t.clone().requires_grad_(false);
        }
        let (out, h, c) = case.run(true, false).unwrap();
        assert!(!out.requires_grad() && !h.requires_grad() && !c.requires_grad());
    }
}
