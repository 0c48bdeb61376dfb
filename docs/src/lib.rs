//! # The nanotorch book, as tests
//!
//! Each chapter of `docs/` is included below as the documentation of an empty module, so that
//! `cargo test --workspace` (and so `cargo xtask test-all`) compiles and runs every Rust code block
//! in it as a doctest. A chapter is in the build exactly when it is listed here: adding one is one
//! line in `chapters!` below; a chapter that is not written yet is simply not listed.
//!
//! Code blocks follow rustdoc's rules: ```` ```rust ```` blocks run, ```` ```rust,ignore ````
//! blocks are shown but not compiled, ```` ```text ```` blocks are prose; lines starting with `# `
//! are compiled but hidden (use them for `fn main() -> Result<()>` wrappers).
#![deny(missing_docs)]

/// Includes each listed markdown file as the doc comment of a module compiled only for doctests.
macro_rules! chapters {
    ($($module:ident => $file:literal,)*) => {
        $(
            #[cfg(doctest)]
            #[doc = include_str!(concat!("../", $file))]
            pub mod $module {}
        )*
    };
}

chapters! {
    readme => "../README.md",
    ch00_scalar => "00-scalar.md",
    ch01_arrays => "01-arrays.md",
    ch02_backend => "02-backend.md",
    ch03_autograd => "03-autograd.md",
    ch03b_gradients => "03b-gradients.md",
    ch04_modules => "04-modules.md",
    ch05_losses_optimizers => "05-losses-optimizers.md",
    ch06_data => "06-data.md",
    ch07_training => "07-training.md",
    ch08_gpu_backend => "08-gpu-backend.md",
    ch09_sequences => "09-sequences.md",
    ch10_safety => "10-safety.md",
    ch11_distributed => "11-distributed.md",
    ch12_convolutions => "12-convolutions.md",
}
