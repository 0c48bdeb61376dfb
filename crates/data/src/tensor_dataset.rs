//! [`TensorDataset`]: `n` feature arrays of one shape and `n` labels, held on the host.

use crate::dataset_trait::{out_of_range, Dataset, Sample};
use nanotorch_ndarray_core::{Backend, Error, NDArray, Result, Shape};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::toy;

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
}
