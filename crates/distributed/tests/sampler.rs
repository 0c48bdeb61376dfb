//! DistributedSampler: PyTorch's split of an epoch over replicas, checked rank by rank in one
//! process (the same check across real ranks is in `tests/mpirun.rs`).

use nanotorch_data::{DataLoader, Dataset, RandomSampler, Sampler, TensorDataset};
use nanotorch_distributed::{DistributedSampler, LocalGroup, Result};

/// Every rank's indices for `epoch`.
fn shares(
    len: usize,
    replicas: usize,
    epoch: u64,
    configure: impl Fn(DistributedSampler) -> DistributedSampler,
) -> Vec<Vec<usize>> {
    (0..replicas)
        .map(|r| configure(DistributedSampler::new(len, replicas, r).unwrap()).indices(epoch))
        .collect()
}

/// How often each index of `0..len` occurs across all shares.
fn counts(len: usize, shares: &[Vec<usize>]) -> Vec<usize> {
    let mut c = vec![0; len];
    shares.iter().flatten().for_each(|&i| c[i] += 1);
    c
}

#[test]
fn ranks_cover_the_epoch_exactly_once_when_it_divides() {
    for (len, replicas) in [(12, 3), (10, 2), (7, 7), (100, 4)] {
        for epoch in 0..3 {
            let s = shares(len, replicas, epoch, |s| s.seed(5));
            assert!(s.iter().all(|x| x.len() == len / replicas));
            assert_eq!(
                counts(len, &s),
                vec![1; len],
                "len {len}, {replicas} replicas, epoch {epoch}"
            );
        }
    }
}

#[test]
fn padding_repeats_the_start_of_the_order_and_evens_the_ranks() {
    for (len, replicas) in [(10, 3), (5, 4), (2, 5), (1, 3)] {
        let s = shares(len, replicas, 1, |s| s);
        let per_rank = len.div_ceil(replicas);
        assert!(s.iter().all(|x| x.len() == per_rank), "{s:?}");
        let c = counts(len, &s);
        assert!(c.iter().all(|&n| n >= 1), "every sample is seen: {c:?}");
        assert_eq!(c.iter().sum::<usize>(), per_rank * replicas);
        // The extra slots are the beginning of the epoch's own order, as in PyTorch.
        let order: Vec<usize> = (0..per_rank * replicas)
            .map(|k| s[k % replicas][k / replicas])
            .collect();
        for k in len..order.len() {
            assert_eq!(order[k], order[k % len]);
        }
    }
}

#[test]
fn drop_last_cuts_the_tail_and_never_repeats() {
    let s = shares(11, 3, 0, |s| s.drop_last(true));
    assert!(s.iter().all(|x| x.len() == 3));
    let c = counts(11, &s);
    assert!(c.iter().all(|&n| n <= 1));
    assert_eq!(c.iter().sum::<usize>(), 9);
}

#[test]
fn unshuffled_matches_pytorch_and_one_replica_matches_random_sampler() {
    // torch DistributedSampler(range(10), num_replicas=3, rank=r, shuffle=False)
    let s = shares(10, 3, 0, |s| s.shuffle(false));
    assert_eq!(s, [vec![0, 3, 6, 9], vec![1, 4, 7, 0], vec![2, 5, 8, 1]]);
    let one = DistributedSampler::new(50, 1, 0).unwrap().seed(9);
    assert_eq!(one.indices(4), RandomSampler::new(50, 9).indices(4));
}

#[test]
fn epochs_and_seeds_change_the_order_consistently_across_ranks() {
    let e0 = shares(40, 2, 0, |s| s.seed(1));
    let e1 = shares(40, 2, 1, |s| s.seed(1));
    assert_ne!(e0, e1, "a new epoch deals a new permutation");
    assert_ne!(e0, shares(40, 2, 0, |s| s.seed(2)));
    assert_eq!(counts(40, &e1), vec![1; 40]);
}

#[test]
fn bad_rank_is_an_error_and_the_group_gives_rank_and_size() -> Result<()> {
    let err = DistributedSampler::new(10, 2, 2).unwrap_err().to_string();
    assert!(
        err.contains("rank 2") && err.contains("2 replicas"),
        "{err}"
    );
    assert!(DistributedSampler::new(10, 0, 0).is_err());
    let s = DistributedSampler::for_group(10, &LocalGroup::new())?;
    assert_eq!(s.len(), 10);
    Ok(())
}

#[test]
fn a_data_loader_draws_the_rank_share_in_batches() -> Result<()> {
    let data = TensorDataset::new((0..9).map(|i| i as f32).collect(), [1], (0..9).collect())?;
    let sampler = DistributedSampler::new(data.len(), 2, 1)?.shuffle(false);
    let loader = DataLoader::new(data, 2).sampler(sampler);
    assert_eq!(loader.len(), 3);
    let labels: Vec<i64> = loader
        .iter()
        .map(|b| b.map(|b| b.labels().to_vec()))
        .collect::<Result<Vec<_>>>()?
        .concat();
    assert_eq!(labels, [1, 3, 5, 7, 0]);
    Ok(())
}
