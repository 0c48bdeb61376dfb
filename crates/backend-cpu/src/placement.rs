//! Moving a helper thread off the caller's CPU when it is starved there (Linux; elsewhere the
//! scheduler is left alone).
//!
//! Why: Linux may queue a new or newly woken helper on the CPU of the thread that spawned or
//! woke it. A caller never blocks while it works through a job that no helper joined, so the
//! helper waits for the scheduler's load balancing, milliseconds away, while the other core
//! idles, and a whole stretch of small products runs on one core. A diagnostic build showed it
//! in about a third of the bench's processes: the helper had not run once during all 23 calls of
//! sgemm/128 (0.039 ms each, one core's time, where the other processes took 0.022-0.025).
//! When a job ends that no helper joined although none was asleep, the caller moves the helpers
//! off its own CPU by narrowing their affinity; a helper widens it again when it next joins a
//! job, once it runs elsewhere.

#[cfg(target_os = "linux")]
mod linux {
    use std::sync::OnceLock;

    /// The helpers' thread handles, recorded once they are spawned.
    static HELPERS: OnceLock<Vec<libc::pthread_t>> = OnceLock::new();

    /// Records the helpers' handles (the threads live as long as the process).
    pub(crate) fn record<T>(helpers: &[std::thread::JoinHandle<T>]) {
        use std::os::unix::thread::JoinHandleExt;
        let _ = HELPERS.set(helpers.iter().map(|h| h.as_pthread_t()).collect());
    }

    /// The CPUs this process may run on.
    fn allowed() -> Option<libc::cpu_set_t> {
        // SAFETY: `set` is a plain bit set the call fills; pid 0 is the calling thread, whose
        // mask the process's threads start from.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            (libc::sched_getaffinity(0, size, &mut set) == 0).then_some(set)
        }
    }

    /// Lets every helper run anywhere but on the calling thread's CPU. Failures are ignored:
    /// placement only changes speed.
    pub(crate) fn move_helpers_off_this_cpu() {
        if let Some(helpers) = HELPERS.get() {
            // SAFETY: no preconditions; a negative result means the CPU is unknown.
            let here = unsafe { libc::sched_getcpu() };
            if let Ok(here) = usize::try_from(here) {
                keep_off(helpers, here);
            }
        }
    }

    /// Narrows the affinity of `threads` to every allowed CPU but `cpu` (nothing where that
    /// leaves none).
    pub(super) fn keep_off(threads: &[libc::pthread_t], cpu: usize) {
        let Some(mut set) = allowed() else {
            return;
        };
        // SAFETY: `set` is a valid bit set; the handles belong to live threads (the helpers
        // never exit; the test keeps its thread alive).
        unsafe {
            if libc::CPU_COUNT(&set) < 2 || !libc::CPU_ISSET(cpu, &set) {
                return;
            }
            libc::CPU_CLR(cpu, &mut set);
            for &t in threads {
                libc::pthread_setaffinity_np(t, std::mem::size_of::<libc::cpu_set_t>(), &set);
            }
        }
    }

    /// Lets the calling helper run on every CPU the process may use again.
    pub(crate) fn allow_every_cpu() {
        // The process's mask is the caller's thread's at start-up; read it from the main thread
        // (pid), since this thread's own is the narrowed one.
        // SAFETY: as in `allowed`.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            if libc::sched_getaffinity(libc::getpid(), size, &mut set) == 0 {
                libc::sched_setaffinity(0, size, &set);
            }
        }
    }
}

#[cfg(target_os = "linux")]
pub(crate) use linux::{allow_every_cpu, move_helpers_off_this_cpu, record};

/// Elsewhere: nothing to record.
#[cfg(not(target_os = "linux"))]
pub(crate) fn record<T>(_: &[std::thread::JoinHandle<T>]) {}

/// Elsewhere: the scheduler places helpers as it likes.
#[cfg(not(target_os = "linux"))]
pub(crate) fn move_helpers_off_this_cpu() {}

/// Elsewhere: nothing was narrowed.
#[cfg(not(target_os = "linux"))]
pub(crate) fn allow_every_cpu() {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::linux::{allow_every_cpu, keep_off};
    use std::os::unix::thread::JoinHandleExt;
    use std::sync::mpsc::channel;

    fn mask_of(thread: libc::pthread_t) -> libc::cpu_set_t {
        // SAFETY: `set` is a plain bit set the call fills; `thread` is alive.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            assert_eq!(libc::pthread_getaffinity_np(thread, size, &mut set), 0);
            set
        }
    }

    /// A thread kept off a CPU may no longer run there, and widening restores the process's
    /// whole set.
    #[test]
    fn a_thread_kept_off_a_cpu_leaves_it_until_it_widens_again() {
        // SAFETY: `pthread_self` has no preconditions.
        let everything = mask_of(unsafe { libc::pthread_self() });
        // SAFETY: reading a bit set.
        if unsafe { libc::CPU_COUNT(&everything) } < 2 {
            return; // one CPU: there is nowhere else to go
        }
        let cpu = (0..libc::CPU_SETSIZE as usize)
            // SAFETY: reading a bit set.
            .find(|&c| unsafe { libc::CPU_ISSET(c, &everything) })
            .expect("an allowed CPU");
        let (widen, wait_widen) = channel::<()>();
        let (widened, wait_widened) = channel::<libc::cpu_set_t>();
        let t = std::thread::spawn(move || {
            wait_widen.recv().expect("told to widen");
            allow_every_cpu();
            // SAFETY: `pthread_self` has no preconditions.
            widened
                .send(mask_of(unsafe { libc::pthread_self() }))
                .expect("reported");
        });
        keep_off(&[t.as_pthread_t()], cpu);
        let narrowed = mask_of(t.as_pthread_t());
        // SAFETY: reading bit sets.
        unsafe {
            assert!(!libc::CPU_ISSET(cpu, &narrowed));
            assert_eq!(libc::CPU_COUNT(&narrowed), libc::CPU_COUNT(&everything) - 1);
        }
        widen.send(()).expect("thread waiting");
        let after = wait_widened.recv().expect("thread reports");
        // SAFETY: reading bit sets.
        unsafe { assert!(libc::CPU_EQUAL(&after, &everything)) };
        t.join().expect("thread ends");
    }
}
