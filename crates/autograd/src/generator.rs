//! The global seeded random generator behind `rand`, `randn`, dropout and init schemes.
//! `manual_seed(s)` makes a whole program reproducible bit for bit.

use nanotorch_ndarray_core::Generator;
use std::sync::Mutex;

/// The seed used until `manual_seed` is called.
const DEFAULT_SEED: u64 = 0x5EED_0F_70_4C_48;

static GENERATOR: Mutex<Option<Generator>> = Mutex::new(None);

/// Reseeds the global generator (PyTorch's `torch.manual_seed`).
pub fn manual_seed(seed: u64) {
    *GENERATOR.lock().unwrap_or_else(|p| p.into_inner()) = Some(Generator::new(seed));
}

/// A fresh per-call seed from the global generator.
pub fn next_seed() -> u64 {
    let mut guard = GENERATOR.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .get_or_insert_with(|| Generator::new(DEFAULT_SEED))
        .next_seed()
}
