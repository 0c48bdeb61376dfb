//! The caching device allocator: freed blocks go to a free list per size class and are handed
//! out again, so a loop that allocates the same sizes every iteration (a training step) asks the
//! driver for memory only in its first iteration.
//!
//! Why reuse is safe without waiting for the GPU: every kernel and copy of a device goes to one
//! stream, which runs them in the order they were queued. A storage dropped on the host while a
//! queued kernel still reads it returns its block to the free list at once; the next user of the
//! block queues its own work on the same stream, behind that read. (This is the single-stream
//! argument of PyTorch's caching allocator; a second stream would need events.)
//!
//! Size classes: requests are rounded up to a multiple of 512 bytes up to 1 MiB, and above that to
//! a multiple of 1/8 of the next power of two (so a block wastes at most a quarter of its size,
//! usually far less). A block is only reused for its own class: no splitting, no merging, which
//! keeps the code short and suits steady loops of identical shapes. The cache only grows; it is
//! returned to the driver by [`crate::Cuda::empty_cache`], when the device handle is dropped,
//! or automatically when an allocation fails for lack of memory (the cache is emptied and the
//! allocation tried once more).

use crate::device::driver_err;
use crate::{Error, Result, BACKEND_NAME};
use cust::error::CudaError;
use std::collections::HashMap;
use std::sync::Mutex;

/// A block of device memory owned by the pool: its address and its size class in bytes.
#[derive(Debug)]
pub(crate) struct Block {
    /// The device address (never 0).
    pub(crate) ptr: u64,
    /// The size class (the bytes actually allocated).
    pub(crate) bytes: usize,
}

/// Counters of the caching allocator of one device (see [`crate::Cuda::memory_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryStats {
    /// Blocks requested from the driver (`cuMemAlloc`) since the device was opened. Flat across
    /// iterations of a steady loop once the first iteration has filled the cache.
    pub driver_allocations: u64,
    /// Blocks returned to the driver (`cuMemFree`) since the device was opened.
    pub driver_frees: u64,
    /// Bytes in blocks held by live storages (size classes, so at least the bytes asked for).
    pub in_use_bytes: usize,
    /// Bytes in free blocks kept for reuse.
    pub cached_bytes: usize,
}

/// The free lists and counters, behind one mutex (allocation is not a hot contention point:
/// each op allocates once or twice).
#[derive(Debug, Default)]
struct State {
    free: HashMap<usize, Vec<u64>>,
    stats: MemoryStats,
}

/// The caching allocator of one device.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    state: Mutex<State>,
}

/// The size class a request of `bytes` (> 0) is rounded up to, or `None` on overflow.
pub(crate) fn size_class(bytes: usize) -> Option<usize> {
    const SMALL: usize = 512;
    const LARGE: usize = 1 << 20;
    let step = if bytes <= LARGE {
        SMALL
    } else {
        bytes.checked_next_power_of_two()? / 8
    };
    bytes.checked_next_multiple_of(step)
}

impl Pool {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the lists inconsistent (each update is a
        // single push or pop), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A block of at least `bytes` (> 0) bytes: a cached one of the same class, else a new one
    /// from the driver. The caller has made the device's context current.
    pub(crate) fn take(&self, bytes: usize) -> Result<Block> {
        let class = size_class(bytes).ok_or_else(|| Error::Backend {
            backend: BACKEND_NAME,
            msg: format!("cannot allocate {bytes} bytes: the size overflows"),
        })?;
        {
            let mut st = self.lock();
            if let Some(ptr) = st.free.get_mut(&class).and_then(Vec::pop) {
                st.stats.cached_bytes -= class;
                st.stats.in_use_bytes += class;
                return Ok(Block { ptr, bytes: class });
            }
        }
        let ptr = match driver_alloc(class) {
            Err(CudaError::OutOfMemory) => {
                // Cached blocks of other classes may be what stands in the way.
                self.release_cached()?;
                driver_alloc(class)
            }
            other => other,
        }
        .map_err(|e| driver_err(&format!("allocating {class} bytes of device memory"), e))?;
        let mut st = self.lock();
        st.stats.driver_allocations += 1;
        st.stats.in_use_bytes += class;
        Ok(Block { ptr, bytes: class })
    }

    /// Returns a block to its free list (no driver call, no wait: see the module docs).
    pub(crate) fn give(&self, block: Block) {
        let mut st = self.lock();
        st.stats.in_use_bytes -= block.bytes;
        st.stats.cached_bytes += block.bytes;
        st.free.entry(block.bytes).or_default().push(block.ptr);
    }

    /// Frees every cached block. The caller has made the context current and waited for the
    /// stream (a cached block may still be read by a queued kernel).
    pub(crate) fn release_cached(&self) -> Result<()> {
        let blocks: Vec<(usize, u64)> = {
            let mut st = self.lock();
            st.stats.cached_bytes = 0;
            st.free
                .drain()
                .flat_map(|(class, ptrs)| ptrs.into_iter().map(move |p| (class, p)))
                .collect()
        };
        let mut first_err = None;
        let mut freed = 0;
        for (_, ptr) in blocks {
            // SAFETY: `ptr` came from `driver_alloc`, is in no free list any more and is owned
            // by no storage, so nothing can use it after this.
            match unsafe {
                cust::memory::cuda_free(cust::memory::DevicePointer::<u8>::from_raw(ptr))
            } {
                Ok(()) => freed += 1,
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        self.lock().stats.driver_frees += freed;
        match first_err {
            None => Ok(()),
            Some(e) => Err(driver_err("freeing cached device memory", e)),
        }
    }

    /// The counters now.
    pub(crate) fn stats(&self) -> MemoryStats {
        self.lock().stats
    }
}

/// One `cuMemAlloc` of `bytes` (> 0).
fn driver_alloc(bytes: usize) -> std::result::Result<u64, CudaError> {
    // SAFETY: a plain allocation; the pointer is only handed out as a `Block`.
    unsafe { cust::memory::cuda_malloc::<u8>(bytes) }.map(|p| p.as_raw())
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_round_up_with_bounded_waste() {
        assert_eq!(size_class(1), Some(512));
        assert_eq!(size_class(512), Some(512));
        assert_eq!(size_class(513), Some(1024));
        assert_eq!(size_class(1 << 20), Some(1 << 20));
        // Above 1 MiB: steps of 1/8 of the next power of two.
        assert_eq!(size_class((1 << 20) + 1), Some((1 << 20) + (1 << 18)));
        assert_eq!(size_class(3 << 20), Some(3 << 20));
        for bytes in [
            1usize,
            700,
            5_000,
            1 << 20,
            (1 << 20) + 1,
            12_345_678,
            1 << 33,
        ] {
            let c = size_class(bytes).unwrap();
            assert!(c >= bytes, "{bytes} -> {c}");
            assert!(
                c - bytes <= (bytes / 4).max(511),
                "{bytes} -> {c} wastes too much"
            );
        }
        assert_eq!(size_class(usize::MAX), None);
    }
}
