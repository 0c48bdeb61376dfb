//! Forward hooks on modules (PyTorch's `register_forward_pre_hook` / `register_forward_hook`).
//!
//! PyTorch keeps hook tables inside every `nn.Module`. Here a module is any struct, so hooks live
//! in a transparent wrapper instead: [`Hooked<M>`] holds the module and its hooks, visits the
//! module's parameters as its own (same state-dict keys, same `repr`), dereferences to it, and
//! runs the hooks around its forward. Wrap the layers you want to watch; nothing else pays.

use crate::{Forward, Module, Visitor};
use nanotorch_autograd::{HookHandle, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Float, Result};
use std::sync::{Arc, Mutex, Weak};

/// A forward pre-hook: gets the module and its input before forward; `Some(x)` replaces the input.
type PreHook<M, E, B> =
    Arc<dyn Fn(&M, &Tensor<E, B>) -> Result<Option<Tensor<E, B>>> + Send + Sync>;
/// A forward hook: gets the module, its input and its output; `Some(y)` replaces the output.
type PostHook<M, E, B> =
    Arc<dyn Fn(&M, &Tensor<E, B>, &Tensor<E, B>) -> Result<Option<Tensor<E, B>>> + Send + Sync>;

struct Hooks<M, E: Float, B: Backend> {
    next_id: u64,
    pre: Vec<(u64, PreHook<M, E, B>)>,
    post: Vec<(u64, PostHook<M, E, B>)>,
}

/// A module with forward hooks: the module itself as far as parameters, state dicts, modes and
/// `repr` are concerned, and `Deref`s to it for its fields and methods.
///
/// ```
/// use nanotorch_autograd::Tensor;
/// use nanotorch_backend_cpu::Cpu;
/// use nanotorch_nn::{Hooked, Linear, Module};
/// use std::sync::{Arc, Mutex};
/// # fn main() -> nanotorch_ndarray_core::Result<()> {
/// let layer = Hooked::new(Linear::<f32, Cpu>::new(4, 2, &Cpu)?);
/// let shapes = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&shapes);
/// let handle = layer.register_forward_hook(move |_module, _input, output| {
///     log.lock().unwrap().push(output.dims().to_vec()); // inspect, keep the output
///     Ok(None)
/// });
/// layer.forward(&Tensor::zeros([3, 4], &Cpu)?)?;
/// assert_eq!(*shapes.lock().unwrap(), [vec![3, 2]]);
/// assert_eq!(layer.state_dict().keys().collect::<Vec<_>>(), ["bias", "weight"]); // as unwrapped
/// handle.remove();
/// # Ok(()) }
/// ```
pub struct Hooked<M, E: Float = f32, B: Backend = Cpu> {
    module: M,
    hooks: Arc<Mutex<Hooks<M, E, B>>>,
}

impl<M, E: Float, B: Backend> Hooked<M, E, B> {
    /// Wraps `module`, with no hooks yet.
    pub fn new(module: M) -> Self {
        Hooked {
            module,
            hooks: Arc::new(Mutex::new(Hooks {
                next_id: 0,
                pre: Vec::new(),
                post: Vec::new(),
            })),
        }
    }

    /// The wrapped module.
    pub fn inner(&self) -> &M {
        &self.module
    }

    /// The wrapped module, mutably.
    pub fn inner_mut(&mut self) -> &mut M {
        &mut self.module
    }

    /// The wrapped module; its hooks are dropped.
    pub fn into_inner(self) -> M {
        self.module
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Hooks<M, E, B>> {
        self.hooks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers `hook` to run before every forward, with the module and the input; returning
    /// `Some(x)` makes `x` the input (PyTorch's `register_forward_pre_hook`). Hooks run in
    /// registration order, each seeing the input the previous one left.
    pub fn register_forward_pre_hook(
        &self,
        hook: impl Fn(&M, &Tensor<E, B>) -> Result<Option<Tensor<E, B>>> + Send + Sync + 'static,
    ) -> HookHandle
    where
        M: 'static,
    {
        let mut table = self.table();
        let id = table.next_id;
        table.next_id += 1;
        table.pre.push((id, Arc::new(hook)));
        self.handle(id)
    }

    /// Registers `hook` to run after every forward, with the module, the input and the output;
    /// returning `Some(y)` makes `y` the output (PyTorch's `register_forward_hook`). Hooks run in
    /// registration order, each seeing the output the previous one left.
    pub fn register_forward_hook(
        &self,
        hook: impl Fn(&M, &Tensor<E, B>, &Tensor<E, B>) -> Result<Option<Tensor<E, B>>>
            + Send
            + Sync
            + 'static,
    ) -> HookHandle
    where
        M: 'static,
    {
        let mut table = self.table();
        let id = table.next_id;
        table.next_id += 1;
        table.post.push((id, Arc::new(hook)));
        self.handle(id)
    }

    fn handle(&self, id: u64) -> HookHandle
    where
        M: 'static,
    {
        let weak: Weak<Mutex<Hooks<M, E, B>>> = Arc::downgrade(&self.hooks);
        HookHandle::new(move || {
            if let Some(hooks) = weak.upgrade() {
                let mut table = hooks.lock().unwrap_or_else(|p| p.into_inner());
                table.pre.retain(|(h, _)| *h != id);
                table.post.retain(|(h, _)| *h != id);
            }
        })
    }
}

impl<M: Forward<E, B>, E: Float, B: Backend> Hooked<M, E, B> {
    /// The wrapped module's forward, with the pre-hooks before it and the forward hooks after.
    pub fn forward(&self, input: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let (pre, post) = {
            let table = self.table();
            (table.pre.clone(), table.post.clone())
        };
        let mut input = input.clone();
        for (_, hook) in &pre {
            if let Some(replaced) = hook(&self.module, &input)? {
                input = replaced;
            }
        }
        let mut output = self.module.forward(&input)?;
        for (_, hook) in &post {
            if let Some(replaced) = hook(&self.module, &input, &output)? {
                output = replaced;
            }
        }
        Ok(output)
    }
}

impl<M, E: Float, B: Backend> std::ops::Deref for Hooked<M, E, B> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.module
    }
}

impl<M: Module<E, B>, E: Float, B: Backend> Module<E, B> for Hooked<M, E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        self.module.visit(v)
    }

    fn module_name(&self) -> String {
        self.module.module_name()
    }

    fn extra_repr(&self) -> String {
        self.module.extra_repr()
    }
}

impl<M: Forward<E, B>, E: Float, B: Backend> Forward<E, B> for Hooked<M, E, B> {
    fn forward(&self, input: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        Hooked::forward(self, input)
    }
}

impl<M: Module<E, B>, E: Float, B: Backend> std::fmt::Display for Hooked<M, E, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::repr::<E, B, _>(self))
    }
}
