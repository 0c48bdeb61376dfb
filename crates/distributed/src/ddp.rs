//! [`DistributedDataParallel`]: the same model on every rank, gradients averaged during backward.
//!
//! How the gradient averaging overlaps backward (PyTorch's reducer, in miniature):
//!
//! 1. At construction the parameters are cut into *buckets* of about `bucket_cap_mb`, walking the
//!    parameters in reverse registration order: backward reaches the last layer's parameters
//!    first, so the first bucket is the first to be complete.
//! 2. Each parameter gets a post-accumulate-grad hook. When backward has added into a
//!    parameter's `.grad()`, its hook marks it ready; when every parameter of a bucket is ready,
//!    the bucket's gradients are packed into one buffer and its all-reduce is *started*
//!    (nonblocking), while backward goes on computing the earlier layers' gradients. Buckets
//!    start in bucket order on every rank (a complete bucket waits for those before it), because
//!    MPI matches collectives by the order they are issued.
//! 3. The first hook of a backward queues a callback that runs when backward ends: it waits for
//!    the buckets in flight and writes the averaged gradients back into `.grad()`.
//!
//! One all-reduce per bucket instead of one per parameter amortises each collective's latency;
//! starting it early hides its time behind the rest of backward.

use crate::group::ProcessGroup;
use crate::reducer::{assign_buckets, check_same_model, lock, Reducer, StepState};
use nanotorch_autograd::{HookHandle, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};
use nanotorch_nn::{Forward, Module};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// PyTorch's default bucket size, `bucket_cap_mb=25`.
pub const DEFAULT_BUCKET_CAP_MB: f64 = 25.0;

/// Options of [`DistributedDataParallel::with_options`] (PyTorch's constructor arguments).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DdpOptions {
    /// Bucket size in megabytes (2^20 bytes); a parameter larger than this gets a bucket of its own.
    pub bucket_cap_mb: f64,
    /// Allow parameters that take no part in a backward: their gradient is averaged over the
    /// ranks that did use them, counting zero for the others, and stays unset where no rank used
    /// them. Off, such a parameter is an error at the end of backward, naming it.
    pub find_unused_parameters: bool,
}

impl Default for DdpOptions {
    fn default() -> Self {
        DdpOptions {
            bucket_cap_mb: DEFAULT_BUCKET_CAP_MB,
            find_unused_parameters: false,
        }
    }
}

/// What the gradient synchronisation has cost so far (see
/// [`DistributedDataParallel::comm_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CommStats {
    /// Backward passes that synchronised gradients.
    pub syncs: u64,
    /// Bucket all-reduces started.
    pub all_reduces: u64,
    /// Bytes of gradient this rank all-reduced (its buffer sizes).
    pub bytes: u64,
    /// Time spent in communication code: packing buckets, starting, polling and waiting for the
    /// all-reduces, and unpacking the results.
    pub comm_time: Duration,
    /// The part of `comm_time` spent blocked at the end of backward, waiting for buckets still in
    /// flight: communication that computation did not hide.
    pub wait_time: Duration,
}

/// A model replicated on every rank of a [`ProcessGroup`], whose gradients are averaged over the
/// ranks during backward (PyTorch's `torch.nn.parallel.DistributedDataParallel`).
///
/// Train as usual: run the module on this rank's share of the batch, call `backward()` on the
/// loss, step the optimizer. When `backward()` returns, every parameter's `.grad()` holds the
/// average over ranks, identical on all of them, so the optimizer steps keep the replicas equal.
///
/// ```
/// use nanotorch_autograd::Tensor;
/// use nanotorch_backend_cpu::Cpu;
/// use nanotorch_distributed::{DistributedDataParallel, LocalGroup};
/// use nanotorch_nn::{Linear, Module};
/// use std::sync::Arc;
///
/// # fn main() -> nanotorch_distributed::Result<()> {
/// let ddp = DistributedDataParallel::new(Linear::new(3, 2, &Cpu)?, Arc::new(LocalGroup::new()))?;
/// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [1, 3], &Cpu)?;
/// ddp.forward(&x)?.sum_all()?.backward()?;
/// assert!(ddp.module().parameters().iter().all(|p| p.grad().is_some()));
/// assert_eq!(ddp.comm_stats().syncs, 1);
/// # Ok(()) }
/// ```
pub struct DistributedDataParallel<M, G: ProcessGroup, E: Float = f32, B: Backend = Cpu> {
    module: M,
    reducer: Arc<Reducer<E, B, G>>,
    _hooks: Hooks,
}

/// The hooks DDP put on the parameters, taken off when it is dropped (they would otherwise keep
/// firing into a reducer that no longer exists).
struct Hooks(Vec<HookHandle>);

impl Drop for Hooks {
    fn drop(&mut self) {
        self.0.drain(..).for_each(HookHandle::remove);
    }
}

impl<M, G, E, B> DistributedDataParallel<M, G, E, B>
where
    M: Module<E, B>,
    G: ProcessGroup,
    E: Float,
    B: Backend,
{
    /// Wraps `module` with the default options: copies rank 0's parameters and buffers to every
    /// rank and hooks the parameters. Every rank must construct it at the same point, with a model
    /// of the same architecture.
    pub fn new(module: M, group: Arc<G>) -> Result<Self> {
        Self::with_options(module, group, DdpOptions::default())
    }

    /// [`new`](DistributedDataParallel::new) with explicit options.
    pub fn with_options(module: M, group: Arc<G>, options: DdpOptions) -> Result<Self> {
        if options.bucket_cap_mb.is_nan() || options.bucket_cap_mb <= 0.0 {
            return Err(Error::msg(format!(
                "DistributedDataParallel: bucket_cap_mb must be positive, got {}",
                options.bucket_cap_mb
            )));
        }
        let params: Vec<(String, Tensor<E, B>)> = module
            .named_parameters()
            .into_iter()
            .filter(|(_, p)| p.requires_grad())
            .collect();
        check_same_model(group.as_ref(), &params)?;
        for (_, t) in params.iter().chain(module.named_buffers().iter()) {
            let synced = group.broadcast(t, 0)?;
            t.array().assign(synced.array())?;
        }
        let cap_elems =
            (options.bucket_cap_mb * 1048576.0 / std::mem::size_of::<E>() as f64).max(1.0) as usize;
        let buckets = assign_buckets(&params, cap_elems);
        let mut bucket_of = vec![0; params.len()];
        for (b, members) in buckets.iter().enumerate() {
            members.iter().for_each(|&i| bucket_of[i] = b);
        }
        let reducer = Arc::new(Reducer {
            group,
            params,
            buckets,
            bucket_of,
            find_unused: options.find_unused_parameters,
            no_sync: AtomicBool::new(false),
            state: Mutex::new(StepState::default()),
            stats: Mutex::new(CommStats::default()),
        });
        let mut hooks = Vec::with_capacity(reducer.params.len());
        for (i, (_, p)) in reducer.params.iter().enumerate() {
            let weak: Weak<Reducer<E, B, G>> = Arc::downgrade(&reducer);
            hooks.push(
                p.register_post_accumulate_grad_hook(move |_| match weak.upgrade() {
                    Some(reducer) => Reducer::grad_ready(&reducer, i),
                    None => Ok(()),
                })?,
            );
        }
        Ok(DistributedDataParallel {
            module,
            reducer,
            _hooks: Hooks(hooks),
        })
    }

    /// The wrapped module (to build the optimizer from its parameters, or to save it).
    pub fn module(&self) -> &M {
        &self.module
    }

    /// The wrapped module, mutably (`train()`/`eval()`).
    pub fn module_mut(&mut self) -> &mut M {
        &mut self.module
    }

    /// The process group.
    pub fn group(&self) -> &Arc<G> {
        &self.reducer.group
    }

    /// The buckets, as parameter names, in the order their all-reduces start.
    pub fn buckets(&self) -> Vec<Vec<String>> {
        let r = &self.reducer;
        r.buckets
            .iter()
            .map(|b| b.iter().map(|&i| r.params[i].0.clone()).collect())
            .collect()
    }

    /// Turns gradient synchronisation off until the guard is dropped (PyTorch's `no_sync()`
    /// context): backward only accumulates into `.grad()` locally, and the first backward after
    /// the guard is gone averages the accumulated gradients. Gradient accumulation over `k`
    /// micro-batches thus costs one all-reduce instead of `k`.
    pub fn no_sync(&self) -> NoSyncGuard<'_> {
        let previous = self.reducer.no_sync.swap(true, Ordering::Relaxed);
        NoSyncGuard {
            flag: &self.reducer.no_sync,
            previous,
        }
    }

    /// What synchronisation has cost since construction or the last
    /// [`reset_comm_stats`](DistributedDataParallel::reset_comm_stats).
    pub fn comm_stats(&self) -> CommStats {
        *lock(&self.reducer.stats)
    }

    /// Zeroes the [`comm_stats`](DistributedDataParallel::comm_stats).
    pub fn reset_comm_stats(&self) {
        *lock(&self.reducer.stats) = CommStats::default();
    }

    /// Unwraps the module (the hooks are removed).
    pub fn into_inner(self) -> M {
        self.module
    }
}

impl<M, G, E, B> DistributedDataParallel<M, G, E, B>
where
    M: Forward<E, B>,
    G: ProcessGroup,
    E: Float,
    B: Backend,
{
    /// The module's forward pass.
    pub fn forward(&self, input: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        self.module.forward(input)
    }
}

impl<M, G: ProcessGroup, E: Float, B: Backend> std::fmt::Debug
    for DistributedDataParallel<M, G, E, B>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "DistributedDataParallel(rank {} of {}, {} parameters in {} buckets)",
            self.reducer.group.rank(),
            self.reducer.group.world_size(),
            self.reducer.params.len(),
            self.reducer.buckets.len()
        )
    }
}

/// Restores gradient synchronisation when dropped (see [`DistributedDataParallel::no_sync`]).
#[must_use = "synchronisation is off only while the guard lives"]
pub struct NoSyncGuard<'a> {
    flag: &'a AtomicBool,
    previous: bool,
}

impl Drop for NoSyncGuard<'_> {
    fn drop(&mut self) {
        self.flag.store(self.previous, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for NoSyncGuard<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoSyncGuard")
    }
}
