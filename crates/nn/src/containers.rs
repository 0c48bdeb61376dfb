//! Containers: `Sequential` (a pipeline) and `ModuleList` (an indexed list whose owner writes the
//! forward pass), both naming their children `0`, `1`, … as PyTorch does. Neither forwards
//! `train`, `eval` or parameter lists to its children: naming them in `visit` is all it takes.

use crate::module::{repr, Training};
use crate::{Forward, Module, Visitor};
use nanotorch_autograd::Tensor;
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Float, Result};

/// An indexed list of modules (`nn.ModuleList`): it names its children `0`, `1`, … and the
/// module that owns it decides how to run them. `M` is the kind of module held: a list of one
/// layer type (`ModuleList<Linear>`) keeps each layer's typed `forward`; for a mix, use
/// `ModuleList<Box<dyn Forward<E, B>>>`.
///
/// A list has no forward of its own (as in PyTorch): iterate over it in the owner's forward.
pub struct ModuleList<M> {
    modules: Vec<M>,
}

impl<M> Default for ModuleList<M> {
    fn default() -> Self {
        ModuleList {
            modules: Vec::new(),
        }
    }
}

impl<M> ModuleList<M> {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a module at the end.
    pub fn push(&mut self, module: M) {
        self.modules.push(module);
    }

    /// The module at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&M> {
        self.modules.get(index)
    }

    /// The modules in order.
    pub fn iter(&self) -> std::slice::Iter<'_, M> {
        self.modules.iter()
    }

    /// Number of modules.
    pub fn len(&self) -> usize {
        self.modules.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }
}

impl<M> FromIterator<M> for ModuleList<M> {
    fn from_iter<I: IntoIterator<Item = M>>(iter: I) -> Self {
        ModuleList {
            modules: iter.into_iter().collect(),
        }
    }
}

impl<'l, M> IntoIterator for &'l ModuleList<M> {
    type Item = &'l M;
    type IntoIter = std::slice::Iter<'l, M>;

    fn into_iter(self) -> Self::IntoIter {
        self.modules.iter()
    }
}

impl<M> std::ops::Index<usize> for ModuleList<M> {
    type Output = M;

    fn index(&self, index: usize) -> &M {
        &self.modules[index]
    }
}

impl<E: Float, B: Backend, M: Module<E, B>> Module<E, B> for ModuleList<M> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        for (i, m) in self.modules.iter().enumerate() {
            v.module(&i.to_string(), m);
        }
    }

    fn module_name(&self) -> String {
        "ModuleList".into()
    }
}

impl<M: std::fmt::Display> std::fmt::Display for ModuleList<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ModuleList(")?;
        for (i, m) in self.modules.iter().enumerate() {
            write!(f, "\n  ({i}): {}", m.to_string().replace('\n', "\n  "))?;
        }
        write!(f, "\n)")
    }
}

/// Modules applied one after another (`nn.Sequential`). It holds any [`Forward`] (the
/// single-tensor forward trait), so a user's module goes in once it implements that.
pub struct Sequential<E: Float = f32, B: Backend = Cpu> {
    layers: ModuleList<Box<dyn Forward<E, B>>>,
    training: Training,
}

impl<E: Float, B: Backend> Default for Sequential<E, B> {
    fn default() -> Self {
        Sequential {
            layers: ModuleList::new(),
            training: Training::new(),
        }
    }
}

impl<E: Float, B: Backend> Sequential<E, B> {
    /// An empty container.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a layer (builder style).
    pub fn append(mut self, layer: impl Forward<E, B> + 'static) -> Self {
        self.push(layer);
        self
    }

    /// Appends a layer in place.
    pub fn push(&mut self, layer: impl Forward<E, B> + 'static) {
        self.layers.push(Box::new(layer));
    }

    /// The layer at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&dyn Forward<E, B>> {
        self.layers.get(index).map(|l| l.as_ref())
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Runs the layers in order.
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        self.layers
            .iter()
            .try_fold(x.clone(), |h, layer| layer.forward(&h))
    }
}

impl<E: Float, B: Backend> Module<E, B> for Sequential<E, B> {
    fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
        v.training(&self.training);
        // The children directly, not under a `layers.` prefix: PyTorch's keys are `0.weight`.
        for (i, m) in self.layers.iter().enumerate() {
            v.module(&i.to_string(), m);
        }
    }
}

impl<E: Float, B: Backend> Forward<E, B> for Sequential<E, B> {
    fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        Sequential::forward(self, x)
    }
}

impl<E: Float, B: Backend> std::fmt::Display for Sequential<E, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&repr::<E, B, _>(self))
    }
}
