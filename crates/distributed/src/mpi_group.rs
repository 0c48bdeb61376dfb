//! [`MpiGroup`]: the process group over MPI (feature `mpi`), for jobs started by `mpirun`.
//!
//! It calls MPI's C interface directly (the raw bindings of the `mpi` crate), because every
//! collective here is MPI's *nonblocking* form (`MPI_Iallreduce`, `MPI_Ibcast`, …) polled with
//! `MPI_Test` against a deadline: a blocking `MPI_Allreduce` cannot be given a timeout, and a rank
//! that never arrives would hang the others for ever.
//!
//! MPI is initialised at `MPI_THREAD_SERIALIZED` and every call goes through one mutex, so the
//! group can be shared with the autograd hooks of [`DistributedDataParallel`](crate::DistributedDataParallel)
//! whatever thread runs backward. The group works on its own duplicate of `MPI_COMM_WORLD`, so
//! its collectives never match messages the program sends itself.

use crate::group::{
    check_root, check_scatter_len, Pending, ProcessGroup, ReduceOp, Work, DEFAULT_TIMEOUT,
};
use mpi::ffi;
use nanotorch_ndarray_core::{DType, Element, Error, Result};
use std::ffi::c_void;
use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the group and its requests in flight share.
struct Shared {
    comm: ffi::MPI_Comm,
    rank: usize,
    world_size: usize,
    /// The deadline of each collective, in nanoseconds (atomic: it may change while requests
    /// started earlier are in flight).
    timeout_ns: AtomicU64,
    /// Serialises every MPI call (the library was initialised for serialised threads).
    lock: Mutex<()>,
    /// Set once a collective timed out or failed: the job cannot continue, and dropping the group
    /// aborts it instead of finalising (which would wait for the missing rank).
    failed: AtomicBool,
}

// SAFETY: `comm` is an opaque MPI handle; it is only used under `lock`, and MPI was initialised
// with MPI_THREAD_SERIALIZED, which allows calls from any thread one at a time.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    fn timeout(&self) -> Duration {
        Duration::from_nanos(self.timeout_ns.load(Ordering::Relaxed))
    }

    /// Runs an MPI call under the lock; a non-success code becomes an error naming `what`.
    fn call(&self, what: &str, f: impl FnOnce() -> c_int) -> Result<()> {
        let code = {
            let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
            f()
        };
        if code == 0 {
            return Ok(());
        }
        self.failed.store(true, Ordering::Relaxed);
        Err(Error::msg(format!(
            "{what} failed on rank {} of {}: {}",
            self.rank,
            self.world_size,
            error_string(code)
        )))
    }
}

/// MPI's message for an error code.
fn error_string(code: c_int) -> String {
    let mut buf = vec![0u8; 1024];
    let mut len: c_int = 0;
    // SAFETY: MPI writes at most MPI_MAX_ERROR_STRING (< 1024) bytes and the length.
    unsafe { ffi::MPI_Error_string(code, buf.as_mut_ptr().cast(), &mut len) };
    buf.truncate(len.max(0) as usize);
    format!("MPI error {code}: {}", String::from_utf8_lossy(&buf))
}

/// The process group of all the ranks `mpirun` started (`MPI_COMM_WORLD`).
///
/// ```rust,ignore
/// let group = Arc::new(MpiGroup::init()?.with_timeout(Duration::from_secs(60)));
/// println!("rank {} of {}", group.rank(), group.world_size());
/// ```
///
/// Create one per process, before any other MPI use. Dropping it finalises MPI; if a collective
/// failed or timed out, dropping it aborts the whole job instead (`MPI_Abort`), so that the
/// ranks still waiting are ended by `mpirun` rather than left hanging.
pub struct MpiGroup {
    shared: Arc<Shared>,
}

impl MpiGroup {
    /// Initialises MPI (it must not be initialised yet) and returns the world's group, with the
    /// [`DEFAULT_TIMEOUT`] on every collective.
    pub fn init() -> Result<MpiGroup> {
        let mut initialized: c_int = 0;
        // SAFETY: MPI_Initialized may be called at any time.
        unsafe { ffi::MPI_Initialized(&mut initialized) };
        if initialized != 0 {
            return Err(Error::msg(
                "MpiGroup::init: MPI is already initialised in this process; create one MpiGroup per process",
            ));
        }
        let mut provided: c_int = 0;
        // SAFETY: first MPI call of the process; MPI accepts null argc/argv.
        let (code, wanted) = unsafe {
            let wanted = ffi::RSMPI_THREAD_SERIALIZED;
            let code = ffi::MPI_Init_thread(
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                wanted,
                &mut provided,
            );
            (code, wanted)
        };
        if code != 0 {
            return Err(Error::msg(format!(
                "MpiGroup::init: MPI_Init_thread failed: {}",
                error_string(code)
            )));
        }
        if provided < wanted {
            return Err(Error::msg(
                "MpiGroup::init: this MPI library does not support MPI_THREAD_SERIALIZED",
            ));
        }
        let mut comm: ffi::MPI_Comm = unsafe { ffi::RSMPI_COMM_NULL };
        let (mut rank, mut size): (c_int, c_int) = (0, 0);
        // SAFETY: MPI is initialised; the out-pointers are valid. Errors are returned rather than
        // fatal, so a failed collective becomes a Rust error that names it.
        let code = unsafe {
            let world = ffi::RSMPI_COMM_WORLD;
            let mut code = ffi::MPI_Comm_dup(world, &mut comm);
            if code == 0 {
                code = ffi::MPI_Comm_set_errhandler(comm, ffi::RSMPI_ERRORS_RETURN);
            }
            if code == 0 {
                code = ffi::MPI_Comm_rank(comm, &mut rank);
            }
            if code == 0 {
                code = ffi::MPI_Comm_size(comm, &mut size);
            }
            code
        };
        if code != 0 {
            return Err(Error::msg(format!(
                "MpiGroup::init: setting up the communicator failed: {}",
                error_string(code)
            )));
        }
        Ok(MpiGroup {
            shared: Arc::new(Shared {
                comm,
                rank: rank as usize,
                world_size: size as usize,
                timeout_ns: AtomicU64::new(DEFAULT_TIMEOUT.as_nanos() as u64),
                lock: Mutex::new(()),
                failed: AtomicBool::new(false),
            }),
        })
    }

    /// The same group with another deadline for every collective.
    pub fn with_timeout(self, timeout: Duration) -> MpiGroup {
        self.set_timeout(timeout);
        self
    }

    /// Changes the deadline of the collectives started from now on.
    pub fn set_timeout(&self, timeout: Duration) {
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        self.shared.timeout_ns.store(nanos, Ordering::Relaxed);
    }

    /// Ends the whole job (`MPI_Abort`): `mpirun` stops every rank and exits with `code`. What a
    /// rank that cannot go on should do, so the others do not wait for it until their timeout.
    pub fn abort(&self, code: i32) -> ! {
        // SAFETY: MPI_Abort may be called at any time after initialisation.
        unsafe { ffi::MPI_Abort(ffi::RSMPI_COMM_WORLD, code) };
        std::process::exit(code)
    }

    /// Starts a nonblocking collective on `send`/`recv` through `start` (which gets the pointers,
    /// the communicator and the request to fill).
    fn start<E: Element>(
        &self,
        collective: &'static str,
        send: Vec<E>,
        mut recv: Vec<E>,
        op: ReduceOp,
        start: impl FnOnce(*const c_void, *mut c_void, ffi::MPI_Comm, *mut ffi::MPI_Request) -> c_int,
    ) -> Result<Request<E>> {
        let mut request: ffi::MPI_Request = unsafe { ffi::RSMPI_REQUEST_NULL };
        let (sp, rp) = (
            send.as_ptr().cast::<c_void>(),
            recv.as_mut_ptr().cast::<c_void>(),
        );
        self.shared
            .call(collective, || start(sp, rp, self.shared.comm, &mut request))?;
        Ok(Request {
            shared: Arc::clone(&self.shared),
            collective,
            request,
            send,
            recv,
            op,
            started: Instant::now(),
            done: false,
        })
    }
}

impl Drop for MpiGroup {
    fn drop(&mut self) {
        if self.shared.failed.load(Ordering::Relaxed) {
            eprintln!(
                "rank {}: a collective failed; aborting the MPI job so the other ranks stop too",
                self.shared.rank
            );
            self.abort(1);
        }
        let _guard = self.shared.lock.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: no request is in flight (each one holds the shared state and waits on drop,
        // and the group is dropped last); freeing our duplicate, then finalising, is the
        // documented shutdown.
        unsafe {
            let mut comm = self.shared.comm;
            ffi::MPI_Comm_free(&mut comm);
            ffi::MPI_Finalize();
        }
    }
}

impl std::fmt::Debug for MpiGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MpiGroup(rank {} of {}, timeout {:?})",
            self.shared.rank,
            self.shared.world_size,
            self.shared.timeout()
        )
    }
}

/// MPI's datatype for `E`.
fn datatype<E: Element>() -> ffi::MPI_Datatype {
    // SAFETY: reading MPI's predefined handles.
    unsafe {
        match E::DTYPE {
            DType::F32 => ffi::RSMPI_FLOAT,
            DType::F64 => ffi::RSMPI_DOUBLE,
            DType::I64 => ffi::RSMPI_INT64_T,
            DType::U8 => ffi::RSMPI_UINT8_T,
            DType::Bool => ffi::RSMPI_C_BOOL,
        }
    }
}

/// MPI's reduction for `op` on `E` (Avg runs as a sum, divided afterwards).
fn mpi_op<E: Element>(op: ReduceOp) -> ffi::MPI_Op {
    // SAFETY: reading MPI's predefined handles.
    unsafe {
        match (E::DTYPE, op) {
            (DType::Bool, ReduceOp::Min) => ffi::RSMPI_LAND,
            (DType::Bool, _) => ffi::RSMPI_LOR,
            (_, ReduceOp::Sum | ReduceOp::Avg) => ffi::RSMPI_SUM,
            (_, ReduceOp::Max) => ffi::RSMPI_MAX,
            (_, ReduceOp::Min) => ffi::RSMPI_MIN,
        }
    }
}

/// A length as MPI's `int` count.
fn count(collective: &str, len: usize) -> Result<c_int> {
    c_int::try_from(len).map_err(|_| {
        Error::msg(format!(
            "{collective}: {len} elements exceed what one MPI call can carry (2^31 - 1)"
        ))
    })
}

/// A nonblocking collective in flight and the buffers MPI reads and writes.
struct Request<E> {
    shared: Arc<Shared>,
    collective: &'static str,
    request: ffi::MPI_Request,
    send: Vec<E>,
    recv: Vec<E>,
    op: ReduceOp,
    started: Instant,
    done: bool,
}

// SAFETY: the request handle is only touched under the shared lock (see `Shared`).
unsafe impl<E: Send> Send for Request<E> {}

impl<E: Element> Request<E> {
    fn poll(&mut self) -> Result<bool> {
        if self.done {
            return Ok(true);
        }
        let mut flag: c_int = 0;
        let request = &mut self.request;
        self.shared.call(self.collective, || {
            // SAFETY: a live request of this communicator; MPI_STATUS_IGNORE is allowed.
            unsafe { ffi::MPI_Test(request, &mut flag, ffi::RSMPI_STATUS_IGNORE) }
        })?;
        self.done = flag != 0;
        Ok(self.done)
    }

    /// Polls until done or the deadline (counted from the start of the collective).
    fn block(&mut self) -> Result<()> {
        let timeout = self.shared.timeout();
        loop {
            if self.poll()? {
                return Ok(());
            }
            let waited = self.started.elapsed();
            if waited >= timeout {
                self.shared.failed.store(true, Ordering::Relaxed);
                return Err(Error::msg(format!(
                    "{} timed out after {:?} on rank {} of {} ({} {} elements): another rank did not \
                     join it (it failed, hangs, or called a different collective); the job cannot \
                     continue",
                    self.collective,
                    timeout,
                    self.shared.rank,
                    self.shared.world_size,
                    self.send.len().max(self.recv.len()),
                    E::DTYPE.name(),
                )));
            }
            // Spin briefly (collectives of a training step finish in microseconds to
            // milliseconds), then sleep, so a long wait does not take a core from the ranks
            // sharing it.
            if waited < Duration::from_millis(10) {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
    }
}

impl<E: Element> Pending<E> for Request<E> {
    fn test(&mut self) -> Result<bool> {
        self.poll()
    }

    fn wait(mut self: Box<Self>) -> Result<Vec<E>> {
        self.block()?;
        let mut result = std::mem::take(&mut self.recv);
        self.op.finish(&mut result, self.shared.world_size);
        Ok(result)
    }
}

impl<E> Drop for Request<E> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // MPI may still write into the buffers: never free them under it. A request that cannot
        // complete (the job is failing) leaks them; the process is about to be aborted anyway.
        std::mem::forget(std::mem::take(&mut self.send));
        std::mem::forget(std::mem::take(&mut self.recv));
    }
}

impl ProcessGroup for MpiGroup {
    fn rank(&self) -> usize {
        self.shared.rank
    }

    fn world_size(&self) -> usize {
        self.shared.world_size
    }

    fn timeout(&self) -> Duration {
        self.shared.timeout()
    }

    fn all_reduce_start<E: Element>(&self, data: Vec<E>, op: ReduceOp) -> Result<Work<E>> {
        op.check::<E>("all_reduce")?;
        let n = count("all_reduce", data.len())?;
        let recv = vec![E::ZERO; data.len()];
        let request = self.start("all_reduce", data, recv, op, |s, r, comm, req| {
            // SAFETY: both buffers hold `n` elements and live in the request until it completes.
            unsafe { ffi::MPI_Iallreduce(s, r, n, datatype::<E>(), mpi_op::<E>(op), comm, req) }
        })?;
        Ok(Work::pending(Box::new(request)))
    }

    fn broadcast_slice<E: Element>(&self, data: &mut [E], root: usize) -> Result<()> {
        check_root("broadcast", root, self.world_size())?;
        let n = count("broadcast", data.len())?;
        let root_c = root as c_int;
        let request = self.start(
            "broadcast",
            Vec::new(),
            data.to_vec(),
            ReduceOp::Sum,
            |_, r, comm, req| {
                // SAFETY: the receive buffer holds `n` elements and lives until completion.
                unsafe { ffi::MPI_Ibcast(r, n, datatype::<E>(), root_c, comm, req) }
            },
        )?;
        let result = Work::pending(Box::new(request)).wait()?;
        data.copy_from_slice(&result);
        Ok(())
    }

    fn all_gather_slice<E: Element>(&self, data: &[E]) -> Result<Vec<E>> {
        // Lengths first: MPI cannot report a rank that sends another count, it misbehaves.
        let lens = self.gather_raw(vec![data.len() as i64])?;
        if let Some(r) = lens.iter().position(|&l| l != data.len() as i64) {
            return Err(Error::msg(format!(
                "all_gather: rank {r} has {} elements but rank {} has {}; every rank must pass the same length",
                lens[r],
                self.rank(),
                data.len()
            )));
        }
        self.gather_raw(data.to_vec())
    }

    fn reduce_scatter_slice<E: Element>(&self, data: &[E], op: ReduceOp) -> Result<Vec<E>> {
        op.check::<E>("reduce_scatter")?;
        check_scatter_len(data.len(), self.world_size())?;
        let block = data.len() / self.world_size();
        let n = count("reduce_scatter", block)?;
        let recv = vec![E::ZERO; block];
        let request = self.start(
            "reduce_scatter",
            data.to_vec(),
            recv,
            op,
            |s, r, comm, req| {
                // SAFETY: the send buffer holds world·n elements, the receive buffer n.
                unsafe {
                    ffi::MPI_Ireduce_scatter_block(
                        s,
                        r,
                        n,
                        datatype::<E>(),
                        mpi_op::<E>(op),
                        comm,
                        req,
                    )
                }
            },
        )?;
        Work::pending(Box::new(request)).wait()
    }

    fn barrier(&self) -> Result<()> {
        let request = self.start::<u8>(
            "barrier",
            Vec::new(),
            Vec::new(),
            ReduceOp::Sum,
            |_, _, comm, req| {
                // SAFETY: a barrier touches no buffer.
                unsafe { ffi::MPI_Ibarrier(comm, req) }
            },
        )?;
        Work::pending(Box::new(request)).wait().map(|_| ())
    }
}

impl MpiGroup {
    /// All-gather without the length check.
    fn gather_raw<E: Element>(&self, data: Vec<E>) -> Result<Vec<E>> {
        let n = count("all_gather", data.len())?;
        let recv = vec![E::ZERO; data.len() * self.world_size()];
        let request = self.start(
            "all_gather",
            data,
            recv,
            ReduceOp::Sum,
            |s, r, comm, req| {
                // SAFETY: `n` elements sent, `n` per rank received into a world·n buffer.
                unsafe {
                    ffi::MPI_Iallgather(s, n, datatype::<E>(), r, n, datatype::<E>(), comm, req)
                }
            },
        )?;
        Work::pending(Box::new(request)).wait()
    }
}
