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
//! until the last step: a [`Batch`] turns into arrays (or tensors) on the device you name, on the
//! thread that trains. Chapter 6 of the book (`docs/06-data.md`) teaches this layer.
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
mod dataset;
pub mod datasets;
mod loader;
pub mod readers;
pub mod rng;
pub mod sampler;
pub mod transform;

pub use collate::{Batch, Collate, DefaultCollate, TensorCollate};
pub use dataset::{
    random_split, random_split_fractions, ConcatDataset, Dataset, Sample, Subset, TensorDataset,
    Transformed,
};
pub use loader::{BatchIter, DataLoader};
pub use nanotorch_ndarray_core::{Error, Result, Shape};
pub use sampler::{BatchSampler, RandomSampler, Sampler, SequentialSampler, WeightedRandomSampler};
pub use transform::{Compose, Normalize, RandomCrop, RandomHorizontalFlip, Transform};
