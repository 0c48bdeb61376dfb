//! Backpropagation: order the graph so every node comes after its inputs, then apply the chain
//! rule from the output back.

use crate::value::Value;
use std::collections::HashSet;

impl Value {
    /// Every node `self` depends on, each once, inputs before the nodes made from them, `self`
    /// last (a topological order).
    ///
    /// micrograd writes this as a recursive depth-first search. Recursion uses one stack frame
    /// per level, and a graph 100,000 ops deep (an RNN unrolled, or just a long loop) would
    /// overflow the stack, so this keeps its own stack: a node is pushed once to visit its
    /// inputs and a second time, marked done, to be emitted after them.
    pub fn topological_order(&self) -> Vec<Value> {
        let mut order = Vec::new();
        let mut seen = HashSet::new();
        let mut stack = vec![(self.clone(), false)];
        while let Some((node, inputs_done)) = stack.pop() {
            if inputs_done {
                order.push(node);
            } else if seen.insert(node.id()) {
                stack.push((node.clone(), true));
                for input in node.prev() {
                    if !seen.contains(&input.id()) {
                        stack.push((input.clone(), false));
                    }
                }
            }
        }
        order
    }

    /// Computes `∂self/∂v` for every value `v` that `self` was computed from, and *adds* it to
    /// `v.grad()` (call [`Value::zero_grad`] or [`crate::Module::zero_grad`] between steps).
    ///
    /// Walking the topological order backwards means a node's gradient is complete (every node
    /// that used it has already added its share) before the node passes it on to its inputs.
    pub fn backward(&self) {
        let order = self.topological_order();
        self.0.grad.set(1.0); // ∂self/∂self
        for node in order.iter().rev() {
            if let Some(backward) = &node.0.backward {
                backward(node.grad(), node.prev());
            }
        }
    }
}
