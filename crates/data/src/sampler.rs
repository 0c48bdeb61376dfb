//! Samplers: which dataset indices an epoch visits, in which order (PyTorch's
//! `torch.utils.data.Sampler` family).
//!
//! A sampler is a pure function of the epoch number: `indices(epoch)` returns the whole order at
//! once, computed from the sampler's seed and the epoch, so the same seed gives the same order on
//! every run and a different order each epoch, with no generator state shared between threads.

use crate::rng;
use nanotorch_ndarray_core::{Error, Result};

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
    /// A fresh permutation of `0..n` each epoch, drawn from `(seed, epoch)`.
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
        let mut g = rng::generator(self.seed, epoch);
        match self.with_replacement {
            Some(_) => (0..self.len()).map(|_| g.below(self.n)).collect(),
            None => rng::permutation(self.n, &mut g),
        }
    }
}

/// Draws indices with probability proportional to `weights` (PyTorch's
/// `WeightedRandomSampler`): with replacement (any number of draws, the usual way to rebalance
/// classes) or without (each index at most once, by Efraimidis–Spirakis keys `u^(1/w)`).
#[derive(Debug, Clone, PartialEq)]
pub struct WeightedRandomSampler {
    /// Running sums of the weights (for draws with replacement).
    cumulative: Vec<f64>,
    weights: Vec<f64>,
    num_samples: usize,
    replacement: bool,
    seed: u64,
}

impl WeightedRandomSampler {
    /// `num_samples` draws per epoch from `0..weights.len()`. Weights must be finite and
    /// non-negative with a positive sum; without replacement, `num_samples` may not exceed the
    /// number of positive weights.
    pub fn new(
        weights: Vec<f64>,
        num_samples: usize,
        replacement: bool,
        seed: u64,
    ) -> Result<Self> {
        if let Some((i, w)) = weights
            .iter()
            .enumerate()
            .find(|(_, w)| !w.is_finite() || **w < 0.0)
        {
            return Err(Error::msg(format!(
                "WeightedRandomSampler: weight {i} is {w}; weights must be finite and >= 0"
            )));
        }
        let mut cumulative = Vec::with_capacity(weights.len());
        let mut total = 0.0;
        for w in &weights {
            total += w;
            cumulative.push(total);
        }
        if total <= 0.0 && num_samples > 0 {
            return Err(Error::msg(
                "WeightedRandomSampler: the weights add up to 0; nothing can be drawn",
            ));
        }
        let positive = weights.iter().filter(|w| **w > 0.0).count();
        if !replacement && num_samples > positive {
            return Err(Error::msg(format!(
                "WeightedRandomSampler: cannot draw {num_samples} samples without replacement \
                 from {positive} indices with positive weight"
            )));
        }
        Ok(WeightedRandomSampler {
            cumulative,
            weights,
            num_samples,
            replacement,
            seed,
        })
    }
}

impl Sampler for WeightedRandomSampler {
    fn len(&self) -> usize {
        self.num_samples
    }

    fn indices(&self, epoch: u64) -> Vec<usize> {
        let mut g = rng::generator(self.seed, epoch);
        if self.replacement {
            let total = self.cumulative.last().copied().unwrap_or(0.0);
            (0..self.num_samples)
                .map(|_| {
                    let u = g.next_f64() * total;
                    // The first index whose running sum exceeds u; zero weights are never chosen.
                    self.cumulative
                        .partition_point(|&c| c <= u)
                        .min(self.weights.len() - 1)
                })
                .collect()
        } else {
            // Efraimidis–Spirakis: key_i = ln(u_i) / w_i; the num_samples largest keys are a
            // weighted sample without replacement, in the order of decreasing key.
            let mut keyed: Vec<(f64, usize)> = self
                .weights
                .iter()
                .enumerate()
                .filter(|(_, &w)| w > 0.0)
                .map(|(i, &w)| ((1.0 - g.next_f64()).ln() / w, i))
                .collect();
            keyed.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            keyed.truncate(self.num_samples);
            keyed.into_iter().map(|(_, i)| i).collect()
        }
    }
}

/// Groups a sampler's indices into batches of `batch_size` (the last one smaller unless
/// `drop_last`).
pub struct BatchSampler {
    sampler: Box<dyn Sampler>,
    batch_size: usize,
    drop_last: bool,
}

impl BatchSampler {
    /// Batches of `batch_size` (> 0) indices drawn from `sampler`.
    pub fn new(sampler: Box<dyn Sampler>, batch_size: usize, drop_last: bool) -> Result<Self> {
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

    #[test]
    fn weighted_with_replacement_matches_weights() {
        let s = WeightedRandomSampler::new(vec![1.0, 0.0, 3.0, 6.0], 20_000, true, 3).unwrap();
        let mut counts = [0usize; 4];
        for i in s.indices(0) {
            counts[i] += 1;
        }
        assert_eq!(counts[1], 0);
        let freq: Vec<f64> = counts.iter().map(|&c| c as f64 / 20_000.0).collect();
        for (f, want) in freq.iter().zip([0.1, 0.0, 0.3, 0.6]) {
            assert!((f - want).abs() < 0.015, "{freq:?}");
        }
        assert_ne!(s.indices(0), s.indices(1));
    }

    #[test]
    fn weighted_without_replacement_is_distinct_and_favours_heavy() {
        let s = WeightedRandomSampler::new(vec![1.0, 0.0, 1.0, 8.0], 3, false, 3).unwrap();
        let mut first_is_heavy = 0;
        for e in 0..1000 {
            let idx = s.indices(e);
            let mut sorted = idx.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, vec![0, 2, 3]);
            first_is_heavy += usize::from(idx[0] == 3);
        }
        // P(first = 3) = 8 / 10.
        assert!((740..860).contains(&first_is_heavy), "{first_is_heavy}");
        assert!(WeightedRandomSampler::new(vec![1.0, 0.0], 2, false, 0).is_err());
        assert!(WeightedRandomSampler::new(vec![1.0, -1.0], 1, true, 0).is_err());
        assert!(WeightedRandomSampler::new(vec![f64::NAN], 1, true, 0).is_err());
        assert!(WeightedRandomSampler::new(vec![0.0], 1, true, 0).is_err());
    }

    #[test]
    fn batch_sampler_groups_and_drops_last() {
        let b = BatchSampler::new(Box::new(SequentialSampler::new(7)), 3, false).unwrap();
        assert_eq!(b.len(), 3);
        assert_eq!(b.batches(0), vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]]);
        let b = BatchSampler::new(Box::new(SequentialSampler::new(7)), 3, true).unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(b.batches(0), vec![vec![0, 1, 2], vec![3, 4, 5]]);
        assert!(BatchSampler::new(Box::new(SequentialSampler::new(7)), 0, true).is_err());
    }
}
