//! A few long-lived worker threads that help the calling thread with one job at a time.
//!
//! Why not `std::thread::scope` per op: a scoped split must wait until every thread it spawned
//! has started, run and exited. Spawning costs tens of µs, and on a busy machine (a build running
//! next to the benchmark) a new thread can wait several ms for a core, while the caller sits in
//! the join doing nothing: a 0.3 ms add then takes 5-10 ms. Here the caller never waits for a
//! helper to *start*: it posts the job, works on it itself, and at the end takes the job back;
//! a helper that has not woken up by then simply never sees it. The caller waits only for pieces
//! a helper has already claimed.
//!
//! A job is a closure that claims pieces of work until none are left (see
//! `parallel::par_chunks`), so it can be run by any number of threads at once, including zero
//! helpers.

use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
use std::time::{Duration, Instant};

/// How long a helper that finished a job keeps watching for the next one before it sleeps.
/// A training step is a chain of ops a few µs to a few hundred µs apart; a sleeping helper takes
/// 50-100 µs to wake, so without this window it joins each mid-sized op (a 128×784 @ 784×256
/// GEMM takes ~0.2 ms) late or not at all. OpenMP runtimes spin after a parallel region for the
/// same reason. Bounded, so an idle program stops using the core almost at once.
const SPIN: Duration = Duration::from_micros(200);

/// The job as the helpers see it. Its real lifetime is the caller's stack frame; `run` erases it
/// and guarantees no helper touches it after `run` returns.
type Job = &'static (dyn Fn() + Sync);

struct State {
    /// The job on offer, if any.
    job: Option<Job>,
    /// Bumped for every job, so a helper that finished its share does not join the same job again.
    generation: u64,
    /// Helpers inside the current job.
    helping: usize,
    /// The first panic a helper caught in the current job, handed on to the caller.
    panic: Option<Box<dyn Any + Send>>,
}

struct Workers {
    state: Mutex<State>,
    /// Helpers sleep here until a job is posted.
    posted: Condvar,
    /// The caller sleeps here until the last helper leaves the job.
    left: Condvar,
    /// Held by the thread whose job is posted: one job at a time.
    owner: Mutex<()>,
    /// `State::generation`, readable without the lock, for helpers spinning between jobs.
    latest: AtomicU64,
}

impl Workers {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The shared worker set: one helper per thread beyond the caller's, started on first use.
fn workers() -> &'static Workers {
    static W: OnceLock<&'static Workers> = OnceLock::new();
    W.get_or_init(|| {
        let w: &'static Workers = Box::leak(Box::new(Workers {
            state: Mutex::new(State {
                job: None,
                generation: 0,
                helping: 0,
                panic: None,
            }),
            posted: Condvar::new(),
            left: Condvar::new(),
            owner: Mutex::new(()),
            latest: AtomicU64::new(0),
        }));
        for i in 0..crate::parallel::num_threads() - 1 {
            // A helper that cannot be spawned is only a lost core: jobs run on the caller anyway.
            let _ = std::thread::Builder::new()
                .name(format!("nanotorch-cpu-{i}"))
                .spawn(move || helper_loop(w));
        }
        w
    })
}

/// A helper's life: wait (spinning for `SPIN`, then asleep) until a new job is posted, run it,
/// report back, repeat.
fn helper_loop(w: &'static Workers) {
    let mut seen = 0;
    let mut spun = false;
    let mut st = w.lock();
    loop {
        match st.job {
            Some(job) if st.generation != seen => {
                seen = st.generation;
                spun = false;
                st.helping += 1;
                drop(st);
                let result = catch_unwind(AssertUnwindSafe(job));
                st = w.lock();
                st.helping -= 1;
                if let Err(payload) = result {
                    st.panic.get_or_insert(payload);
                }
                if st.helping == 0 {
                    w.left.notify_all();
                }
            }
            _ if !spun => {
                drop(st);
                let start = Instant::now();
                'spin: while start.elapsed() < SPIN {
                    // Reading the clock costs more than a check; look at the job often, the
                    // clock now and then.
                    for _ in 0..64 {
                        if w.latest.load(Ordering::Acquire) != seen {
                            break 'spin;
                        }
                        std::hint::spin_loop();
                    }
                }
                spun = true;
                st = w.lock();
            }
            _ => st = w.posted.wait(st).unwrap_or_else(PoisonError::into_inner),
        }
    }
}

/// Runs `job` on this thread and, at the same time, on the helpers that wake up in time (each
/// calls it at most once). Returns when every call has returned; a panic in any of them is
/// re-raised here. `job` must split its work so that any number of concurrent calls share it.
pub(crate) fn run(job: &(dyn Fn() + Sync)) {
    if crate::parallel::num_threads() <= 1 {
        return job();
    }
    let w = workers();
    // Another thread's job is posted (tests run in parallel), or this is a piece of a job
    // calling a threaded kernel: run this one alone rather than queue behind it.
    let _owner = match w.owner.try_lock() {
        Ok(guard) => guard,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return job(),
    };
    // SAFETY: the erased reference is stored only in `State::job`, and it is removed from there
    // below, after which we wait until `helping` is 0. A helper copies it out only under the
    // lock while it is posted and increments `helping` before releasing that lock, so once the
    // job is removed and `helping` is 0 no helper holds it, and none can take it again: no use
    // outlives this call, in which `job` is alive.
    let erased: Job = unsafe { std::mem::transmute::<&(dyn Fn() + Sync), Job>(job) };
    {
        let mut st = w.lock();
        st.job = Some(erased);
        st.generation += 1;
        w.latest.store(st.generation, Ordering::Release);
    }
    w.posted.notify_all();
    // Caught so that the job is taken back before unwinding frees what it borrows.
    let mine = catch_unwind(AssertUnwindSafe(job));
    let theirs = {
        let mut st = w.lock();
        st.job = None;
        while st.helping > 0 {
            st = w.left.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        st.panic.take()
    };
    if let Err(payload) = mine {
        resume_unwind(payload);
    }
    if let Some(payload) = theirs {
        resume_unwind(payload);
    }
}
