//! Checks once, errors alike: the conformance suite's error family
//! (`conformance::check_errors`) on `Cpu` always, and on `Cuda` when device 0 opens. Each kind
//! of precondition mistake must give the same `Error` variant on both, which is the point of
//! `nanotorch_ndarray_core::checks`.

use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::conformance::check_errors;

#[test]
fn cpu_errors_follow_the_checks_table() {
    check_errors(&Cpu);
}

#[cfg(feature = "cuda")]
#[test]
fn cuda_errors_follow_the_checks_table() {
    if let Some(dev) =
        nanotorch_backend_cuda::testing::device_or_skip("cuda_errors_follow_the_checks_table")
    {
        check_errors(&dev);
    }
}
