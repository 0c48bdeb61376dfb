//! The collective operations every data-parallel algorithm is built from, and the process group
//! that runs them (PyTorch's `torch.distributed` process group).
//!
//! A [`ProcessGroup`] implements five primitives on host slices of any element type; the tensor
//! forms (`all_reduce`, `broadcast`, …) are provided on top of them, copying a tensor's data to
//! the host and back. All-reduce is the one collective with a nonblocking form
//! ([`ProcessGroup::all_reduce_start`] returning a [`Work`]), because it is the one that
//! [`DistributedDataParallel`](crate::DistributedDataParallel) overlaps with backward.
//!
//! Every rank must call the same collectives in the same order with the same lengths. A rank that
//! does not (it crashed, hangs, or took another branch) would leave the others waiting forever; so
//! every wait has a deadline, [`ProcessGroup::timeout`], after which the collective fails with a
//! [`Error`] naming it, the rank and the timeout.

use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, DType, Element, Error, Result};
use std::time::Duration;

/// How [`ProcessGroup::all_reduce`] and [`ProcessGroup::reduce_scatter`] combine the ranks'
/// values, element by element (PyTorch's `ReduceOp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceOp {
    /// The sum over ranks (logical or for `Bool`).
    Sum,
    /// The sum divided by the world size: what gradient averaging uses. Integer types divide
    /// toward zero; `Bool` has no average.
    Avg,
    /// The largest value (logical or for `Bool`).
    Max,
    /// The smallest value (logical and for `Bool`).
    Min,
}

impl ReduceOp {
    /// Checks that `op` means something for `E` (`Avg` does not for `Bool`).
    pub(crate) fn check<E: Element>(self, collective: &str) -> Result<()> {
        if self == ReduceOp::Avg && E::DTYPE == DType::Bool {
            return Err(Error::msg(format!(
                "{collective}: ReduceOp::Avg is not defined for bool elements; use Sum (or) or Min (and)"
            )));
        }
        Ok(())
    }

    #[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by the MPI group only
    /// Finishes an `Avg` that was run as a sum: divides by the world size.
    pub(crate) fn finish<E: Element>(self, data: &mut [E], world_size: usize) {
        if self == ReduceOp::Avg && world_size > 1 {
            let n = E::from_f64(world_size as f64);
            data.iter_mut().for_each(|x| *x = *x / n);
        }
    }
}

/// The default deadline of every collective. PyTorch's default process-group timeout is 30
/// minutes (10 for NCCL); a step of a model this library trains on a CPU takes well under a
/// second, so 5 minutes is generous for any legitimate wait and still ends a hung job the same
/// hour.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// A group of processes (ranks `0..world_size`) that run collectives together.
///
/// Implementations: [`LocalGroup`] (one process, for tests and single-process runs) and, with the
/// crate's `mpi` feature, `MpiGroup`. The element type of each call is any nanotorch
/// [`Element`]; every rank must pass the same type and length.
pub trait ProcessGroup: Send + Sync + 'static {
    /// This process's rank, in `0..world_size()`.
    fn rank(&self) -> usize;

    /// The number of processes in the group.
    fn world_size(&self) -> usize;

    /// How long any one collective may wait for the other ranks before it fails.
    fn timeout(&self) -> Duration;

    /// Starts an all-reduce of `data` and returns at once; [`Work::wait`] returns the reduced
    /// values. Collectives started this way complete in the order they were started on every rank.
    fn all_reduce_start<E: Element>(&self, data: Vec<E>, op: ReduceOp) -> Result<Work<E>>;

    /// Overwrites `data` on every rank with rank `root`'s `data`.
    fn broadcast_slice<E: Element>(&self, data: &mut [E], root: usize) -> Result<()>;

    /// Every rank's `data` (all the same length), concatenated in rank order.
    fn all_gather_slice<E: Element>(&self, data: &[E]) -> Result<Vec<E>>;

    /// Reduces `data` (the same length on every rank, a multiple of the world size) over ranks
    /// and returns this rank's equal share of the result: block `rank` of `world_size`.
    fn reduce_scatter_slice<E: Element>(&self, data: &[E], op: ReduceOp) -> Result<Vec<E>>;

    /// Returns once every rank has called it.
    fn barrier(&self) -> Result<()>;

    /// Blocking all-reduce of a host slice, in place.
    fn all_reduce_slice<E: Element>(&self, data: &mut [E], op: ReduceOp) -> Result<()> {
        let reduced = self.all_reduce_start(data.to_vec(), op)?.wait()?;
        data.copy_from_slice(&reduced);
        Ok(())
    }

    /// `tensor` reduced over all ranks (PyTorch's `dist.all_reduce`, which works in place; here
    /// the result is a new tensor on the same device, without history).
    ///
    /// ```
    /// use nanotorch_autograd::Tensor;
    /// use nanotorch_backend_cpu::Cpu;
    /// use nanotorch_distributed::{LocalGroup, ProcessGroup, ReduceOp};
    /// # fn main() -> nanotorch_ndarray_core::Result<()> {
    /// let group = LocalGroup::new();
    /// let t = Tensor::from_vec(vec![1.0f32, 2.0], [2], &Cpu)?;
    /// assert_eq!(group.all_reduce(&t, ReduceOp::Sum)?.to_vec()?, [1.0, 2.0]); // one rank
    /// # Ok(()) }
    /// ```
    fn all_reduce<E: Element, B: Backend>(
        &self,
        tensor: &Tensor<E, B>,
        op: ReduceOp,
    ) -> Result<Tensor<E, B>> {
        let mut data = tensor.to_vec()?;
        self.all_reduce_slice(&mut data, op)?;
        Tensor::from_vec(data, tensor.shape().clone(), tensor.backend())
    }

    /// Rank `root`'s `tensor`, on every rank (each rank passes a tensor of the same shape).
    fn broadcast<E: Element, B: Backend>(
        &self,
        tensor: &Tensor<E, B>,
        root: usize,
    ) -> Result<Tensor<E, B>> {
        let mut data = tensor.to_vec()?;
        self.broadcast_slice(&mut data, root)?;
        Tensor::from_vec(data, tensor.shape().clone(), tensor.backend())
    }

    /// Every rank's `tensor` (all of one shape), in rank order.
    fn all_gather<E: Element, B: Backend>(
        &self,
        tensor: &Tensor<E, B>,
    ) -> Result<Vec<Tensor<E, B>>> {
        let data = self.all_gather_slice(&tensor.to_vec()?)?;
        let n = tensor.numel();
        (0..self.world_size())
            .map(|r| {
                Tensor::from_slice(
                    &data[r * n..(r + 1) * n],
                    tensor.shape().clone(),
                    tensor.backend(),
                )
            })
            .collect()
    }

    /// PyTorch's `reduce_scatter_tensor`: `tensor`'s first dimension (a multiple of the world
    /// size) is cut into `world_size` equal blocks; the result is block `rank` of the reduction
    /// of `tensor` over ranks.
    fn reduce_scatter<E: Element, B: Backend>(
        &self,
        tensor: &Tensor<E, B>,
        op: ReduceOp,
    ) -> Result<Tensor<E, B>> {
        let world = self.world_size();
        let dims = tensor.dims();
        if dims.first().is_none_or(|&d| !d.is_multiple_of(world)) {
            return Err(Error::invalid(
                "reduce_scatter",
                format!("the first dimension must be a multiple of the world size {world}"),
                tensor.shape(),
            ));
        }
        let mut out_dims = dims.to_vec();
        out_dims[0] /= world;
        let data = self.reduce_scatter_slice(&tensor.to_vec()?, op)?;
        Tensor::from_vec(data, out_dims, tensor.backend())
    }
}

/// What [`Work`] needs from an implementation's request in flight.
pub(crate) trait Pending<E>: Send {
    /// Whether the operation has completed (drives its progress; never blocks).
    fn test(&mut self) -> Result<bool>;
    /// Blocks until completion or the group's timeout; the result.
    fn wait(self: Box<Self>) -> Result<Vec<E>>;
}

/// A collective in flight (PyTorch's `Work`): [`wait`](Work::wait) for its result.
///
/// Dropping an unfinished `Work` waits for it (the library may still be writing into its
/// buffers).
#[must_use = "a started collective must be waited for"]
pub struct Work<E> {
    inner: WorkInner<E>,
}

enum WorkInner<E> {
    Done(Vec<E>),
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by the MPI group only
    Pending(Box<dyn Pending<E>>),
}

impl<E: Element> Work<E> {
    /// A collective that has already completed with `result` (a single-process group's).
    pub fn completed(result: Vec<E>) -> Self {
        Work {
            inner: WorkInner::Done(result),
        }
    }

    #[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by the MPI group only
    pub(crate) fn pending(pending: Box<dyn Pending<E>>) -> Self {
        Work {
            inner: WorkInner::Pending(pending),
        }
    }

    /// Whether the collective has completed; also lets the library make progress on it, so
    /// calling it now and then while computing is what overlaps communication with computation.
    pub fn is_completed(&mut self) -> Result<bool> {
        match &mut self.inner {
            WorkInner::Done(_) => Ok(true),
            WorkInner::Pending(p) => p.test(),
        }
    }

    /// Blocks until the collective completes (or the group's timeout passes) and returns its result.
    pub fn wait(self) -> Result<Vec<E>> {
        match self.inner {
            WorkInner::Done(result) => Ok(result),
            WorkInner::Pending(p) => p.wait(),
        }
    }
}

impl<E> std::fmt::Debug for Work<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.inner {
            WorkInner::Done(_) => "completed",
            WorkInner::Pending(_) => "pending",
        };
        write!(f, "Work({state})")
    }
}

/// The group of one process (world size 1): every collective returns its input. What tests and
/// single-process runs use, so that the same training code runs with and without MPI.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalGroup {
    _private: (),
}

impl LocalGroup {
    /// The single-process group.
    pub fn new() -> Self {
        LocalGroup::default()
    }
}

/// Checks a root rank against the world size.
pub(crate) fn check_root(collective: &str, root: usize, world_size: usize) -> Result<()> {
    if root >= world_size {
        return Err(Error::msg(format!(
            "{collective}: root rank {root} is out of range for a world of {world_size}"
        )));
    }
    Ok(())
}

#[cfg_attr(not(feature = "mpi"), allow(dead_code))] // used by the MPI group only
/// Checks that a reduce-scatter input splits into `world_size` equal blocks.
pub(crate) fn check_scatter_len(len: usize, world_size: usize) -> Result<()> {
    if !len.is_multiple_of(world_size) {
        return Err(Error::msg(format!(
            "reduce_scatter: {len} elements do not split into {world_size} equal blocks"
        )));
    }
    Ok(())
}

impl ProcessGroup for LocalGroup {
    fn rank(&self) -> usize {
        0
    }

    fn world_size(&self) -> usize {
        1
    }

    fn timeout(&self) -> Duration {
        DEFAULT_TIMEOUT
    }

    fn all_reduce_start<E: Element>(&self, data: Vec<E>, op: ReduceOp) -> Result<Work<E>> {
        op.check::<E>("all_reduce")?;
        Ok(Work::completed(data))
    }

    fn broadcast_slice<E: Element>(&self, _data: &mut [E], root: usize) -> Result<()> {
        check_root("broadcast", root, 1)
    }

    fn all_gather_slice<E: Element>(&self, data: &[E]) -> Result<Vec<E>> {
        Ok(data.to_vec())
    }

    fn reduce_scatter_slice<E: Element>(&self, data: &[E], op: ReduceOp) -> Result<Vec<E>> {
        op.check::<E>("reduce_scatter")?;
        Ok(data.to_vec())
    }

    fn barrier(&self) -> Result<()> {
        Ok(())
    }
}
