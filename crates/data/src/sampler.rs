//! Samplers: which dataset indices an epoch visits, in which order (PyTorch's
//! `torch.utils.data.Sampler` family).
//!
//! A sampler is a pure function of the epoch number: `indices(epoch)` returns the whole order at
//! once, computed from the sampler's seed and the epoch, so the same seed gives the same order on
//! every run and a different order each epoch, with no generator state shared between threads.

use crate::seed::generator;
use nanotorch_ndarray_core::{Error, Result};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::{Distribution, Exp1, WeightedError, WeightedIndex};
use std::sync::Arc;

/// The order of the dataset indices an epoch visits.
pub trait Sampler: Send + Sync {
    /// Number of indices per epoch.
    fn len(&self) -> usize;

    /// The indices of epoch `epoch`, in order.
    fn indices(&self, epoch: u64) -> Vec<usize>;

    /// Whether an epoch visits nothing.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A boxed or shared sampler is a sampler (so `BatchSampler::new` takes a `Box<dyn Sampler>`).
macro_rules! forward_sampler {
    ($($pointer:ident),*) => {$(
        impl<S: Sampler + ?Sized> Sampler for $pointer<S> {
            fn len(&self) -> usize {
                (**self).len()
            }
            fn indices(&self, epoch: u64) -> Vec<usize> {
                (**self).indices(epoch)
            }
        }
    )*};
}

forward_sampler!(Arc, Box);

/// `0, 1, …, n - 1` every epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SequentialSampler {
    n: usize,
}

impl SequentialSampler {
    /// Visits `0..n` in order.
    pub fn new(n: usize) -> Self {
        SequentialSampler { n }
    }
}

impl Sampler for SequentialSampler {
    fn len(&self) -> usize {
        self.n
    }

    fn indices(&self, _epoch: u64) -> Vec<usize> {
        (0..self.n).collect()
    }
}

/// A random permutation of `0..n` per epoch, or `num_samples` uniform draws with replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomSampler {
    n: usize,
    seed: u64,
    with_replacement: Option<usize>,
}

impl RandomSampler {
    /// A fresh permutation of `0..n` each epoch, drawn from stream `epoch` of `seed`.
    pub fn new(n: usize, seed: u64) -> Self {
        RandomSampler {
            n,
            seed,
            with_replacement: None,
        }
    }

    /// Instead of a permutation, `num_samples` independent uniform draws from `0..n` per epoch.
    pub fn with_replacement(mut self, num_samples: usize) -> Self {
        self.with_replacement = Some(num_samples);
        self
    }
}

impl Sampler for RandomSampler {
    fn len(&self) -> usize {
        match self.with_replacement {
            Some(k) if self.n > 0 => k,
            Some(_) => 0,
            None => self.n,
        }
    }

    fn indices(&self, epoch: u64) -> Vec<usize> {
        let mut rng = generator(self.seed, epoch);
        match self.with_replacement {
            Some(_) => (0..self.len()).map(|_| rng.gen_range(0..self.n)).collect(),
            None => {
                let mut order: Vec<usize> = (0..self.n).collect();
                order.shuffle(&mut rng);
                order
            }
        }
    }
}

/// Draws indices with probability proportional to `weights` (PyTorch's
/// `WeightedRandomSampler(weights, num_samples, replacement=True, generator)`).
///
/// With replacement (the default, and the usual way to rebalance classes) each of the
/// `num_samples` draws is independent, through `rand_distr`'s [`WeightedIndex`]. Without
/// replacement an index is drawn at most once, in the order sequential draws would produce: every
/// index with a positive weight `w` gets an exponential key `E / w` (`E ~ Exp(1)`), and the
/// `num_samples` smallest keys, in increasing order, are the draws (the "exponential race",
/// Efraimidis–Spirakis): one sort instead of `num_samples` updates of the weights.
///
/// ```
/// use nanotorch_data::{Sampler, WeightedRandomSampler};
///
/// # fn main() -> nanotorch_data::Result<()> {
/// let s = WeightedRandomSampler::new(vec![0.1, 0.0, 0.9], 5, 0)?;
/// assert!(s.indices(0).iter().all(|&i| i != 1)); // a zero weight is never drawn
/// let distinct = WeightedRandomSampler::new(vec![1.0, 1.0, 5.0], 3, 0)?.replacement(false)?;
/// let mut drawn = distinct.indices(0);
/// drawn.sort_unstable();
/// assert_eq!(drawn, vec![0, 1, 2]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedRandomSampler {
    weights: Vec<f64>,
    index: WeightedIndex<f64>,
    num_samples: usize,
    replacement: bool,
    seed: u64,
}

impl WeightedRandomSampler {
    /// `num_samples` draws with replacement per epoch from `0..weights.len()`, the order of epoch
    /// `e` drawn from stream `e` of `seed`. Weights must be finite and non-negative, at least one
    /// of them positive.
    pub fn new(weights: Vec<f64>, num_samples: usize, seed: u64) -> Result<Self> {
        if weights.is_empty() {
            return Err(Error::msg(
                "WeightedRandomSampler: no weights given; nothing can be drawn",
            ));
        }
        if let Some((i, w)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| !w.is_finite() || **w < 0.0)
        {
            return Err(Error::msg(format!(
                "WeightedRandomSampler: weight {i} is {w}; weights must be finite and >= 0"
            )));
        }
        let index = WeightedIndex::new(&weights).map_err(|e| {
            let why = match e {
                WeightedError::AllWeightsZero => "all weights are 0; nothing can be drawn".into(),
                other => other.to_string(),
            };
            Error::msg(format!(
                "WeightedRandomSampler: {} weights: {why}",
                weights.len()
            ))
        })?;
        Ok(WeightedRandomSampler {
            weights,
            index,
            num_samples,
            replacement: true,
            seed,
        })
    }

    /// Whether an index may be drawn more than once (default `true`). Without replacement,
    /// `num_samples` may not exceed the number of positive weights.
    pub fn replacement(mut self, replacement: bool) -> Result<Self> {
        let positive = self.weights.iter().filter(|w| **w > 0.0).count();
        if !replacement && self.num_samples > positive {
            return Err(Error::msg(format!(
                "WeightedRandomSampler: cannot draw {} samples without replacement from {positive} \
                 indices with positive weight (of {})",
                self.num_samples,
                self.weights.len()
            )));
        }
        self.replacement = replacement;
        Ok(self)
    }

    /// The weights, as given.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }
}

impl Sampler for WeightedRandomSampler {
    fn len(&self) -> usize {
        self.num_samples
    }

    fn indices(&self, epoch: u64) -> Vec<usize> {
        let mut rng = generator(self.seed, epoch);
        if self.replacement {
            return (0..self.num_samples)
                .map(|_| self.index.sample(&mut rng))
                .collect();
        }
        let mut keyed: Vec<(f64, usize)> = self
            .weights
            .iter()
            .enumerate()
            .filter(|(_, &w)| w > 0.0)
            .map(|(i, &w)| {
                let e: f64 = Exp1.sample(&mut rng);
                (e / w, i)
            })
            .collect();
        keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        keyed.truncate(self.num_samples);
        keyed.into_iter().map(|(_, i)| i).collect()
    }
}

/// Groups a sampler's indices into batches of `batch_size` (the last one smaller unless
/// `drop_last`), as PyTorch's `BatchSampler`. The [`DataLoader`](crate::DataLoader) batches
/// through one.
#[derive(Clone)]
pub struct BatchSampler {
    sampler: Arc<dyn Sampler>,
    batch_size: usize,
    drop_last: bool,
}

impl BatchSampler {
    /// Batches of `batch_size` (> 0) indices drawn from `sampler`.
    pub fn new(
        sampler: impl Sampler + 'static,
        batch_size: usize,
        drop_last: bool,
    ) -> Result<Self> {
        Self::from_shared(Arc::new(sampler), batch_size, drop_last)
    }

    /// [`new`](BatchSampler::new) for a sampler that is already shared.
    pub(crate) fn from_shared(
        sampler: Arc<dyn Sampler>,
        batch_size: usize,
        drop_last: bool,
    ) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::msg("BatchSampler: batch_size must be at least 1"));
        }
        Ok(BatchSampler {
            sampler,
            batch_size,
            drop_last,
        })
    }

    /// Number of batches per epoch.
    pub fn len(&self) -> usize {
        let n = self.sampler.len();
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

    /// The batches of epoch `epoch`.
    pub fn batches(&self, epoch: u64) -> Vec<Vec<usize>> {
        let indices = self.sampler.indices(epoch);
        let mut out: Vec<Vec<usize>> = indices
            .chunks(self.batch_size)
            .map(<[usize]>::to_vec)
            .collect();
        if self.drop_last && out.last().is_some_and(|b| b.len() < self.batch_size) {
            out.pop();
        }
        out
    }
}

impl std::fmt::Debug for BatchSampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchSampler")
            .field("len", &self.sampler.len())
            .field("batch_size", &self.batch_size)
            .field("drop_last", &self.drop_last)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_and_random() {
        assert_eq!(SequentialSampler::new(4).indices(3), vec![0, 1, 2, 3]);
        let r = RandomSampler::new(50, 1);
        let e0 = r.indices(0);
        let mut sorted = e0.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_eq!(e0, r.indices(0));
        assert_ne!(e0, r.indices(1));
        assert_ne!(e0, RandomSampler::new(50, 2).indices(0));
        let rep = RandomSampler::new(3, 1).with_replacement(10);
        assert_eq!(rep.len(), 10);
        assert!(rep.indices(0).iter().all(|&i| i < 3));
        assert_eq!(
            RandomSampler::new(0, 1).with_replacement(5).indices(0),
            vec![]
        );
    }

    #[test]
    fn random_sampler_is_uniform_over_positions() {
        // Each index lands in first position about equally often across epochs.
        let r = RandomSampler::new(4, 9);
        let mut counts = [0usize; 4];
        for e in 0..4000 {
            counts[r.indices(e)[0]] += 1;
        }
        assert!(
            counts.iter().all(|&c| (850..1150).contains(&c)),
            "{counts:?}"
        );
    }

    fn counts(indices: &[usize], n: usize) -> Vec<usize> {
        let mut c = vec![0; n];
        for &i in indices {
            c[i] += 1;
        }
        c
    }

    #[test]
    fn weighted_is_seeded() {
        let s = |seed| WeightedRandomSampler::new(vec![1.0, 2.0, 3.0], 50, seed).unwrap();
        assert_eq!(s(3).indices(0), s(3).indices(0));
        assert_ne!(s(3).indices(0), s(3).indices(1));
        assert_ne!(s(3).indices(0), s(4).indices(0));
        let d = |seed| {
            WeightedRandomSampler::new(vec![1.0; 40], 40, seed)
                .unwrap()
                .replacement(false)
                .unwrap()
        };
        assert_eq!(d(1).indices(2), d(1).indices(2));
        assert_ne!(d(1).indices(2), d(1).indices(3));
    }

    #[test]
    fn weighted_with_replacement_follows_the_weights() {
        let weights = vec![1.0, 0.0, 3.0, 6.0, 0.5];
        let total: f64 = weights.iter().sum();
        let draws = 100_000;
        let s = WeightedRandomSampler::new(weights.clone(), draws, 3).unwrap();
        assert_eq!(s.len(), draws);
        let c = counts(&s.indices(0), weights.len());
        assert_eq!(c[1], 0, "a zero weight is never drawn");
        for (i, (&count, w)) in c.iter().zip(&weights).enumerate() {
            let p = w / total;
            // Binomial standard deviation; 5 of them is a miss once in millions of runs.
            let sd = (draws as f64 * p * (1.0 - p)).sqrt();
            let diff = (count as f64 - draws as f64 * p).abs();
            assert!(diff <= 5.0 * sd + 1.0, "index {i}: {count} draws, p = {p}");
        }
    }

    #[test]
    fn weighted_without_replacement_is_distinct_and_draw_ordered() {
        let s = WeightedRandomSampler::new(vec![1.0, 0.0, 1.0, 8.0, 2.0], 3, 3)
            .unwrap()
            .replacement(false)
            .unwrap();
        let epochs = 4000;
        let mut first = [0usize; 5];
        for e in 0..epochs {
            let idx = s.indices(e);
            assert_eq!(idx.len(), 3);
            assert!(!idx.contains(&1), "{idx:?}");
            let mut sorted = idx.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), 3, "repeated index in {idx:?}");
            first[idx[0]] += 1;
        }
        // The first draw of sequential draws without replacement follows the weights: 8 / 12.
        let p = 8.0 / 12.0;
        let sd = (epochs as f64 * p * (1.0 - p)).sqrt();
        assert!(
            (first[3] as f64 - epochs as f64 * p).abs() < 5.0 * sd,
            "{first:?}"
        );
        // Drawing every positive index gives each exactly once.
        let all = WeightedRandomSampler::new(vec![0.5, 0.0, 2.0, 1.0], 3, 9)
            .unwrap()
            .replacement(false)
            .unwrap();
        let mut drawn = all.indices(0);
        drawn.sort_unstable();
        assert_eq!(drawn, vec![0, 2, 3]);
    }

    #[test]
    fn weighted_rejects_bad_weights_with_clear_errors() {
        let err = |w: Vec<f64>| WeightedRandomSampler::new(w, 1, 0).unwrap_err().to_string();
        let e = err(vec![1.0, -1.0]);
        assert!(e.contains("weight 1 is -1") && e.contains(">= 0"), "{e}");
        let e = err(vec![f64::NAN, 1.0]);
        assert!(e.contains("weight 0 is NaN"), "{e}");
        assert!(err(vec![1.0, f64::INFINITY]).contains("finite"));
        let e = err(vec![0.0, 0.0]);
        assert!(e.contains("all weights are 0"), "{e}");
        assert!(err(vec![]).contains("no weights"));
        let e = WeightedRandomSampler::new(vec![1.0, 0.0, 2.0], 3, 0)
            .unwrap()
            .replacement(false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot draw 3 samples without replacement from 2"),
            "{e}"
        );
        // With replacement, more draws than indices is fine.
        assert!(WeightedRandomSampler::new(vec![1.0, 0.0, 2.0], 3, 0)
            .unwrap()
            .replacement(true)
            .is_ok());
    }

    #[test]
    fn batch_sampler_groups_and_drops_last() {
        let b = BatchSampler::new(SequentialSampler::new(7), 3, false).unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b.batches(0), vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
        // A boxed sampler is a sampler too.
        let boxed: Box<dyn Sampler> = Box::new(SequentialSampler::new(7));
        let b = BatchSampler::new(boxed, 3, true).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b.batches(0), vec![vec![0, 1, 2], vec![3, 4, 5]]);
        assert!(BatchSampler::new(SequentialSampler::new(7), 0, true).is_err());
    }
}
