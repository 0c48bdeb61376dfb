//! Fills, copies and casts (`kernels/fill_copy.cu`), and `to_vec`'s device side.

use super::{map_view, suffix};
use crate::launch::Launch;
use crate::{Cuda, CudaStorage, Result};
use nanotorch_ndarray_core::checks;
use nanotorch_ndarray_core::{Element, Layout};

/// `len` copies of `value`.
pub(crate) fn full<E: Element>(dev: &Cuda, len: usize, value: E) -> Result<CudaStorage<E>> {
    let out = dev.alloc::<E>(len)?;
    fill(dev, &out, value)?;
    Ok(out)
}

/// Queues `out[..] = value` (`full_<dt>`).
pub(crate) fn fill<E: Element>(dev: &Cuda, out: &CudaStorage<E>, value: E) -> Result<()> {
    let len = out.len();
    if len == 0 {
        return Ok(());
    }
    Launch::new(
        dev,
        &dev.inner.fill_copy,
        format!("full_{}", suffix(E::DTYPE)),
    )
    .ptr(out)
    .len(len)
    .scalar(value)
    .items(len)
    .run()
}

/// `start + step·i` for `i < len`, computed in f64.
pub(crate) fn arange<E: Element>(
    dev: &Cuda,
    start: f64,
    step: f64,
    len: usize,
) -> Result<CudaStorage<E>> {
    let out = dev.alloc::<E>(len)?;
    if len > 0 {
        let name = format!("arange_{}", suffix(E::DTYPE));
        Launch::new(dev, &dev.inner.fill_copy, name)
            .ptr(&out)
            .len(len)
            .f64(start)
            .f64(step)
            .items(len)
            .run()?;
    }
    Ok(out)
}

/// A contiguous copy of the elements of `layout`.
pub(crate) fn copy_strided<E: Element>(
    dev: &Cuda,
    src: &CudaStorage<E>,
    layout: &Layout,
) -> Result<CudaStorage<E>> {
    let name = format!("copy_strided_{}", suffix(E::DTYPE));
    map_view(
        dev,
        (&dev.inner.fill_copy, name, "copy"),
        src,
        layout,
        |l| l,
    )
}

/// In place: `dst[dst_layout] = src[src_layout]`.
pub(crate) fn assign<E: Element>(
    dev: &Cuda,
    (dst, dl): (&mut CudaStorage<E>, &Layout),
    (src, sl): (&CudaStorage<E>, &Layout),
) -> Result<()> {
    checks::fits("assign", dl, dst.len())?;
    checks::writable("assign", dl)?;
    checks::fits("assign", sl, src.len())?;
    checks::same_shape("assign", dl, sl)?;
    let n = dl.numel();
    if n == 0 {
        return Ok(());
    }
    Launch::new(
        dev,
        &dev.inner.fill_copy,
        format!("assign_{}", suffix(E::DTYPE)),
    )
    .ptr(dst)
    .len(n)
    .rank(dl)
    .view(dl)?
    .ptr(src)
    .view(sl)?
    .items(n)
    .run()
}

/// Each element converted to `T` (through f64, as `as` does; same type: a bit-exact copy).
pub(crate) fn cast<E: Element, T: Element>(
    dev: &Cuda,
    src: &CudaStorage<E>,
    layout: &Layout,
) -> Result<CudaStorage<T>> {
    if E::DTYPE == T::DTYPE {
        // The same type: a bit-exact copy (i64 must not round-trip through f64).
        return Ok(copy_strided(dev, src, layout)?.reinterpret());
    }
    let name = format!("cast_{}_{}", suffix(E::DTYPE), suffix(T::DTYPE));
    map_view(
        dev,
        (&dev.inner.fill_copy, name, "cast"),
        src,
        layout,
        |l| l.flag(layout.is_contiguous()),
    )
}

/// The elements of `layout`, read back in row-major order. A view that is not the whole
/// storage in order is first gathered on the device, so only its elements cross the bus.
pub(crate) fn to_vec<E: Element>(
    dev: &Cuda,
    storage: &CudaStorage<E>,
    layout: &Layout,
) -> Result<Vec<E>> {
    checks::fits("to_vec", layout, storage.len())?;
    let whole = layout.is_contiguous() && layout.offset() == 0 && layout.numel() == storage.len();
    if whole {
        return dev.download(storage);
    }
    let packed = copy_strided(dev, storage, layout)?;
    dev.download(&packed)
}
