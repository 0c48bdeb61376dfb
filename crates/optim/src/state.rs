//! The optimizer state dict: plain data (numbers and host arrays of `f64`), independent of the
//! element type and of the device, and serde-serialisable (JSON or any serde format).
//!
//! It mirrors PyTorch's `optimizer.state_dict()`: `param_groups` holds each group's
//! hyper-parameters and the ids of its parameters (numbered 0, 1, … across groups in order);
//! `state` maps a parameter id to that parameter's state (only parameters that have taken a
//! step have one). Arrays are stored as `f64`, which holds every `f32` and `f64` value exactly, so
//! saving and loading changes no bit.

use nanotorch_ndarray_core::{Backend, Error, Float, NDArray, Result, Shape};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A snapshot of an optimizer (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateDict {
    /// The algorithm that wrote it (`"SGD"`, `"Adam"`, …); loading into another one is an error.
    pub optimizer: String,
    /// Each group's hyper-parameters and parameter ids.
    pub param_groups: Vec<GroupState>,
    /// Per-parameter state, by parameter id.
    pub state: BTreeMap<usize, ParamState>,
}

/// One parameter group in a [`StateDict`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    /// Hyper-parameters by name (`lr`, `momentum`, …); flags (`nesterov`) are 1.0 or 0.0, and
    /// Adam's `betas` are `beta1` and `beta2`.
    pub options: BTreeMap<String, f64>,
    /// The ids of the group's parameters.
    pub params: Vec<usize>,
}

/// One value of a parameter's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SavedValue {
    /// A number (a step count).
    Scalar(f64),
    /// An array (a momentum buffer, a moment estimate), row-major.
    Array {
        /// Its shape.
        shape: Vec<usize>,
        /// Its elements, row-major.
        data: Vec<f64>,
    },
}

/// One parameter's state: named values (`step`, `momentum_buffer`, `exp_avg`, …), PyTorch's names.
pub type ParamState = BTreeMap<String, SavedValue>;

/// Saves an array as [`SavedValue::Array`].
pub fn save_array<E: Float, B: Backend>(a: &NDArray<E, B>) -> Result<SavedValue> {
    Ok(SavedValue::Array {
        shape: a.dims().to_vec(),
        data: a.to_vec()?.into_iter().map(E::to_f64).collect(),
    })
}

/// Reads the array `key` of `saved` onto `like`'s device, checking it has `like`'s shape.
pub fn load_array<E: Float, B: Backend>(
    saved: &ParamState,
    key: &str,
    like: &NDArray<E, B>,
) -> Result<NDArray<E, B>> {
    match saved.get(key) {
        Some(SavedValue::Array { shape, data }) => {
            let shape = Shape::from(shape.as_slice());
            if &shape != like.shape() {
                return Err(Error::ShapeMismatch {
                    op: "load_state_dict",
                    what: "saved state array's shape differs from the parameter's",
                    lhs: like.shape().clone(),
                    rhs: shape,
                });
            }
            NDArray::from_vec(
                data.iter().map(|&x| E::from_f64(x)).collect(),
                shape,
                like.backend(),
            )
        }
        Some(SavedValue::Scalar(_)) => Err(Error::msg(format!(
            "state entry `{key}` is a number, expected an array"
        ))),
        None => Err(Error::msg(format!("state entry `{key}` is missing"))),
    }
}

/// Reads the array `key` if present.
pub fn load_optional_array<E: Float, B: Backend>(
    saved: &ParamState,
    key: &str,
    like: &NDArray<E, B>,
) -> Result<Option<NDArray<E, B>>> {
    if saved.contains_key(key) {
        load_array(saved, key, like).map(Some)
    } else {
        Ok(None)
    }
}

/// Reads the step count `key`: a whole number ≥ 0.
pub fn load_step(saved: &ParamState, key: &str) -> Result<u64> {
    match saved.get(key) {
        Some(&SavedValue::Scalar(x)) if x >= 0.0 && x.fract() == 0.0 && x < 2f64.powi(53) => {
            Ok(x as u64)
        }
        Some(SavedValue::Scalar(x)) => Err(Error::msg(format!(
            "state entry `{key}` = {x} is not a step count"
        ))),
        Some(SavedValue::Array { .. }) => Err(Error::msg(format!(
            "state entry `{key}` is an array, expected a number"
        ))),
        None => Err(Error::msg(format!("state entry `{key}` is missing"))),
    }
}

/// Errors if `saved` holds a key outside `known` (a state dict from another configuration).
pub fn check_state_keys(saved: &ParamState, known: &[&str]) -> Result<()> {
    match saved.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(Error::msg(format!("unexpected state entry `{k}`"))),
        None => Ok(()),
    }
}

/// Reads hyper-parameters out of a group's option map, then checks nothing was left unread.
pub(crate) struct OptionReader<'a> {
    map: &'a BTreeMap<String, f64>,
    read: Vec<&'static str>,
}

impl<'a> OptionReader<'a> {
    pub(crate) fn new(map: &'a BTreeMap<String, f64>) -> Self {
        OptionReader {
            map,
            read: Vec::new(),
        }
    }

    pub(crate) fn f64(&mut self, key: &'static str) -> Result<f64> {
        self.read.push(key);
        self.map
            .get(key)
            .copied()
            .ok_or_else(|| Error::msg(format!("hyper-parameter `{key}` is missing")))
    }

    pub(crate) fn bool(&mut self, key: &'static str) -> Result<bool> {
        match self.f64(key)? {
            0.0 => Ok(false),
            1.0 => Ok(true),
            x => Err(Error::msg(format!(
                "hyper-parameter `{key}` = {x} is not a flag (0 or 1)"
            ))),
        }
    }

    pub(crate) fn finish(self) -> Result<()> {
        match self.map.keys().find(|k| !self.read.contains(&k.as_str())) {
            Some(k) => Err(Error::msg(format!("unknown hyper-parameter `{k}`"))),
            None => Ok(()),
        }
    }
}

/// `BTreeMap` from `(name, value)` pairs.
pub(crate) fn option_map(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|&(k, v)| (k.to_string(), v)).collect()
}

/// 1.0 for true, 0.0 for false.
pub(crate) fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}
