//! `h·W_hhᵀ` at every step of a sequence, with `W_hh`'s gradient taken once for the whole
//! sequence instead of once per step.
//!
//! Why: recorded as `seq` ordinary products, the backward pass computes `seq` small weight
//! gradients `gₜᵀ·hₜ` (an inner dimension of only `batch`) and the engine adds them one by one
//! into `W_hh`'s gradient. Here every step parks its `(hₜ, gₜ)` and one product
//! `[g₀; g₁; …]ᵀ·[h₀; h₁; …]` gives the same sum: the same arithmetic as one large, efficient
//! product, and no running sum.
//!
//! How, with the engine's single-output nodes (the same pattern as `Tensor::unbind`):
//!
//! ```text
//!   W_hh ──(hub, shape [])── hub ─┐
//!                            hₜ ──┴─(step product)── hₜ·W_hhᵀ      t = 0..seq
//! ```
//!
//! Each step product is recorded as computed from `hₜ` and the hub. Its backward returns
//! `dhₜ = gₜ·W_hh`, parks `(hₜ, gₜ)`, and hands the hub a 0-d zero. The engine walks the graph in
//! reverse topological order and the hub is an input of every step product, so the hub's
//! backward runs after every step that received a gradient, and it turns what they parked into
//! `W_hh`'s gradient in one product; it takes the parked pairs out, so a second pass over a
//! retained graph starts from nothing. Under `create_graph` the rules use recorded ops on the
//! real `W_hh`, `hₜ` and `gₜ` (the parked pairs are tensors with their graphs), so the gradients
//! stay differentiable. When `W_hh` needs no gradient the hub records nothing and nothing is
//! parked. Parked `hₜ` hold their graphs, which lead back to the hub, so between a step's
//! backward and the hub's the pairs and the hub keep each other alive; the hub's backward empties
//! the pairs and so breaks that loop.

use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Float, NDArray, Result};
use std::sync::{Arc, Mutex};

/// The `(hₜ, gₜ)` pairs parked by the step products until the hub collects them.
type Parked<E, B> = Arc<Mutex<Vec<(Tensor<E, B>, Tensor<E, B>)>>>;

/// `W_hh` `[gates·hidden, hidden]` set up for one pass over a sequence (see the module docs).
pub(super) struct StepWeight<E: Float, B: Backend> {
    weight: Tensor<E, B>,
    /// `W_hhᵀ` laid out contiguously, copied once per sequence: the GEMM packs its right operand
    /// at every step, and packing a transposed view reads it column by column (measured: packing
    /// was a fifth of the whole LSTM forward and backward pass).
    weight_t: NDArray<E, B>,
    hub: Tensor<E, B>,
    parked: Parked<E, B>,
}

impl<E: Float, B: Backend> StepWeight<E, B> {
    /// Prepares `weight` (`weight_hh`) for the steps of one sequence.
    pub(super) fn new(weight: &Tensor<E, B>) -> Result<Self> {
        let parked: Parked<E, B> = Arc::new(Mutex::new(Vec::new()));
        let placeholder = NDArray::zeros(Vec::<usize>::new(), weight.backend())?;
        let from_hub = Arc::clone(&parked);
        let hub = Tensor::from_op(placeholder, "matmul", &[weight], move |inputs, _, _| {
            let pairs = std::mem::take(&mut *from_hub.lock().unwrap_or_else(|p| p.into_inner()));
            if pairs.is_empty() {
                return Ok(vec![Some(Tensor::zeros_like(&inputs[0])?)]);
            }
            let (hs, gs): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
            let (h, g) = (Tensor::cat(&hs, 0)?, Tensor::cat(&gs, 0)?);
            // `gᵀ·h` is `[gates·hidden, hidden]`, W_hh's own (contiguous) layout.
            Ok(vec![Some(g.t()?.matmul(&h)?)])
        });
        Ok(StepWeight {
            weight: weight.clone(),
            weight_t: weight.array().t()?.contiguous()?,
            hub,
            parked,
        })
    }

    /// `h·W_hhᵀ` for one step, `h` `[n, hidden]`: `[n, gates·hidden]`.
    pub(super) fn apply(&self, h: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let out = h.array().matmul(&self.weight_t)?;
        let weight = self.weight.clone();
        let parked = Arc::clone(&self.parked);
        let parks = self.hub.requires_grad();
        Ok(Tensor::from_op(
            out,
            "matmul",
            &[h, &self.hub],
            move |inputs, _, g| {
                let h = &inputs[0];
                if parks {
                    parked
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((h.clone(), g.clone()));
                }
                let dh = h.requires_grad().then(|| g.matmul(&weight)).transpose()?;
                Ok(vec![dh, Some(Tensor::zeros_like(&inputs[1])?)])
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    //! A short recurrence through [`StepWeight`] against the same one through `matmul`: the
    //! weight's gradient over repeated passes of a retained graph, and second derivatives.
    use super::StepWeight;
    use nanotorch_autograd::{grad, BackwardOptions, Tensor};
    use nanotorch_backend_cpu::Cpu;
    use nanotorch_ndarray_core::Result;

    type T = Tensor<f64, Cpu>;

    fn leaf(shape: [usize; 2], seed: f64) -> T {
        let n = shape[0] * shape[1];
        let data = (0..n).map(|k| ((k as f64 + seed) * 0.377).cos()).collect();
        Tensor::from_vec(data, shape, &Cpu)
            .unwrap()
            .requires_grad_(true)
    }

    /// Three steps of `h ← tanh(h·Wᵀ)`, `W` `[3, 3]`, summed with weights.
    fn run(w: &T, h0: &T, shared: bool) -> Result<T> {
        let step_weight = StepWeight::new(w)?;
        let mut h = h0.clone();
        let mut total = h0.sum_all()?.mul_scalar(0.0)?;
        for k in 0..3 {
            let hp = if shared {
                step_weight.apply(&h)?
            } else {
                h.matmul(&w.t()?)?
            };
            h = hp.tanh()?;
            total = total.add(&h.mul_scalar(k as f64 + 1.0)?.sum_all()?)?;
        }
        Ok(total)
    }

    fn close(a: &T, b: &T) {
        for (x, y) in a.to_vec().unwrap().iter().zip(&b.to_vec().unwrap()) {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
    }

    #[test]
    fn matches_matmul_to_second_order() {
        let (w, h0) = (leaf([3, 3], 0.0), leaf([2, 3], 4.0));
        let (shared, plain) = (run(&w, &h0, true).unwrap(), run(&w, &h0, false).unwrap());
        close(&shared, &plain);
        let retain = BackwardOptions {
            retain_graph: true,
            create_graph: false,
        };
        let want = grad(&plain, None, &[&w, &h0], retain).unwrap();
        for _ in 0..2 {
            let got = grad(&shared, None, &[&w, &h0], retain).unwrap();
            for (g, e) in got.iter().zip(&want) {
                close(g.as_ref().unwrap(), e.as_ref().unwrap());
            }
        }
        let create = BackwardOptions {
            retain_graph: true,
            create_graph: true,
        };
        let second = |l: &T| {
            let g = grad(l, None, &[&w], create).unwrap().remove(0).unwrap();
            let s = g.mul(&g).unwrap().sum_all().unwrap();
            grad(&s, None, &[&w, &h0], BackwardOptions::default()).unwrap()
        };
        for (g, e) in second(&shared).iter().zip(&second(&plain)) {
            close(g.as_ref().unwrap(), e.as_ref().unwrap());
        }
    }
}
