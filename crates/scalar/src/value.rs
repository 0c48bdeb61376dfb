//! `Value`: one number, its gradient, and how it was made.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;

/// How a node sends its gradient to its inputs: called with the node's own gradient and its
/// inputs, it adds each input's share (`∂out/∂input · grad`) to that input's `grad`.
///
/// The inputs come in as an argument rather than being captured, so a node holds its inputs in
/// exactly one place (`prev`), which is what lets [`Drop`] below free a long chain without
/// recursion.
pub(crate) type BackwardFn = Box<dyn Fn(f64, &[Value])>;

/// A scalar in a computation graph: its value, the gradient of some output with respect to it,
/// and, if an op made it, that op's inputs and backward rule.
///
/// Cloning a `Value` is cheap and gives the *same* node (it clones an `Rc`), so
/// `let b = a.clone(); b.set_data(1.0)` changes `a` too; that is how [`crate::Module::parameters`]
/// hands out the weights for SGD to update.
///
/// ```
/// use nanotorch_scalar::Value;
///
/// let a = Value::new(2.0);
/// let b = Value::new(-3.0);
/// let c = &a * &b + 10.0; // 4
/// c.backward();
/// assert_eq!(c.data(), 4.0);
/// assert_eq!((a.grad(), b.grad()), (-3.0, 2.0)); // ∂c/∂a = b, ∂c/∂b = a
/// ```
#[derive(Clone)]
pub struct Value(pub(crate) Rc<Node>);

/// What a `Value` points at. `Cell`s, because the gradient is written during `backward` and the
/// data during an optimizer step while other nodes still hold this one.
pub(crate) struct Node {
    pub(crate) data: Cell<f64>,
    pub(crate) grad: Cell<f64>,
    /// The op that made this node ("" for a leaf), for printing.
    pub(crate) op: &'static str,
    /// The op's inputs, in order.
    pub(crate) prev: Vec<Value>,
    /// `None` for a leaf: nothing to pass the gradient on to.
    pub(crate) backward: Option<BackwardFn>,
}

impl Value {
    /// A leaf: a number no op made (an input or a parameter), with gradient 0.
    pub fn new(data: f64) -> Value {
        Value(Rc::new(Node {
            data: Cell::new(data),
            grad: Cell::new(0.0),
            op: "",
            prev: Vec::new(),
            backward: None,
        }))
    }

    /// The result of an op: its value, the op's name, its inputs and its backward rule.
    pub(crate) fn from_op(
        data: f64,
        op: &'static str,
        prev: Vec<Value>,
        backward: impl Fn(f64, &[Value]) + 'static,
    ) -> Value {
        Value(Rc::new(Node {
            data: Cell::new(data),
            grad: Cell::new(0.0),
            op,
            prev,
            backward: Some(Box::new(backward)),
        }))
    }

    /// The number.
    pub fn data(&self) -> f64 {
        self.0.data.get()
    }

    /// Overwrites the number (an optimizer step). Results already computed from it keep their
    /// old values: the graph is rebuilt on the next forward pass.
    pub fn set_data(&self, data: f64) {
        self.0.data.set(data);
    }

    /// `∂out/∂self` after `out.backward()`, summed over every path from `self` to `out` (and over
    /// earlier `backward` calls, until [`Value::zero_grad`]).
    pub fn grad(&self) -> f64 {
        self.0.grad.get()
    }

    /// Sets the gradient back to 0, so the next `backward` does not add to the last one.
    pub fn zero_grad(&self) {
        self.0.grad.set(0.0);
    }

    /// The name of the op that made this value (`"+"`, `"*"`, `"tanh"`, …), or `""` for a leaf.
    pub fn op(&self) -> &'static str {
        self.0.op
    }

    /// The inputs of the op that made this value (empty for a leaf).
    pub fn prev(&self) -> &[Value] {
        &self.0.prev
    }

    /// Adds `g` to the gradient: a value used twice gets both contributions.
    pub(crate) fn add_grad(&self, g: f64) {
        self.0.grad.set(self.0.grad.get() + g);
    }

    /// Whether two handles are the same node (not merely equal numbers).
    pub(crate) fn id(&self) -> *const Node {
        Rc::as_ptr(&self.0)
    }
}

impl From<f64> for Value {
    fn from(data: f64) -> Value {
        Value::new(data)
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value(data={}, grad={})", self.data(), self.grad())
    }
}

impl Drop for Node {
    /// Frees the graph behind this node with a loop instead of recursion. The default drop of a
    /// chain `x → y → z → …` drops `z` inside `y`'s drop inside `x`'s drop, one stack frame per
    /// node, which overflows the stack somewhere past a few tens of thousands of nodes.
    fn drop(&mut self) {
        let mut pending = std::mem::take(&mut self.prev);
        while let Some(value) = pending.pop() {
            // Only the last handle to a node frees it; its inputs then join the queue, and the
            // node itself drops here with an empty `prev`, so this function never goes deeper.
            if let Some(mut node) = Rc::into_inner(value.0) {
                pending.append(&mut node.prev);
            }
        }
    }
}
