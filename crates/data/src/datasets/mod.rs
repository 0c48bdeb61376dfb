//! Ready-made datasets: the UCI optical-digits set bundled in the crate ([`digits`]), eight
//! Shakespeare plays for character-level language models ([`shakespeare`], with [`CharVocab`]
//! and [`random_windows`]), and seeded synthetic generators for quick experiments ([`moons`],
//! [`spirals`], [`blobs`]).
//!
//! (The [`Dataset`](crate::Dataset) trait and the datasets built from others live at the crate
//! root; this module is the data itself.)

mod digits;
mod shakespeare;
mod synthetic;

pub use digits::{digits, digits_full, DIGITS_ROWS, DIGITS_SPLIT_SEED, DIGITS_TEST, DIGITS_TRAIN};
pub use shakespeare::{
    random_windows, shakespeare, shakespeare_text, CharCorpus, CharVocab, SHAKESPEARE_CHARS,
    SHAKESPEARE_TRAIN_FRACTION,
};
pub use synthetic::{blobs, moons, spirals};
