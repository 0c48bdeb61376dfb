//! Reverse mode: order the graph behind a tensor, then walk it from the output back to the leaves,
//! asking each node's backward rule for its inputs' gradients and summing what arrives at each
//! tensor. micrograd's `backward()`, grown up: no recursion (a million-node chain is fine),
//! gradients freed as soon as they are consumed, the graph released as it is walked, and an option
//! to record the backward pass itself so it can be differentiated again.

use crate::grad_mode::GradModeGuard;
use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};
use std::collections::{HashMap, HashSet};

/// Options for [`Tensor::backward_with`] and [`grad`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackwardOptions {
    /// Keep the graph so backward can run through it again.
    pub retain_graph: bool,
    /// Record the backward pass, so the gradients have a graph of their own (higher derivatives).
    /// Implies `retain_graph`.
    pub create_graph: bool,
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Computes the gradient of this one-element tensor with respect to every leaf that requires
    /// one, adding it into each leaf's `.grad()` (as PyTorch does across calls).
    pub fn backward(&self) -> Result<()> {
        self.backward_with(None, BackwardOptions::default())
    }

    /// Backward with an explicit upstream gradient (required when `self` has more than one
    /// element) and options.
    pub fn backward_with(
        &self,
        gradient: Option<&Tensor<E, B>>,
        options: BackwardOptions,
    ) -> Result<()> {
        run(self, gradient, options, &[]).map(|_| ())
    }
}

/// The gradients of `output` with respect to `inputs`, returned rather than accumulated into
/// `.grad()` (PyTorch's `torch.autograd.grad`). `None` for an input that `output` does not depend on.
pub fn grad<E: Float, B: Backend>(
    output: &Tensor<E, B>,
    gradient: Option<&Tensor<E, B>>,
    inputs: &[&Tensor<E, B>],
    options: BackwardOptions,
) -> Result<Vec<Option<Tensor<E, B>>>> {
    run(output, gradient, options, inputs)
}

/// The engine. With an empty `wanted`, accumulates into leaves; otherwise returns the gradients of
/// `wanted` and leaves every `.grad()` untouched.
fn run<E: Float, B: Backend>(
    output: &Tensor<E, B>,
    gradient: Option<&Tensor<E, B>>,
    options: BackwardOptions,
    wanted: &[&Tensor<E, B>],
) -> Result<Vec<Option<Tensor<E, B>>>> {
    if !output.requires_grad() {
        return Err(Error::invalid(
            "backward",
            "the tensor does not require grad and has no grad_fn (did you forget requires_grad_(true), or run under no_grad?)",
            output.shape(),
        ));
    }
    let seed = match gradient {
        Some(g) if g.shape() != output.shape() => {
            return Err(Error::ShapeMismatch {
                op: "backward",
                what: "gradient shape differs from the output shape",
                lhs: output.shape().clone(),
                rhs: g.shape().clone(),
            })
        }
        Some(g) => g.clone(),
        None if output.numel() == 1 => Tensor::ones_like(output)?,
        None => {
            return Err(Error::invalid(
                "backward",
                "grad can be implicitly created only for one-element outputs; pass a gradient",
                output.shape(),
            ))
        }
    };
    let retain = options.retain_graph || options.create_graph;
    let _mode = GradModeGuard::new(options.create_graph);

    let mut order = topological_order(output);
    let mut pending: HashMap<usize, Tensor<E, B>> = HashMap::new();
    pending.insert(output.id(), seed);
    let mut found: Vec<Option<Tensor<E, B>>> = vec![None; wanted.len()];

    // `order` lists every tensor after all the tensors it was computed from; popping walks it
    // from the output back, and drops each tensor we are done with.
    while let Some(tensor) = order.pop() {
        let Some(grad) = pending.remove(&tensor.id()) else {
            continue;
        };
        if let Some(i) = wanted.iter().position(|w| w.ptr_eq(&tensor)) {
            found[i] = Some(grad.clone());
        }
        if tensor.is_leaf() {
            if wanted.is_empty() {
                accumulate_into_leaf(&tensor, grad)?;
            }
            continue;
        }
        let mut slot = tensor.0.node.lock().unwrap_or_else(|p| p.into_inner());
        let node = if retain { None } else { slot.take() };
        let node_ref = match (&node, slot.as_ref()) {
            (Some(n), _) | (None, Some(n)) => n,
            (None, None) => {
                return Err(Error::invalid(
                    "backward",
                    "trying to backward through the graph a second time; pass retain_graph: true the first time",
                    tensor.shape(),
                ))
            }
        };
        let input_grads = (node_ref.backward)(&node_ref.inputs, &tensor, &grad)?;
        for (input, input_grad) in node_ref.inputs.iter().zip(input_grads) {
            let Some(input_grad) = input_grad else {
                continue;
            };
            if !input.requires_grad() {
                continue;
            }
            if input_grad.shape() != input.shape() {
                return Err(Error::ShapeMismatch {
                    op: node_ref.op,
                    what: "backward rule returned a gradient whose shape differs from its input (a bug in the rule)",
                    lhs: input.shape().clone(),
                    rhs: input_grad.shape().clone(),
                });
            }
            let summed = match pending.remove(&input.id()) {
                Some(previous) => previous.add(&input_grad)?,
                None => input_grad,
            };
            pending.insert(input.id(), summed);
        }
        drop(slot);
        drop(node);
    }
    Ok(found)
}

/// Adds `grad` into a leaf's `.grad()`.
fn accumulate_into_leaf<E: Float, B: Backend>(
    leaf: &Tensor<E, B>,
    grad: Tensor<E, B>,
) -> Result<()> {
    let mut slot = leaf.0.grad.lock().unwrap_or_else(|p| p.into_inner());
    let total = match slot.take() {
        Some(previous) => previous.add(&grad)?,
        None => grad,
    };
    *slot = Some(total);
    Ok(())
}

/// Every tensor that `output` depends on through tensors requiring grad, each listed after all of
/// its inputs. An explicit stack (depth-first, post-order) instead of recursion.
fn topological_order<E: Float, B: Backend>(output: &Tensor<E, B>) -> Vec<Tensor<E, B>> {
    let mut order = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![(output.clone(), false)];
    while let Some((tensor, inputs_done)) = stack.pop() {
        if inputs_done {
            order.push(tensor);
            continue;
        }
        if !seen.insert(tensor.id()) {
            continue;
        }
        let inputs: Vec<Tensor<E, B>> = tensor
            .0
            .node
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|node| {
                node.inputs
                    .iter()
                    .filter(|t| t.requires_grad())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        stack.push((tensor, true));
        stack.extend(
            inputs
                .into_iter()
                .filter(|t| !seen.contains(&t.id()))
                .map(|t| (t, false)),
        );
    }
    order
}
