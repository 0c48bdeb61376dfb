//! `DataLoader`: batches from a dataset, optionally shuffled, loaded by worker threads that keep a
//! bounded number of batches ready while the model trains.
//!
//! How order stays deterministic: the loader computes the whole epoch's list of batches up front
//! (from a [`BatchSampler`] over the sampler, a pure function of seed and epoch). With `W` workers, worker `w`
//! loads batches `w, w + W, w + 2W, …` in that order and sends each into its own bounded channel;
//! the iterator takes batch `b` from the channel of worker `b % W`. So batches come out in epoch
//! order whatever the number of workers or the thread timing, and every random augmentation is
//! seeded from (seed, epoch, position of the sample in the epoch), never from a worker's state.
//! The worker threads and the iterator are in `workers.rs`.

mod workers;

pub use workers::BatchIter;

use crate::collate::{Collate, DefaultCollate};
use crate::dataset_trait::Dataset;
use crate::sampler::{BatchSampler, RandomSampler, Sampler, SequentialSampler};
use crate::seed;
use nanotorch_ndarray_core::{Error, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Mixed into the loader's seed to key the per-sample augmentation seeds, so that they are drawn
/// from another key than the shuffle order (which uses the seed itself).
const AUGMENT_KEY: u64 = 0xA076_1D64_78BD_642F;

/// Iterates over a dataset in batches (PyTorch's `torch.utils.data.DataLoader`).
///
/// ```
/// use nanotorch_data::{datasets, DataLoader};
///
/// # fn main() -> nanotorch_data::Result<()> {
/// let data = datasets::moons(100, 0.1, 7)?;
/// let loader = DataLoader::new(data, 32).shuffle(true).seed(1).drop_last(true);
/// assert_eq!(loader.len(), 3);
/// for batch in loader.iter() {
///     let batch = batch?;
///     assert_eq!(batch.shape().dims(), &[32, 2]);
/// }
/// # Ok(()) }
/// ```
///
/// Each call of [`iter`](DataLoader::iter) starts the next epoch (0, 1, 2, …): with `shuffle`, a
/// new order derived from `seed` and the epoch number. [`iter_epoch`](DataLoader::iter_epoch)
/// names the epoch explicitly. Iterating yields `Result`s: a failed `get`, a failed collate, or a
/// panic in either (on a worker or not) arrives as one `Err`, after which the iterator ends.
pub struct DataLoader<D, C = DefaultCollate> {
    dataset: Arc<D>,
    collate: Arc<C>,
    batch_size: usize,
    shuffle: bool,
    seed: u64,
    drop_last: bool,
    num_workers: usize,
    prefetch_factor: usize,
    sampler: Option<Arc<dyn Sampler>>,
    batch_sampler: Option<BatchSampler>,
    next_epoch: AtomicU64,
}

impl<D: Dataset + 'static> DataLoader<D, DefaultCollate> {
    /// A loader over `dataset` with batches of `batch_size` samples, in order, on the calling
    /// thread, stacking samples with [`DefaultCollate`]. Configure it with the builder methods.
    pub fn new(dataset: D, batch_size: usize) -> Self {
        DataLoader {
            dataset: Arc::new(dataset),
            collate: Arc::new(DefaultCollate),
            batch_size,
            shuffle: false,
            seed: 0,
            drop_last: false,
            num_workers: 0,
            prefetch_factor: 2,
            sampler: None,
            batch_sampler: None,
            next_epoch: AtomicU64::new(0),
        }
    }
}

impl<D: Dataset + 'static, C> DataLoader<D, C> {
    /// Whether to visit the samples in a fresh random order each epoch (default `false`).
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The seed of the shuffle order and of random transforms (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether to drop the last batch when it is smaller than `batch_size` (default `false`).
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Number of worker threads (default 0: load on the calling thread, when asked).
    pub fn num_workers(mut self, num_workers: usize) -> Self {
        self.num_workers = num_workers;
        self
    }

    /// Batches each worker may hold ready beyond the one it is loading (default 2, at least 1).
    pub fn prefetch_factor(mut self, prefetch_factor: usize) -> Self {
        self.prefetch_factor = prefetch_factor.max(1);
        self
    }

    /// Replaces the order (and `shuffle`) with a sampler's, e.g. a
    /// [`WeightedRandomSampler`](crate::WeightedRandomSampler) to rebalance classes.
    pub fn sampler(mut self, sampler: impl Sampler + 'static) -> Self {
        self.sampler = Some(Arc::new(sampler));
        self
    }

    /// Takes whole batches from a [`BatchSampler`] (PyTorch's `batch_sampler=`): its batches
    /// replace those that `batch_size`, `drop_last`, `shuffle` and `sampler` would make.
    pub fn batch_sampler(mut self, batch_sampler: BatchSampler) -> Self {
        self.batch_sampler = Some(batch_sampler);
        self
    }

    /// Replaces the collate step.
    pub fn collate<C2>(self, collate: C2) -> DataLoader<D, C2> {
        DataLoader {
            dataset: self.dataset,
            collate: Arc::new(collate),
            batch_size: self.batch_size,
            shuffle: self.shuffle,
            seed: self.seed,
            drop_last: self.drop_last,
            num_workers: self.num_workers,
            prefetch_factor: self.prefetch_factor,
            sampler: self.sampler,
            batch_sampler: self.batch_sampler,
            next_epoch: self.next_epoch,
        }
    }

    /// The dataset.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }

    /// Samples per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.num_workers
    }

    /// Number of batches per epoch (0 when `batch_size` is 0, which iterating reports as an error).
    pub fn len(&self) -> usize {
        self.batch_plan().map_or(0, |plan| plan.len())
    }

    /// Whether an epoch has no batches.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The epoch the next [`iter`](DataLoader::iter) will run.
    pub fn epoch(&self) -> u64 {
        self.next_epoch.load(Ordering::Relaxed)
    }

    /// Sets the epoch the next [`iter`](DataLoader::iter) will run (to resume a run).
    pub fn set_epoch(&self, epoch: u64) {
        self.next_epoch.store(epoch, Ordering::Relaxed);
    }

    /// What makes an epoch's batches: the [`BatchSampler`] given, or one over the sampler given,
    /// the shuffling sampler, or the sequential one, in that order of precedence.
    fn batch_plan(&self) -> Result<BatchSampler> {
        if let Some(bs) = &self.batch_sampler {
            return Ok(BatchSampler::clone(bs));
        }
        let n = self.dataset.len();
        let sampler: Arc<dyn Sampler> = match &self.sampler {
            Some(s) => Arc::clone(s),
            None if self.shuffle => Arc::new(RandomSampler::new(n, self.seed)),
            None => Arc::new(SequentialSampler::new(n)),
        };
        if self.batch_size == 0 {
            return Err(Error::msg("DataLoader: batch_size must be at least 1"));
        }
        BatchSampler::from_shared(sampler, self.batch_size, self.drop_last)
    }
}

impl<D, C> DataLoader<D, C>
where
    D: Dataset + 'static,
    C: Collate<D::Item> + 'static,
{
    /// The batches of the next epoch (then counts the epoch).
    pub fn iter(&self) -> BatchIter<C::Batch> {
        let epoch = self.next_epoch.fetch_add(1, Ordering::Relaxed);
        self.iter_epoch(epoch)
    }

    /// The batches of epoch `epoch` (does not change [`epoch`](DataLoader::epoch)).
    pub fn iter_epoch(&self, epoch: u64) -> BatchIter<C::Batch> {
        let batches = match self.batch_plan() {
            Ok(plan) => plan.batches(epoch),
            Err(e) => return BatchIter::failed(e),
        };
        // Position in the epoch of each batch's first sample: the per-sample seeds depend on it.
        let starts: Vec<usize> = batches
            .iter()
            .scan(0usize, |pos, b| {
                let start = *pos;
                *pos += b.len();
                Some(start)
            })
            .collect();
        let total = batches.len();
        let augment_key = self.seed ^ AUGMENT_KEY;
        let dataset = Arc::clone(&self.dataset);
        let collate = Arc::clone(&self.collate);
        let load = move |b: usize| -> Result<C::Batch> {
            let mut items = Vec::with_capacity(batches[b].len());
            for (position, &index) in (starts[b]..).zip(&batches[b]) {
                // The sample's seed: number `position` of stream `epoch` of the augmentation key.
                let sample_seed = seed::nth_u64(augment_key, epoch, position as u64);
                items.push(dataset.get_seeded(index, sample_seed)?);
            }
            collate.collate(items)
        };
        BatchIter::start(
            Arc::new(load),
            total,
            self.num_workers,
            self.prefetch_factor,
        )
    }
}

impl<D, C> IntoIterator for &DataLoader<D, C>
where
    D: Dataset + 'static,
    C: Collate<D::Item> + 'static,
{
    type Item = Result<C::Batch>;
    type IntoIter = BatchIter<C::Batch>;

    /// Same as [`DataLoader::iter`]: the next epoch.
    fn into_iter(self) -> BatchIter<C::Batch> {
        self.iter()
    }
}

impl<D, C> std::fmt::Debug for DataLoader<D, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataLoader")
            .field("batch_size", &self.batch_size)
            .field("shuffle", &self.shuffle)
            .field("seed", &self.seed)
            .field("drop_last", &self.drop_last)
            .field("num_workers", &self.num_workers)
            .field("prefetch_factor", &self.prefetch_factor)
            .field("custom_sampler", &self.sampler.is_some())
            .field("batch_sampler", &self.batch_sampler.is_some())
            .field("next_epoch", &self.next_epoch.load(Ordering::Relaxed))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::{Compose, RandomCrop, RandomHorizontalFlip};
    use crate::{Batch, Sample, TensorDataset, Transformed};

    fn toy(n: usize) -> TensorDataset {
        TensorDataset::new(
            (0..n).map(|v| v as f32).collect(),
            [1],
            (0..n as i64).collect(),
        )
        .unwrap()
    }

    fn labels(batches: impl Iterator<Item = Result<Batch>>) -> Vec<Vec<i64>> {
        batches.map(|b| b.unwrap().labels().to_vec()).collect()
    }

    #[test]
    fn sequential_batches_and_drop_last() {
        let l = DataLoader::new(toy(7), 3);
        assert_eq!(l.len(), 3);
        assert_eq!(
            labels(l.iter()),
            vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]
        );
        let l = DataLoader::new(toy(7), 3).drop_last(true);
        assert_eq!(l.len(), 2);
        assert_eq!(labels(l.iter()), vec![vec![0, 1, 2], vec![3, 4, 5]]);
        let l = DataLoader::new(toy(6), 3).drop_last(true).num_workers(2);
        assert_eq!(labels(l.iter()).len(), 2);
        let l = DataLoader::new(toy(2), 3).drop_last(true).num_workers(2);
        assert!(l.is_empty());
        assert_eq!(l.iter().count(), 0);
    }

    #[test]
    fn shuffle_is_seeded_per_epoch_and_independent_of_workers() {
        let run = |workers: usize, epoch: u64| {
            let l = DataLoader::new(toy(103), 8)
                .shuffle(true)
                .seed(11)
                .num_workers(workers)
                .prefetch_factor(1);
            labels(l.iter_epoch(epoch))
        };
        let reference = run(0, 0);
        let mut all: Vec<i64> = reference.concat();
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
        assert_ne!(reference.concat(), (0..103).collect::<Vec<_>>());
        for workers in [1, 2, 3, 7, 32] {
            assert_eq!(run(workers, 0), reference, "{workers} workers");
        }
        assert_ne!(run(0, 1), reference);
        assert_eq!(run(3, 1), run(0, 1));
    }

    #[test]
    fn iter_advances_the_epoch() {
        let l = DataLoader::new(toy(20), 5).shuffle(true).seed(3);
        let e0 = labels(l.iter());
        let e1 = labels(l.iter());
        assert_ne!(e0, e1);
        assert_eq!(l.epoch(), 2);
        l.set_epoch(0);
        assert_eq!(labels((&l).into_iter()), e0);
    }

    #[test]
    fn random_transforms_do_not_depend_on_workers() {
        let images = TensorDataset::new(
            (0..40 * 16).map(|v| v as f32).collect(),
            [1, 4, 4],
            vec![0; 40],
        )
        .unwrap();
        let aug = Compose::default()
            .then(RandomCrop::new(4, 4, 1))
            .then(RandomHorizontalFlip::default());
        let data = Arc::new(Transformed::new(images, aug, 0));
        let run = |workers: usize, epoch: u64| -> Vec<Vec<f32>> {
            DataLoader::new(Arc::clone(&data), 6)
                .shuffle(true)
                .seed(5)
                .num_workers(workers)
                .iter_epoch(epoch)
                .map(|b| b.unwrap().features().to_vec())
                .collect()
        };
        let reference = run(0, 0);
        assert_eq!(run(2, 0), reference);
        assert_eq!(run(5, 0), reference);
        assert_ne!(run(0, 1), reference);
    }

    #[test]
    fn custom_sampler_and_collate() {
        let l = DataLoader::new(toy(5), 2)
            .sampler(SequentialSampler::new(3))
            .collate(|items: Vec<Sample>| -> Result<i64> {
                Ok(items.iter().map(|s| s.label).sum())
            })
            .num_workers(2);
        let sums: Vec<i64> = l.iter().map(|b| b.unwrap()).collect();
        assert_eq!(sums, vec![1, 2]);
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn batch_sampler_replaces_batching() {
        let bs = BatchSampler::new(RandomSampler::new(10, 4), 3, true).unwrap();
        let expected = bs.batches(0);
        let l = DataLoader::new(toy(10), 99)
            .batch_sampler(bs)
            .num_workers(2);
        assert_eq!(l.len(), 3);
        let got: Vec<Vec<i64>> = labels(l.iter());
        let want: Vec<Vec<i64>> = expected
            .iter()
            .map(|b| b.iter().map(|&i| i as i64).collect())
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn zero_batch_size_is_an_error_not_a_panic() {
        let l = DataLoader::new(toy(5), 0);
        let mut it = l.iter();
        assert!(it.next().unwrap().is_err());
        assert!(it.next().is_none());
    }

    #[test]
    fn collate_errors_propagate() {
        let data = crate::ConcatDataset::new(vec![
            Arc::new(toy(3)) as Arc<dyn Dataset<Item = Sample>>,
            Arc::new(TensorDataset::new(vec![0.0; 6], [2], vec![0; 3]).unwrap()),
        ])
        .unwrap();
        let l = DataLoader::new(data, 4).num_workers(2);
        let results: Vec<_> = l.iter().collect();
        assert!(results[0]
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("share a shape"));
        assert_eq!(results.len(), 1);
    }
}
