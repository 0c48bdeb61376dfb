//! `Tensor`: an array plus what reverse mode needs — whether it wants a gradient, a slot for that
//! gradient, and the node (op + inputs + backward rule) that produced it.

use crate::grad_mode::is_grad_enabled;
use nanotorch_ndarray_core::{Backend, DType, Element, NDArray, Result, Shape};
use std::panic::Location;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The backward rule of one op: given the op's inputs, its output and the gradient of the final
/// result with respect to that output, return the gradient for each input (`None` where an input
/// does not require one). Rules are written with tensor ops, so they can themselves be
/// differentiated (`create_graph`).
pub type BackwardFn<E, B> = dyn Fn(&[Tensor<E, B>], &Tensor<E, B>, &Tensor<E, B>) -> Result<Vec<Option<Tensor<E, B>>>>
    + Send
    + Sync;

/// Whether tensors of element type `E` take part in autograd: floats do, integers (indices,
/// labels, masks) do not, as in PyTorch. Shape and index ops are written once for every element
/// type; for the others their backward rule is simply never recorded.
pub(crate) fn carries_grad<E: Element>() -> bool {
    E::DTYPE.is_float()
}

/// How a non-leaf tensor was made.
pub(crate) struct Node<E: Element, B: Backend> {
    pub(crate) op: &'static str,
    pub(crate) inputs: Vec<Tensor<E, B>>,
    pub(crate) backward: Box<BackwardFn<E, B>>,
    /// Where the user called the op; recorded only in anomaly mode.
    pub(crate) location: Option<&'static Location<'static>>,
}

pub(crate) struct TensorInner<E: Element, B: Backend> {
    pub(crate) data: NDArray<E, B>,
    pub(crate) requires_grad: AtomicBool,
    pub(crate) grad: Mutex<Option<Tensor<E, B>>>,
    /// `None` for leaves, and for non-leaves once backward has released the graph.
    pub(crate) node: Mutex<Option<Node<E, B>>>,
    pub(crate) is_leaf: bool,
    /// Gradient hooks and `retain_grad`, allocated when the first one is registered.
    pub(crate) hooks: OnceLock<Box<Mutex<crate::hooks::TensorHooks<E, B>>>>,
}

/// An N-d array that can take part in automatic differentiation. Cloning is cheap (shared).
///
/// ```
/// use nanotorch_autograd::Tensor;
/// use nanotorch_backend_cpu::Cpu;
/// # fn main() -> nanotorch_ndarray_core::Result<()> {
/// let x = Tensor::from_vec(vec![1.0f64, 2.0, 3.0], [3], &Cpu)?.requires_grad_(true);
/// let y = (&x * &x).sum_all()?; // y = Σ x²
/// y.backward()?;
/// assert_eq!(x.grad().unwrap().to_vec()?, vec![2.0, 4.0, 6.0]);
/// # Ok(()) }
/// ```
pub struct Tensor<E: Element, B: Backend>(pub(crate) Arc<TensorInner<E, B>>);

impl<E: Element, B: Backend> Clone for Tensor<E, B> {
    fn clone(&self) -> Self {
        Tensor(Arc::clone(&self.0))
    }
}

impl<E: Element, B: Backend> Drop for TensorInner<E, B> {
    /// Drops the graph behind this tensor iteratively: the default recursive drop of a chain of a
    /// million nodes would overflow the stack.
    fn drop(&mut self) {
        let Some(node) = self
            .node
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        else {
            return;
        };
        let mut pending = node.inputs;
        while let Some(tensor) = pending.pop() {
            if let Ok(mut inner) = Arc::try_unwrap(tensor.0) {
                if let Some(node) = inner
                    .node
                    .get_mut()
                    .unwrap_or_else(|p| p.into_inner())
                    .take()
                {
                    pending.extend(node.inputs);
                }
            }
        }
    }
}

impl<E: Element, B: Backend> Tensor<E, B> {
    /// A leaf tensor (no history) around an array.
    pub fn from_ndarray(data: NDArray<E, B>) -> Self {
        Tensor(Arc::new(TensorInner {
            data,
            requires_grad: AtomicBool::new(false),
            grad: Mutex::new(None),
            node: Mutex::new(None),
            is_leaf: true,
            hooks: OnceLock::new(),
        }))
    }

    /// The result of an op. Records `backward` only when grad mode is on, the element type is a
    /// float, and some input requires a gradient; otherwise the result is a plain leaf and
    /// nothing is allocated for the graph.
    ///
    /// In anomaly mode (see [`detect_anomaly`](crate::detect_anomaly)) the output is checked for
    /// NaN/Inf and the caller's location is recorded. This function cannot fail, so an anomaly
    /// found here is reported by the next fallible op, backward or the end of `detect_anomaly`;
    /// [`try_from_op`](Tensor::try_from_op) reports it at once.
    #[track_caller]
    pub fn from_op<F>(
        data: NDArray<E, B>,
        op: &'static str,
        inputs: &[&Tensor<E, B>],
        backward: F,
    ) -> Self
    where
        F: Fn(&[Tensor<E, B>], &Tensor<E, B>, &Tensor<E, B>) -> Result<Vec<Option<Tensor<E, B>>>>
            + Send
            + Sync
            + 'static,
    {
        Self::record(
            data,
            op,
            inputs,
            backward,
            crate::anomaly::op_location(Location::caller()),
        )
    }

    /// [`from_op`](Tensor::from_op) that returns an anomaly found in anomaly mode as its error,
    /// so the op the user called fails on the line that called it. Every op of this crate is
    /// built with it.
    #[track_caller]
    pub fn try_from_op<F>(
        data: NDArray<E, B>,
        op: &'static str,
        inputs: &[&Tensor<E, B>],
        backward: F,
    ) -> Result<Self>
    where
        F: Fn(&[Tensor<E, B>], &Tensor<E, B>, &Tensor<E, B>) -> Result<Vec<Option<Tensor<E, B>>>>
            + Send
            + Sync
            + 'static,
    {
        let location = crate::anomaly::op_location(Location::caller());
        let out = Self::record(data, op, inputs, backward, location);
        if location.is_some() {
            crate::anomaly::report_pending()?;
        }
        Ok(out)
    }

    /// `from_op` with the caller's location already looked up (`Some` only in anomaly mode).
    fn record<F>(
        data: NDArray<E, B>,
        op: &'static str,
        inputs: &[&Tensor<E, B>],
        backward: F,
        location: Option<&'static Location<'static>>,
    ) -> Self
    where
        F: Fn(&[Tensor<E, B>], &Tensor<E, B>, &Tensor<E, B>) -> Result<Vec<Option<Tensor<E, B>>>>
            + Send
            + Sync
            + 'static,
    {
        if let Some(location) = location {
            crate::anomaly::check_forward(op, inputs, &data, location);
        }
        // Only float tensors carry gradients; an integer op never records (its inputs cannot
        // require grad, and the check keeps that true even for a hand-built `from_op`).
        if !carries_grad::<E>() || !is_grad_enabled() || !inputs.iter().any(|t| t.requires_grad()) {
            return Self::from_ndarray(data);
        }
        let node = Node {
            op,
            inputs: inputs.iter().map(|&t| t.clone()).collect(),
            backward: Box::new(backward),
            location,
        };
        Tensor(Arc::new(TensorInner {
            data,
            requires_grad: AtomicBool::new(true),
            grad: Mutex::new(None),
            node: Mutex::new(Some(node)),
            is_leaf: false,
            hooks: OnceLock::new(),
        }))
    }

    /// A leaf from host data in row-major order.
    pub fn from_vec(data: Vec<E>, shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        Ok(Self::from_ndarray(NDArray::from_vec(data, shape, backend)?))
    }

    /// A leaf from a host slice in row-major order.
    pub fn from_slice(data: &[E], shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        Ok(Self::from_ndarray(NDArray::from_slice(
            data, shape, backend,
        )?))
    }

    /// A 0-d leaf.
    pub fn scalar(value: E, backend: &B) -> Result<Self> {
        Ok(Self::from_ndarray(NDArray::scalar(value, backend)?))
    }

    /// The underlying array (no graph).
    pub fn array(&self) -> &NDArray<E, B> {
        &self.0.data
    }

    /// The backend (device).
    pub fn backend(&self) -> &B {
        self.0.data.backend()
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        self.0.data.shape()
    }

    /// Axis sizes.
    pub fn dims(&self) -> &[usize] {
        self.0.data.dims()
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.0.data.rank()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.0.data.numel()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        E::DTYPE
    }

    /// Elements in row-major order, copied to the host.
    pub fn to_vec(&self) -> Result<Vec<E>> {
        self.0.data.to_vec()
    }

    /// The value of a one-element tensor (PyTorch's `item()`).
    pub fn item(&self) -> Result<E> {
        self.0.data.to_scalar()
    }

    /// Whether gradients flow to (or through) this tensor.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Marks a leaf as wanting a gradient (PyTorch's `requires_grad_`). Returns `self` so it chains
    /// after a constructor. On a non-leaf this only affects future use (as PyTorch allows only
    /// `True` there, so do we: asking to turn it off on a non-leaf is ignored; use `detach`).
    ///
    /// Only float tensors carry gradients. PyTorch raises for an integer tensor; this method
    /// cannot fail (it chains), so on an integer tensor the request is ignored and
    /// [`requires_grad`](Tensor::requires_grad) stays `false`.
    pub fn requires_grad_(self, requires_grad: bool) -> Self {
        if self.0.is_leaf && carries_grad::<E>() {
            self.0.requires_grad.store(requires_grad, Ordering::Relaxed);
        }
        self
    }

    /// Whether this tensor was created by the user rather than by an op that recorded history.
    pub fn is_leaf(&self) -> bool {
        self.0.is_leaf
    }

    /// The name of the op that made this tensor, while its graph is alive.
    pub fn op_name(&self) -> Option<&'static str> {
        self.0
            .node
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|n| n.op)
    }

    /// The accumulated gradient, if backward has reached this tensor.
    pub fn grad(&self) -> Option<Tensor<E, B>> {
        self.0
            .grad
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether writing into this tensor's array in place can change no other tensor or array:
    /// this handle is the only one on the tensor, and its array is
    /// [exclusive](NDArray::is_exclusive). Gradient clipping scales such a gradient in place.
    pub fn is_exclusive(&self) -> bool {
        Arc::strong_count(&self.0) == 1
            && Arc::weak_count(&self.0) == 0
            && self.0.data.is_exclusive()
    }

    /// Replaces the gradient (optimizers and `zero_grad` use this).
    pub fn set_grad(&self, grad: Option<Tensor<E, B>>) {
        *self.0.grad.lock().unwrap_or_else(|p| p.into_inner()) = grad;
    }

    /// Clears the gradient (PyTorch's `zero_grad(set_to_none=True)`).
    pub fn zero_grad(&self) {
        self.set_grad(None);
    }

    /// The same data as a new leaf without history (shares storage).
    pub fn detach(&self) -> Self {
        Self::from_ndarray(self.0.data.clone())
    }

    /// Whether two handles are the same tensor.
    pub fn ptr_eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// A stable identity for maps keyed by tensor (valid while the tensor lives).
    pub(crate) fn id(&self) -> usize {
        Arc::as_ptr(&self.0) as usize
    }
}

impl<E: Element, B: Backend> std::fmt::Display for Tensor<E, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.0.data.to_string();
        match (self.op_name(), self.requires_grad()) {
            (Some(op), _) => write!(f, "{}, grad_fn=<{op}>)", &text[..text.len() - 1]),
            (None, true) => write!(f, "{}, requires_grad=True)", &text[..text.len() - 1]),
            _ => f.write_str(&text),
        }
    }
}

impl<E: Element, B: Backend> std::fmt::Debug for Tensor<E, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
