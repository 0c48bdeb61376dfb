//! Data into autograd tensors: the one place where the host-side data layer (`nanotorch-data`,
//! which depends on ndarray-core alone) meets [`Tensor`](crate::autograd::Tensor). Everything
//! here is re-exported under [`nanotorch::data`](crate::data), next to the data crate's items.

use nanotorch_autograd::Tensor;
use nanotorch_data::{Batch, Collate, DefaultCollate, Sample, TensorDataset};
use nanotorch_ndarray_core::{Backend, Result};

/// Moves a host [`Batch`] into tensors on a device: `batch.into_tensors(&Cpu)?`.
pub trait IntoTensors {
    /// Features `[n, ...]` (f32) and labels `[n]` (i64) as tensors on `backend`, ready for a
    /// model and a loss. They are leaves: no gradient is tracked for data. On the CPU the data is
    /// moved, not copied.
    fn into_tensors<B: Backend>(self, backend: &B) -> Result<(Tensor<f32, B>, Tensor<i64, B>)>;
}

impl IntoTensors for Batch {
    fn into_tensors<B: Backend>(self, backend: &B) -> Result<(Tensor<f32, B>, Tensor<i64, B>)> {
        let (x, y) = self.into_arrays(backend)?;
        Ok((Tensor::from_ndarray(x), Tensor::from_ndarray(y)))
    }
}

/// Stacks [`Sample`]s like [`DefaultCollate`], then makes tensors on `backend` right away, on
/// the worker thread: the loader then yields `(features, labels)` tensors. Best for the CPU
/// backend; for a device whose uploads should happen on the training thread, keep
/// [`DefaultCollate`] and call [`IntoTensors::into_tensors`] there.
///
/// ```
/// use nanotorch::data::{datasets, DataLoader, TensorCollate};
/// use nanotorch::Cpu;
///
/// # fn main() -> nanotorch::Result<()> {
/// let loader = DataLoader::new(datasets::moons(10, 0.1, 0)?, 4).collate(TensorCollate::new(Cpu));
/// let (x, y) = loader.iter().next().unwrap()?;
/// assert_eq!((x.dims(), y.dims()), (&[4, 2][..], &[4][..]));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct TensorCollate<B> {
    backend: B,
}

impl<B: Backend> TensorCollate<B> {
    /// Collates into tensors on `backend`.
    pub fn new(backend: B) -> Self {
        TensorCollate { backend }
    }
}

impl<B: Backend> Collate<Sample> for TensorCollate<B> {
    type Batch = (Tensor<f32, B>, Tensor<i64, B>);

    fn collate(&self, items: Vec<Sample>) -> Result<Self::Batch> {
        DefaultCollate.collate(items)?.into_tensors(&self.backend)
    }
}

/// Builds a [`TensorDataset`] from tensors: `TensorDataset::from_tensors(&x, &y)?` (PyTorch's
/// `TensorDataset(x, y)`).
pub trait FromTensors: Sized {
    /// A dataset from a features tensor `[n, ...]` and a labels tensor `[n]` on any backend
    /// (values copied to the host; any graph is ignored).
    fn from_tensors<B: Backend>(features: &Tensor<f32, B>, labels: &Tensor<i64, B>)
        -> Result<Self>;
}

impl FromTensors for TensorDataset {
    fn from_tensors<B: Backend>(
        features: &Tensor<f32, B>,
        labels: &Tensor<i64, B>,
    ) -> Result<Self> {
        TensorDataset::from_arrays(features.array(), labels.array())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nanotorch_backend_cpu::Cpu;
    use nanotorch_data::{DataLoader, Dataset};

    fn two_samples() -> Vec<Sample> {
        vec![
            Sample::new(vec![1.0, 2.0], [2], 5).unwrap(),
            Sample::new(vec![3.0, 4.0], [2], 6).unwrap(),
        ]
    }

    #[test]
    fn batches_become_tensors_on_a_backend() {
        let (x, y) = DefaultCollate
            .collate(two_samples())
            .unwrap()
            .into_tensors(&Cpu)
            .unwrap();
        assert_eq!(x.dims(), &[2, 2]);
        assert_eq!(x.array().to_vec().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(y.array().to_vec().unwrap(), vec![5, 6]);
        assert!(!x.requires_grad());
        let (x2, y2) = TensorCollate::new(Cpu).collate(two_samples()).unwrap();
        assert_eq!(x2.array().to_vec().unwrap(), vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(y2.array().to_vec().unwrap(), vec![5, 6]);
        // Collation errors pass through unchanged.
        assert!(TensorCollate::new(Cpu).collate(vec![]).is_err());
    }

    #[test]
    fn tensor_collate_through_workers() {
        let data = TensorDataset::new((0..10).map(|v| v as f32).collect(), [1], (0..10).collect())
            .unwrap();
        let l = DataLoader::new(data, 4)
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
    fn tensor_dataset_from_tensors_round_trips() {
        let x =
            Tensor::<f32, Cpu>::from_slice(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [3, 2], &Cpu).unwrap();
        let y = Tensor::<i64, Cpu>::from_slice(&[2, 0, 1], [3], &Cpu).unwrap();
        let d = TensorDataset::from_tensors(&x, &y).unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(d.get(1).unwrap().features, vec![3.0, 4.0]);
        assert_eq!(d.labels(), &[2, 0, 1]);
        let wrong = Tensor::<i64, Cpu>::from_slice(&[0, 1], [2], &Cpu).unwrap();
        let err = TensorDataset::from_tensors(&x, &wrong)
            .unwrap_err()
            .to_string();
        assert!(err.contains("[3, 2]") && err.contains("[2]"), "{err}");
    }
}
