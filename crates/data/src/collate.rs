//! Collation: turning the items of one batch into the value the training loop receives.

use crate::Sample;
use nanotorch_ndarray_core::{Backend, Error, NDArray, Result, Shape};

/// Merges the items of one batch (in batch order) into one value (PyTorch's `collate_fn`).
///
/// Collation runs on the loader's worker threads, so its output must be [`Send`]. Any closure
/// `Fn(Vec<I>) -> Result<T>` is a collate function.
pub trait Collate<I>: Send + Sync {
    /// What a batch becomes.
    type Batch: Send + 'static;

    /// Merges `items` into a batch.
    fn collate(&self, items: Vec<I>) -> Result<Self::Batch>;
}

impl<I, T, F> Collate<I> for F
where
    F: Fn(Vec<I>) -> Result<T> + Send + Sync,
    T: Send + 'static,
{
    type Batch = T;
    fn collate(&self, items: Vec<I>) -> Result<T> {
        self(items)
    }
}

/// The default collate: stacks `n` [`Sample`]s of one shape `[...]` into features `[n, ...]`
/// (f32) and labels `[n]` (i64), as PyTorch's `default_collate` stacks tensors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultCollate;

/// A stacked batch on the host: features `[n, ...]` and labels `[n]`.
///
/// It stays on the host on purpose: workers build it, and the training thread moves it to its
/// device with [`Batch::into_arrays`] (or, through the `nanotorch` facade, `into_tensors`), so a
/// device handle never has to cross threads.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    features: Vec<f32>,
    shape: Shape,
    labels: Vec<i64>,
}

impl Batch {
    /// A batch from stacked features of shape `shape` (`[n, ...]`) and `n` labels.
    pub fn new(features: Vec<f32>, shape: impl Into<Shape>, labels: Vec<i64>) -> Result<Self> {
        let shape = shape.into();
        if shape.rank() == 0 || shape.dims()[0] != labels.len() || shape.numel() != features.len() {
            return Err(Error::msg(format!(
                "Batch::new: features of shape {shape} ({} values given) do not fit {} labels",
                features.len(),
                labels.len()
            )));
        }
        Ok(Batch {
            features,
            shape,
            labels,
        })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch holds no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Shape of the features, `[n, ...]`.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// Features, row-major.
    pub fn features(&self) -> &[f32] {
        &self.features
    }

    /// Labels.
    pub fn labels(&self) -> &[i64] {
        &self.labels
    }

    /// The parts: features, their shape, labels.
    pub fn into_parts(self) -> (Vec<f32>, Shape, Vec<i64>) {
        (self.features, self.shape, self.labels)
    }

    /// Features `[n, ...]` (f32) and labels `[n]` (i64) as arrays on `backend` (moving the data,
    /// no copy on the CPU).
    pub fn into_arrays<B: Backend>(
        self,
        backend: &B,
    ) -> Result<(NDArray<f32, B>, NDArray<i64, B>)> {
        let n = self.labels.len();
        Ok((
            NDArray::from_vec(self.features, self.shape, backend)?,
            NDArray::from_vec(self.labels, [n], backend)?,
        ))
    }
}

impl Collate<Sample> for DefaultCollate {
    type Batch = Batch;

    fn collate(&self, items: Vec<Sample>) -> Result<Batch> {
        let Some(first) = items.first() else {
            return Err(Error::msg("DefaultCollate: cannot stack an empty batch"));
        };
        let sample_shape = first.shape.clone();
        let mut features = Vec::with_capacity(items.len() * sample_shape.numel());
        let mut labels = Vec::with_capacity(items.len());
        for (i, s) in items.into_iter().enumerate() {
            if s.shape != sample_shape || s.features.len() != sample_shape.numel() {
                return Err(Error::ShapeMismatch {
                    op: "DefaultCollate",
                    what: if i == 0 {
                        "sample features do not match their shape"
                    } else {
                        "samples in one batch must share a shape (first sample vs a later one)"
                    },
                    lhs: sample_shape,
                    rhs: s.shape,
                });
            }
            features.extend_from_slice(&s.features);
            labels.push(s.label);
        }
        let mut dims = vec![labels.len()];
        dims.extend_from_slice(sample_shape.dims());
        Batch::new(features, dims, labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_collate_stacks() {
        let items = vec![
            Sample::new(vec![1.0, 2.0], [1, 2], 5).unwrap(),
            Sample::new(vec![3.0, 4.0], [1, 2], 6).unwrap(),
        ];
        let b = DefaultCollate.collate(items).unwrap();
        assert_eq!(b.shape(), &Shape::from([2, 1, 2]));
        assert_eq!(b.features(), &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(b.labels(), &[5, 6]);
        assert_eq!(b.len(), 2);
    }

    #[test]
    fn default_collate_rejects_mixed_shapes_and_empty() {
        let items = vec![
            Sample::new(vec![1.0, 2.0], [2], 0).unwrap(),
            Sample::new(vec![3.0], [1], 0).unwrap(),
        ];
        let err = DefaultCollate.collate(items).unwrap_err().to_string();
        assert!(err.contains("[2]") && err.contains("[1]"), "{err}");
        assert!(DefaultCollate.collate(vec![]).is_err());
    }

    #[test]
    fn batches_become_arrays_on_a_backend() {
        use nanotorch_backend_cpu::Cpu;
        let items = vec![
            Sample::new(vec![1.0, 2.0], [2], 5).unwrap(),
            Sample::new(vec![3.0, 4.0], [2], 6).unwrap(),
        ];
        let (x, y) = DefaultCollate
            .collate(items)
            .unwrap()
            .into_arrays(&Cpu)
            .unwrap();
        assert_eq!(x.dims(), &[2, 2]);
        assert_eq!(x.to_vec().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(y.to_vec().unwrap(), vec![5, 6]);
        let err = Batch::new(vec![1.0; 3], [2, 2], vec![0, 1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("[2, 2]") && err.contains("3 values"), "{err}");
    }

    #[test]
    fn closures_collate() {
        let count = |items: Vec<Sample>| -> Result<usize> { Ok(items.len()) };
        let s = Sample::new(vec![1.0], [1], 0).unwrap();
        assert_eq!(count.collate(vec![s.clone(), s]).unwrap(), 2);
    }
}
