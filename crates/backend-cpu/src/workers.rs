//! A few long-lived helper threads that join the calling thread on one job at a time.
//!
//! Why our own and not rayon: issue 9 asked to move to rayon unless it was more than 10% slower
//! on a training step, and on an idle machine it was (mlp_train_step 1.34×, mlp_fwd_bwd 1.27×;
//! the runs are in docs/02-backend.md, "Threads"). With rayon the caller hands the work
//! over and sleeps until the pool's threads finish it, so every op pays a hand-over and a
//! wake-up. Here the caller never waits for a helper to *start*: it posts the job, works on it
//! itself, and at the end takes the job back; a helper that has not woken by then never sees it.
//! The caller waits only for helpers already inside the job.
//!
//! A job is a closure that claims pieces of work until none are left (see
//! `parallel::par_chunks`), so any number of threads can run it at once, including zero helpers.
//!
//! The one unsafe idea: a helper calls a closure that lives on the caller's stack. The closure is
//! handed over as an [`ErasedJob`] (a data pointer and the function that calls through it), and
//! [`run`] does not return, or unwind, while any helper can still reach it.

use crate::placement;
use std::any::Any;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
use std::time::{Duration, Instant};

/// How long a helper that finished a job keeps watching for the next one before it sleeps.
/// A training step is a chain of ops a few µs to a few hundred µs apart; a sleeping helper takes
/// 50-100 µs to wake, so without this window it joins each mid-sized op (a 128×784 @ 784×256
/// GEMM takes ~0.2 ms) late or not at all. OpenMP runtimes spin after a parallel region for the
/// same reason. Bounded, so an idle program stops using the core almost at once.
const SPIN: Duration = Duration::from_micros(200);

/// A borrowed `Fn() + Sync` with its type and lifetime erased: a pointer to the closure and the
/// monomorphic function that knows its type. No `transmute`: the erasure is a pointer cast, and
/// the only way back to the closure is [`ErasedJob::call`], whose contract is the lifetime.
#[derive(Clone, Copy)]
struct ErasedJob {
    closure: *const (),
    call: unsafe fn(*const ()),
}

// SAFETY: an `ErasedJob` is only made from an `F: Fn() + Sync` (`ErasedJob::new`), and sending a
// pointer to a `Sync` value to another thread and calling `&F` there is exactly what `Sync`
// permits. Whether the pointer is still valid when used is `call`'s contract, not `Send`'s.
unsafe impl Send for ErasedJob {}

impl ErasedJob {
    fn new<F: Fn() + Sync>(f: &F) -> Self {
        /// Calls the closure behind `closure`, which must be a live `F`.
        unsafe fn call_as<F: Fn()>(closure: *const ()) {
            // SAFETY: `closure` came from `&F` in `new`, and the caller of `ErasedJob::call`
            // guarantees that borrow is still alive.
            unsafe { (*closure.cast::<F>())() }
        }
        Self {
            closure: (f as *const F).cast(),
            call: call_as::<F>,
        }
    }

    /// Calls the closure.
    ///
    /// # Safety
    /// The closure this job was made from must still be alive (its borrow not yet ended).
    unsafe fn call(self) {
        // SAFETY: forwarded to the caller (see above); `call` and `closure` were made together.
        unsafe { (self.call)(self.closure) }
    }
}

struct State {
    /// The job on offer, if any.
    job: Option<ErasedJob>,
    /// Bumped for every job, so a helper that finished its share does not join the same job again.
    generation: u64,
    /// Helpers asleep on `posted`: a post wakes them only if there are any (a `notify_all` is
    /// a system call even when nobody waits, and most jobs in a busy stretch find the helpers
    /// spinning).
    sleeping: usize,
    /// The first panic a helper caught in the current job, handed on to the caller.
    panic: Option<Box<dyn Any + Send>>,
}

struct Workers {
    state: Mutex<State>,
    /// Helpers sleep here until a job is posted.
    posted: Condvar,
    /// Helpers inside the current job, counted in and out under the `state` lock (so a caller
    /// taking its job back cannot miss one, nor sleep past the last one's notification), and an
    /// atomic so that a caller spinning for the last helper to leave reads it without the lock.
    inside: AtomicUsize,
    /// The caller sleeps here, once it has spun for `SPIN`, until the last helper leaves.
    left: Condvar,
    /// Held by the thread whose job is posted: one job at a time.
    owner: Mutex<()>,
    /// `State::generation`, readable without the lock, for helpers spinning between jobs.
    latest: AtomicU64,
    /// The last generation a helper joined: a job that ends with another number here ran on
    /// the caller alone.
    joined: AtomicU64,
    /// How many times a caller moved the helpers off its CPU (`crate::placement`); each helper
    /// widens its affinity again when it joins a job after a move it has not undone yet.
    moves: AtomicU64,
    /// Set by a move, cleared when a helper joins a job: no new move (two system calls per
    /// helper) until one has.
    moved: AtomicBool,
    /// When the last job ended, in nanoseconds since `epoch`: helpers spin for `SPIN` after it.
    last_done: AtomicU64,
    epoch: Instant,
}

impl Workers {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The shared helpers: one per thread beyond the caller's, started on first use.
fn workers() -> &'static Workers {
    static W: OnceLock<&'static Workers> = OnceLock::new();
    W.get_or_init(|| {
        let w: &'static Workers = Box::leak(Box::new(Workers {
            state: Mutex::new(State {
                job: None,
                generation: 0,
                sleeping: 0,
                panic: None,
            }),
            posted: Condvar::new(),
            inside: AtomicUsize::new(0),
            left: Condvar::new(),
            owner: Mutex::new(()),
            latest: AtomicU64::new(0),
            joined: AtomicU64::new(0),
            moves: AtomicU64::new(0),
            moved: AtomicBool::new(false),
            last_done: AtomicU64::new(0),
            epoch: Instant::now(),
        }));
        // A helper that cannot be spawned is only a lost core: jobs run on the caller anyway.
        let helpers: Vec<_> = (0..crate::parallel::num_threads() - 1)
            .filter_map(|i| {
                std::thread::Builder::new()
                    .name(format!("nanotorch-cpu-{i}"))
                    .spawn(move || helper_loop(w))
                    .ok()
            })
            .collect();
        placement::record(&helpers);
        w
    })
}

/// A helper's life: wait (spinning for `SPIN`, then asleep) until a new job is posted, run it,
/// report back, repeat.
fn helper_loop(w: &'static Workers) {
    let mut seen = 0;
    let mut spun = false;
    let mut moves_undone = 0;
    let mut st = w.lock();
    loop {
        match st.job {
            Some(job) if st.generation != seen => {
                seen = st.generation;
                spun = false;
                w.joined.store(seen, Ordering::Relaxed);
                // Read first: a store on every job would take the line from the caller, which
                // reads these atomics at every job's end, for a flag that is almost never set.
                if w.moved.load(Ordering::Relaxed) {
                    w.moved.store(false, Ordering::Relaxed);
                }
                let moves = w.moves.load(Ordering::Relaxed);
                if moves != moves_undone {
                    moves_undone = moves;
                    placement::allow_every_cpu();
                }
                // Counted while the lock is held, so `TakeBack` cannot miss this helper.
                w.inside.fetch_add(1, Ordering::AcqRel);
                drop(st);
                // SAFETY: the job was still posted when we counted ourselves in `inside` under
                // the lock, and `run` keeps its closure alive until `inside` is back to 0.
                let result = catch_unwind(AssertUnwindSafe(|| unsafe { job.call() }));
                st = w.lock();
                if let Err(payload) = result {
                    st.panic.get_or_insert(payload);
                }
                // Under the lock: a caller that saw a helper inside and went to sleep on `left`
                // did so holding it, so this notification cannot fall between its check and its
                // wait. The panic above is stored before the count drops.
                if w.inside.fetch_sub(1, Ordering::AcqRel) == 1 {
                    w.left.notify_all();
                }
            }
            _ if !spun => {
                drop(st);
                spin_until(|| w.latest.load(Ordering::Acquire) != seen);
                spun = true;
                st = w.lock();
            }
            _ => {
                st.sleeping += 1;
                st = w.posted.wait(st).unwrap_or_else(PoisonError::into_inner);
                st.sleeping -= 1;
                // Woken by a post, perhaps too late for it (a sleeping helper takes 50-100 µs
                // to run again, and a short job is over by then): spin again, so the next job,
                // a few µs away in a busy stretch, is joined at once. Without this a helper
                // that once fell asleep kept waking for jobs that were already done and
                // sleeping again (the LSTM benchmark's helper sat idle half the time).
                spun = false;
            }
        }
    }
}

/// Spins until `done()` or for [`SPIN`], whichever comes first. Reading the clock costs more
/// than a check: `done` is looked at often, the clock now and then.
fn spin_until(done: impl Fn() -> bool) {
    let start = Instant::now();
    while start.elapsed() < SPIN {
        for _ in 0..64 {
            if done() {
                return;
            }
            std::hint::spin_loop();
        }
    }
}

/// Withdraws the posted job and waits until no helper is inside it. Run on every way out of
/// [`run`], return or unwind, because the closure the job points at dies with `run`'s frame.
///
/// The wait spins first: a helper is usually a few µs from the end of its share, and a caller
/// asleep on the condition variable took tens of µs to run again after the helper's wake-up (a
/// halted virtual CPU waits for an interrupt), which on a 1M-element `add` was half the op.
struct TakeBack {
    workers: &'static Workers,
}

impl Drop for TakeBack {
    fn drop(&mut self) {
        let w = self.workers;
        let mut st = w.lock();
        st.job = None;
        if w.inside.load(Ordering::Acquire) == 0 {
            return;
        }
        drop(st);
        spin_until(|| w.inside.load(Ordering::Acquire) == 0);
        st = w.lock();
        while w.inside.load(Ordering::Acquire) > 0 {
            st = w.left.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
    }
}

/// Whether the helpers are likely awake: a job ended less than `SPIN` ago, so they are still
/// watching for the next one and join it within a microsecond or so instead of 50-100 µs. A
/// caller may then split smaller work (see the GEMM's `par_macs`).
pub(crate) fn helpers_awake() -> bool {
    if crate::parallel::num_threads() <= 1 {
        return false;
    }
    let w = workers();
    let since = nanos_since(w.epoch).saturating_sub(w.last_done.load(Ordering::Relaxed));
    since < SPIN.as_nanos() as u64
}

fn nanos_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Runs `job` on this thread and, at the same time, on the helpers that wake up in time (each
/// calls it at most once). Returns when every call has returned; a panic in any of them is
/// re-raised here. `job` must split its work so that any number of concurrent calls share it.
pub(crate) fn run<F: Fn() + Sync>(job: &F) {
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
    let (generation, asleep) = {
        let mut st = w.lock();
        st.job = Some(ErasedJob::new(job));
        st.generation += 1;
        w.latest.store(st.generation, Ordering::Release);
        (st.generation, st.sleeping > 0)
    };
    // From here until `take_back` drops, helpers may hold a pointer to `job`. `job` is borrowed
    // for all of this call, and `take_back` is declared after it, so its drop (which waits for
    // the last helper) runs first on every path out, including a panic in our own share below.
    let take_back = TakeBack { workers: w };
    // A helper counts itself asleep under the lock before it waits, so one that was not counted
    // above is spinning or busy and sees the new generation without a wake-up.
    if asleep {
        w.posted.notify_all();
    }
    let mine = catch_unwind(AssertUnwindSafe(job));
    drop(take_back);
    w.last_done.store(nanos_since(w.epoch), Ordering::Relaxed);
    let theirs = w.lock().panic.take();
    // No helper joined: they are queued behind this thread on its CPU, or asleep and about to
    // be woken onto it (see `crate::placement`). Once per stretch until one joins again.
    if w.joined.load(Ordering::Relaxed) != generation && !w.moved.swap(true, Ordering::Relaxed) {
        w.moves.fetch_add(1, Ordering::Relaxed);
        placement::move_helpers_off_this_cpu();
    }
    if let Err(payload) = mine {
        resume_unwind(payload);
    }
    if let Some(payload) = theirs {
        resume_unwind(payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, AtomicUsize};

    /// The borrowed data dies as early as the API allows: right after `run` returns (or unwinds),
    /// its memory is overwritten and freed. A helper that touched the job after that would read
    /// the poison or freed memory; every call records what it saw, and the job is slow enough
    /// (it sleeps) that helpers are still arriving while the caller finishes.
    #[test]
    fn no_helper_touches_the_job_after_run_returns() {
        let bad = AtomicUsize::new(0);
        let calls = AtomicUsize::new(0);
        for round in 0..200 {
            let mut data = vec![round; 64];
            let job = || {
                calls.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(20));
                if data.iter().any(|&x| x != round) {
                    bad.fetch_add(1, Ordering::Relaxed);
                }
            };
            run(&job);
            data.iter_mut().for_each(|x| *x = usize::MAX);
            drop(data);
        }
        assert_eq!(bad.load(Ordering::Relaxed), 0);
        assert!(calls.load(Ordering::Relaxed) >= 200);
    }

    /// Same, when the caller's own share panics while a helper is still inside the job: the
    /// panic reaches the caller only after the helper has left.
    #[test]
    fn a_panic_in_the_callers_share_waits_for_the_helpers() {
        let helper_inside = AtomicBool::new(false);
        let helper_done = AtomicBool::new(false);
        let caller = std::thread::current().id();
        let job = || {
            if std::thread::current().id() == caller {
                // Give a helper time to join, then fail.
                let start = Instant::now();
                while !helper_inside.load(Ordering::Acquire)
                    && start.elapsed() < Duration::from_millis(50)
                {
                    std::hint::spin_loop();
                }
                panic!("caller's share");
            }
            helper_inside.store(true, Ordering::Release);
            std::thread::sleep(Duration::from_millis(5));
            helper_done.store(true, Ordering::Release);
        };
        let r = catch_unwind(AssertUnwindSafe(|| run(&job)));
        assert!(r.is_err(), "the caller's panic was lost");
        if helper_inside.load(Ordering::Acquire) {
            assert!(
                helper_done.load(Ordering::Acquire),
                "run unwound under a helper"
            );
        }
    }
}
