//! The seeded random generator behind `rand`, `randn`, dropout and init schemes.
//! `manual_seed(s)` makes a program reproducible bit for bit.
//!
//! One generator per thread (PyTorch has one per process): a thread's draws never interleave
//! with another's, so a seeded computation gives the same numbers whatever else runs beside it
//! (parallel tests, data-loading workers).

use nanotorch_ndarray_core::Generator;
use std::cell::RefCell;

/// The seed used until `manual_seed` is called.
const DEFAULT_SEED: u64 = 0x5EED_0F70_4C48;

thread_local! {
    static GENERATOR: RefCell<Generator> = RefCell::new(Generator::new(DEFAULT_SEED));
}

/// Reseeds this thread's generator (PyTorch's `torch.manual_seed`).
pub fn manual_seed(seed: u64) {
    GENERATOR.with(|g| *g.borrow_mut() = Generator::new(seed));
}

/// A fresh per-call seed from this thread's generator.
pub fn next_seed() -> u64 {
    GENERATOR.with(|g| g.borrow_mut().next_seed())
}
