//! Reverse mode: order the graph behind a tensor, then walk it from the output back to the leaves,
//! asking each node's backward rule for its inputs' gradients and summing what arrives at each
//! tensor. micrograd's `backward()`, grown up: no recursion (a million-node chain is fine),
//! gradients freed as soon as they are consumed, the graph released as it is walked, and an option
//! to record the backward pass itself so it can be differentiated again.

use crate::anomaly;
use crate::grad_mode::GradModeGuard;
use crate::hooks::CallbackScope;
use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};
use std::collections::hash_map::Entry;
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
        run(self, gradient, options, Target::AllLeaves).map(|_| ())
    }

    /// Backward that adds into the `.grad()` of `inputs` only, leaving every other tensor's
    /// `.grad()` alone (PyTorch's `backward(inputs=...)`). An input may be a leaf or a non-leaf;
    /// each must require grad, and the list must not be empty. Only the part of the graph between
    /// `self` and `inputs` is walked.
    ///
    /// ```
    /// use nanotorch_autograd::{BackwardOptions, Tensor};
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let a = Tensor::from_vec(vec![1.0f32, 2.0], [2], &Cpu)?.requires_grad_(true);
    /// let b = Tensor::from_vec(vec![3.0f32, 4.0], [2], &Cpu)?.requires_grad_(true);
    /// let loss = a.mul(&b)?.sum_all()?;
    /// loss.backward_inputs(None, &[&a], BackwardOptions::default())?;
    /// assert_eq!(a.grad().unwrap().to_vec()?, [3.0, 4.0]); // dL/da = b
    /// assert!(b.grad().is_none());
    /// # Ok(()) }
    /// ```
    pub fn backward_inputs(
        &self,
        gradient: Option<&Tensor<E, B>>,
        inputs: &[&Tensor<E, B>],
        options: BackwardOptions,
    ) -> Result<()> {
        if inputs.is_empty() {
            return Err(Error::invalid(
                "backward",
                "inputs is empty; call backward_with to accumulate into every leaf",
                self.shape(),
            ));
        }
        if let Some(bad) = inputs.iter().find(|t| !t.requires_grad()) {
            return Err(Error::invalid(
                "backward",
                "one of the inputs does not require grad",
                bad.shape(),
            ));
        }
        run(self, gradient, options, Target::Only(inputs)).map(|_| ())
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
    run(output, gradient, options, Target::Return(inputs))
}

/// Where a backward's gradients go.
#[derive(Clone, Copy)]
enum Target<'a, E: Float, B: Backend> {
    /// Into the `.grad()` of every leaf (and of non-leaves that `retain_grad`).
    AllLeaves,
    /// Into the `.grad()` of these tensors only.
    Only(&'a [&'a Tensor<E, B>]),
    /// Returned for these tensors; no `.grad()` changes.
    Return(&'a [&'a Tensor<E, B>]),
}

/// The engine: walks the graph behind `output` and sends the gradients to `target`. Returns the
/// wanted gradients for [`Target::Return`], an empty list otherwise.
fn run<E: Float, B: Backend>(
    output: &Tensor<E, B>,
    gradient: Option<&Tensor<E, B>>,
    options: BackwardOptions,
    target: Target<'_, E, B>,
) -> Result<Vec<Option<Tensor<E, B>>>> {
    if !output.requires_grad() {
        return Err(Error::invalid(
            "backward",
            "the tensor does not require grad and has no grad_fn (did you forget requires_grad_(true), or run under no_grad?)",
            output.shape(),
        ));
    }
    anomaly::report_pending()?;
    // Read once: the mode is per thread and backward runs on this one.
    let checking = anomaly::is_anomaly_enabled();
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
    let callbacks = CallbackScope::open();

    let mut order = topological_order(output);
    let targets = match target {
        Target::AllLeaves => &[][..],
        Target::Only(t) | Target::Return(t) => t,
    };
    // With explicit targets, only tensors on a path to one of them need a gradient.
    let needed = (!targets.is_empty()).then(|| on_paths_to(&order, targets));
    let mut pending: HashMap<usize, Tensor<E, B>> = HashMap::new();
    pending.insert(output.id(), seed);
    let mut found: Vec<Option<Tensor<E, B>>> = vec![None; targets.len()];

    // `order` lists every tensor after all the tensors it was computed from; popping walks it
    // from the output back, and drops each tensor we are done with.
    while let Some(tensor) = order.pop() {
        let Some(grad) = pending.remove(&tensor.id()) else {
            continue;
        };
        if needed.as_ref().is_some_and(|n| !n.contains(&tensor.id())) {
            continue;
        }
        // One atomic load decides for the common case of a tensor without hooks.
        let has_hooks = tensor.0.hooks.get().is_some();
        let grad = if has_hooks {
            tensor.run_grad_hooks(grad)?
        } else {
            grad
        };
        let target_index = targets.iter().position(|w| w.ptr_eq(&tensor));
        match target {
            Target::Return(_) => {
                if let Some(i) = target_index {
                    found[i] = Some(grad.clone());
                }
            }
            Target::AllLeaves if tensor.is_leaf() || (has_hooks && tensor.retains_grad()) => {
                accumulate_grad(&tensor, &grad)?;
            }
            Target::Only(_) if target_index.is_some() => accumulate_grad(&tensor, &grad)?,
            _ => {}
        }
        if tensor.is_leaf() {
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
        let input_grads = {
            let _rule = checking.then(anomaly::BackwardRuleScope::enter);
            (node_ref.backward)(&node_ref.inputs, &tensor, &grad)?
        };
        if checking {
            anomaly::check_backward(node_ref, &input_grads)?;
        }
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
    callbacks.finish()?;
    Ok(found)
}

/// Adds `grad` into `tensor`'s `.grad()`, then runs its post-accumulate hooks (leaves only).
fn accumulate_grad<E: Float, B: Backend>(tensor: &Tensor<E, B>, grad: &Tensor<E, B>) -> Result<()> {
    {
        let mut slot = tensor.0.grad.lock().unwrap_or_else(|p| p.into_inner());
        let total = match slot.take() {
            Some(previous) => previous.add(grad)?,
            None => grad.clone(),
        };
        *slot = Some(total);
    }
    if tensor.is_leaf() {
        tensor.run_post_accumulate_hooks()?;
    }
    Ok(())
}

/// The ids of the tensors in `order` (inputs before outputs) from which some tensor of `targets`
/// can be reached through the graph, targets included.
fn on_paths_to<E: Float, B: Backend>(
    order: &[Tensor<E, B>],
    targets: &[&Tensor<E, B>],
) -> HashSet<usize> {
    let mut needed: HashSet<usize> = targets.iter().map(|t| t.id()).collect();
    for tensor in order {
        let reaches = tensor
            .0
            .node
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|node| node.inputs.iter().any(|i| needed.contains(&i.id())));
        if reaches {
            needed.insert(tensor.id());
        }
    }
    needed
}

/// Every tensor that `output` depends on through tensors requiring grad, each listed after all of
/// its inputs; backward pops the list from the end.
///
/// Which of the valid orders: the one a ready stack gives (Kahn's algorithm). A tensor becomes
/// ready once every tensor computed from it has been walked; the ready tensor pushed last is
/// walked next, and a node's leaf inputs are pushed after its other inputs. So a parameter is
/// reached (its gradient accumulated, its post-accumulate hooks run) right after the last op that
/// used it, and the last op's other inputs (`w.t()` beside the activation in `x @ w.t()`) are
/// walked before the long chain back through earlier layers. Data-parallel training relies on this
/// to all-reduce the last layers' gradients while backward computes the first ones'.
/// Explicit stacks instead of recursion.
fn topological_order<E: Float, B: Backend>(output: &Tensor<E, B>) -> Vec<Tensor<E, B>> {
    // Pass 1: every tensor reachable, numbered as found; the inputs of tensor `i`, by number and
    // leaves last (so they are pushed last and walked first once ready), are
    // `edges[first_edge[i]..first_edge[i + 1]]`; and how many edges lead into each tensor. Flat
    // arrays, because this runs once per backward over every node and allocation dominates it.
    let mut number: HashMap<usize, usize> = HashMap::from([(output.id(), 0)]);
    let mut nodes: Vec<Option<Tensor<E, B>>> = vec![Some(output.clone())];
    let mut consumers: Vec<usize> = vec![0];
    let mut edges: Vec<usize> = Vec::new();
    let mut first_edge: Vec<usize> = Vec::new();
    let mut next = 0;
    while next < nodes.len() {
        first_edge.push(edges.len());
        let Some(tensor) = nodes[next].clone() else {
            break; // never: pass 1 takes nothing out of `nodes`, pass 2 does
        };
        let slot = tensor.0.node.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(node) = slot.as_ref() {
            for leaves in [false, true] {
                let wanted = node
                    .inputs
                    .iter()
                    .filter(|t| t.requires_grad() && t.is_leaf() == leaves);
                for input in wanted {
                    let i = match number.entry(input.id()) {
                        Entry::Occupied(known) => *known.get(),
                        Entry::Vacant(new) => {
                            new.insert(nodes.len());
                            nodes.push(Some(input.clone()));
                            consumers.push(0);
                            nodes.len() - 1
                        }
                    };
                    consumers[i] += 1;
                    edges.push(i);
                }
            }
        }
        next += 1;
    }
    first_edge.push(edges.len());
    // Pass 2: walk from the output, a tensor once all its consumers are walked.
    let mut order = Vec::with_capacity(nodes.len());
    let mut ready = vec![0];
    while let Some(i) = ready.pop() {
        for &j in &edges[first_edge[i]..first_edge[i + 1]] {
            consumers[j] -= 1;
            if consumers[j] == 0 {
                ready.push(j);
            }
        }
        order.extend(nodes[i].take());
    }
    order.reverse();
    order
}
