//! # nanotorch-data
//!
//! Getting examples into a model: the [`Dataset`] trait and in-memory [`TensorDataset`], the
//! [`DataLoader`] (batching, seeded shuffling, `drop_last`, a [`Collate`] step and worker threads
//! that prefetch batches in a deterministic order), [samplers](sampler), [transforms](transform),
//! [readers] for MNIST-format IDX, CIFAR-10 binary and CSV files that check every declared
//! size against the real input before allocating, the UCI optical-digits set bundled in the crate
//! ([`datasets::digits`]) and seeded synthetic generators (two moons, spirals, Gaussian blobs).
//!
//! Everything here works on host memory (`Vec<f32>` features, `i64` labels) and needs no backend
//! until the last step: a [`Batch`] turns into arrays on the device you name, on the thread that
//! trains. The crate depends on `nanotorch-ndarray-core` alone; collation into autograd tensors
//! (`TensorCollate`, `into_tensors`) lives one layer up, in the `nanotorch` facade's
//! `nanotorch::data`. All randomness comes from `rand` and `rand_distr`, seeded ([`seed`]): the
//! same seed gives the same run. Chapter 6 of the book (`docs/06-data.md`) teaches this layer.
//!
//! ```
//! use nanotorch_data::{datasets, DataLoader, Dataset};
//!
//! # fn main() -> nanotorch_data::Result<()> {
//! let (train, test) = datasets::digits()?;
//! assert_eq!((train.len(), test.len()), (1438, 359));
//! let loader = DataLoader::new(train, 64).shuffle(true).seed(0).num_workers(2);
//! let mut seen = 0;
//! for batch in loader.iter() {
//!     let batch = batch?;
//!     assert_eq!(batch.shape().dims()[1..], [64]);
//!     seen += batch.len();
//! }
//! assert_eq!(seen, 1438);
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod collate;
mod dataset_adapters;
mod dataset_trait;
pub mod datasets;
mod loader;
pub mod readers;
pub mod sampler;
pub mod seed;
mod tensor_dataset;
#[cfg(test)]
mod test_util;
pub mod transform;

pub use collate::{Batch, Collate, DefaultCollate};
pub use dataset_adapters::{
    random_split, random_split_fractions, ConcatDataset, Subset, Transformed,
};
pub use dataset_trait::{Dataset, Sample};
pub use loader::{BatchIter, DataLoader};
pub use nanotorch_ndarray_core::{Error, Result, Shape};
/// The `rand` crate this one draws with, so that a custom [`Transform`] or [`Sampler`] can use
/// its `Rng` methods without a version mismatch: `use nanotorch_data::rand::Rng;`.
pub use rand;
pub use sampler::{BatchSampler, RandomSampler, Sampler, SequentialSampler, WeightedRandomSampler};
pub use tensor_dataset::TensorDataset;
pub use transform::{Compose, Normalize, RandomCrop, RandomHorizontalFlip, Transform};
