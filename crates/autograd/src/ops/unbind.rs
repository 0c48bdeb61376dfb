//! `unbind`: every slice along an axis as its own tensor, with a backward pass that costs the
//! size of the input once, not once per piece.
//!
//! Why not `n` calls to `select`: the gradient of each `select` is a zero tensor of the whole
//! input with one slice written in, and the engine adds those up, so the backward of `n` selects
//! moves `n²` slices. A recurrent layer unbinds a `[seq, batch, features]` tensor into its steps,
//! where that quadratic cost is larger than the recurrence itself.
//!
//! How, without changing the engine (whose nodes have one output and dense gradients):
//!
//! ```text
//!   input ──(unbind, shape [])── hub ──(unbind piece k)── piece k     k = 0..n
//! ```
//!
//! The hub is a 0-d placeholder; each piece is recorded as computed from the hub. A piece's
//! backward parks its gradient in a slot it shares with the hub and hands the hub a 0-d zero,
//! which the engine sums cheaply. The hub's backward stacks the parked gradients (zeros for
//! pieces that received none) into one gradient of the input's shape.
//!
//! Why this is correct:
//! - Order: the engine walks the graph in reverse topological order, and the hub is an input of
//!   every piece, so every piece that receives a gradient runs its backward before the hub's.
//!   The hub itself always runs when any piece did: a piece's backward always gives it a gradient.
//! - Sums: the engine has already summed a piece's incoming gradients before calling its rule,
//!   so a rule runs at most once per backward pass and parks that whole sum.
//! - `retain_graph`: the hub's backward takes the parked gradients out, leaving empty slots, so
//!   the next pass starts from nothing, as it must.
//! - `create_graph`: the parked gradients are tensors, not raw buffers, and the hub combines
//!   them with `stack` (itself differentiable), so under `create_graph` the result carries the
//!   graph of every piece's gradient; nothing is written in place.
//! - `no_grad` / an input that needs no gradient: `from_op` records nothing, the hub is a plain
//!   leaf, and the pieces are plain views.

use crate::grad_mode::is_grad_enabled;
use crate::tensor::carries_grad;
use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Element, Error, NDArray, Result};
use std::sync::{Arc, Mutex};

/// The gradients parked by the pieces until the hub collects them (one slot per piece).
type Parked<E, B> = Arc<Mutex<Vec<Option<Tensor<E, B>>>>>;

impl<E: Element, B: Backend> Tensor<E, B> {
    /// Every slice along `axis`, with that axis removed (`torch.unbind`): views. The backward pass
    /// assembles the pieces' gradients once (a `stack`), so unbinding a sequence into its `n`
    /// steps costs `O(size)` in the backward pass, where `n` calls to [`Tensor::select`] would
    /// cost `O(n · size)`.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let x = Tensor::from_vec(vec![0.0f32, 1.0, 2.0, 3.0, 4.0, 5.0], [2, 3], &Cpu)?;
    /// let columns = x.unbind(1)?;
    /// assert_eq!(columns.len(), 3);
    /// assert_eq!(columns[2].to_vec()?, [2.0, 5.0]);
    /// # Ok(()) }
    /// ```
    #[track_caller]
    pub fn unbind(&self, axis: isize) -> Result<Vec<Self>> {
        let resolved = self.shape().axis("unbind", axis)?;
        let n = self.dims()[resolved];
        let views = (0..n)
            .map(|k| {
                self.array()
                    .narrow(resolved as isize, k, 1)?
                    .squeeze(resolved as isize)
            })
            .collect::<Result<Vec<_>>>()?;
        let records = carries_grad::<E>() && is_grad_enabled() && self.requires_grad();
        if !records {
            return Ok(views.into_iter().map(Tensor::from_ndarray).collect());
        }
        let parked: Parked<E, B> = Arc::new(Mutex::new(vec![None; n]));
        let hub = {
            let parked = Arc::clone(&parked);
            let placeholder = NDArray::zeros(Vec::<usize>::new(), self.backend())?;
            Tensor::from_op(placeholder, "unbind", &[self], move |inputs, _, _| {
                let grads = std::mem::take(&mut *parked.lock().unwrap_or_else(|p| p.into_inner()));
                let input = &inputs[0];
                let mut piece_dims = input.dims().to_vec();
                piece_dims.remove(resolved);
                let pieces = grads
                    .into_iter()
                    .map(|g| match g {
                        Some(g) => Ok(g),
                        None => Tensor::zeros(piece_dims.clone(), input.backend()),
                    })
                    .collect::<Result<Vec<_>>>()?;
                if pieces.len() != n {
                    return Err(Error::msg("unbind: a piece's gradient went missing"));
                }
                Ok(vec![Some(Tensor::stack(&pieces, resolved as isize)?)])
            })
        };
        Ok(views
            .into_iter()
            .enumerate()
            .map(|(k, view)| {
                let parked = Arc::clone(&parked);
                Tensor::from_op(view, "unbind", &[&hub], move |inputs, _, g| {
                    let mut slots = parked.lock().unwrap_or_else(|p| p.into_inner());
                    if slots.len() != n {
                        // A previous pass took the slots; start afresh.
                        *slots = vec![None; n];
                    }
                    slots[k] = Some(g.clone());
                    Ok(vec![Some(Tensor::zeros_like(&inputs[0])?)])
                })
            })
            .collect())
    }
}
