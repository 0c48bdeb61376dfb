//! A team: a fixed set of threads that runs one long job of dependent steps together, meeting
//! at a barrier between steps, instead of one parallel job (and one join) per piece of a step.
//!
//! Why: a recurrent layer's time step is a small product and an element-wise pass, and each
//! step needs the whole previous one. As separate parallel jobs that was four or five joins per
//! step, and on the LSTM benchmark the helper sat idle 16% of the time and the caller waited for
//! it another 5%. In a team each thread owns a fixed slice of the work at every step (a recurrent
//! layer: a slice of the hidden units), so a step costs one barrier: what OpenMP's parallel
//! region with a `barrier` inside does.
//!
//! The team forms at the start: the caller posts the job to the helpers (`crate::workers`) and
//! waits a moment for them to join; then the team is closed and its size fixed, and a helper
//! that arrives later leaves at once. Work is split by [`Member::index`] and [`Member::size`],
//! so a team of one (no helper came, or one thread is configured) does the whole job alone.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long the first member waits for the others to join. A helper that is spinning joins
/// within a microsecond or so; a sleeping one takes 50-100 µs to wake, which a job long enough
/// to be worth a team repays.
const FORM: Duration = Duration::from_micros(100);

/// Set in `Team::joined` once the team is closed; the rest of the word counts the members.
const CLOSED: usize = 1 << (usize::BITS - 1);

/// Spins at a barrier before yielding the core between checks (a member that lost its core to
/// another program then gets it back sooner).
const SPINS_BEFORE_YIELD: u32 = 1 << 14;

/// The shared state of one team.
struct Team {
    /// Members so far, plus [`CLOSED`] once no more may join.
    joined: AtomicUsize,
    /// Members arrived at the current barrier.
    arrived: AtomicUsize,
    /// Barriers passed: members at a barrier wait for this to move.
    generation: AtomicUsize,
    /// A member panicked: the others leave their barrier (with a panic of their own) instead of
    /// waiting for it forever.
    poisoned: AtomicBool,
}

/// One thread's place in a team.
pub(crate) struct Member<'a> {
    /// This member's number, `0..size`.
    pub index: usize,
    /// How many members the team has.
    pub size: usize,
    team: &'a Team,
}

impl Member<'_> {
    /// Waits until every member has reached this barrier. Writes before it are visible to every
    /// member after it.
    pub(crate) fn barrier(&self) {
        if self.size <= 1 {
            return;
        }
        let team = self.team;
        let generation = team.generation.load(Ordering::Acquire);
        if team.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.size {
            // The last to arrive resets the count before it releases the others, so none can
            // count itself in at the next barrier too early.
            team.arrived.store(0, Ordering::Relaxed);
            team.generation.store(generation + 1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while team.generation.load(Ordering::Acquire) == generation {
            if team.poisoned.load(Ordering::Relaxed) {
                panic!("another thread of the team panicked");
            }
            if spins < SPINS_BEFORE_YIELD {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// This member's share of `0..len` in whole multiples of `unit` (the last member's may end
    /// on a partial one): consecutive, disjoint, covering `0..len` over the team; some are
    /// empty when there are fewer units than members.
    pub(crate) fn share(&self, len: usize, unit: usize) -> std::ops::Range<usize> {
        let units = len.div_ceil(unit.max(1));
        let per = units.div_ceil(self.size.max(1));
        let start = (self.index * per * unit).min(len);
        let end = ((self.index + 1) * per * unit).min(len);
        start..end
    }
}

/// Runs `job` on a team of up to `wanted` threads (the caller and helpers that join in time),
/// each call with its own [`Member`]. Returns when every member has returned; a panic in any
/// reaches the caller. `job` must split its work by the member's index and the team's size, and
/// every member must pass the same barriers.
pub(crate) fn team(wanted: usize, job: impl Fn(&Member<'_>) + Sync) {
    #[cfg(test)]
    if let Some(size) = SCOPED.get() {
        return scoped_team(size, &job);
    }
    // Inside another job, or beside one, no helper could join: a team of one, at once, rather
    // than one that waits for helpers to form.
    let wanted = if crate::workers::can_post() {
        wanted.min(crate::parallel::num_threads()).max(1)
    } else {
        1
    };
    let team = Team {
        joined: AtomicUsize::new(0),
        arrived: AtomicUsize::new(0),
        generation: AtomicUsize::new(0),
        poisoned: AtomicBool::new(false),
    };
    if wanted == 1 {
        return job(&Member {
            index: 0,
            size: 1,
            team: &team,
        });
    }
    crate::workers::run(&|| {
        let Some(index) = team.join(wanted) else {
            return;
        };
        let size = if index == 0 {
            team.close_when_full(wanted)
        } else {
            team.size_once_closed()
        };
        let member = Member {
            index,
            size,
            team: &team,
        };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| job(&member))) {
            team.poisoned.store(true, Ordering::Relaxed);
            resume_unwind(payload);
        }
    });
}

#[cfg(test)]
thread_local! {
    /// Tests set this to run the teams this thread forms on that many scoped threads, so that a
    /// kernel's split is tested at sizes the machine's helpers would not give.
    pub(crate) static SCOPED: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// [`team`] on `size` scoped threads (tests).
#[cfg(test)]
fn scoped_team(size: usize, job: &(impl Fn(&Member<'_>) + Sync)) {
    let team = Team {
        joined: AtomicUsize::new(size | CLOSED),
        arrived: AtomicUsize::new(0),
        generation: AtomicUsize::new(0),
        poisoned: AtomicBool::new(false),
    };
    let member = |index| {
        let member = Member {
            index,
            size,
            team: &team,
        };
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| job(&member))) {
            team.poisoned.store(true, Ordering::Relaxed);
            resume_unwind(payload);
        }
    };
    std::thread::scope(|s| {
        for index in 1..size {
            s.spawn(move || member(index));
        }
        member(0);
    });
}

impl Team {
    /// A place in the team, unless it is closed or full.
    fn join(&self, wanted: usize) -> Option<usize> {
        let mut seen = self.joined.load(Ordering::Acquire);
        loop {
            if seen & CLOSED != 0 || seen >= wanted {
                return None;
            }
            match self.joined.compare_exchange_weak(
                seen,
                seen + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(seen),
                Err(now) => seen = now,
            }
        }
    }

    /// The first member's part: waits until `wanted` have joined or [`FORM`] has passed, closes
    /// the team and returns its size.
    fn close_when_full(&self, wanted: usize) -> usize {
        let start = Instant::now();
        while self.joined.load(Ordering::Acquire) < wanted && start.elapsed() < FORM {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
        }
        // Atomic with the joins: a member counted here has its place, one after it has none.
        self.joined.fetch_or(CLOSED, Ordering::AcqRel) & !CLOSED
    }

    /// The other members' part: the size, once the first member has closed the team.
    fn size_once_closed(&self) -> usize {
        loop {
            let seen = self.joined.load(Ordering::Acquire);
            if seen & CLOSED != 0 {
                return seen & !CLOSED;
            }
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every member sees every other member's writes of a step after the barrier: each step
    /// writes one slot per member and checks the whole previous row.
    #[test]
    fn members_see_each_others_steps_after_a_barrier() {
        const STEPS: usize = 200;
        let slots: Vec<AtomicUsize> = (0..STEPS * 8).map(|_| AtomicUsize::new(0)).collect();
        let bad = AtomicUsize::new(0);
        let sizes = AtomicUsize::new(0);
        team(8, |m| {
            sizes.fetch_max(m.size, Ordering::Relaxed);
            for step in 0..STEPS {
                slots[step * 8 + m.index].store(step + 1, Ordering::Relaxed);
                m.barrier();
                let row = &slots[step * 8..step * 8 + m.size];
                if row.iter().any(|s| s.load(Ordering::Relaxed) != step + 1) {
                    bad.fetch_add(1, Ordering::Relaxed);
                }
                m.barrier();
            }
        });
        assert_eq!(bad.load(Ordering::Relaxed), 0);
        assert!(sizes.load(Ordering::Relaxed) >= 1);
    }

    #[test]
    fn shares_cover_the_range_once() {
        for size in 1..5 {
            for len in [0, 1, 15, 16, 17, 128, 130] {
                let team = Team {
                    joined: AtomicUsize::new(0),
                    arrived: AtomicUsize::new(0),
                    generation: AtomicUsize::new(0),
                    poisoned: AtomicBool::new(false),
                };
                let mut next = 0;
                for index in 0..size {
                    let r = Member {
                        index,
                        size,
                        team: &team,
                    }
                    .share(len, 16);
                    assert!(r.is_empty() || r.start == next, "size {size} len {len}");
                    assert!(r.is_empty() || r.start.is_multiple_of(16));
                    next = next.max(r.end);
                }
                assert_eq!(next, len, "size {size} len {len}");
            }
        }
    }

    /// Inside a job no helper is free to join: the team is the caller alone, formed without
    /// waiting for helpers.
    #[test]
    fn a_team_inside_a_job_is_a_team_of_one() {
        let sizes = AtomicUsize::new(0);
        crate::parallel::par_for(4, |_| {
            team(4, |m| {
                sizes.fetch_max(m.size, Ordering::Relaxed);
                m.barrier();
            })
        });
        assert_eq!(sizes.load(Ordering::Relaxed), 1);
    }

    /// A member that panics does not leave the others waiting at a barrier.
    #[test]
    fn a_panic_in_one_member_reaches_the_caller() {
        let r = catch_unwind(AssertUnwindSafe(|| {
            team(2, |m| {
                if m.index + 1 == m.size {
                    panic!("last member");
                }
                m.barrier();
            })
        }));
        assert!(r.is_err());
    }
}
