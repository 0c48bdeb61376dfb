//! `DataLoader`: batches from a dataset, optionally shuffled, loaded by worker threads that keep a
//! bounded number of batches ready while the model trains.
//!
//! How order stays deterministic: the loader computes the whole epoch's list of batches up front
//! (from the sampler, which is a pure function of seed and epoch). With `W` workers, worker `w`
//! loads batches `w, w + W, w + 2W, …` in that order and sends each into its own bounded channel;
//! the iterator takes batch `b` from the channel of worker `b % W`. So batches come out in epoch
//! order whatever the number of workers or the thread timing, and every random augmentation is
//! seeded from (seed, epoch, position of the sample in the epoch), never from a worker's state.

use crate::collate::{Collate, DefaultCollate};
use crate::dataset::Dataset;
use crate::rng::derive_seed;
use crate::sampler::{BatchSampler, RandomSampler, Sampler, SequentialSampler};
use nanotorch_ndarray_core::{Error, Result};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Loads batch `b` of an epoch.
type LoadFn<T> = dyn Fn(usize) -> Result<T> + Send + Sync;

/// Mixed into the loader's seed for the per-sample augmentation seeds, so they are a stream apart
/// from the shuffling order.
const AUGMENT_STREAM: u64 = 0xA076_1D64_78BD_642F;

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
    batch_sampler: Option<Arc<BatchSampler>>,
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
        self.batch_sampler = Some(Arc::new(batch_sampler));
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

    /// Number of batches per epoch.
    pub fn len(&self) -> usize {
        if let Some(bs) = &self.batch_sampler {
            return bs.len();
        }
        if self.batch_size == 0 {
            return 0;
        }
        let n = self
            .sampler
            .as_ref()
            .map_or(self.dataset.len(), |s| s.len());
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
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

    fn epoch_indices(&self, epoch: u64) -> Vec<usize> {
        match &self.sampler {
            Some(s) => s.indices(epoch),
            None if self.shuffle => {
                RandomSampler::new(self.dataset.len(), self.seed).indices(epoch)
            }
            None => SequentialSampler::new(self.dataset.len()).indices(epoch),
        }
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
        let batches: Vec<Vec<usize>> = match &self.batch_sampler {
            Some(bs) => bs.batches(epoch),
            None => {
                if self.batch_size == 0 {
                    return BatchIter::failed(Error::msg(
                        "DataLoader: batch_size must be at least 1",
                    ));
                }
                let indices = self.epoch_indices(epoch);
                let mut batches: Vec<Vec<usize>> = indices
                    .chunks(self.batch_size)
                    .map(<[usize]>::to_vec)
                    .collect();
                if self.drop_last && batches.last().is_some_and(|b| b.len() < self.batch_size) {
                    batches.pop();
                }
                batches
            }
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
        let augment_seed = derive_seed(self.seed ^ AUGMENT_STREAM, epoch);
        let dataset = Arc::clone(&self.dataset);
        let collate = Arc::clone(&self.collate);
        let load = move |b: usize| -> Result<C::Batch> {
            let mut items = Vec::with_capacity(batches[b].len());
            for (position, &index) in (starts[b]..).zip(&batches[b]) {
                items.push(dataset.get_seeded(index, derive_seed(augment_seed, position as u64))?);
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

/// Runs `load(b)`, turning a panic into an error that says where it happened.
fn load_catching<T>(load: &LoadFn<T>, b: usize, worker: Option<usize>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(|| load(b))).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a non-string panic payload".to_string());
        let place = worker.map_or_else(
            || "the calling thread".to_string(),
            |w| format!("worker {w}"),
        );
        Err(Error::msg(format!(
            "DataLoader: loading batch {b} panicked on {place}: {what}"
        )))
    })
}

struct Worker<T> {
    rx: Receiver<Result<T>>,
    handle: JoinHandle<()>,
}

/// The batches of one epoch, in order; see [`DataLoader`]. Dropping it stops the workers (each
/// finishes at most the batch it is loading) and joins them.
pub struct BatchIter<T: Send + 'static> {
    load: Option<Arc<LoadFn<T>>>,
    total: usize,
    next: usize,
    workers: Vec<Worker<T>>,
    stop: Arc<AtomicBool>,
    pending_error: Option<Error>,
    finished: bool,
}

impl<T: Send + 'static> BatchIter<T> {
    fn failed(error: Error) -> Self {
        BatchIter {
            load: None,
            total: 0,
            next: 0,
            workers: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            pending_error: Some(error),
            finished: false,
        }
    }

    fn start(load: Arc<LoadFn<T>>, total: usize, num_workers: usize, prefetch: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let n = num_workers.min(total);
        let mut workers = Vec::with_capacity(n);
        let mut pending_error = None;
        for w in 0..n {
            let (tx, rx) = sync_channel(prefetch);
            let (load, stop) = (Arc::clone(&load), Arc::clone(&stop));
            let spawned = std::thread::Builder::new()
                .name(format!("nanotorch-data-{w}"))
                .spawn(move || {
                    for b in (w..total).step_by(n) {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let result = load_catching(&*load, b, Some(w));
                        let failed = result.is_err();
                        // A closed channel means the iterator was dropped: stop quietly.
                        if tx.send(result).is_err() || failed {
                            return;
                        }
                    }
                });
            match spawned {
                Ok(handle) => workers.push(Worker { rx, handle }),
                Err(e) => {
                    pending_error = Some(Error::msg(format!(
                        "DataLoader: could not start worker thread {w}: {e}"
                    )));
                    break;
                }
            }
        }
        let mut iter = BatchIter {
            load: Some(load),
            total,
            next: 0,
            workers,
            stop,
            pending_error,
            finished: false,
        };
        if iter.pending_error.is_some() {
            iter.shutdown();
        }
        iter
    }

    /// Stops and joins the workers.
    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let handles: Vec<JoinHandle<()>> = self
            .workers
            .drain(..)
            .map(|w| {
                drop(w.rx); // unblocks a worker waiting to send
                w.handle
            })
            .collect();
        for h in handles {
            // Worker bodies catch panics from user code; a join error cannot carry anything the
            // caller has not already been told.
            let _ = h.join();
        }
    }
}

impl<T: Send + 'static> Iterator for BatchIter<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if let Some(e) = self.pending_error.take() {
            self.finished = true;
            return Some(Err(e));
        }
        if self.finished || self.next >= self.total {
            self.finished = true;
            self.shutdown();
            return None;
        }
        let b = self.next;
        self.next += 1;
        let result = if self.workers.is_empty() {
            match &self.load {
                Some(load) => load_catching(&**load, b, None),
                None => Err(Error::msg("DataLoader: iterator has no batches to load")),
            }
        } else {
            let w = b % self.workers.len();
            self.workers[w].rx.recv().unwrap_or_else(|_| {
                Err(Error::msg(format!(
                    "DataLoader: worker {w} stopped before delivering batch {b}"
                )))
            })
        };
        if result.is_err() {
            self.finished = true;
            self.shutdown();
        }
        Some(result)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.pending_error.is_some() {
            return (1, Some(1));
        }
        if self.finished {
            return (0, Some(0));
        }
        (0, Some(self.total - self.next))
    }
}

impl<T: Send + 'static> Drop for BatchIter<T> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl<T: Send + 'static> std::fmt::Debug for BatchIter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchIter")
            .field("next", &self.next)
            .field("total", &self.total)
            .field("workers", &self.workers.len())
            .field("finished", &self.finished)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::{Sample, TensorDataset, Transformed};
    use crate::transform::{Compose, RandomCrop, RandomHorizontalFlip};
    use crate::Batch;
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

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

    /// A dataset that fails (or panics) on one index and counts how often `get` ran.
    struct Faulty {
        bad: usize,
        panic: bool,
        calls: Arc<AtomicUsize>,
    }

    impl Dataset for Faulty {
        type Item = Sample;
        fn len(&self) -> usize {
            1000
        }
        fn get(&self, index: usize) -> Result<Sample> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if index == self.bad {
                if self.panic {
                    panic!("bad record {index}");
                }
                return Err(Error::msg(format!("record {index} is corrupt")));
            }
            Sample::new(vec![index as f32], [1], 0)
        }
    }

    #[test]
    fn worker_errors_and_panics_reach_the_caller_in_order() {
        for panic in [false, true] {
            for workers in [0, 1, 3] {
                let calls = Arc::new(AtomicUsize::new(0));
                let data = Faulty {
                    bad: 25,
                    panic,
                    calls: Arc::clone(&calls),
                };
                let l = DataLoader::new(data, 10).num_workers(workers);
                let results: Vec<Result<Batch>> = l.iter().collect();
                // Batches 0 and 1 arrive, batch 2 (holding index 25) is the error, then nothing.
                assert_eq!(results.len(), 3, "panic={panic} workers={workers}");
                assert!(results[0].is_ok() && results[1].is_ok());
                let err = results[2].as_ref().unwrap_err().to_string();
                let want = if panic {
                    "bad record 25"
                } else {
                    "record 25 is corrupt"
                };
                assert!(err.contains(want), "{err}");
                if panic {
                    assert!(err.contains("batch 2") && err.contains("panicked"), "{err}");
                }
                // The workers stopped long before the 1000 items.
                assert!(calls.load(Ordering::SeqCst) < 200);
            }
        }
    }

    #[test]
    fn dropping_the_iterator_stops_the_workers() {
        let calls = Arc::new(AtomicUsize::new(0));
        let data = Faulty {
            bad: usize::MAX,
            panic: false,
            calls: Arc::clone(&calls),
        };
        let l = DataLoader::new(data, 1).num_workers(2).prefetch_factor(2);
        let mut it = l.iter();
        it.next().unwrap().unwrap();
        drop(it); // joins the workers
        let after_drop = calls.load(Ordering::SeqCst);
        // Each worker holds at most prefetch_factor batches plus the one in flight.
        assert!(after_drop <= 1 + 2 * 4, "{after_drop}");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(calls.load(Ordering::SeqCst), after_drop);
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
    fn tensor_collate_through_workers() {
        use crate::TensorCollate;
        use nanotorch_backend_cpu::Cpu;
        let l = DataLoader::new(toy(10), 4)
            .collate(TensorCollate::new(Cpu))
            .num_workers(2);
        let shapes: Vec<Vec<usize>> = l.iter().map(|b| b.unwrap().0.dims().to_vec()).collect();
        assert_eq!(shapes, vec![vec![4, 1], vec![4, 1], vec![2, 1]]);
        let labels: Vec<i64> = l
            .iter()
            .flat_map(|b| b.unwrap().1.array().to_vec().unwrap())
            .collect();
        assert_eq!(labels, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn batch_sampler_replaces_batching() {
        let bs = BatchSampler::new(Box::new(RandomSampler::new(10, 4)), 3, true).unwrap();
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
