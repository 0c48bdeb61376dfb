//! `NDArray<E, B>`: shared storage on a backend plus a [`Layout`]. Cloning is cheap and views
//! (see `views.rs`) share storage; operations (see `ops.rs`) return fresh arrays.

mod display;
mod lstm;
mod lstm_sequence;
mod norm;
mod ops;
mod serde_impl;
mod softmax;
mod step;
mod views;

pub use lstm::{LstmSaved, LstmStep};
pub use lstm_sequence::LstmTrace;

use crate::{size, Backend, DType, Element, Error, Float, Layout, RandomDist, Result, Shape};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// An N-dimensional array of `E` on backend `B`.
///
/// Storage sits behind `Arc<RwLock<…>>`: views share it, and the few in-place operations
/// (optimizer updates, gradient accumulation) write through the lock, so every view of the same
/// storage sees them, as in PyTorch.
pub struct NDArray<E: Element, B: Backend> {
    storage: Arc<RwLock<B::Storage<E>>>,
    layout: Layout,
    backend: B,
}

impl<E: Element, B: Backend> Clone for NDArray<E, B> {
    fn clone(&self) -> Self {
        NDArray {
            storage: Arc::clone(&self.storage),
            layout: self.layout.clone(),
            backend: self.backend.clone(),
        }
    }
}

impl<E: Element, B: Backend> NDArray<E, B> {
    /// Wraps backend storage and a layout that fits in it.
    pub fn from_storage(storage: B::Storage<E>, layout: Layout, backend: B) -> Result<Self> {
        let len = backend.storage_len(&storage);
        if layout.storage_extent() > len {
            return Err(Error::invalid(
                "from_storage",
                format!(
                    "layout needs {} elements, storage holds {len}",
                    layout.storage_extent()
                ),
                layout.shape(),
            ));
        }
        Ok(NDArray {
            storage: Arc::new(RwLock::new(storage)),
            layout,
            backend,
        })
    }

    /// Wraps fresh contiguous storage that the caller knows has `shape.numel()` elements.
    pub(crate) fn contiguous_from(
        storage: B::Storage<E>,
        shape: impl Into<Shape>,
        backend: &B,
    ) -> Self {
        NDArray {
            storage: Arc::new(RwLock::new(storage)),
            layout: Layout::contiguous(shape),
            backend: backend.clone(),
        }
    }

    /// The same storage seen through another layout.
    pub(crate) fn with_layout(&self, layout: Layout) -> Self {
        NDArray {
            storage: Arc::clone(&self.storage),
            layout,
            backend: self.backend.clone(),
        }
    }

    /// An array from host data in row-major order.
    pub fn from_vec(data: Vec<E>, shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        let shape = shape.into();
        if data.len() != size::numel("from_vec", &shape)? {
            return Err(Error::DataLength {
                op: "from_vec",
                len: data.len(),
                shape,
            });
        }
        Ok(Self::contiguous_from(
            backend.from_vec(data)?,
            shape,
            backend,
        ))
    }

    /// An array from a host slice in row-major order.
    pub fn from_slice(data: &[E], shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        let shape = shape.into();
        if data.len() != size::numel("from_slice", &shape)? {
            return Err(Error::DataLength {
                op: "from_slice",
                len: data.len(),
                shape,
            });
        }
        Ok(Self::contiguous_from(
            backend.from_slice(data)?,
            shape,
            backend,
        ))
    }

    /// A 0-d array holding `value`.
    pub fn scalar(value: E, backend: &B) -> Result<Self> {
        Self::from_slice(&[value], Shape::scalar(), backend)
    }

    /// An array of `shape` filled with `value`. A shape whose element count overflows, or whose
    /// buffer cannot be allocated, is an error (see [`crate::size`]).
    pub fn full(shape: impl Into<Shape>, value: E, backend: &B) -> Result<Self> {
        Self::filled("full", shape.into(), value, backend)
    }

    /// An array of zeros.
    pub fn zeros(shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        Self::filled("zeros", shape.into(), E::ZERO, backend)
    }

    /// An array of ones.
    pub fn ones(shape: impl Into<Shape>, backend: &B) -> Result<Self> {
        Self::filled("ones", shape.into(), E::ONE, backend)
    }

    /// [`full`](NDArray::full) with errors naming `op`, the constructor the user called.
    pub(crate) fn filled(op: &'static str, shape: Shape, value: E, backend: &B) -> Result<Self> {
        let len = size::buffer_len::<E>(op, &shape)?;
        let storage = backend
            .full(len, value)
            .map_err(|e| size::relabel_alloc(op, e))?;
        Ok(Self::contiguous_from(storage, shape, backend))
    }

    /// `start, start + step, …` up to but excluding `end`, as `torch.arange`.
    pub fn arange(start: f64, end: f64, step: f64, backend: &B) -> Result<Self> {
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            return Err(Error::invalid(
                "arange",
                format!("bad range {start}..{end} step {step}"),
                &Shape::scalar(),
            ));
        }
        // Counted in f64 and checked before the conversion, which would saturate silently.
        let count = ((end - start) / step).ceil().max(0.0);
        if count >= usize::MAX as f64 {
            return Err(Error::invalid(
                "arange",
                format!(
                    "the range {start}..{end} step {step} has {count:e} elements, \
                     more than a usize can count"
                ),
                &Shape::scalar(),
            ));
        }
        let len = count as usize;
        size::check_buffer::<E>("arange", len)?;
        let storage = backend
            .arange(start, step, len)
            .map_err(|e| size::relabel_alloc("arange", e))?;
        Ok(Self::contiguous_from(storage, [len], backend))
    }

    /// The backend (device) this array lives on.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The layout (shape, strides, offset).
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        self.layout.shape()
    }

    /// Axis sizes.
    pub fn dims(&self) -> &[usize] {
        self.layout.dims()
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.layout.rank()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.layout.numel()
    }

    /// The element type's tag.
    pub fn dtype(&self) -> DType {
        E::DTYPE
    }

    /// Whether the elements are row-major without gaps.
    pub fn is_contiguous(&self) -> bool {
        self.layout.is_contiguous()
    }

    /// Whether two arrays share one storage buffer (views of each other).
    pub fn same_storage(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// Whether writing into this array in place can change no other array: it is the only
    /// handle on its storage, and no two of its elements share a slot (not a broadcast view).
    pub fn is_exclusive(&self) -> bool {
        let broadcast = self
            .dims()
            .iter()
            .zip(self.layout.strides())
            .any(|(&d, &s)| d > 1 && s == 0);
        Arc::strong_count(&self.storage) == 1 && Arc::weak_count(&self.storage) == 0 && !broadcast
    }

    /// Read access to the storage, for backends and layers that call kernels directly.
    pub fn storage(&self) -> RwLockReadGuard<'_, B::Storage<E>> {
        self.storage
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn storage_mut(&self) -> RwLockWriteGuard<'_, B::Storage<E>> {
        self.storage
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The elements in row-major logical order, copied to the host.
    pub fn to_vec(&self) -> Result<Vec<E>> {
        self.backend.to_vec(&self.storage(), &self.layout)
    }

    /// The single element of a one-element array (PyTorch's `item()`).
    pub fn to_scalar(&self) -> Result<E> {
        if self.numel() != 1 {
            return Err(Error::invalid(
                "item",
                "only a one-element array converts to a scalar",
                self.shape(),
            ));
        }
        Ok(self.to_vec()?[0])
    }

    /// This array if already contiguous (sharing storage), else a contiguous copy.
    pub fn contiguous(&self) -> Result<Self> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        self.copy()
    }

    /// A contiguous copy that shares nothing with `self` (PyTorch's `clone()`).
    pub fn copy(&self) -> Result<Self> {
        let storage = self.backend.copy_strided(&self.storage(), &self.layout)?;
        Ok(Self::contiguous_from(
            storage,
            self.shape().clone(),
            &self.backend,
        ))
    }

    /// The elements converted to another element type.
    pub fn cast<T: Element>(&self) -> Result<NDArray<T, B>> {
        let storage = self.backend.cast::<E, T>(&self.storage(), &self.layout)?;
        Ok(NDArray::contiguous_from(
            storage,
            self.shape().clone(),
            &self.backend,
        ))
    }

    /// Checks that `other` lives on the same device, naming `op` if not.
    pub(crate) fn check_device<T: Element>(
        &self,
        op: &'static str,
        other: &NDArray<T, B>,
    ) -> Result<()> {
        if self.backend.same_device(&other.backend) {
            Ok(())
        } else {
            Err(Error::Backend {
                backend: "device",
                msg: format!(
                    "{op}: operands on different devices ({} and {})",
                    self.backend.name(),
                    other.backend.name()
                ),
            })
        }
    }
}

impl<E: Float, B: Backend> NDArray<E, B> {
    /// An array of `shape` drawn from `dist`; the same `seed` gives the same numbers on every
    /// backend. A shape that cannot be allocated is an error (see [`crate::size`]).
    pub fn random(
        shape: impl Into<Shape>,
        dist: RandomDist,
        seed: u64,
        backend: &B,
    ) -> Result<Self> {
        let shape = shape.into();
        let len = size::buffer_len::<E>("random", &shape)?;
        let storage = backend
            .random(len, dist, seed)
            .map_err(|e| size::relabel_alloc("random", e))?;
        Ok(Self::contiguous_from(storage, shape, backend))
    }
}
