//! Hooks: user code that backward calls at fixed points, as in PyTorch.
//!
//! - [`Tensor::register_hook`]: sees (and may replace) the gradient arriving at a tensor, before
//!   it is summed into `.grad()` or passed further back.
//! - [`Tensor::retain_grad`]: keeps a non-leaf tensor's gradient in its `.grad()`.
//! - [`Tensor::register_post_accumulate_grad_hook`]: runs on a leaf right after backward added
//!   into its `.grad()` (what data-parallel training uses to start an all-reduce early).
//! - [`queue_callback`]: from inside a backward, runs a closure once that backward is finished.
//!
//! A tensor with no hooks pays one atomic load per backward visit: the hook table is allocated
//! the first time a hook is registered.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Element, Error, Float, Result};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// A gradient hook: gets the gradient arriving at a tensor; `Some(g)` replaces it.
type GradHook<E, B> = dyn Fn(&Tensor<E, B>) -> Result<Option<Tensor<E, B>>> + Send + Sync;
/// A post-accumulate hook: gets the leaf whose `.grad()` was just updated.
type PostAccumulateHook<E, B> = dyn Fn(&Tensor<E, B>) -> Result<()> + Send + Sync;

/// The hooks of one tensor, in registration order, each under the id its handle removes.
pub(crate) struct TensorHooks<E: Element, B: Backend> {
    grad: Vec<(u64, Arc<GradHook<E, B>>)>,
    post_accumulate: Vec<(u64, Arc<PostAccumulateHook<E, B>>)>,
    retains_grad: bool,
}

impl<E: Element, B: Backend> Default for TensorHooks<E, B> {
    fn default() -> Self {
        TensorHooks {
            grad: Vec::new(),
            post_accumulate: Vec::new(),
            retains_grad: false,
        }
    }
}

/// Removes the hook it was returned for (PyTorch's `RemovableHandle`). Dropping the handle keeps
/// the hook, as in PyTorch; call [`remove`](HookHandle::remove) to take it off.
#[must_use = "dropping a HookHandle keeps the hook; keep the handle to remove it later"]
pub struct HookHandle {
    remove: Box<dyn FnOnce() + Send + Sync>,
}

impl HookHandle {
    /// A handle that runs `remove` when [`remove`](HookHandle::remove) is called. For code that
    /// keeps hooks of its own (module forward hooks in `nanotorch-nn`).
    pub fn new(remove: impl FnOnce() + Send + Sync + 'static) -> Self {
        HookHandle {
            remove: Box::new(remove),
        }
    }

    /// Takes the hook off. Removing a hook of a tensor that no longer exists does nothing.
    pub fn remove(self) {
        (self.remove)()
    }
}

impl std::fmt::Debug for HookHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HookHandle")
    }
}

/// Ids for hooks, unique across the process so a handle never removes another hook.
pub(crate) fn next_hook_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl<E: Element, B: Backend> Tensor<E, B> {
    /// The tensor's hook table, created on first use.
    fn hook_table(&self) -> &Mutex<TensorHooks<E, B>> {
        self.0.hooks.get_or_init(Box::default)
    }

    /// Runs `f` on the hook table if this tensor has one.
    #[inline]
    pub(crate) fn with_hooks<T>(&self, f: impl FnOnce(&TensorHooks<E, B>) -> T) -> Option<T> {
        let table = self.0.hooks.get()?;
        Some(f(&table.lock().unwrap_or_else(|p| p.into_inner())))
    }

    /// A handle that removes the hook `id` from this tensor, if the tensor still exists.
    fn handle(&self, id: u64) -> HookHandle {
        let weak: Weak<_> = Arc::downgrade(&self.0);
        HookHandle::new(move || {
            if let Some(inner) = weak.upgrade() {
                if let Some(table) = inner.hooks.get() {
                    let mut hooks = table.lock().unwrap_or_else(|p| p.into_inner());
                    hooks.grad.retain(|(h, _)| *h != id);
                    hooks.post_accumulate.retain(|(h, _)| *h != id);
                }
            }
        })
    }

    fn require_grad_for(&self, what: &str) -> Result<()> {
        if self.requires_grad() {
            Ok(())
        } else {
            Err(Error::invalid(
                "register_hook",
                format!("cannot {what} a tensor that does not require grad"),
                self.shape(),
            ))
        }
    }

    /// Registers `hook` on the gradient of this tensor (PyTorch's `Tensor.register_hook`). Each
    /// time backward computes the gradient with respect to this tensor, the hook sees it first;
    /// returning `Some(g)` replaces it (same shape) for everything downstream: the `.grad()` of a
    /// leaf, a retained gradient, and the gradients of the tensors this one was computed from.
    /// Hooks run in registration order, each seeing the previous one's result. Works on leaves
    /// and non-leaves; the tensor must require grad.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0], [2], &Cpu)?.requires_grad_(true);
    /// let y = x.mul(3.0)?;
    /// let _handle = y.register_hook(|g| Ok(Some(g.mul(10.0)?)))?; // scale dL/dy by 10
    /// y.sum_all()?.backward()?;
    /// assert_eq!(x.grad().unwrap().to_vec()?, [30.0, 30.0]);
    /// # Ok(()) }
    /// ```
    pub fn register_hook(
        &self,
        hook: impl Fn(&Tensor<E, B>) -> Result<Option<Tensor<E, B>>> + Send + Sync + 'static,
    ) -> Result<HookHandle> {
        self.require_grad_for("register a hook on")?;
        let id = next_hook_id();
        self.hook_table()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .grad
            .push((id, Arc::new(hook)));
        Ok(self.handle(id))
    }

    /// Registers `hook` to run on this leaf right after backward has added into its `.grad()`
    /// (PyTorch's `register_post_accumulate_grad_hook`); the hook gets the leaf, so it reads the
    /// updated `.grad()`. It runs in `backward` (not in [`grad`](crate::grad), which accumulates
    /// nothing), once per backward that reaches the leaf, in the order backward reaches leaves.
    /// Only for leaves that require grad.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// use std::sync::{Arc, Mutex};
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let w = Tensor::from_vec(vec![1.0f32, 2.0], [2], &Cpu)?.requires_grad_(true);
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// let _h = w.register_post_accumulate_grad_hook(move |leaf| {
    ///     log.lock().unwrap().push(leaf.grad().unwrap().to_vec()?);
    ///     Ok(())
    /// })?;
    /// w.square()?.sum_all()?.backward()?;
    /// assert_eq!(*seen.lock().unwrap(), [vec![2.0, 4.0]]);
    /// # Ok(()) }
    /// ```
    pub fn register_post_accumulate_grad_hook(
        &self,
        hook: impl Fn(&Tensor<E, B>) -> Result<()> + Send + Sync + 'static,
    ) -> Result<HookHandle> {
        if !self.is_leaf() {
            return Err(Error::invalid(
                "register_post_accumulate_grad_hook",
                "post accumulate grad hooks cannot be registered on non-leaf tensors",
                self.shape(),
            ));
        }
        self.require_grad_for("register a post accumulate grad hook on")?;
        let id = next_hook_id();
        self.hook_table()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .post_accumulate
            .push((id, Arc::new(hook)));
        Ok(self.handle(id))
    }

    /// Keeps this non-leaf tensor's gradient in its `.grad()` during backward, summed across
    /// backward calls like a leaf's (PyTorch's `retain_grad`). The retained gradient is the one
    /// left after this tensor's own [`register_hook`](Tensor::register_hook) hooks. A no-op on a
    /// leaf (leaves keep their gradient anyway); an error on a tensor that does not require grad.
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0], [2], &Cpu)?.requires_grad_(true);
    /// let y = x.mul(2.0)?;
    /// y.retain_grad()?;
    /// y.square()?.sum_all()?.backward()?; // dL/dy = 2y
    /// assert_eq!(y.grad().unwrap().to_vec()?, [4.0, 8.0]);
    /// # Ok(()) }
    /// ```
    pub fn retain_grad(&self) -> Result<()> {
        if !self.requires_grad() {
            return Err(Error::invalid(
                "retain_grad",
                "cannot retain the gradient of a tensor that does not require grad",
                self.shape(),
            ));
        }
        if !self.is_leaf() {
            self.hook_table()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retains_grad = true;
        }
        Ok(())
    }

    /// Whether backward keeps this non-leaf tensor's gradient (see
    /// [`retain_grad`](Tensor::retain_grad)). `false` for leaves, as in PyTorch.
    #[inline]
    pub fn retains_grad(&self) -> bool {
        !self.is_leaf() && self.with_hooks(|h| h.retains_grad).unwrap_or(false)
    }
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// `grad` after this tensor's gradient hooks; checks each replacement's shape.
    #[inline]
    pub(crate) fn run_grad_hooks(&self, mut grad: Tensor<E, B>) -> Result<Tensor<E, B>> {
        let Some(hooks) = self.with_hooks(|h| {
            h.grad
                .iter()
                .map(|(_, f)| Arc::clone(f))
                .collect::<Vec<_>>()
        }) else {
            return Ok(grad);
        };
        for hook in hooks {
            if let Some(replaced) = hook(&grad)? {
                if replaced.shape() != grad.shape() {
                    return Err(Error::ShapeMismatch {
                        op: "register_hook",
                        what: "a hook returned a gradient whose shape differs from the gradient it got",
                        lhs: grad.shape().clone(),
                        rhs: replaced.shape().clone(),
                    });
                }
                grad = replaced;
            }
        }
        Ok(grad)
    }

    /// Runs the post-accumulate hooks of this leaf.
    pub(crate) fn run_post_accumulate_hooks(&self) -> Result<()> {
        let hooks = self
            .with_hooks(|h| {
                h.post_accumulate
                    .iter()
                    .map(|(_, f)| Arc::clone(f))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        hooks.iter().try_for_each(|hook| hook(self))
    }
}

type Callback = Box<dyn FnOnce() -> Result<()>>;

thread_local! {
    /// One queue per backward running on this thread (a hook may itself run a backward).
    static CALLBACKS: RefCell<Vec<Vec<Callback>>> = const { RefCell::new(Vec::new()) };
}

/// Queues `callback` to run once the backward that is running on this thread finishes, before it
/// returns (PyTorch's `Variable._execution_engine.queue_callback`). Call it from a hook. Callbacks
/// run in the order queued (one queued by a callback runs after it); the first error stops the
/// rest and becomes backward's error. If backward fails first, queued callbacks are dropped
/// unrun. Outside a backward this is an error.
///
/// ```
/// use nanotorch_autograd::{queue_callback, Tensor};
/// use nanotorch_backend_cpu::Cpu;
/// # fn main() -> nanotorch_ndarray_core::Result<()> {
/// let w = Tensor::from_vec(vec![3.0f32], [1], &Cpu)?.requires_grad_(true);
/// let _h = w.register_post_accumulate_grad_hook(|leaf| {
///     let w = leaf.clone();
///     // Runs after the whole backward, e.g. to wait for a gradient all-reduce.
///     queue_callback(move || {
///         let halved = w.grad().unwrap().mul(0.5)?;
///         w.set_grad(Some(halved));
///         Ok(())
///     })
/// })?;
/// w.mul(4.0)?.sum_all()?.backward()?;
/// assert_eq!(w.grad().unwrap().to_vec()?, [2.0]);
/// assert!(queue_callback(|| Ok(())).is_err()); // no backward is running
/// # Ok(()) }
/// ```
pub fn queue_callback(callback: impl FnOnce() -> Result<()> + 'static) -> Result<()> {
    CALLBACKS.with(|stack| match stack.borrow_mut().last_mut() {
        Some(queue) => {
            queue.push(Box::new(callback));
            Ok(())
        }
        None => Err(Error::msg(
            "queue_callback: no backward is running on this thread; call it from a hook during backward",
        )),
    })
}

/// The callback queue of one backward: opened when it starts, closed (and dropped unrun) when it
/// ends without [`CallbackScope::finish`].
pub(crate) struct CallbackScope(());

impl CallbackScope {
    pub(crate) fn open() -> Self {
        CALLBACKS.with(|stack| stack.borrow_mut().push(Vec::new()));
        CallbackScope(())
    }

    /// Runs this backward's callbacks, including any they queue, then closes the queue.
    pub(crate) fn finish(self) -> Result<()> {
        loop {
            let next = CALLBACKS.with(|stack| {
                let mut stack = stack.borrow_mut();
                let queue = stack.last_mut()?;
                (!queue.is_empty()).then(|| queue.remove(0))
            });
            match next {
                Some(callback) => callback()?,
                None => return Ok(()),
            }
        }
    }
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        CALLBACKS.with(|stack| stack.borrow_mut().pop());
    }
}
