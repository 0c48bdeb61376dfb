//! `CpuStorage`: a `Vec` that, when dropped, goes back to a small caching pool instead of to the
//! allocator, so the next big output of the same size reuses memory that is already mapped.
//!
//! Why: glibc hands freed blocks above its mmap threshold (128 KiB to 32 MiB) straight back to
//! the OS, so every fresh 64 MB output page-faults 16k pages back in, which costs more than the
//! arithmetic of an add. Measured numbers are in the crate README and next to [`DEFAULT_LIMIT`].

use nanotorch_ndarray_core::Element;
use std::any::{Any, TypeId};
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Buffers smaller than this many bytes are left to the allocator (which caches small blocks
/// itself): pooling pays only for blocks the allocator would mmap/unmap, and glibc's default
/// mmap threshold is 128 KiB.
const MIN_POOLED_BYTES: usize = 128 << 10;

/// Default bound on the bytes the pool keeps. Measured on the 2-core dev machine (release,
/// `c = a + b` on 16M f32, fresh output each time): several times faster with the pool, which
/// spares the page faults (the numbers are in the README). 512 MiB holds a few large activations
/// and their grads.
pub const DEFAULT_LIMIT: usize = 512 << 20;

static LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_LIMIT);

struct Entry {
    type_id: TypeId,
    bytes: usize,
    capacity: usize,
    buf: Box<dyn Any + Send>,
}

static POOL: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

fn pool() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    POOL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sets the most bytes the buffer pool keeps (0 turns pooling off and frees what it holds).
pub fn set_pool_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
    let mut p = pool();
    trim(&mut p, bytes);
}

/// Bytes currently held by the pool.
pub fn pool_bytes() -> usize {
    pool().iter().map(|e| e.bytes).sum()
}

fn trim(p: &mut Vec<Entry>, limit: usize) {
    let mut total: usize = p.iter().map(|e| e.bytes).sum();
    while total > limit && !p.is_empty() {
        // Oldest first: entries are pushed at the back.
        total -= p.remove(0).bytes;
    }
}

/// An empty `Vec` with room for at least `len` elements, from the pool when one fits.
pub(crate) fn take_vec<E: Element>(len: usize) -> Vec<E> {
    let bytes = len * std::mem::size_of::<E>();
    if bytes >= MIN_POOLED_BYTES && LIMIT.load(Ordering::Relaxed) > 0 {
        let mut p = pool();
        let want = TypeId::of::<Vec<E>>();
        // Capacity in [len, len + len/8]: reuse only a close fit, so a small request does not
        // pin a huge block.
        let hit = p
            .iter()
            .enumerate()
            .filter(|(_, e)| e.type_id == want && e.capacity >= len && e.capacity <= len + len / 8)
            .min_by_key(|(_, e)| e.capacity)
            .map(|(i, _)| i);
        if let Some(i) = hit {
            let entry = p.remove(i);
            drop(p);
            if let Ok(v) = entry.buf.downcast::<Vec<E>>() {
                let mut v = *v;
                v.clear();
                return v;
            }
        }
    }
    Vec::with_capacity(len)
}

fn give_back<E: Element>(mut v: Vec<E>) {
    let bytes = v.capacity() * std::mem::size_of::<E>();
    let limit = LIMIT.load(Ordering::Relaxed);
    if bytes < MIN_POOLED_BYTES || bytes > limit {
        return;
    }
    v.clear();
    let mut p = pool();
    p.push(Entry {
        type_id: TypeId::of::<Vec<E>>(),
        bytes,
        capacity: v.capacity(),
        buf: Box::new(v),
    });
    trim(&mut p, limit);
}

/// Contiguous host memory holding `E`s: the CPU backend's storage.
pub struct CpuStorage<E: Element> {
    data: Vec<E>,
}

impl<E: Element> CpuStorage<E> {
    /// Wraps a `Vec` without copying.
    pub fn from_vec(data: Vec<E>) -> Self {
        CpuStorage { data }
    }

    /// The elements, in storage order.
    pub fn as_slice(&self) -> &[E] {
        &self.data
    }

    /// The elements, mutably.
    pub fn as_mut_slice(&mut self) -> &mut [E] {
        &mut self.data
    }

    /// Takes the `Vec` out (it does not return to the pool).
    pub fn into_vec(mut self) -> Vec<E> {
        std::mem::take(&mut self.data)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the storage holds no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Storage of `len` elements, each written exactly once by `fill`, which gets the whole
    /// uninitialised buffer (possibly split across threads by the caller).
    pub(crate) fn build(len: usize, fill: impl FnOnce(&mut [MaybeUninit<E>])) -> Self {
        let mut v = take_vec::<E>(len);
        fill(&mut v.spare_capacity_mut()[..len]);
        // SAFETY: every caller's `fill` writes each of the `len` elements (each kernel below
        // covers its whole output range), and `E: Pod` has no invalid bit patterns anyway.
        unsafe { v.set_len(len) };
        CpuStorage { data: v }
    }
}

impl<E: Element> Drop for CpuStorage<E> {
    fn drop(&mut self) {
        let v = std::mem::take(&mut self.data);
        if v.capacity() > 0 {
            give_back(v);
        }
    }
}

impl<E: Element> std::fmt::Debug for CpuStorage<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CpuStorage<{}>[{}]", E::DTYPE, self.data.len())
    }
}
