//! The `Module` trait: something with a forward pass and named parameters.
//!
//! A model is a plain struct of modules. To make it a `Module`, write `forward` and list its
//! children in `named_parameters` with their field names as prefixes (see [`prefixed`]); every
//! other method (parameters, train/eval, state dicts) is provided from those two.

use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};
use std::collections::BTreeMap;

/// Named tensors: parameters and buffers by their dotted PyTorch names (`fc1.weight`).
pub type StateDict<E, B> = BTreeMap<String, Tensor<E, B>>;

/// A layer or a model.
pub trait Module<E: Float, B: Backend>: Send + Sync {
    /// The forward pass.
    fn forward(&self, input: &Tensor<E, B>) -> Result<Tensor<E, B>>;

    /// Every trainable parameter with its dotted name, in a stable order.
    fn named_parameters(&self) -> Vec<(String, Tensor<E, B>)> {
        Vec::new()
    }

    /// State that is saved but not trained (BatchNorm's running statistics).
    fn named_buffers(&self) -> Vec<(String, Tensor<E, B>)> {
        Vec::new()
    }

    /// Switches training behaviour (dropout, batch statistics) on or off. The default does
    /// nothing: layers that behave differently override it, and containers and struct models
    /// must pass it on to every child (as they list their children's parameters), or `eval()`
    /// leaves those children in training mode.
    fn set_training(&mut self, _training: bool) {}

    /// Every trainable parameter, in the order of `named_parameters`.
    fn parameters(&self) -> Vec<Tensor<E, B>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// Training mode (PyTorch's `model.train()`).
    fn train(&mut self) {
        self.set_training(true);
    }

    /// Evaluation mode (PyTorch's `model.eval()`).
    fn eval(&mut self) {
        self.set_training(false);
    }

    /// Parameters and buffers by name; the tensors share storage with the module. Names must be
    /// unique (give each child its own prefix): a repeated name keeps only its last tensor.
    fn state_dict(&self) -> StateDict<E, B> {
        self.named_parameters()
            .into_iter()
            .chain(self.named_buffers())
            .collect()
    }

    /// Copies values from `state` into this module's parameters and buffers, in place. With
    /// `strict`, a missing or unexpected key is an error; a shape mismatch always is. Keys and
    /// shapes are all checked before the first copy, so those errors leave the module as it was;
    /// a backend error during the copies (another device, say) can leave it partly loaded.
    fn load_state_dict(&self, state: &StateDict<E, B>, strict: bool) -> Result<()> {
        let own = self.state_dict();
        if strict {
            if let Some(missing) = own.keys().find(|k| !state.contains_key(*k)) {
                return Err(Error::msg(format!(
                    "load_state_dict: missing key `{missing}`"
                )));
            }
            if let Some(extra) = state.keys().find(|k| !own.contains_key(*k)) {
                return Err(Error::msg(format!(
                    "load_state_dict: unexpected key `{extra}`"
                )));
            }
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
        Ok(())
    }
}

/// `weight` and `bias`, where present, under PyTorch's names: the parameters of every layer
/// that has those two (Linear, the convolutions, the norms).
pub(crate) fn weight_and_bias<E: Float, B: Backend>(
    weight: Option<&Tensor<E, B>>,
    bias: Option<&Tensor<E, B>>,
) -> Vec<(String, Tensor<E, B>)> {
    let weight = weight.map(|w| ("weight".to_string(), w.clone()));
    let bias = bias.map(|b| ("bias".to_string(), b.clone()));
    weight.into_iter().chain(bias).collect()
}

/// Prefixes each name with `prefix.`: how a parent lists its children's parameters.
pub fn prefixed<E: Float, B: Backend>(
    prefix: &str,
    named: Vec<(String, Tensor<E, B>)>,
) -> Vec<(String, Tensor<E, B>)> {
    named
        .into_iter()
        .map(|(name, t)| (format!("{prefix}.{name}"), t))
        .collect()
}
