//! [`DistributedSampler`]: each rank's share of an epoch (PyTorch's
//! `torch.utils.data.DistributedSampler`).

use crate::group::ProcessGroup;
use nanotorch_data::rand::seq::SliceRandom;
use nanotorch_data::seed::generator;
use nanotorch_data::Sampler;
use nanotorch_ndarray_core::{Error, Result};

/// The indices of one rank's share of each epoch: the epoch's order (a seeded permutation, or
/// `0..len`) is made a multiple of the number of replicas, then dealt out like cards, so rank `r`
/// gets positions `r, r + R, r + 2R, …`. Every rank gets the same number of samples, so every rank
/// runs the same number of steps and no collective waits for a rank that ran out of data.
///
/// Making the order a multiple of `R`: by default it is padded by repeating its beginning (a few
/// samples are seen twice per epoch); with `drop_last` its tail is cut instead (a few samples are
/// not seen that epoch). All ranks must use the same seed, so that they deal from the same
/// permutation.
///
/// The epoch comes from the [`DataLoader`](nanotorch_data::DataLoader) that draws from the
/// sampler: each `iter()` is the next epoch, and `loader.set_epoch(e)` sets it (PyTorch's
/// `sampler.set_epoch(e)`, which here no run can forget: the order changes every epoch on its
/// own). Without a loader, [`Sampler::indices`] takes the epoch.
///
/// ```
/// use nanotorch_data::Sampler;
/// use nanotorch_distributed::DistributedSampler;
///
/// # fn main() -> nanotorch_distributed::Result<()> {
/// // 10 samples over 3 ranks, in order: padded to 12 by repeating samples 0 and 1.
/// let shares: Vec<Vec<usize>> = (0..3)
///     .map(|rank| Ok(DistributedSampler::new(10, 3, rank)?.shuffle(false).indices(0)))
///     .collect::<nanotorch_distributed::Result<_>>()?;
/// assert_eq!(shares, [vec![0, 3, 6, 9], vec![1, 4, 7, 0], vec![2, 5, 8, 1]]);
/// // With drop_last the tail goes instead: 9 samples, 3 each.
/// let last = DistributedSampler::new(10, 3, 2)?.shuffle(false).drop_last(true);
/// assert_eq!(last.indices(0), [2, 5, 8]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DistributedSampler {
    len: usize,
    num_replicas: usize,
    rank: usize,
    shuffle: bool,
    seed: u64,
    drop_last: bool,
}

impl DistributedSampler {
    /// Rank `rank`'s share of a data set of `len` samples split over `num_replicas` ranks; shuffled
    /// with seed 0 and padded, as PyTorch's defaults.
    pub fn new(len: usize, num_replicas: usize, rank: usize) -> Result<Self> {
        if rank >= num_replicas {
            return Err(Error::msg(format!(
                "DistributedSampler: rank {rank} is out of range for {num_replicas} replicas \
                 (ranks are 0..{num_replicas})"
            )));
        }
        Ok(DistributedSampler {
            len,
            num_replicas,
            rank,
            shuffle: true,
            seed: 0,
            drop_last: false,
        })
    }

    /// This process's share in `group` (its rank among its world size).
    pub fn for_group(len: usize, group: &impl ProcessGroup) -> Result<Self> {
        Self::new(len, group.world_size(), group.rank())
    }

    /// Whether each epoch deals from a fresh permutation (default `true`).
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The seed of the permutations, the same on every rank (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Whether to cut the epoch to a multiple of the replicas instead of padding it (default
    /// `false`).
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// The number of samples all ranks together visit per epoch.
    pub fn total_size(&self) -> usize {
        self.len() * self.num_replicas
    }
}

impl Sampler for DistributedSampler {
    fn len(&self) -> usize {
        if self.drop_last {
            self.len / self.num_replicas
        } else {
            self.len.div_ceil(self.num_replicas)
        }
    }

    fn indices(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len).collect();
        if self.shuffle {
            // The same stream as `RandomSampler`, so one replica visits the same order it would.
            order.shuffle(&mut generator(self.seed, epoch));
        }
        let total = self.total_size();
        if total > order.len() && !order.is_empty() {
            // Pad by repetition (more than once round when the data set is smaller than the gap).
            let pad: Vec<usize> = order
                .iter()
                .copied()
                .cycle()
                .take(total - order.len())
                .collect();
            order.extend(pad);
        }
        order.truncate(total);
        order
            .into_iter()
            .skip(self.rank)
            .step_by(self.num_replicas)
            .collect()
    }
}
