//! Any bytes into the CIFAR-10 batch reader: Ok or Err, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanotorch_data::readers::parse_cifar10;
use nanotorch_data::Dataset;

fuzz_target!(|data: &[u8]| {
    if let Ok(d) = parse_cifar10(data, "fuzz.bin") {
        assert_eq!(d.len() * 3073, data.len());
    }
});
