//! Ready-made datasets: the UCI optical-digits set bundled in the crate ([`digits`]), and seeded
//! synthetic generators for quick experiments ([`moons`], [`spirals`], [`blobs`]).
//!
//! (The [`Dataset`](crate::Dataset) trait and the datasets built from others live at the crate
//! root; this module is the data itself.)

mod digits;
mod synthetic;

pub use digits::{digits, digits_full, DIGITS_ROWS, DIGITS_SPLIT_SEED, DIGITS_TEST, DIGITS_TRAIN};
pub use synthetic::{blobs, moons, spirals};
