//! The optimizer state dict, written and read by serde.
//!
//! It mirrors PyTorch's `optimizer.state_dict()`: `param_groups` holds each group's
//! hyper-parameters and the ids of its parameters (numbered 0, 1, … across groups in order);
//! `state` maps a parameter id to that parameter's state (only parameters that have taken a step
//! have one). Both are serde values (`serde_json::Value`) made from the algorithm's own types:
//! its options struct (`{"lr": 0.1, "betas": [0.9, 0.999], "amsgrad": false, …}`) and its
//! per-parameter state struct (`{"step": 3, "exp_avg": {"shape": [2], "data": [..]}, …}`). An
//! algorithm therefore writes no saving or loading code: it derives `Serialize` and `Deserialize`
//! and marks each array field `#[serde(with = "saved_array")]` (see [`saved_array`]).
//!
//! Arrays are stored as `f64`, which holds every `f32` and `f64` value exactly, so saving and
//! loading changes no bit. The state dict is itself serde data, for any self-describing format
//! (JSON, CBOR, MessagePack, …).

use nanotorch_ndarray_core::{Backend, Error, Float, NDArray, Result, Shape};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;

/// A snapshot of an optimizer (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateDict {
    /// The algorithm that wrote it (`"SGD"`, `"Adam"`, …); loading into another one is an error.
    pub optimizer: String,
    /// Each group's hyper-parameters and parameter ids.
    pub param_groups: Vec<GroupState>,
    /// Per-parameter state, by parameter id: the algorithm's state struct as a serde value (an
    /// object whose entries carry PyTorch's names: `step`, `momentum_buffer`, `exp_avg`, …).
    pub state: BTreeMap<usize, Value>,
}

/// One parameter group in a [`StateDict`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    /// The group's options struct as a serde value: hyper-parameters by PyTorch's names (`lr`,
    /// `momentum`, `betas`, …).
    pub options: Value,
    /// The ids of the group's parameters.
    pub params: Vec<usize>,
}

/// How an array of optimizer state (a momentum buffer, a moment estimate) appears in a state
/// dict: a host copy in `f64`, row-major.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedArray {
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its elements, row-major.
    #[serde(with = "json_floats")]
    pub data: Vec<f64>,
}

impl SavedArray {
    /// A host copy of `a`.
    pub fn save<E: Float, B: Backend>(a: &NDArray<E, B>) -> Result<Self> {
        Ok(SavedArray {
            shape: a.dims().to_vec(),
            data: a.to_vec()?.into_iter().map(E::to_f64).collect(),
        })
    }

    /// The array on `like`'s device, checking it has `like`'s shape.
    pub fn load<E: Float, B: Backend>(&self, like: &NDArray<E, B>) -> Result<NDArray<E, B>> {
        let shape = Shape::from(self.shape.as_slice());
        if &shape != like.shape() {
            return Err(Error::ShapeMismatch {
                op: "load_state_dict",
                what: "saved state array's shape differs from the parameter's",
                lhs: like.shape().clone(),
                rhs: shape,
            });
        }
        let data = self.data.iter().map(|&x| E::from_f64(x)).collect();
        NDArray::from_vec(data, shape, like.backend())
    }
}

/// serde `with` module for an `NDArray` field of per-parameter state: writes it as a
/// [`SavedArray`]; reads it back onto the device, and with the shape, of the parameter whose state
/// `load_state_dict` is loading (outside it, reading an array is an error).
pub mod saved_array {
    use super::{SavedArray, LOAD_TARGET};
    use nanotorch_ndarray_core::{Backend, Error, Float, NDArray, Result};
    use serde::{de, ser, Deserialize, Deserializer, Serialize, Serializer};

    /// Writes `a` as a [`SavedArray`].
    pub fn serialize<S: Serializer, E: Float, B: Backend>(
        a: &NDArray<E, B>,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        SavedArray::save(a)
            .map_err(ser::Error::custom)?
            .serialize(s)
    }

    /// Reads a [`SavedArray`] onto the parameter's device.
    pub fn deserialize<'de, D: Deserializer<'de>, E: Float, B: Backend>(
        d: D,
    ) -> std::result::Result<NDArray<E, B>, D::Error> {
        let saved = SavedArray::deserialize(d)?;
        onto_target(&saved).map_err(de::Error::custom)
    }

    fn onto_target<E: Float, B: Backend>(saved: &SavedArray) -> Result<NDArray<E, B>> {
        LOAD_TARGET.with(|target| {
            let target = target.borrow();
            let like = target
                .as_ref()
                .and_then(|t| t.downcast_ref::<NDArray<E, B>>())
                .ok_or_else(|| {
                    Error::msg(
                        "an optimizer state array can only be read by load_state_dict, which \
                         knows the parameter it belongs to",
                    )
                })?;
            saved.load(like)
        })
    }

    /// The same for an `Option<NDArray>` field (state created only by some options, such as
    /// AMSGrad's running maximum); pair it with `default = "Option::default"` (a bare `default`
    /// would make serde ask for `B: Default`) and `skip_serializing_if = "Option::is_none"`.
    pub mod optional {
        use super::onto_target;
        use crate::state::SavedArray;
        use nanotorch_ndarray_core::{Backend, Float, NDArray};
        use serde::{de, ser, Deserialize, Deserializer, Serialize, Serializer};

        /// Writes `a`, if any, as a [`SavedArray`].
        pub fn serialize<S: Serializer, E: Float, B: Backend>(
            a: &Option<NDArray<E, B>>,
            s: S,
        ) -> std::result::Result<S::Ok, S::Error> {
            a.as_ref()
                .map(SavedArray::save)
                .transpose()
                .map_err(ser::Error::custom)?
                .serialize(s)
        }

        /// Reads an optional [`SavedArray`] onto the parameter's device.
        pub fn deserialize<'de, D: Deserializer<'de>, E: Float, B: Backend>(
            d: D,
        ) -> std::result::Result<Option<NDArray<E, B>>, D::Error> {
            Option::<SavedArray>::deserialize(d)?
                .map(|saved| onto_target(&saved))
                .transpose()
                .map_err(de::Error::custom)
        }
    }
}

thread_local! {
    /// The parameter whose state [`load_param_state`] is reading: [`saved_array`] puts arrays on
    /// its device and checks them against its shape. serde's derive cannot hand a field such
    /// context (that is `DeserializeSeed`, which it does not generate), so it is set here for the
    /// duration of one synchronous read and restored after it.
    static LOAD_TARGET: RefCell<Option<Box<dyn Any>>> = const { RefCell::new(None) };
}

/// Sets [`LOAD_TARGET`] while alive; puts back what was there when dropped (also on a panic).
struct LoadTarget(Option<Box<dyn Any>>);

impl LoadTarget {
    fn set<E: Float, B: Backend>(like: &NDArray<E, B>) -> Self {
        LoadTarget(LOAD_TARGET.with(|t| t.replace(Some(Box::new(like.clone())))))
    }
}

impl Drop for LoadTarget {
    fn drop(&mut self) {
        let previous = self.0.take();
        LOAD_TARGET.with(|t| *t.borrow_mut() = previous);
    }
}

/// `value` as a serde value (what a state dict stores).
pub(crate) fn to_saved<T: Serialize>(value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(|e| Error::msg(e.to_string()))
}

/// Reads `T` back from [`to_saved`]'s output. Errors name the entry at fault: serde names it in
/// a missing or unknown field; for any other error (a wrong type, a bad shape) it is found by
/// taking entries out one at a time until the error changes, and named as `{entry} `key``.
pub(crate) fn from_saved<T: DeserializeOwned>(saved: &Value, entry: &str) -> Result<T> {
    let err = match T::deserialize(saved) {
        Ok(t) => return Ok(t),
        Err(e) => e.to_string(),
    };
    // serde's own messages for these already name the entry.
    let names_entry = ["missing field", "unknown field", "duplicate field"];
    if let (false, Some(object)) = (
        names_entry.iter().any(|p| err.starts_with(p)),
        saved.as_object(),
    ) {
        for key in object.keys() {
            let mut without = object.clone();
            without.remove(key);
            let changed = match T::deserialize(&Value::Object(without)) {
                Ok(_) => true,
                Err(e) => e.to_string() != err,
            };
            if changed {
                return Err(Error::msg(format!("{entry} `{key}`: {err}")));
            }
        }
    }
    Err(Error::msg(err))
}

/// Reads one parameter's state `S` from `saved`, its arrays onto `param`'s device and checked
/// against `param`'s shape.
pub(crate) fn load_param_state<S: DeserializeOwned, E: Float, B: Backend>(
    saved: &Value,
    param: &NDArray<E, B>,
) -> Result<S> {
    let _target = LoadTarget::set(param);
    from_saved(saved, "state entry")
}

/// JSON has no NaN or infinity (serde_json writes them as `null`, which does not read back as a
/// number), yet a diverged run's state should still save and load: they are written as the
/// strings `"NaN"`, `"inf"` and `"-inf"`, every finite value as a number.
mod json_floats {
    use serde::de::{self, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(data: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(data.iter().map(|&x| JsonFloat(x)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        d.deserialize_seq(Floats)
    }

    struct JsonFloat(f64);

    impl serde::Serialize for JsonFloat {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match self.0 {
                x if x.is_finite() => s.serialize_f64(x),
                x if x.is_nan() => s.serialize_str("NaN"),
                x if x > 0.0 => s.serialize_str("inf"),
                _ => s.serialize_str("-inf"),
            }
        }
    }

    impl<'de> serde::Deserialize<'de> for JsonFloat {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(Float).map(JsonFloat)
        }
    }

    struct Floats;

    impl<'de> Visitor<'de> for Floats {
        type Value = Vec<f64>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of numbers")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<f64>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            while let Some(JsonFloat(x)) = seq.next_element()? {
                out.push(x);
            }
            Ok(out)
        }
    }

    struct Float;

    impl<'de> Visitor<'de> for Float {
        type Value = f64;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number, or \"NaN\", \"inf\" or \"-inf\"")
        }

        fn visit_f64<E: de::Error>(self, x: f64) -> Result<f64, E> {
            Ok(x)
        }

        // An integer where a float was written: a hand-edited JSON `2`, or a format that stores
        // integral floats as integers.
        fn visit_u64<E: de::Error>(self, x: u64) -> Result<f64, E> {
            Ok(x as f64)
        }

        fn visit_i64<E: de::Error>(self, x: i64) -> Result<f64, E> {
            Ok(x as f64)
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<f64, E> {
            match s {
                "NaN" => Ok(f64::NAN),
                "inf" => Ok(f64::INFINITY),
                "-inf" => Ok(f64::NEG_INFINITY),
                _ => Err(E::invalid_value(de::Unexpected::Str(s), &self)),
            }
        }
    }
}
