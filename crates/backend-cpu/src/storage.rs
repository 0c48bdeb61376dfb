//! `CpuStorage`: a `Vec` that, when dropped, may go back to a small caching pool instead of to
//! the allocator, so the next big output of the same size reuses memory that is already mapped.
//!
//! Why: glibc hands freed blocks above its mmap threshold (128 KiB to 32 MiB) straight back to
//! the OS, so every fresh 64 MB output page-faults 16k pages back in, which costs more than the
//! arithmetic of an add. Measured numbers are in the crate README and next to [`DEFAULT_LIMIT`].
//!
//! What the pool keeps: only what ops ask for again. Every request for a pooled-size buffer
//! (a kernel's output) records *demand* for its size; a dropped buffer is admitted only if a
//! request of its size is still unanswered, and each admission answers one. So the pool holds,
//! per size, at most as many buffers as ops took of that size, and a buffer of a size no op
//! asks for (a collated batch, a `Vec` from the user, moved in by `from_vec`) goes straight back
//! to the allocator. Before this rule every large buffer was kept, and a training loop's RSS
//! grew by one batch per step until the byte limit (issue 13, defect 4). Buffers not taken for
//! [`STALE_REQUESTS`] requests are released, and the whole pool stays under the byte limit.

use nanotorch_ndarray_core::{size, Element, Result};
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

/// A pooled buffer not taken again within this many pooled-size requests is released: a size
/// that was in use (an evaluation batch, an earlier phase) and stopped being asked for. A
/// training step of the examples makes tens to a few hundred such requests, so this keeps
/// everything one step reuses while letting a finished phase's buffers go.
pub const STALE_REQUESTS: u64 = 4096;

/// Most sizes whose demand is tracked at once; the least recently requested is forgotten first.
const DEMAND_SLOTS: usize = 256;

/// Most unanswered requests remembered per size. A request whose buffer never comes back
/// (moved out by `into_vec`) leaves its demand behind; the cap bounds how many foreign buffers
/// of that size such leftovers can let in.
const MAX_DEMAND: usize = 1024;

static LIMIT: AtomicUsize = AtomicUsize::new(DEFAULT_LIMIT);

struct Entry {
    type_id: TypeId,
    bytes: usize,
    capacity: usize,
    /// The request count when the buffer was admitted, for [`STALE_REQUESTS`].
    admitted: u64,
    buf: Box<dyn Any + Send>,
}

/// Requests for one size that no admitted buffer has answered yet.
struct Demand {
    type_id: TypeId,
    len: usize,
    unanswered: usize,
    /// The request count at the last request of this size.
    last: u64,
}

struct Pool {
    /// Free buffers, oldest first.
    entries: Vec<Entry>,
    demand: Vec<Demand>,
    /// Pooled-size requests so far: the pool's clock.
    requests: u64,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    entries: Vec::new(),
    demand: Vec::new(),
    requests: 0,
});

fn pool() -> std::sync::MutexGuard<'static, Pool> {
    POOL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether a free buffer of `capacity` elements answers a request for `len`: capacity in
/// `[len, len + len/8]`, a close fit, so a small request does not pin a huge block.
fn fits(capacity: usize, len: usize) -> bool {
    capacity >= len && capacity - len <= len / 8
}

/// Sets the most bytes the buffer pool keeps (0 turns pooling off and frees what it holds).
pub fn set_pool_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
    let mut p = pool();
    p.trim(bytes);
    if bytes == 0 {
        p.demand.clear();
    }
}

/// Bytes currently held by the pool.
pub fn pool_bytes() -> usize {
    pool().entries.iter().map(|e| e.bytes).sum()
}

impl Pool {
    /// Drops the oldest buffers until at most `limit` bytes remain, and any buffer nobody took
    /// for [`STALE_REQUESTS`] requests.
    fn trim(&mut self, limit: usize) {
        let now = self.requests;
        self.entries
            .retain(|e| now.saturating_sub(e.admitted) <= STALE_REQUESTS);
        let mut total: usize = self.entries.iter().map(|e| e.bytes).sum();
        // Oldest first: entries are pushed at the back.
        let excess = self
            .entries
            .iter()
            .take_while(|e| {
                let over = total > limit;
                if over {
                    total -= e.bytes;
                }
                over
            })
            .count();
        self.entries.drain(..excess);
    }

    /// Records one request for `len` elements of the type `type_id`.
    fn record_request(&mut self, type_id: TypeId, len: usize) {
        self.requests += 1;
        let now = self.requests;
        if let Some(d) = self
            .demand
            .iter_mut()
            .find(|d| d.type_id == type_id && d.len == len)
        {
            d.unanswered = (d.unanswered + 1).min(MAX_DEMAND);
            d.last = now;
            return;
        }
        if self.demand.len() >= DEMAND_SLOTS {
            // Forget the size requested least recently.
            if let Some(i) = (0..self.demand.len()).min_by_key(|&i| self.demand[i].last) {
                self.demand.swap_remove(i);
            }
        }
        self.demand.push(Demand {
            type_id,
            len,
            unanswered: 1,
            last: now,
        });
    }

    /// Takes a free buffer that fits a request for `len`, the tightest first.
    fn take<E: Element>(&mut self, len: usize) -> Option<Vec<E>> {
        let want = TypeId::of::<Vec<E>>();
        let i = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.type_id == want && fits(e.capacity, len))
            .min_by_key(|(_, e)| e.capacity)
            .map(|(i, _)| i)?;
        let entry = self.entries.remove(i);
        entry.buf.downcast::<Vec<E>>().ok().map(|v| *v)
    }

    /// Whether a request is waiting for a buffer of `capacity` elements of `type_id`; if so,
    /// the buffer answers it.
    fn answer(&mut self, type_id: TypeId, capacity: usize) -> bool {
        let waiting = self
            .demand
            .iter_mut()
            .filter(|d| d.type_id == type_id && d.unanswered > 0 && fits(capacity, d.len))
            .max_by_key(|d| d.len);
        match waiting {
            Some(d) => {
                d.unanswered -= 1;
                true
            }
            None => false,
        }
    }
}

/// A free pooled buffer for `len` elements, if pooling applies to that size and one fits. Every
/// pooled-size call records demand, whether it finds a buffer or not.
fn take_pooled<E: Element>(len: usize) -> Option<Vec<E>> {
    let bytes = len.saturating_mul(std::mem::size_of::<E>());
    if bytes < MIN_POOLED_BYTES || LIMIT.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let mut p = pool();
    p.record_request(TypeId::of::<Vec<E>>(), len);
    let mut v = p.take::<E>(len)?;
    drop(p);
    v.clear();
    Some(v)
}

/// An empty `Vec` with room for at least `len` elements, from the pool when one fits: a
/// kernel's output. The constructors, whose sizes come from the user, use [`try_take_vec`] and
/// return an error instead; a kernel cannot (its signature is infallible), so an output that
/// cannot be allocated (a broadcast or an outer product too big for the machine) panics with
/// the reason, where `Vec::with_capacity` would abort the process without one.
pub(crate) fn take_vec<E: Element>(len: usize) -> Vec<E> {
    match try_take_vec::<E>("cpu kernel output", len) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// [`take_vec`] that refuses, with an error naming `op`, a buffer that cannot be allocated
/// (see `nanotorch_ndarray_core::size`: too big to count, to address or to hold, or refused by
/// the allocator) instead of aborting.
pub(crate) fn try_take_vec<E: Element>(op: &'static str, len: usize) -> Result<Vec<E>> {
    size::check_host_buffer::<E>(op, len)?;
    match take_pooled(len) {
        Some(v) => Ok(v),
        None => {
            let v = size::try_host_vec(op, len)?;
            advise_huge_pages(&v);
            Ok(v)
        }
    }
}

/// Fresh buffers at least this large are backed by transparent huge pages where Linux allows.
const MIN_HUGE_BYTES: usize = 4 << 20;

/// Asks Linux to back the 2 MiB-aligned part of a fresh, untouched buffer with transparent huge
/// pages (`MADV_HUGEPAGE`; a no-op where THP is off, an error the kernel reports is ignored:
/// the buffer works either way). Why: streaming through a large buffer on 4 KiB pages is
/// limited by TLB misses and by hardware prefetchers that stop at every page boundary; one core
/// summed 64 MB at ~17 GB/s on 4 KiB pages and ~29 GB/s on 2 MiB pages (Zen 4, chapter 2).
/// The advice must come before the first touch: the page size is chosen at the page fault.
fn advise_huge_pages<E>(v: &Vec<E>) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = v.capacity() * std::mem::size_of::<E>();
        if bytes < MIN_HUGE_BYTES {
            return;
        }
        let start = v.as_ptr() as usize;
        let (lo, hi) = (start.next_multiple_of(HUGE), (start + bytes) / HUGE * HUGE);
        if hi > lo {
            // SAFETY: [lo, hi) lies inside the buffer's allocation, which `v` owns; the advice
            // changes no contents and no mapping, only how future faults are served.
            unsafe { libc::madvise(lo as *mut libc::c_void, hi - lo, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = v;
}

fn give_back<E: Element>(mut v: Vec<E>) {
    let bytes = v.capacity() * std::mem::size_of::<E>();
    let limit = LIMIT.load(Ordering::Relaxed);
    if bytes < MIN_POOLED_BYTES || bytes > limit {
        return;
    }
    let type_id = TypeId::of::<Vec<E>>();
    let mut p = pool();
    if !p.answer(type_id, v.capacity()) {
        // No op is waiting for this size: let the allocator have it back.
        drop(p);
        return;
    }
    v.clear();
    let admitted = p.requests;
    p.entries.push(Entry {
        type_id,
        bytes,
        capacity: v.capacity(),
        admitted,
        buf: Box::new(v),
    });
    p.trim(limit);
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
        Self::filled(take_vec::<E>(len), len, fill)
    }

    /// `len` elements, element `i` being `f(i)`, split across threads (`cost` is the work per
    /// element in the units of `parallel::pieces`). The constructors' path: `len` comes from the
    /// user, so a buffer that cannot be allocated is an error naming `op` (the caller relabels
    /// it with the constructor the user called), never a `capacity overflow` panic or an
    /// allocator abort.
    pub(crate) fn try_generate(
        op: &'static str,
        len: usize,
        cost: usize,
        f: impl Fn(usize) -> E + Sync,
    ) -> Result<Self> {
        Self::try_build(op, len, |out| {
            crate::parallel::par_chunks(out, 1, len.saturating_mul(cost), |start, chunk| {
                for (i, o) in chunk.iter_mut().enumerate() {
                    o.write(f(start + i));
                }
            })
        })
    }

    /// [`build`](CpuStorage::build) for a size that comes from the user (a constructor's
    /// shape): a buffer that cannot be allocated is an error naming `op`, not an abort.
    pub(crate) fn try_build(
        op: &'static str,
        len: usize,
        fill: impl FnOnce(&mut [MaybeUninit<E>]),
    ) -> Result<Self> {
        Ok(Self::filled(try_take_vec::<E>(op, len)?, len, fill))
    }

    fn filled(mut v: Vec<E>, len: usize, fill: impl FnOnce(&mut [MaybeUninit<E>])) -> Self {
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

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// The 2 MiB-aligned middle of a fresh large buffer is advised for huge pages: its mapping
    /// carries the `hg` flag in `/proc/self/smaps`.
    #[test]
    fn a_fresh_large_buffer_is_advised_for_huge_pages() {
        if !std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists() {
            return; // a kernel built without THP refuses the advice
        }
        // An odd size no other test asks for, so the buffer is fresh, not pooled.
        let v: Vec<f32> = super::try_take_vec("test", (16 << 20) / 4 + 12_345).expect("16 MB");
        let addr = (v.as_ptr() as usize).next_multiple_of(2 << 20);
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut inside = false;
        for line in smaps.lines() {
            let range = line.split_once(' ').and_then(|(r, _)| r.split_once('-'));
            if let Some((Ok(lo), Ok(hi))) =
                range.map(|(a, b)| (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)))
            {
                inside = lo <= addr && addr < hi;
            } else if inside && line.starts_with("VmFlags:") {
                assert!(line.split_whitespace().any(|f| f == "hg"), "{line}");
                return;
            }
        }
        panic!("no mapping holds {addr:#x}");
    }
}
