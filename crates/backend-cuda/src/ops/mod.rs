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

use crate::launch::Launch;
use crate::{Cuda, CudaStorage, Result};
use cust::module::Module;
use nanotorch_ndarray_core::{checks, DType, Element, Layout};

/// The kernel-name suffix of a dtype. The kernels exist for f32, f64 and i64; a `u8` or
/// `bool` array on the GPU gets the launcher's "no kernel" error naming the kernel.
pub(crate) fn suffix(d: DType) -> &'static str {
    d.name()
}

/// Runs kernel `name` of `module`, which reads the view `layout` of `src` into a new contiguous
/// buffer of `layout.numel()` elements, and returns the buffer. Such kernels share their first
/// arguments, `src, out, n, rank, view`; `more` appends the rest. `op` names the caller in the
/// layout check. An empty view launches nothing.
pub(crate) fn map_view<E: Element, T: Element>(
    dev: &Cuda,
    (module, name, op): (&Module, String, &'static str),
    src: &CudaStorage<E>,
    layout: &Layout,
    more: impl FnOnce(Launch<'_>) -> Launch<'_>,
) -> Result<CudaStorage<T>> {
    checks::fits(op, layout, src.len())?;
    let n = layout.numel();
    let out = dev.alloc::<T>(n)?;
    if n > 0 {
        let launch = Launch::new(dev, module, name)
            .ptr(src)
            .ptr(&out)
            .len(n)
            .rank(layout)
            .view(layout)?;
        more(launch).items(n).run()?;
    }
    Ok(out)
}
