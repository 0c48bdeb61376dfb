//! The shared backend conformance suite (`nanotorch_ndarray_core::conformance`), run for `Cuda`,
//! one test per family. Each skips, saying why, when device 0 cannot be opened.
//!
//! `random` is the one family left out: the suite demands bit-equal normal draws, and the
//! device's `log`/`cos` may differ from glibc's in the last bit of an f64. `random_matches_cpu`
//! in `vs_cpu.rs` checks random fills instead (uniform and Bernoulli bit for bit, normal within
//! a relative 1e-13).
#![cfg(feature = "cuda")]

use nanotorch_backend_cuda::testing::device_or_skip;
use nanotorch_ndarray_core::conformance as c;

macro_rules! family {
    ($($name:ident => $check:path),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                if let Some(dev) = device_or_skip(concat!("conformance ", stringify!($name))) {
                    $check(&dev);
                }
            }
        )*
    };
}

family! {
    creation => c::check_creation,
    copy => c::check_copy,
    cast => c::check_cast,
    unary => c::check_unary,
    binary => c::check_binary,
    scalar => c::check_scalar,
    inplace => c::check_inplace,
    axpby => c::check_axpby,
    where_cond => c::check_where,
    lstm_cell => c::check_lstm_cell,
    lstm_recurrence => c::check_lstm_recurrence,
    reduce => c::check_reduce,
    arg_reduce => c::check_arg_reduce,
    matmul => c::check_matmul,
    indexing => c::check_indexing,
    im2col => c::check_im2col,
    large => c::check_large,
    errors => c::check_errors,
}
