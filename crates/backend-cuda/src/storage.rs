//! [`CudaStorage`]: a typed view of one block from the device's caching allocator, and the host
//! transfers (`from_slice`, `to_vec`, uploads of small argument arrays).
//!
//! Transfers go to the device's one stream like kernels do. Host-to-device copies from ordinary
//! (pageable) memory return once the driver has staged the data, so the host buffer may be dropped
//! at once and nothing waits for the GPU. Device-to-host copies are where the host reads: they
//! wait for everything queued before them.

use crate::alloc::Block;
use crate::device::{driver_err, DeviceInner};
use crate::{Cuda, Error, Result, BACKEND_NAME};
use cust::memory::{AsyncCopyDestination, DevicePointer, DeviceSlice};
use nanotorch_ndarray_core::Element;
use std::marker::PhantomData;
use std::sync::Arc;

/// A buffer of `len` elements of `E` in device memory, from the device's caching allocator.
/// Dropping it returns its block to the allocator's free list (not to the driver).
pub struct CudaStorage<E: Element> {
    /// `None` for an empty storage (no block is allocated for zero elements).
    block: Option<Block>,
    len: usize,
    /// Keeps the context (and the pool the block returns to) alive.
    device: Arc<DeviceInner>,
    _elem: PhantomData<E>,
}

impl<E: Element> std::fmt::Debug for CudaStorage<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaStorage<{:?}>(len {})", E::DTYPE, self.len)
    }
}

impl<E: Element> Drop for CudaStorage<E> {
    fn drop(&mut self) {
        if let Some(block) = self.block.take() {
            self.device.pool.give(block);
        }
    }
}

impl<E: Element> CudaStorage<E> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The device address of element 0 (0 for an empty storage, which no kernel reads).
    pub(crate) fn addr(&self) -> u64 {
        self.block.as_ref().map_or(0, |b| b.ptr)
    }

    /// The same block seen as elements of `T` (same size: a bit-exact reinterpretation).
    pub(crate) fn reinterpret<T: Element>(mut self) -> CudaStorage<T> {
        debug_assert_eq!(std::mem::size_of::<E>(), std::mem::size_of::<T>());
        CudaStorage {
            block: self.block.take(),
            len: self.len,
            device: self.device.clone(),
            _elem: PhantomData,
        }
    }

    /// The whole storage as a cust slice of bytes, for the driver's copy functions.
    fn bytes(&self) -> DeviceSlice<u8> {
        let n = self.len * std::mem::size_of::<E>();
        // SAFETY: the block holds at least `n` bytes (its class rounds `n` up) and lives as long
        // as `self`; an empty storage gives a zero-length slice, which no copy touches.
        unsafe { DeviceSlice::from_raw_parts(DevicePointer::from_raw(self.addr()), n) }
    }
}

impl Cuda {
    /// Makes this device's context current on the calling thread (any thread holding a handle
    /// may queue work).
    pub(crate) fn bind(&self) -> Result<()> {
        self.inner.bind()
    }

    /// Uninitialised storage for `len` elements, from the caching allocator. Every caller
    /// writes all elements (by a kernel or a copy queued next) before anything reads them.
    pub(crate) fn alloc<E: Element>(&self, len: usize) -> Result<CudaStorage<E>> {
        let bytes = len
            .checked_mul(std::mem::size_of::<E>())
            .ok_or_else(|| Error::Backend {
                backend: BACKEND_NAME,
                msg: format!(
                    "cannot allocate {len} elements of {:?}: too many bytes",
                    E::DTYPE
                ),
            })?;
        let block = if bytes == 0 {
            None
        } else {
            self.bind()?;
            Some(self.inner.pool.take(bytes)?)
        };
        Ok(CudaStorage {
            block,
            len,
            device: self.inner.clone(),
            _elem: PhantomData,
        })
    }

    /// New storage holding a copy of `data`, queued on the stream (no wait).
    pub(crate) fn upload<E: Element>(&self, data: &[E]) -> Result<CudaStorage<E>> {
        let out = self.alloc::<E>(data.len())?;
        if !data.is_empty() {
            let mut dst = out.bytes();
            // SAFETY: `dst` is `out`'s block, exactly as long as `data`'s bytes. From pageable
            // memory the driver stages the bytes before returning, so `data` may go at once.
            unsafe { dst.async_copy_from(bytemuck::cast_slice::<E, u8>(data), &self.inner.stream) }
                .map_err(|e| driver_err("copying host data to the device", e))?;
        }
        Ok(out)
    }

    /// All elements of `storage`, read back to the host: waits for the queued work that writes
    /// them (this is a host read), and reports any fault of an earlier asynchronous launch.
    pub(crate) fn download<E: Element>(&self, storage: &CudaStorage<E>) -> Result<Vec<E>> {
        let mut host = vec![E::zeroed(); storage.len];
        self.bind()?;
        if !host.is_empty() {
            // SAFETY: the host buffer has exactly the storage's bytes; we wait for the stream
            // before the buffer is read or dropped.
            unsafe {
                storage.bytes().async_copy_to(
                    bytemuck::cast_slice_mut::<E, u8>(&mut host),
                    &self.inner.stream,
                )
            }
            .map_err(|e| driver_err("copying device data to the host", e))?;
        }
        self.inner.synchronize()?;
        Ok(host)
    }

    /// A new storage holding a copy of all of `src`, made by the driver's device-to-device
    /// memcpy (`cuMemcpyDtoDAsync`), no kernel involved. Benchmarks use it for the device's copy
    /// bandwidth, the ceiling every memory-bound kernel is measured against.
    ///
    /// # Errors
    /// [`Error::Backend`] with the driver's error.
    pub fn copy_device<E: Element>(&self, src: &CudaStorage<E>) -> Result<CudaStorage<E>> {
        let out = self.alloc::<E>(src.len)?;
        if src.len > 0 {
            let mut dst = out.bytes();
            // SAFETY: both blocks hold `len` elements and stay alive (or cached, reused only by
            // later work on the same stream) until the copy has run.
            unsafe { dst.async_copy_from(&src.bytes(), &self.inner.stream) }
                .map_err(|e| driver_err("copying device to device", e))?;
        }
        Ok(out)
    }
}
