//! The `Module` trait: traversal apart from forward.
//!
//! A module writes one method, [`Module::visit`], that names its parameters, buffers, child
//! modules and training flag to a [`Visitor`]. Everything PyTorch's `nn.Module` derives from its
//! registered attributes is derived here from that one walk: `parameters`, `named_parameters`,
//! `named_buffers`, `named_modules`, `train`/`eval`, `state_dict`, `load_state_dict`,
//! `zero_grad`, `num_parameters`. A container never forwards a call to its children by hand, so
//! no child can be forgotten.
//!
//! The forward pass is not part of `Module`: each layer has a typed, inherent `forward` (an
//! embedding takes `Tensor<i64>`, a recurrent layer may take and return a state), and
//! [`Forward`] is the single-tensor form that [`crate::Sequential`] runs.

use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// Named tensors: parameters and buffers by their dotted PyTorch names (`fc1.weight`).
pub type StateDict<E = f32, B = Cpu> = BTreeMap<String, Tensor<E, B>>;

/// A module's training flag (PyTorch's `self.training`): on for a new module, switched for the
/// whole tree by [`Module::train`] and [`Module::eval`]. A module whose forward behaves
/// differently in training (dropout, batch statistics) holds one and names it in `visit` with
/// [`Visitor::training`]; nothing else is needed for `eval()` to reach it.
///
/// The flag is atomic so that switching it needs only the shared borrow the traversal hands out,
/// while `train`/`eval` themselves still take `&mut self`, as switching modes is a change to the
/// model.
#[derive(Debug)]
pub struct Training(AtomicBool);

impl Training {
    /// A flag in training mode (PyTorch modules start in training mode).
    pub fn new() -> Self {
        Training(AtomicBool::new(true))
    }

    /// Whether the module is in training mode.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, training: bool) {
        self.0.store(training, Ordering::Relaxed);
    }
}

impl Default for Training {
    fn default() -> Self {
        Training::new()
    }
}

impl Clone for Training {
    fn clone(&self) -> Self {
        Training(AtomicBool::new(self.get()))
    }
}

/// What a traversal found, with its full dotted name.
pub(crate) enum Entry<'a, E: Float, B: Backend> {
    Parameter(String, &'a Tensor<E, B>),
    Buffer(String, &'a Tensor<E, B>),
    Training(&'a Training),
    /// A descendant module and its depth (1 for a direct child).
    Module(String, usize, &'a dyn Module<E, B>),
}

/// The keys a [`Module::load_state_dict`] did not match (PyTorch's `_IncompatibleKeys`), each
/// list sorted. Both empty means every parameter and buffer was loaded and nothing was left over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Keys of the module that the state dict did not have: those tensors kept their values.
    pub missing: Vec<String>,
    /// Keys of the state dict that the module does not have: those tensors were not loaded.
    pub unexpected: Vec<String>,
}

impl LoadReport {
    /// Whether every key matched (no missing and no unexpected key).
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty()
    }
}

impl std::fmt::Display for LoadReport {
    /// `missing key `a`; unexpected keys `b`, `c``, or `all keys matched`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |keys: &[String]| {
            keys.iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = Vec::new();
        for (what, keys) in [("missing", &self.missing), ("unexpected", &self.unexpected)] {
            match keys.len() {
                0 => {}
                1 => parts.push(format!("{what} key {}", list(keys))),
                _ => parts.push(format!("{what} keys {}", list(keys))),
            }
        }
        if parts.is_empty() {
            f.write_str("all keys matched")
        } else {
            f.write_str(&parts.join("; "))
        }
    }
}

/// What [`Module::visit`] reports to: a module names each of its fields here, and the visitor
/// builds the dotted names (`layers.0.weight`) as it descends into children.
pub struct Visitor<'a, E: Float = f32, B: Backend = Cpu> {
    prefix: String,
    depth: usize,
    entries: Vec<Entry<'a, E, B>>,
}

impl<'a, E: Float, B: Backend> Visitor<'a, E, B> {
    fn new() -> Self {
        Visitor {
            prefix: String::new(),
            depth: 0,
            entries: Vec::new(),
        }
    }

    fn full(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A trainable parameter under `name`. `None` (an absent bias) is skipped, so
    /// `v.parameter("bias", self.bias.as_ref())` works as `v.parameter("weight", &self.weight)`.
    pub fn parameter(&mut self, name: &str, tensor: impl Into<Option<&'a Tensor<E, B>>>) {
        if let Some(t) = tensor.into() {
            self.entries.push(Entry::Parameter(self.full(name), t));
        }
    }

    /// A buffer under `name`: state saved in the state dict but not trained (BatchNorm's
    /// running statistics). `None` is skipped.
    pub fn buffer(&mut self, name: &str, tensor: impl Into<Option<&'a Tensor<E, B>>>) {
        if let Some(t) = tensor.into() {
            self.entries.push(Entry::Buffer(self.full(name), t));
        }
    }

    /// A child module under `name`: its own fields are visited with `name.` in front.
    pub fn module(&mut self, name: &str, module: &'a dyn Module<E, B>) {
        let full = self.full(name);
        self.entries
            .push(Entry::Module(full.clone(), self.depth + 1, module));
        let outer = std::mem::replace(&mut self.prefix, format!("{full}."));
        self.depth += 1;
        module.visit(self);
        self.depth -= 1;
        self.prefix = outer;
    }

    /// This module's training flag, switched by `train()` and `eval()`.
    pub fn training(&mut self, flag: &'a Training) {
        self.entries.push(Entry::Training(flag));
    }
}

/// Everything `module` names, depth first, in the order its `visit` names it.
pub(crate) fn entries<E: Float, B: Backend, M: Module<E, B> + ?Sized>(
    module: &M,
) -> Vec<Entry<'_, E, B>> {
    let mut v = Visitor::new();
    module.visit(&mut v);
    v.entries
}

/// A layer or a model: something with parameters, buffers, children and a training flag, all
/// reported by [`Module::visit`]. The defaults (`Module` alone means `Module<f32, Cpu>`) are
/// those of the facade's `Tensor`.
///
/// Write `visit`; every other method is provided from it and is not meant to be overridden
/// (except `extra_repr`, which only changes how the module prints).
///
/// ```
/// use nanotorch_autograd::Tensor;
/// use nanotorch_backend_cpu::Cpu;
/// use nanotorch_nn::{Linear, Module, Visitor};
///
/// struct TwoLayers {
///     fc1: Linear,
///     fc2: Linear,
/// }
///
/// impl Module for TwoLayers {
///     fn visit<'a>(&'a self, v: &mut Visitor<'a>) {
///         v.module("fc1", &self.fc1);
///         v.module("fc2", &self.fc2);
///     }
/// }
///
/// # fn main() -> nanotorch_ndarray_core::Result<()> {
/// let model = TwoLayers { fc1: Linear::new(4, 8, &Cpu)?, fc2: Linear::new(8, 2, &Cpu)? };
/// let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
/// assert_eq!(model.num_parameters(), 4 * 8 + 8 + 8 * 2 + 2);
/// # Ok(()) }
/// ```
pub trait Module<E: Float = f32, B: Backend = Cpu>: Send + Sync {
    /// Names this module's parameters, buffers, child modules and training flag to `v`, with
    /// PyTorch's attribute names (they become the state-dict keys).
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>);

    /// Every trainable parameter with its dotted name, in `visit` order.
    fn named_parameters(&self) -> Vec<(String, Tensor<E, B>)> {
        entries(self)
            .into_iter()
            .filter_map(|e| match e {
                Entry::Parameter(name, t) => Some((name, t.clone())),
                _ => None,
            })
            .collect()
    }

    /// Every trainable parameter, in the order of `named_parameters`.
    fn parameters(&self) -> Vec<Tensor<E, B>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// State that is saved but not trained (BatchNorm's running statistics), by dotted name.
    fn named_buffers(&self) -> Vec<(String, Tensor<E, B>)> {
        entries(self)
            .into_iter()
            .filter_map(|e| match e {
                Entry::Buffer(name, t) => Some((name, t.clone())),
                _ => None,
            })
            .collect()
    }

    /// Every buffer, in the order of `named_buffers`.
    fn buffers(&self) -> Vec<Tensor<E, B>> {
        self.named_buffers().into_iter().map(|(_, b)| b).collect()
    }

    /// Every descendant module by dotted name, depth first. Unlike PyTorch's, the list does not
    /// start with the module itself under `""`.
    fn named_modules(&self) -> Vec<(String, &dyn Module<E, B>)> {
        entries(self)
            .into_iter()
            .filter_map(|e| match e {
                Entry::Module(name, _, m) => Some((name, m)),
                _ => None,
            })
            .collect()
    }

    /// The direct children by name (PyTorch's `named_children`).
    fn named_children(&self) -> Vec<(String, &dyn Module<E, B>)> {
        entries(self)
            .into_iter()
            .filter_map(|e| match e {
                Entry::Module(name, 1, m) => Some((name, m)),
                _ => None,
            })
            .collect()
    }

    /// The direct children, in order.
    fn children(&self) -> Vec<&dyn Module<E, B>> {
        self.named_children().into_iter().map(|(_, m)| m).collect()
    }

    /// Sets every training flag in the tree (PyTorch's `model.train(mode)`).
    fn set_training(&mut self, training: bool) {
        for e in entries(self) {
            if let Entry::Training(flag) = e {
                flag.set(training);
            }
        }
    }

    /// Training mode (PyTorch's `model.train()`).
    fn train(&mut self) {
        self.set_training(true);
    }

    /// Evaluation mode (PyTorch's `model.eval()`).
    fn eval(&mut self) {
        self.set_training(false);
    }

    /// The first training flag in `visit` order (a module's own, when it names it before its
    /// children); `true` for a module with none, which behaves the same in both modes.
    fn is_training(&self) -> bool {
        entries(self)
            .into_iter()
            .find_map(|e| match e {
                Entry::Training(flag) => Some(flag.get()),
                _ => None,
            })
            .unwrap_or(true)
    }

    /// Clears every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`).
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// Turns gradient tracking of every parameter on or off (PyTorch's `requires_grad_`; off
    /// freezes the module for fine-tuning the rest).
    fn requires_grad_(&self, requires_grad: bool) {
        for p in self.parameters() {
            let _ = p.requires_grad_(requires_grad);
        }
    }

    /// The number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.numel()).sum()
    }

    /// Parameters and buffers by name; the tensors share storage with the module. Names must be
    /// unique (give each child its own name): a repeated name keeps only its last tensor.
    fn state_dict(&self) -> StateDict<E, B> {
        entries(self)
            .into_iter()
            .filter_map(|e| match e {
                Entry::Parameter(name, t) | Entry::Buffer(name, t) => Some((name, t.clone())),
                _ => None,
            })
            .collect()
    }

    /// Copies values from `state` into this module's parameters and buffers, in place, and
    /// returns the keys that did not match (PyTorch's `_IncompatibleKeys`): `missing` lists the
    /// module's keys absent from `state`, `unexpected` the keys of `state` the module lacks.
    ///
    /// With `strict` (PyTorch's default), any such key is an error that lists them all; without
    /// it they are only reported, so a caller can see that a non-strict load matched nothing. A
    /// shape mismatch is always an error. Keys and shapes are all checked before the first copy,
    /// so those errors leave the module as it was; a backend error during the copies (another
    /// device, say) can leave it partly loaded.
    ///
    /// ```
    /// use nanotorch_backend_cpu::Cpu;
    /// use nanotorch_nn::{Linear, Module, StateDict};
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let model = Linear::<f32, Cpu>::new(2, 3, &Cpu)?;
    /// let mut state: StateDict = model.state_dict();
    /// state.remove("bias");
    /// let report = model.load_state_dict(&state, false)?;
    /// assert_eq!(report.missing, ["bias"]);
    /// assert!(report.unexpected.is_empty() && !report.is_complete());
    /// assert!(model.load_state_dict(&state, true).is_err()); // strict: `bias` is missing
    /// # Ok(()) }
    /// ```
    fn load_state_dict(&self, state: &StateDict<E, B>, strict: bool) -> Result<LoadReport> {
        let own = self.state_dict();
        let report = LoadReport {
            missing: own
                .keys()
                .filter(|k| !state.contains_key(*k))
                .cloned()
                .collect(),
            unexpected: state
                .keys()
                .filter(|k| !own.contains_key(*k))
                .cloned()
                .collect(),
        };
        if strict && !report.is_complete() {
            return Err(Error::msg(format!("load_state_dict: {report}")));
        }
        for (name, target) in &own {
            let Some(source) = state.get(name) else {
                continue;
            };
            if source.shape() != target.shape() {
                return Err(Error::msg(format!(
                    "load_state_dict: `{name}` has shape {} in the model but {} in the state dict",
                    target.shape(),
                    source.shape()
                )));
            }
        }
        for (name, target) in &own {
            if let Some(source) = state.get(name) {
                target.array().assign(source.array())?;
            }
        }
        Ok(report)
    }

    /// Loads a state dict that lives on another device (or backend type) into this module,
    /// copying each tensor through the host: how a model moves between devices. The backend is
    /// part of a module's type, so PyTorch's `model.to(device)` is spelled: build the model on
    /// the target device, then `gpu_model.load_state_dict_from(&cpu_model.state_dict(), true)`.
    /// Checks and errors are those of [`Module::load_state_dict`].
    fn load_state_dict_from<B2: Backend>(
        &self,
        state: &StateDict<E, B2>,
        strict: bool,
    ) -> Result<LoadReport>
    where
        Self: Sized,
    {
        let own = self.state_dict();
        let Some(device) = own.values().next().map(|t| t.backend().clone()) else {
            // Nothing to load into: every key of `state` is unexpected.
            let report = LoadReport {
                missing: Vec::new(),
                unexpected: state.keys().cloned().collect(),
            };
            if strict && !report.is_complete() {
                return Err(Error::msg(format!("load_state_dict: {report}")));
            }
            return Ok(report);
        };
        let mut moved = StateDict::new();
        for (name, t) in state {
            let copy = Tensor::from_vec(t.to_vec()?, t.shape().clone(), &device)?;
            moved.insert(name.clone(), copy);
        }
        self.load_state_dict(&moved, strict)
    }

    /// The module's name when printed: its type's name without path or generic arguments.
    fn module_name(&self) -> String {
        short_type_name(std::any::type_name::<Self>())
    }

    /// The options printed between the parentheses (PyTorch's `extra_repr`), for a layer such
    /// as `Linear(in_features=4, out_features=8, bias=true)`; empty by default.
    fn extra_repr(&self) -> String {
        String::new()
    }
}

/// `nanotorch_nn::linear::Linear<f32, …>` → `Linear`.
fn short_type_name(full: &str) -> String {
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base).to_string()
}

/// A module printed as PyTorch's `repr` prints it: `Name(extra_repr)` for a leaf, and each
/// child on its own indented line, `(name): …`, for a module with children.
pub fn repr<E: Float, B: Backend, M: Module<E, B> + ?Sized>(module: &M) -> String {
    let children = module.named_children();
    let extra = module.extra_repr();
    if children.is_empty() {
        return format!("{}({extra})", module.module_name());
    }
    let mut out = format!("{}(", module.module_name());
    if !extra.is_empty() {
        out.push_str(&format!("\n  {extra}"));
    }
    for (name, child) in children {
        // Children are named with their full path; the printed tree shows the last part.
        let short = name.rsplit('.').next().unwrap_or(&name);
        let child = repr(child).replace('\n', "\n  ");
        out.push_str(&format!("\n  ({short}): {child}"));
    }
    out.push_str("\n)");
    out
}

/// A module with a single-tensor forward pass: what [`crate::Sequential`] holds and runs.
/// Every layer of this crate has it next to its inherent, typed `forward`; a user's module
/// implements it to go into a `Sequential`.
pub trait Forward<E: Float = f32, B: Backend = Cpu>: Module<E, B> {
    /// The forward pass.
    fn forward(&self, input: &Tensor<E, B>) -> Result<Tensor<E, B>>;
}

/// A boxed module is the module: containers hold `Box<dyn Forward<E, B>>`.
impl<E: Float, B: Backend, M: Module<E, B> + ?Sized> Module<E, B> for Box<M> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        (**self).visit(v)
    }

    fn module_name(&self) -> String {
        (**self).module_name()
    }

    fn extra_repr(&self) -> String {
        (**self).extra_repr()
    }
}

impl<E: Float, B: Backend, M: Forward<E, B> + ?Sized> Forward<E, B> for Box<M> {
    fn forward(&self, input: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        (**self).forward(input)
    }
}

impl<E: Float, B: Backend> std::fmt::Display for dyn Module<E, B> + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&repr(self))
    }
}

impl<E: Float, B: Backend> std::fmt::Display for dyn Forward<E, B> + '_ {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&repr::<E, B, _>(self))
    }
}

/// Implements `Forward` by calling the layer's inherent `forward`, and `Display` as PyTorch's
/// `repr`, for a layer generic over `<E, B>`.
macro_rules! layer_traits {
    ($($name:ident),* $(,)?) => {$(
        impl<E: nanotorch_ndarray_core::Float, B: nanotorch_ndarray_core::Backend>
            $crate::Forward<E, B> for $name<E, B>
        {
            fn forward(
                &self,
                input: &nanotorch_autograd::Tensor<E, B>,
            ) -> nanotorch_ndarray_core::Result<nanotorch_autograd::Tensor<E, B>> {
                $name::forward(self, input)
            }
        }

        impl<E: nanotorch_ndarray_core::Float, B: nanotorch_ndarray_core::Backend>
            std::fmt::Display for $name<E, B>
        {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&$crate::module::repr::<E, B, _>(self))
            }
        }
    )*};
}
pub(crate) use layer_traits;
