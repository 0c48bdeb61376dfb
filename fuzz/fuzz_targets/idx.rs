//! Any bytes into the IDX reader (raw and gzip paths): it must return Ok or Err, never panic,
//! and never allocate more than the input can fill.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanotorch_data::readers::{mnist_from_idx, parse_idx_with_limit};

fuzz_target!(|data: &[u8]| {
    // A 16 MiB limit on declared data keeps every accepted input well under `-rss_limit_mb`.
    if let Ok(a) = parse_idx_with_limit(data, "fuzz.idx", 16 << 20) {
        assert_eq!(a.numel(), a.to_f32().len());
        // Pair it with itself as images and labels: exercises the MNIST checks.
        let _ = mnist_from_idx(&a, &a);
    }
});
