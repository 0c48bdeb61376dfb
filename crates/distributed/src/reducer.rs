//! The reducer behind [`DistributedDataParallel`](crate::DistributedDataParallel): the state its
//! hooks share, the buckets, and what happens when a gradient is ready and when backward ends
//! (see `ddp.rs` for the whole picture).

use crate::ddp::CommStats;
use crate::group::{ProcessGroup, ReduceOp, Work};
use nanotorch_autograd::{queue_callback, Tensor};
use nanotorch_ndarray_core::{Backend, Error, Float, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;

/// The shared state behind the hooks.
pub(crate) struct Reducer<E: Float, B: Backend, G> {
    pub(crate) group: Arc<G>,
    /// Parameters that require grad, in registration order, with their names.
    pub(crate) params: Vec<(String, Tensor<E, B>)>,
    /// Parameter indices per bucket; bucket 0 holds the last registered parameters.
    pub(crate) buckets: Vec<Vec<usize>>,
    pub(crate) bucket_of: Vec<usize>,
    pub(crate) find_unused: bool,
    pub(crate) no_sync: AtomicBool,
    pub(crate) state: Mutex<StepState<E>>,
    pub(crate) stats: Mutex<CommStats>,
}

/// Where the backward in progress stands.
#[derive(Default)]
pub(crate) struct StepState<E> {
    /// A backward is synchronising (its end-of-backward callback is queued).
    active: bool,
    ready: Vec<bool>,
    /// Parameters still to become ready, per bucket.
    missing: Vec<usize>,
    next_launch: usize,
    in_flight: Vec<(usize, Work<E>)>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Fails unless every rank has the same number of parameters with the same shapes: a mismatch
/// would otherwise pair unrelated gradients, or hang in a collective of another length.
pub(crate) fn check_same_model<E: Float, B: Backend, G: ProcessGroup>(
    group: &G,
    params: &[(String, Tensor<E, B>)],
) -> Result<()> {
    // FNV-1a over every parameter's dimensions.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (_, p) in params {
        for &d in p.dims().iter().chain(std::iter::once(&usize::MAX)) {
            hash = (hash ^ d as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    let mine = [params.len() as i64, hash as i64];
    let all = group.all_gather_slice(&mine)?;
    for (r, theirs) in all.chunks(2).enumerate() {
        if theirs != mine {
            return Err(Error::msg(format!(
                "DistributedDataParallel: rank {r} has another model than rank {} ({} vs {} \
                 parameters, or different shapes); every rank must wrap the same architecture",
                group.rank(),
                theirs[0],
                mine[0]
            )));
        }
    }
    Ok(())
}

/// Buckets of at most `cap` elements (a larger parameter alone), over the parameters in reverse
/// registration order.
pub(crate) fn assign_buckets<E: Float, B: Backend>(
    params: &[(String, Tensor<E, B>)],
    cap: usize,
) -> Vec<Vec<usize>> {
    let mut buckets: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let mut size = 0;
    for i in (0..params.len()).rev() {
        let n = params[i].1.numel();
        if !current.is_empty() && size + n > cap {
            buckets.push(std::mem::take(&mut current));
            size = 0;
        }
        current.push(i);
        size += n;
    }
    if !current.is_empty() {
        buckets.push(current);
    }
    buckets
}

impl<E: Float, B: Backend, G: ProcessGroup> Reducer<E, B, G> {
    /// The hook of parameter `i`: backward has just accumulated into its `.grad()`.
    pub(crate) fn grad_ready(this: &Arc<Self>, i: usize) -> Result<()> {
        if this.no_sync.load(Ordering::Relaxed) {
            return Ok(());
        }
        let started = Instant::now();
        let mut st = lock(&this.state);
        if !st.active {
            st.active = true;
            st.ready = vec![false; this.params.len()];
            st.missing = this.buckets.iter().map(Vec::len).collect();
            st.next_launch = 0;
            let guard = FinishGuard(Arc::downgrade(this));
            queue_callback(move || guard.finish())?;
        }
        if !std::mem::replace(&mut st.ready[i], true) {
            st.missing[this.bucket_of[i]] -= 1;
        }
        let result = this.launch_ready(&mut st).and_then(|()| {
            // Let the library progress the buckets in flight while backward computes.
            st.in_flight
                .iter_mut()
                .try_for_each(|(_, w)| w.is_completed().map(|_| ()))
        });
        drop(st);
        lock(&this.stats).comm_time += started.elapsed();
        result
    }

    /// Starts the all-reduce of every complete bucket whose predecessors have all started.
    fn launch_ready(&self, st: &mut StepState<E>) -> Result<()> {
        while st.next_launch < self.buckets.len() && st.missing[st.next_launch] == 0 {
            let b = st.next_launch;
            let mut flat: Vec<E> = Vec::new();
            for &i in &self.buckets[b] {
                let p = &self.params[i].1;
                match p.grad() {
                    Some(g) => flat.extend(g.to_vec()?),
                    None => flat.extend(std::iter::repeat_n(E::ZERO, p.numel())),
                }
            }
            let bytes = (flat.len() * std::mem::size_of::<E>()) as u64;
            let work = self.group.all_reduce_start(flat, ReduceOp::Avg)?;
            st.in_flight.push((b, work));
            st.next_launch += 1;
            let mut stats = lock(&self.stats);
            stats.all_reduces += 1;
            stats.bytes += bytes;
        }
        Ok(())
    }

    /// End of backward: handles parameters that got no gradient, waits for every bucket and
    /// writes the averages into `.grad()`.
    fn finish(&self) -> Result<()> {
        let started = Instant::now();
        let mut st = lock(&self.state);
        let unused: Vec<usize> = (0..self.params.len()).filter(|&i| !st.ready[i]).collect();
        let result = self.finish_locked(&mut st, &unused);
        // Whatever happened, leave no collective in flight and start the next backward afresh.
        let leftovers = std::mem::take(&mut st.in_flight);
        st.active = false;
        drop(st);
        leftovers.into_iter().for_each(|(_, w)| drop(w.wait()));
        let mut stats = lock(&self.stats);
        stats.comm_time += started.elapsed();
        stats.syncs += 1;
        result
    }

    fn finish_locked(&self, st: &mut StepState<E>, unused: &[usize]) -> Result<()> {
        if !unused.is_empty() && !self.find_unused {
            let names: Vec<String> = unused
                .iter()
                .map(|&i| format!("`{}`", self.params[i].0))
                .collect();
            return Err(Error::msg(format!(
                "DistributedDataParallel: on rank {}, {} parameter(s) received no gradient in this \
                 backward: {}. Every parameter must take part in the loss; if some legitimately do \
                 not, construct with DdpOptions {{ find_unused_parameters: true, .. }}",
                self.group.rank(),
                unused.len(),
                names.join(", ")
            )));
        }
        // Whether any rank used each parameter (only needed when some may not have).
        let used_anywhere = if self.find_unused {
            let used: Vec<u8> = st.ready.iter().map(|&r| u8::from(r)).collect();
            Some(self.group.all_reduce_start(used, ReduceOp::Max)?)
        } else {
            None
        };
        for &i in unused {
            st.ready[i] = true;
            st.missing[self.bucket_of[i]] -= 1;
        }
        self.launch_ready(st)?;
        let waiting = Instant::now();
        let mut done = Vec::with_capacity(st.in_flight.len());
        for (b, work) in st.in_flight.drain(..) {
            done.push((b, work.wait()?));
        }
        let used_anywhere = used_anywhere.map(Work::wait).transpose()?;
        lock(&self.stats).wait_time += waiting.elapsed();
        for (b, flat) in done {
            let mut offset = 0;
            for &i in &self.buckets[b] {
                let p = &self.params[i].1;
                let n = p.numel();
                if used_anywhere.as_ref().is_none_or(|u| u[i] != 0) {
                    let g = Tensor::from_slice(
                        &flat[offset..offset + n],
                        p.shape().clone(),
                        p.backend(),
                    )?;
                    p.set_grad(Some(g));
                }
                offset += n;
            }
        }
        Ok(())
    }
}

/// Runs [`Reducer::finish`] at the end of backward; if backward fails before (its callbacks are
/// then dropped unrun), still waits for the buckets in flight and resets, so that the next
/// backward starts clean and no buffer is freed under MPI.
struct FinishGuard<E: Float, B: Backend, G: ProcessGroup>(Weak<Reducer<E, B, G>>);

impl<E: Float, B: Backend, G: ProcessGroup> FinishGuard<E, B, G> {
    fn finish(mut self) -> Result<()> {
        // Emptied first, so that dropping the guard afterwards does nothing.
        let reducer = std::mem::take(&mut self.0).upgrade();
        drop(self);
        reducer.map_or(Ok(()), |r| r.finish())
    }
}

impl<E: Float, B: Backend, G: ProcessGroup> Drop for FinishGuard<E, B, G> {
    fn drop(&mut self) {
        if let Some(reducer) = self.0.upgrade() {
            let mut st = lock(&reducer.state);
            let leftovers = std::mem::take(&mut st.in_flight);
            st.active = false;
            drop(st);
            leftovers.into_iter().for_each(|(_, w)| drop(w.wait()));
        }
    }
}
