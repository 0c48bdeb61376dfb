//! The `Dataset` trait and the datasets built from others: in-memory [`TensorDataset`],
//! [`Subset`], [`ConcatDataset`], [`Transformed`], and [`random_split`].

use crate::rng;
use crate::transform::Transform;
use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Error, Generator, NDArray, Result, Shape};
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

impl<D: Dataset + ?Sized> Dataset for Arc<D> {
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

impl<D: Dataset + ?Sized> Dataset for Box<D> {
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

fn out_of_range(op: &'static str, index: usize, len: usize) -> Error {
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

/// An in-memory dataset of `n` feature arrays of one shape and `n` labels: PyTorch's
/// `TensorDataset(features, labels)`, stored on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorDataset {
    features: Vec<f32>,
    sample_shape: Shape,
    labels: Vec<i64>,
}

impl TensorDataset {
    /// `labels.len()` samples of shape `sample_shape`, whose features lie back to back in
    /// `features` (so `features.len() == labels.len() * sample_shape.numel()`).
    pub fn new(
        features: Vec<f32>,
        sample_shape: impl Into<Shape>,
        labels: Vec<i64>,
    ) -> Result<Self> {
        let sample_shape = sample_shape.into();
        let expected = labels.len().checked_mul(sample_shape.numel());
        if expected != Some(features.len()) {
            return Err(Error::msg(format!(
                "TensorDataset::new: {} labels of samples shaped {sample_shape} need {} feature \
                 values, got {}",
                labels.len(),
                expected.map_or_else(|| "too many".to_string(), |e| e.to_string()),
                features.len()
            )));
        }
        Ok(TensorDataset {
            features,
            sample_shape,
            labels,
        })
    }

    /// A dataset from a features array `[n, ...]` and a labels array `[n]` on any backend (the
    /// values are copied to the host).
    pub fn from_arrays<B: Backend>(
        features: &NDArray<f32, B>,
        labels: &NDArray<i64, B>,
    ) -> Result<Self> {
        if features.rank() == 0 || labels.rank() != 1 || features.dims()[0] != labels.dims()[0] {
            return Err(Error::ShapeMismatch {
                op: "TensorDataset::from_arrays",
                what: "features must be [n, ...] and labels [n]",
                lhs: features.shape().clone(),
                rhs: labels.shape().clone(),
            });
        }
        Self::new(
            features.to_vec()?,
            features.dims()[1..].to_vec(),
            labels.to_vec()?,
        )
    }

    /// A dataset from a features tensor `[n, ...]` and a labels tensor `[n]` (values copied to
    /// the host; any graph is ignored).
    pub fn from_tensors<B: Backend>(
        features: &Tensor<f32, B>,
        labels: &Tensor<i64, B>,
    ) -> Result<Self> {
        Self::from_arrays(features.array(), labels.array())
    }

    /// The shape of one sample's features.
    pub fn sample_shape(&self) -> &Shape {
        &self.sample_shape
    }

    /// All features, sample after sample.
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    /// All labels.
    pub fn labels(&self) -> &[i64] {
        &self.labels
    }

    /// The features of sample `index`, or `None` past the end.
    pub fn feature(&self, index: usize) -> Option<&[f32]> {
        if index >= self.labels.len() {
            return None;
        }
        let n = self.sample_shape.numel();
        // In range: index < len and len * n == features.len(), so nothing overflows.
        self.features.get(index * n..(index + 1) * n)
    }

    /// One more than the largest label (0 for an empty dataset).
    pub fn num_classes(&self) -> usize {
        self.labels
            .iter()
            .max()
            .map_or(0, |&m| usize::try_from(m).map_or(0, |m| m + 1))
    }

    /// The same samples seen with another shape of the same size (e.g. digits `[64]` as
    /// `[1, 8, 8]` for a convolution).
    pub fn reshape_samples(mut self, shape: impl Into<Shape>) -> Result<Self> {
        let shape = shape.into();
        if shape.numel() != self.sample_shape.numel() {
            return Err(Error::ReshapeNumel {
                op: "TensorDataset::reshape_samples",
                from: self.sample_shape,
                to: shape,
            });
        }
        self.sample_shape = shape;
        Ok(self)
    }

    /// The samples at `indices`, copied into a new dataset.
    pub fn select(&self, indices: &[usize]) -> Result<Self> {
        let n = self.sample_shape.numel();
        let mut features = Vec::with_capacity(indices.len().saturating_mul(n));
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            let f = self
                .feature(i)
                .ok_or_else(|| out_of_range("TensorDataset::select", i, self.len()))?;
            features.extend_from_slice(f);
            labels.push(self.labels[i]);
        }
        Self::new(features, self.sample_shape.clone(), labels)
    }

    /// Features as an `[n, ...]` array and labels as an `[n]` array on `backend`.
    pub fn to_arrays<B: Backend>(&self, backend: &B) -> Result<(NDArray<f32, B>, NDArray<i64, B>)> {
        let mut dims = vec![self.len()];
        dims.extend_from_slice(self.sample_shape.dims());
        Ok((
            NDArray::from_slice(&self.features, dims, backend)?,
            NDArray::from_slice(&self.labels, [self.len()], backend)?,
        ))
    }
}

impl Dataset for TensorDataset {
    type Item = Sample;

    fn len(&self) -> usize {
        self.labels.len()
    }

    fn get(&self, index: usize) -> Result<Sample> {
        let features = self
            .feature(index)
            .ok_or_else(|| out_of_range("TensorDataset::get", index, self.len()))?;
        Ok(Sample {
            features: features.to_vec(),
            shape: self.sample_shape.clone(),
            label: self.labels[index],
        })
    }
}

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
    let perm = rng::permutation(dataset.len(), &mut Generator::new(seed));
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
        let mut g = rng::generator(self.seed, index as u64);
        self.transform.apply(sample, &mut g)
    }

    fn get_seeded(&self, index: usize, seed: u64) -> Result<Sample> {
        let sample = self.dataset.get_seeded(index, seed)?;
        let mut g = rng::generator(seed, self.seed);
        self.transform.apply(sample, &mut g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n: usize) -> TensorDataset {
        let features = (0..n * 2).map(|v| v as f32).collect();
        let labels = (0..n as i64).collect();
        TensorDataset::new(features, [2], labels).unwrap()
    }

    #[test]
    fn tensor_dataset_gets_and_checks_bounds() {
        let d = toy(3);
        assert_eq!(d.len(), 3);
        let s = d.get(1).unwrap();
        assert_eq!(s.features, vec![2.0, 3.0]);
        assert_eq!(s.label, 1);
        assert_eq!(s.shape, Shape::from([2]));
        let err = d.get(3).unwrap_err().to_string();
        assert!(err.contains("index 3") && err.contains("size 3"), "{err}");
        assert!(d.get(usize::MAX).is_err());
        assert!(TensorDataset::new(vec![0.0; 5], [2], vec![0, 1]).is_err());
        // Zero-sized samples still have a length.
        let empty = TensorDataset::new(vec![], [0], vec![1, 2]).unwrap();
        assert_eq!(empty.get(1).unwrap().label, 2);
        assert!(empty.get(2).is_err());
        assert_eq!(d.num_classes(), 3);
    }

    #[test]
    fn reshape_and_select() {
        let d = toy(4).reshape_samples([1, 2]).unwrap();
        assert_eq!(d.sample_shape(), &Shape::from([1, 2]));
        assert!(toy(4).reshape_samples([3]).is_err());
        let s = d.select(&[3, 0]).unwrap();
        assert_eq!(s.labels(), &[3, 0]);
        assert_eq!(s.features(), &[6.0, 7.0, 0.0, 1.0]);
        assert!(d.select(&[4]).is_err());
    }

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
        let add_noise = |mut s: Sample, g: &mut Generator| -> Result<Sample> {
            for v in &mut s.features {
                *v += g.next_f64() as f32;
            }
            Ok(s)
        };
        let t = Transformed::new(toy(3), add_noise, 7);
        assert_eq!(t.get(1).unwrap(), t.get(1).unwrap());
        assert_eq!(t.get_seeded(1, 5).unwrap(), t.get_seeded(1, 5).unwrap());
        assert_ne!(t.get_seeded(1, 5).unwrap(), t.get_seeded(1, 6).unwrap());
    }
}
