//! The [`Dataset`] trait (PyTorch's map-style `Dataset`) and [`Sample`], the item of the
//! in-memory datasets, the transforms and the default collate. Datasets themselves live in
//! [`tensor_dataset`](crate::TensorDataset) (in memory), `dataset_adapters` (datasets built from
//! other datasets) and [`datasets`](crate::datasets) (ready-made data).

use nanotorch_ndarray_core::{Error, Result, Shape};
use std::sync::Arc;

/// A map-style dataset: `len` items, any of which can be fetched by index, from any thread.
///
/// PyTorch's `torch.utils.data.Dataset` (`__len__`, `__getitem__`). `get` returns a `Result`
/// because items may come from files; an index past the end is an error, never a panic.
pub trait Dataset: Send + Sync {
    /// What one item is (usually a [`Sample`]).
    type Item: Send + 'static;

    /// Number of items.
    fn len(&self) -> usize;

    /// The item at `index` (`0..len`).
    fn get(&self, index: usize) -> Result<Self::Item>;

    /// The item at `index`, with any randomness (augmentation) drawn from `seed`.
    ///
    /// The [`DataLoader`](crate::DataLoader) calls this with a seed derived from its own seed, the
    /// epoch and the sample's position in the epoch, so random transforms give the same result on
    /// any number of workers. Datasets without randomness ignore the seed (the default); wrappers
    /// forward it.
    fn get_seeded(&self, index: usize, seed: u64) -> Result<Self::Item> {
        let _ = seed;
        self.get(index)
    }

    /// Whether the dataset has no items.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A shared or boxed dataset is a dataset: `Arc<D>` lets several loaders and subsets share one
/// copy of the data, `Box<dyn Dataset<Item = _>>` lets datasets of different types mix.
macro_rules! forward_dataset {
    ($($pointer:ident),*) => {$(
        impl<D: Dataset + ?Sized> Dataset for $pointer<D> {
            type Item = D::Item;
            fn len(&self) -> usize {
                (**self).len()
            }
            fn get(&self, index: usize) -> Result<Self::Item> {
                (**self).get(index)
            }
            fn get_seeded(&self, index: usize, seed: u64) -> Result<Self::Item> {
                (**self).get_seeded(index, seed)
            }
        }
    )*};
}

forward_dataset!(Arc, Box);

/// The error for `index` past the end of a dataset of `len` items.
pub(crate) fn out_of_range(op: &'static str, index: usize, len: usize) -> Error {
    Error::IndexOutOfBounds {
        op,
        index: i64::try_from(index).unwrap_or(i64::MAX),
        axis: 0,
        size: len,
    }
}

/// One example: a feature array (row-major, of shape `shape`) and an integer class label.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Feature values, row-major.
    pub features: Vec<f32>,
    /// Shape of the features (`[64]` for digits, `[1, 28, 28]` for MNIST, `[3, 32, 32]` for
    /// CIFAR-10).
    pub shape: Shape,
    /// Class label.
    pub label: i64,
}

impl Sample {
    /// A sample, checking that `features` holds `shape.numel()` values.
    pub fn new(features: Vec<f32>, shape: impl Into<Shape>, label: i64) -> Result<Self> {
        let shape = shape.into();
        if features.len() != shape.numel() {
            return Err(Error::DataLength {
                op: "Sample::new",
                len: features.len(),
                shape,
            });
        }
        Ok(Sample {
            features,
            shape,
            label,
        })
    }
}
