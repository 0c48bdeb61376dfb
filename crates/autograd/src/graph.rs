//! The autograd graph seen from outside: what a tool that walks or draws the graph behind a tensor
//! (`nanotorch::viz`) may read without reaching into the tensor's internals.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Element};

impl<E: Element, B: Backend> Tensor<E, B> {
    /// The tensors the op behind this one read, in the op's argument order (a tensor used twice,
    /// as in `x * x`, appears twice). Empty for a leaf, and for a non-leaf whose graph
    /// `backward` has released (pass `retain_graph` to keep it). PyTorch reaches the same through
    /// `grad_fn.next_functions`.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0], [2], &Cpu)?.requires_grad_(true);
    /// let y = &x * &x;
    /// let inputs = y.graph_inputs();
    /// assert_eq!(inputs.len(), 2);
    /// assert!(inputs.iter().all(|t| t.ptr_eq(&x)));
    /// assert!(x.graph_inputs().is_empty());
    /// # Ok(()) }
    /// ```
    pub fn graph_inputs(&self) -> Vec<Tensor<E, B>> {
        self.0
            .node
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|node| node.inputs.clone())
            .unwrap_or_default()
    }

    /// A number shared by every clone of this tensor and by no other tensor alive at the same
    /// time, for keying maps and sets while walking a graph. It comes from an address, so it
    /// differs from run to run: number tensors in walk order for anything shown to a person.
    pub fn graph_id(&self) -> usize {
        self.id()
    }
}
