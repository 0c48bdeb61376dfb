//! Datasets built from other datasets: [`Subset`], [`ConcatDataset`], [`Transformed`], and the
//! seeded splits [`random_split`] and [`random_split_fractions`].

use crate::dataset_trait::{out_of_range, Dataset, Sample};
use crate::seed::generator;
use crate::transform::Transform;
use nanotorch_ndarray_core::{Error, Result};
use rand::seq::SliceRandom;

/// The items of a dataset at chosen indices, in the order given (PyTorch's `Subset`).
#[derive(Debug, Clone)]
pub struct Subset<D> {
    dataset: D,
    indices: Vec<usize>,
}

impl<D: Dataset> Subset<D> {
    /// A view of `dataset` at `indices` (each checked against `dataset.len()`).
    pub fn new(dataset: D, indices: Vec<usize>) -> Result<Self> {
        let len = dataset.len();
        if let Some(&bad) = indices.iter().find(|&&i| i >= len) {
            return Err(out_of_range("Subset::new", bad, len));
        }
        Ok(Subset { dataset, indices })
    }

    /// The indices into the underlying dataset.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// The underlying dataset.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }
}

impl<D: Dataset> Dataset for Subset<D> {
    type Item = D::Item;

    fn len(&self) -> usize {
        self.indices.len()
    }

    fn get(&self, index: usize) -> Result<D::Item> {
        let &i = self
            .indices
            .get(index)
            .ok_or_else(|| out_of_range("Subset::get", index, self.len()))?;
        self.dataset.get(i)
    }

    fn get_seeded(&self, index: usize, seed: u64) -> Result<D::Item> {
        let &i = self
            .indices
            .get(index)
            .ok_or_else(|| out_of_range("Subset::get", index, self.len()))?;
        self.dataset.get_seeded(i, seed)
    }
}

/// Splits `dataset` into non-overlapping [`Subset`]s of the given lengths (which must add up to
/// `dataset.len()`), after a permutation drawn from `seed` (PyTorch's `random_split` with a
/// seeded generator). Pass an `Arc` (or another cheap clone) as `dataset`.
pub fn random_split<D: Dataset + Clone>(
    dataset: D,
    lengths: &[usize],
    seed: u64,
) -> Result<Vec<Subset<D>>> {
    let total = lengths.iter().try_fold(0usize, |a, &l| a.checked_add(l));
    if total != Some(dataset.len()) {
        return Err(Error::msg(format!(
            "random_split: lengths {lengths:?} do not add up to the dataset's length {}",
            dataset.len()
        )));
    }
    let mut perm: Vec<usize> = (0..dataset.len()).collect();
    perm.shuffle(&mut generator(seed, 0));
    let mut start = 0;
    let mut out = Vec::with_capacity(lengths.len());
    for &l in lengths {
        out.push(Subset::new(
            dataset.clone(),
            perm[start..start + l].to_vec(),
        )?);
        start += l;
    }
    Ok(out)
}

/// [`random_split`] by fractions that add up to 1 (as PyTorch: each length is
/// `floor(fraction * len)`, and the remainder is handed out one by one from the first split on).
pub fn random_split_fractions<D: Dataset + Clone>(
    dataset: D,
    fractions: &[f64],
    seed: u64,
) -> Result<Vec<Subset<D>>> {
    let sum: f64 = fractions.iter().sum();
    if fractions.is_empty()
        || fractions.iter().any(|f| !(0.0..=1.0).contains(f))
        || (sum - 1.0).abs() > 1e-6
    {
        return Err(Error::msg(format!(
            "random_split_fractions: fractions {fractions:?} must lie in [0, 1] and add up to 1"
        )));
    }
    let n = dataset.len();
    let mut lengths: Vec<usize> = fractions
        .iter()
        .map(|f| (f * n as f64).floor() as usize)
        .collect();
    let mut rest = n - lengths.iter().sum::<usize>().min(n);
    let k = lengths.len();
    let mut i = 0;
    while rest > 0 {
        lengths[i % k] += 1;
        rest -= 1;
        i += 1;
    }
    random_split(dataset, &lengths, seed)
}

/// Several datasets end to end (PyTorch's `ConcatDataset`).
#[derive(Debug, Clone)]
pub struct ConcatDataset<D> {
    datasets: Vec<D>,
    /// `ends[i]` = total length of datasets `0..=i`.
    ends: Vec<usize>,
}

impl<D: Dataset> ConcatDataset<D> {
    /// The datasets one after another.
    pub fn new(datasets: Vec<D>) -> Result<Self> {
        let mut ends = Vec::with_capacity(datasets.len());
        let mut total = 0usize;
        for d in &datasets {
            total = total
                .checked_add(d.len())
                .ok_or_else(|| Error::msg("ConcatDataset::new: total length overflows usize"))?;
            ends.push(total);
        }
        Ok(ConcatDataset { datasets, ends })
    }

    fn locate(&self, index: usize) -> Result<(usize, usize)> {
        // The first dataset whose end lies past `index`.
        let which = self.ends.partition_point(|&end| end <= index);
        if which == self.datasets.len() {
            return Err(out_of_range("ConcatDataset::get", index, self.len()));
        }
        let start = if which == 0 { 0 } else { self.ends[which - 1] };
        Ok((which, index - start))
    }
}

impl<D: Dataset> Dataset for ConcatDataset<D> {
    type Item = D::Item;

    fn len(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    fn get(&self, index: usize) -> Result<D::Item> {
        let (d, i) = self.locate(index)?;
        self.datasets[d].get(i)
    }

    fn get_seeded(&self, index: usize, seed: u64) -> Result<D::Item> {
        let (d, i) = self.locate(index)?;
        self.datasets[d].get_seeded(i, seed)
    }
}

/// A dataset of [`Sample`]s with a [`Transform`] applied to each item as it is fetched
/// (torchvision's `transform=` argument).
///
/// Random transforms draw from a generator seeded per item: through a
/// [`DataLoader`](crate::DataLoader) from the seed it passes to [`Dataset::get_seeded`] (so each
/// epoch augments differently, identically on any number of workers); through a plain `get` from
/// this wrapper's own `seed` and the index (so `get(i)` always returns the same thing).
#[derive(Debug, Clone)]
pub struct Transformed<D, T> {
    dataset: D,
    transform: T,
    seed: u64,
}

impl<D: Dataset<Item = Sample>, T: Transform> Transformed<D, T> {
    /// `dataset` with `transform` applied; `seed` makes nested transformed datasets draw
    /// different streams.
    pub fn new(dataset: D, transform: T, seed: u64) -> Self {
        Transformed {
            dataset,
            transform,
            seed,
        }
    }

    /// The underlying dataset.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }
}

impl<D: Dataset<Item = Sample>, T: Transform> Dataset for Transformed<D, T> {
    type Item = Sample;

    fn len(&self) -> usize {
        self.dataset.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        let sample = self.dataset.get(index)?;
        let mut g = generator(self.seed, index as u64);
        self.transform.apply(sample, &mut g)
    }

    fn get_seeded(&self, index: usize, seed: u64) -> Result<Sample> {
        let sample = self.dataset.get_seeded(index, seed)?;
        let mut g = generator(seed, self.seed);
        self.transform.apply(sample, &mut g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::toy;
    use crate::TensorDataset;
    use rand::{Rng, RngCore};
    use std::sync::Arc;

    #[test]
    fn subset_and_random_split() {
        let d = Arc::new(toy(10));
        let sub = Subset::new(d.clone(), vec![9, 2]).unwrap();
        assert_eq!(sub.get(0).unwrap().label, 9);
        assert!(sub.get(2).is_err());
        assert!(Subset::new(d.clone(), vec![10]).is_err());

        let parts = random_split(d.clone(), &[7, 3], 42).unwrap();
        assert_eq!((parts[0].len(), parts[1].len()), (7, 3));
        let mut all: Vec<usize> = parts.iter().flat_map(|p| p.indices().to_vec()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        let again = random_split(d.clone(), &[7, 3], 42).unwrap();
        assert_eq!(parts[0].indices(), again[0].indices());
        assert!(random_split(d.clone(), &[7, 4], 42).is_err());

        let frac = random_split_fractions(d.clone(), &[0.75, 0.25], 1).unwrap();
        assert_eq!((frac[0].len(), frac[1].len()), (8, 2));
        assert!(random_split_fractions(d, &[0.5, 0.6], 1).is_err());
    }

    #[test]
    fn concat_maps_indices_across_parts() {
        let c = ConcatDataset::new(vec![toy(2), toy(0), toy(3)]).unwrap();
        assert_eq!(c.len(), 5);
        let labels: Vec<i64> = (0..5).map(|i| c.get(i).unwrap().label).collect();
        assert_eq!(labels, vec![0, 1, 0, 1, 2]);
        assert!(c.get(5).is_err());
        assert!(ConcatDataset::<TensorDataset>::new(vec![])
            .unwrap()
            .is_empty());
    }

    #[test]
    fn transformed_is_deterministic_per_index_and_seed() {
        let add_noise = |mut s: Sample, g: &mut dyn RngCore| -> Result<Sample> {
            for v in &mut s.features {
                *v += g.gen::<f32>();
            }
            Ok(s)
        };
        let t = Transformed::new(toy(3), add_noise, 7);
        assert_eq!(t.get(1).unwrap(), t.get(1).unwrap());
        assert_eq!(t.get_seeded(1, 5).unwrap(), t.get_seeded(1, 5).unwrap());
        assert_ne!(t.get_seeded(1, 5).unwrap(), t.get_seeded(1, 6).unwrap());
    }
}
