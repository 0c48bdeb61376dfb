//! The kernels of `impl Backend for Cuda`, one file per op family, each over the one launch
//! builder ([`crate::launch::Launch`]). Every entry point checks its preconditions through
//! `nanotorch_ndarray_core::checks` (the same checks, and so the same errors, as every other
//! backend), allocates its output from the caching allocator and queues its kernels without
//! waiting. Kernel names are `<family>_<op>_<dtype>` strings, built here from the op's name.

pub(crate) mod copy;
pub(crate) mod elementwise;
pub(crate) mod index;
pub(crate) mod matmul;
pub(crate) mod random;
pub(crate) mod reduce;
pub(crate) mod window;

use nanotorch_ndarray_core::DType;

/// The kernel-name suffix of a dtype. The kernels exist for f32, f64 and i64; a `u8` or
/// `bool` array on the GPU gets the launcher's "no kernel" error naming the kernel.
pub(crate) fn suffix(d: DType) -> &'static str {
    d.name()
}
