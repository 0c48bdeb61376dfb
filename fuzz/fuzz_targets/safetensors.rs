//! Any bytes into the checkpoint loader (`parse_safetensors`, as f32 and as f64): it must return
//! Ok or Err, never panic, and never allocate more than a small multiple of the input (run with
//! `-rss_limit_mb` and `-malloc_limit_mb` as fuzz/README.md says).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanotorch_backend_cpu::Cpu;
use nanotorch_nn::parse_safetensors;

fuzz_target!(|data: &[u8]| {
    if let Ok(state) = parse_safetensors::<f32, Cpu>(data, "fuzz.safetensors", &Cpu) {
        // Whatever loads must be whole: each tensor's values match its shape.
        for tensor in state.values() {
            let n: usize = tensor.dims().iter().product();
            assert_eq!(tensor.to_vec().map(|v| v.len()).ok(), Some(n));
        }
        // And the f64 path agrees on which files are valid.
        assert!(parse_safetensors::<f64, Cpu>(data, "fuzz.safetensors", &Cpu).is_ok());
    }
});
