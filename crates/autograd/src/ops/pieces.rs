//! Views of consecutive pieces of an input along one axis (`unbind`, `split`, `split_sizes`,
//! `chunk`), with a backward pass that costs the size of the input once, not once per piece.
//!
//! Why not one `narrow` per piece: the gradient of each `narrow` is a zero tensor of the whole
//! input with one piece written in, and the engine adds those up, so the backward of `n` pieces
//! moves `n` whole inputs. A recurrent layer unbinds a `[seq, batch, features]` tensor into its
//! steps, where that quadratic cost is larger than the recurrence itself; an attention layer
//! splits its `[batch, seq, 3·width]` projection into queries, keys and values, and zeroed,
//! filled and summed three copies of it.
//!
//! How, without changing the engine (whose nodes have one output and dense gradients):
//!
//! ```text
//!   input ──(op, shape [])── hub ──(op piece k)── piece k     k = 0..n
//! ```
//!
//! The hub is a 0-d placeholder; each piece is recorded as computed from the hub. A piece's
//! backward parks its gradient in a slot it shares with the hub and hands the hub a 0-d zero,
//! which the engine sums cheaply. The hub's backward concatenates the parked gradients (zeros
//! for pieces that received none) into one gradient of the input's shape.
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
//!   them with `cat` (itself differentiable), so under `create_graph` the result carries the
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
    /// assembles the pieces' gradients once (a `cat`), so unbinding a sequence into its `n`
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
        let sizes = vec![1; self.dims()[resolved]];
        self.pieces("unbind", resolved, &sizes, true)
    }

    /// Views of consecutive ranges of `sizes` (adding up to the axis's length, checked by the
    /// caller) along axis `axis`, without that axis when `squeeze` (every size then 1),
    /// recorded as `op` through one hub (see the module docs).
    pub(crate) fn pieces(
        &self,
        op: &'static str,
        axis: usize,
        sizes: &[usize],
        squeeze: bool,
    ) -> Result<Vec<Self>> {
        let starts: Vec<usize> = sizes
            .iter()
            .scan(0, |next, &size| {
                let start = *next;
                *next += size;
                Some(start)
            })
            .collect();
        let views = starts
            .iter()
            .zip(sizes)
            .map(|(&start, &size)| {
                let view = self.array().narrow(axis as isize, start, size)?;
                if squeeze {
                    view.squeeze(axis as isize)
                } else {
                    Ok(view)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        let records = carries_grad::<E>() && is_grad_enabled() && self.requires_grad();
        if !records {
            return Ok(views.into_iter().map(Tensor::from_ndarray).collect());
        }
        let n = sizes.len();
        let parked: Parked<E, B> = Arc::new(Mutex::new(vec![None; n]));
        let hub = {
            let parked = Arc::clone(&parked);
            let sizes = sizes.to_vec();
            let placeholder = NDArray::zeros(Vec::<usize>::new(), self.backend())?;
            Tensor::from_op(placeholder, op, &[self], move |inputs, _, _| {
                let grads = std::mem::take(&mut *parked.lock().unwrap_or_else(|p| p.into_inner()));
                if grads.len() != n {
                    return Err(Error::msg(format!("{op}: a piece's gradient went missing")));
                }
                let input = &inputs[0];
                let pieces = grads
                    .into_iter()
                    .zip(&sizes)
                    .map(|(g, &size)| match g {
                        Some(g) if squeeze => g.unsqueeze(axis as isize),
                        Some(g) => Ok(g),
                        None => {
                            let mut dims = input.dims().to_vec();
                            dims[axis] = size;
                            Tensor::zeros(dims, input.backend())
                        }
                    })
                    .collect::<Result<Vec<_>>>()?;
                Ok(vec![Some(Tensor::cat(&pieces, axis as isize)?)])
            })
        };
        Ok(views
            .into_iter()
            .enumerate()
            .map(|(k, view)| {
                let parked = Arc::clone(&parked);
                Tensor::from_op(view, op, &[&hub], move |inputs, _, g| {
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
