//! Containers: `Sequential` (a pipeline) and `ModuleList` (an indexed list whose owner writes the
//! forward pass), both naming their children `0`, `1`, … as PyTorch does.

use crate::{prefixed, Module};
use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// A module that can also print itself (every layer here can), so containers print their tree.
pub trait Layer<E: Float, B: Backend>: Module<E, B> + std::fmt::Display {}

impl<E: Float, B: Backend, M: Module<E, B> + std::fmt::Display> Layer<E, B> for M {}

/// An indexed list of modules (`nn.ModuleList`): it registers its children's parameters under
/// `0.`, `1.`, …, and the module that owns it decides how to run them.
pub struct ModuleList<E: Float, B: Backend> {
    layers: Vec<Box<dyn Layer<E, B>>>,
}

impl<E: Float, B: Backend> Default for ModuleList<E, B> {
    fn default() -> Self {
        ModuleList { layers: Vec::new() }
    }
}

impl<E: Float, B: Backend> ModuleList<E, B> {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a module at the end.
    pub fn push(&mut self, layer: impl Layer<E, B> + 'static) {
        self.layers.push(Box::new(layer));
    }

    /// The module at `index`, if there is one.
    pub fn get(&self, index: usize) -> Option<&dyn Layer<E, B>> {
        self.layers.get(index).map(|l| l.as_ref())
    }

    /// The modules in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Layer<E, B>> {
        self.layers.iter().map(|l| l.as_ref())
    }

    /// Number of modules.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// Each child's tensors (parameters or buffers) with the child's index as prefix.
    fn named_children(
        &self,
        of_child: impl Fn(&dyn Layer<E, B>) -> Vec<(String, Tensor<E, B>)>,
    ) -> Vec<(String, Tensor<E, B>)> {
        self.iter()
            .enumerate()
            .flat_map(|(i, l)| prefixed(&i.to_string(), of_child(l)))
            .collect()
    }

    /// Prints the children as PyTorch's `repr` does, under the container's `name`.
    fn print_as(&self, f: &mut std::fmt::Formatter<'_>, name: &str) -> std::fmt::Result {
        writeln!(f, "{name}(")?;
        for (i, layer) in self.iter().enumerate() {
            writeln!(f, "  ({i}): {layer}")?;
        }
        write!(f, ")")
    }
}

impl<E: Float, B: Backend> Module<E, B> for ModuleList<E, B> {
    /// A list has no forward of its own (as in PyTorch): iterate over it instead.
    fn forward(&self, _input: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        Err(Error::msg(
            "ModuleList has no forward: iterate over its modules in the owner's forward",
        ))
    }

    fn named_parameters(&self) -> Vec<(String, Tensor<E, B>)> {
        self.named_children(|l| l.named_parameters())
    }

    fn named_buffers(&self) -> Vec<(String, Tensor<E, B>)> {
        self.named_children(|l| l.named_buffers())
    }

    fn set_training(&mut self, training: bool) {
        for layer in &mut self.layers {
            layer.set_training(training);
        }
    }
}

impl<E: Float, B: Backend> std::fmt::Display for ModuleList<E, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.print_as(f, "ModuleList")
    }
}

/// Modules applied one after another (`nn.Sequential`): a [`ModuleList`] whose forward runs
/// its children in order.
pub struct Sequential<E: Float, B: Backend> {
    layers: ModuleList<E, B>,
}

impl<E: Float, B: Backend> Default for Sequential<E, B> {
    fn default() -> Self {
        Sequential {
            layers: ModuleList::new(),
        }
    }
}

impl<E: Float, B: Backend> Sequential<E, B> {
    /// An empty container.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a layer (builder style).
    pub fn append(mut self, layer: impl Layer<E, B> + 'static) -> Self {
        self.layers.push(layer);
        self
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl<E: Float, B: Backend> Module<E, B> for Sequential<E, B> {
    fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        self.layers
            .iter()
            .try_fold(x.clone(), |h, layer| layer.forward(&h))
    }

    fn named_parameters(&self) -> Vec<(String, Tensor<E, B>)> {
        self.layers.named_parameters()
    }

    fn named_buffers(&self) -> Vec<(String, Tensor<E, B>)> {
        self.layers.named_buffers()
    }

    fn set_training(&mut self, training: bool) {
        self.layers.set_training(training);
    }
}

impl<E: Float, B: Backend> std::fmt::Display for Sequential<E, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.layers.print_as(f, "Sequential")
    }
}
