//! The element-wise part of an LSTM step as two recorded ops with hand-written backward rules.
//!
//! Why: written with ordinary ops, the step after its matrix product is about a dozen recorded
//! ops (chunk into four gates, three sigmoids, two tanhs, three products, a sum), each with its
//! own node, allocation and kernel forward and about twice that backward, and `chunk`'s backward
//! writes each gate's gradient into its own zero tensor of all four. At the sizes recurrent
//! layers run (a batch of tens, a hidden state of hundreds) that bookkeeping, not arithmetic,
//! is the cost. Here the forward is one array op, `NDArray::lstm_cell` (one pass of the backend's
//! fused kernel, or composed), which also prepares the factors of the backward pass
//! (`LstmUnit` says what they are), so the two backward rules are four kernels in all.
//!
//! Two recorded ops, because a node has one output: `c' = f ⊙ c + i ⊙ g` from `(pre, c)`, then
//! `h' = o ⊙ tanh(c')` recorded from `c'` alone. `h'` also depends on `pre` through the output
//! gate `o`; rather than hand `pre` a second gradient of its full width (three quarters zeros,
//! then summed by the engine), `h'`'s rule parks its incoming gradient in a slot it shares with
//! `c'`'s rule, which uses it for the output gate's part when it assembles `pre`'s gradient. That
//! is sound because `h'` is a consumer of `c'`: the engine runs `h'`'s rule before `c'`'s in
//! every pass that reaches `h'`, and `c'`'s rule runs in every such pass (`h'`'s rule always
//! gives `c'` a gradient) and takes the slot empty again. A pass that does not reach `h'` finds
//! the slot empty and uses zeros, as `h'` then has no gradient.
//!
//! The values are the unfused ones: the same element-wise functions applied in the same order,
//! so the same numbers; gradients agree up to rounding (the products are grouped differently).
//! Under `create_graph` (grad mode on during backward) the rules recompute the gates from the
//! inputs with recorded ops instead of using the saved factors, so the gradients they return are
//! themselves differentiable.

use nanotorch_autograd::{is_grad_enabled, Tensor};
use nanotorch_ndarray_core::{Backend, Float, NDArray, Result};
use std::sync::{Arc, Mutex};

/// The new `(h, c)` of an LSTM step from the summed gate pre-activations `pre` `[n, 4·hidden]`
/// (gates i, f, g, o) and the cell state `c` `[n, hidden]`.
pub(super) fn lstm_pointwise<E: Float, B: Backend>(
    pre: &Tensor<E, B>,
    c: &Tensor<E, B>,
) -> Result<(Tensor<E, B>, Tensor<E, B>)> {
    let save = is_grad_enabled() && (pre.requires_grad() || c.requires_grad());
    let step = NDArray::lstm_cell(pre.array(), c.array(), save)?;
    let hidden = c.dims()[1]; // `lstm_cell` checked that `c` is [batch, hidden]
    let (h_new, c_new) = (step.h, step.c);
    let Some(saved) = step.saved else {
        // Nothing will be recorded: the factors only the backward pass needs were skipped.
        return Ok((Tensor::from_ndarray(h_new), Tensor::from_ndarray(c_new)));
    };

    // `h'`'s incoming gradient, parked by `h'`'s rule for `c'`'s rule (see the module docs).
    let parked: Arc<Mutex<Option<Tensor<E, B>>>> = Arc::new(Mutex::new(None));
    let from_h = Arc::clone(&parked);
    let (f, qd) = (
        Tensor::from_ndarray(saved.f),
        Tensor::from_ndarray(saved.qd),
    );
    let c_out = Tensor::from_op(c_new, "lstm_cell", &[pre, c], move |inputs, c_out, dc| {
        let dh = from_h.lock().unwrap_or_else(|p| p.into_inner()).take();
        let dh = match dh {
            Some(dh) => dh,
            None => Tensor::zeros_like(dc)?,
        };
        if is_grad_enabled() {
            return recorded_c_rule(&inputs[0], &inputs[1], c_out, dc, &dh);
        }
        let d_pre = Tensor::cat(&[dc.clone(), dc.clone(), dc.clone(), dh], 1)?.mul(&qd)?;
        Ok(vec![Some(d_pre), Some(dc.mul(&f)?)])
    });
    let (s_c, pre_for_h) = (Tensor::from_ndarray(saved.s_c), pre.clone());
    let h_out = Tensor::from_op(h_new, "lstm_cell", &[&c_out], move |inputs, _, dh| {
        *parked.lock().unwrap_or_else(|p| p.into_inner()) = Some(dh.clone());
        let s_c = if is_grad_enabled() {
            let o = pre_for_h.narrow(1, 3 * hidden, hidden)?.sigmoid()?;
            o.mul(&tanh_slope(&inputs[0].tanh()?)?)?
        } else {
            s_c.clone()
        };
        Ok(vec![Some(dh.mul(&s_c)?)])
    });
    Ok((h_out, c_out))
}

/// `c'`'s rule with recorded ops (under `create_graph`), the gates recomputed from `pre` so that
/// the gradients it returns are differentiable; `dh` is `h'`'s gradient, for the output gate.
fn recorded_c_rule<E: Float, B: Backend>(
    pre: &Tensor<E, B>,
    c: &Tensor<E, B>,
    c_out: &Tensor<E, B>,
    dc: &Tensor<E, B>,
    dh: &Tensor<E, B>,
) -> Result<Vec<Option<Tensor<E, B>>>> {
    let gates = pre.chunk(4, 1)?;
    let (i, f) = (gates[0].sigmoid()?, gates[1].sigmoid()?);
    let (g, o) = (gates[2].tanh()?, gates[3].sigmoid()?);
    let di = dc.mul(&g)?.mul(&sigmoid_slope(&i)?)?;
    let df = dc.mul(c)?.mul(&sigmoid_slope(&f)?)?;
    let dg = dc.mul(&i)?.mul(&tanh_slope(&g)?)?;
    let d_o = dh.mul(&c_out.tanh()?)?.mul(&sigmoid_slope(&o)?)?;
    let d_pre = Tensor::cat(&[di, df, dg, d_o], 1)?;
    Ok(vec![Some(d_pre), Some(dc.mul(&f)?)])
}

/// `σ' = σ(1 − σ)`, from `s = σ(x)`.
fn sigmoid_slope<E: Float, B: Backend>(s: &Tensor<E, B>) -> Result<Tensor<E, B>> {
    s.mul(&s.rsub_scalar(E::ONE)?)
}

/// `tanh' = 1 − tanh²`, from `t = tanh(x)`.
fn tanh_slope<E: Float, B: Backend>(t: &Tensor<E, B>) -> Result<Tensor<E, B>> {
    t.square()?.rsub_scalar(E::ONE)
}

#[cfg(test)]
mod tests {
    //! The fused step against the same step written with ordinary ops (whose rules gradcheck
    //! covers): values, first derivatives over repeated passes of a retained graph, and second
    //! derivatives under `create_graph`, which take the rules' recomputing branch.
    use super::lstm_pointwise;
    use nanotorch_autograd::{grad, BackwardOptions, Tensor};
    use nanotorch_backend_cpu::Cpu;
    use nanotorch_ndarray_core::Result;

    type T = Tensor<f64, Cpu>;

    fn leaf(shape: [usize; 2], seed: f64) -> T {
        let n = shape[0] * shape[1];
        let data = (0..n).map(|k| ((k as f64 + seed) * 0.731).sin()).collect();
        Tensor::from_vec(data, shape, &Cpu)
            .unwrap()
            .requires_grad_(true)
    }

    fn unfused(pre: &T, c: &T) -> Result<(T, T)> {
        let gates = pre.chunk(4, -1)?;
        let (i, f) = (gates[0].sigmoid()?, gates[1].sigmoid()?);
        let (g, o) = (gates[2].tanh()?, gates[3].sigmoid()?);
        let c = f.mul(c)?.add(&i.mul(&g)?)?;
        Ok((o.mul(&c.tanh()?)?, c))
    }

    /// A scalar that weighs `h` and `c` differently, so both outputs' gradients matter.
    fn loss(h: &T, c: &T) -> Result<T> {
        h.mul(&h.mul_scalar(0.5)?)?
            .sum_all()?
            .add(&c.mul_scalar(1.5)?.sum_all()?)
    }

    fn close(a: &T, b: &T) {
        let (a, b) = (a.to_vec().unwrap(), b.to_vec().unwrap());
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
    }

    #[test]
    fn matches_the_unfused_step_to_second_order() {
        let (pre, c) = (leaf([3, 8], 0.0), leaf([3, 2], 5.0));
        let (hf, cf) = lstm_pointwise(&pre, &c).unwrap();
        let (hu, cu) = unfused(&pre, &c).unwrap();
        close(&hf, &hu);
        close(&cf, &cu);
        let (lf, lu) = (loss(&hf, &cf).unwrap(), loss(&hu, &cu).unwrap());
        let retain = BackwardOptions {
            retain_graph: true,
            create_graph: false,
        };
        let want = grad(&lu, None, &[&pre, &c], retain).unwrap();
        for _ in 0..2 {
            let got = grad(&lf, None, &[&pre, &c], retain).unwrap();
            for (g, w) in got.iter().zip(&want) {
                close(g.as_ref().unwrap(), w.as_ref().unwrap());
            }
        }
        let create = BackwardOptions {
            retain_graph: true,
            create_graph: true,
        };
        let second = |l: &T| {
            let g = grad(l, None, &[&pre], create).unwrap().remove(0).unwrap();
            let s = g.mul(&g).unwrap().sum_all().unwrap();
            grad(&s, None, &[&pre, &c], BackwardOptions::default()).unwrap()
        };
        for (g, w) in second(&lf).iter().zip(&second(&lu)) {
            close(g.as_ref().unwrap(), w.as_ref().unwrap());
        }
    }

    #[test]
    fn only_h_or_only_c_used() {
        let (pre, c) = (leaf([2, 12], 1.0), leaf([2, 3], 2.0));
        for use_h in [true, false] {
            let (hf, cf) = lstm_pointwise(&pre, &c).unwrap();
            let (hu, cu) = unfused(&pre, &c).unwrap();
            let (lf, lu) = if use_h {
                (hf.sum_all().unwrap(), hu.sum_all().unwrap())
            } else {
                (cf.sum_all().unwrap(), cu.sum_all().unwrap())
            };
            let got = grad(&lf, None, &[&pre, &c], BackwardOptions::default()).unwrap();
            let want = grad(&lu, None, &[&pre, &c], BackwardOptions::default()).unwrap();
            for (g, w) in got.iter().zip(&want) {
                close(g.as_ref().unwrap(), w.as_ref().unwrap());
            }
        }
    }
}
