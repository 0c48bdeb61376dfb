//! serde support: an array serialises as `{ "shape": [...], "dtype": "f32", "data": [...] }`.
//! Deserialising needs to know the device, so it is offered for backends with a `Default`
//! (the CPU backend).

use super::NDArray;
use crate::{Backend, DType, Element, Shape};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Serialize, Deserialize)]
struct Repr<E> {
    shape: Shape,
    dtype: DType,
    data: Vec<E>,
}

impl<E: Element + Serialize, B: Backend> Serialize for NDArray<E, B> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let data = self.to_vec().map_err(serde::ser::Error::custom)?;
        Repr {
            shape: self.shape().clone(),
            dtype: E::DTYPE,
            data,
        }
        .serialize(serializer)
    }
}

impl<'de, E: Element + Deserialize<'de>, B: Backend + Default> Deserialize<'de> for NDArray<E, B> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let repr = Repr::<E>::deserialize(deserializer)?;
        if repr.dtype != E::DTYPE {
            return Err(D::Error::custom(format!(
                "expected dtype {}, found {}",
                E::DTYPE,
                repr.dtype
            )));
        }
        NDArray::from_vec(repr.data, repr.shape, &B::default()).map_err(D::Error::custom)
    }
}
