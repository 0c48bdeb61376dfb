//! # nanotorch-distributed
//!
//! Data-parallel training over several processes, on MPI (PyTorch's `torch.distributed` and
//! `DistributedDataParallel`). Each process (a *rank*) holds a full replica of the model and
//! trains on its own share of every batch; after each backward the gradients are averaged over
//! the ranks, so every replica takes the same optimizer step and they stay identical.
//!
//! - [`ProcessGroup`]: rank, world size and the collectives (`all_reduce` with sum, average, max
//!   or min, `broadcast`, `all_gather`, `reduce_scatter`, `barrier`) on tensors or host slices of
//!   any element type, each with a timeout. Implemented by [`LocalGroup`] (one process) and, with
//!   the `mpi` feature, `MpiGroup` over the system's MPI (Open MPI on Debian).
//! - [`DistributedDataParallel`]: wraps any module; copies rank 0's weights to every rank, then
//!   averages gradients in buckets whose all-reduces start during backward, as soon as their
//!   gradients are ready. `no_sync` for gradient accumulation; unused parameters are an error
//!   naming them unless `find_unused_parameters`.
//! - [`DistributedSampler`]: each rank's share of an epoch, as PyTorch deals it.
//!
//! Chapter 11 of the book (`docs/11-distributed.md`) teaches this layer; the example
//! `train_digits_ddp` runs under `mpirun -np 2`. Read `group.rs` (the collectives), `ddp.rs` (the
//! reducer), `sampler.rs`, then `mpi_group.rs`.
//!
//! ```
//! use nanotorch_autograd::Tensor;
//! use nanotorch_backend_cpu::Cpu;
//! use nanotorch_data::Sampler;
//! use nanotorch_distributed::{DistributedDataParallel, DistributedSampler, LocalGroup, ProcessGroup};
//! use nanotorch_nn::{Linear, Module};
//! use std::sync::Arc;
//!
//! # fn main() -> nanotorch_distributed::Result<()> {
//! // Under mpirun this would be `Arc::new(MpiGroup::init()?)`; the code is otherwise the same.
//! let group = Arc::new(LocalGroup::new());
//! let sampler = DistributedSampler::for_group(100, group.as_ref())?;
//! assert_eq!(sampler.len(), 100 / group.world_size());
//! let ddp = DistributedDataParallel::new(Linear::new(4, 2, &Cpu)?, group)?;
//! let x = Tensor::from_vec(vec![0.5f32; 8], [2, 4], &Cpu)?;
//! ddp.forward(&x)?.square()?.mean_all()?.backward()?; // gradients averaged over the ranks
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod ddp;
mod group;
#[cfg(feature = "mpi")]
mod mpi_group;
mod reducer;
mod sampler;

pub use ddp::{CommStats, DdpOptions, DistributedDataParallel, NoSyncGuard, DEFAULT_BUCKET_CAP_MB};
pub use group::{LocalGroup, ProcessGroup, ReduceOp, Work, DEFAULT_TIMEOUT};
#[cfg(feature = "mpi")]
pub use mpi_group::MpiGroup;
pub use nanotorch_ndarray_core::{Error, Result};
pub use sampler::DistributedSampler;
