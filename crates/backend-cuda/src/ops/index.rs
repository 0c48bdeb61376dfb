//! Gather, scatter-add and index-select (`kernels/index.cu`).
//!
//! Index values live on the device, so their range is checked there: `index_check` records the
//! first bad position (row-major) with `atomicMin` in a one-element flag, which the host reads
//! back before any gather or scatter kernel is queued. That read is the one wait of these ops;
//! it lets them return [`nanotorch_ndarray_core::Error::IndexOutOfBounds`] naming the same
//! index as the CPU, leave a scatter-add destination untouched on error, and never index out of
//! bounds on the device.

use super::suffix;
use crate::launch::Launch;
use crate::{Cuda, CudaStorage, Result};
use nanotorch_ndarray_core::checks;
use nanotorch_ndarray_core::{Element, Layout, StridedIndex};

/// Checks every index (read through `layout`) against `0..size`; the first one outside is
/// reported through `checks::index_value`, as every backend reports it.
fn check_indices(
    dev: &Cuda,
    op: &'static str,
    (index, layout): (&CudaStorage<i64>, &Layout),
    axis: usize,
    size: usize,
) -> Result<()> {
    let n = layout.numel();
    if n == 0 {
        return Ok(());
    }
    // The kernel's flag is an `unsigned long long` holding the first bad position; it starts
    // at u64::MAX, which an i64 storage holds as -1 (the same bits).
    let flag = dev.upload(&[-1i64])?;
    Launch::new(dev, &dev.inner.index, "index_check".to_string())
        .ptr(index)
        .len(n)
        .rank(layout)
        .view(layout)?
        .len(size)
        .ptr(&flag)
        .items(n)
        .run()?;
    let first = dev.download(&flag)?[0] as u64;
    if first == u64::MAX {
        return Ok(());
    }
    // The error path: fetch the offending value to name it.
    let at = StridedIndex::starting_at(layout, first as usize)
        .next()
        .unwrap_or(layout.offset());
    let one = Layout::new(vec![1], vec![1], at);
    let value = super::copy::to_vec(dev, index, &one)?
        .first()
        .copied()
        .unwrap_or(-1);
    checks::index_value(op, value, axis, size).map(|_| ())
}

/// `out[..][i][..] = src[..][index[..][i][..]][..]` along `axis`; shaped like the index.
pub(crate) fn gather<E: Element>(
    dev: &Cuda,
    (src, sl): (&CudaStorage<E>, &Layout),
    (index, il): (&CudaStorage<i64>, &Layout),
    axis: usize,
) -> Result<CudaStorage<E>> {
    checks::fits("gather", sl, src.len())?;
    checks::fits("gather", il, index.len())?;
    let view = checks::gather(sl, il, axis)?;
    check_indices(dev, "gather", (index, il), axis, sl.dims()[axis])?;
    let n = il.numel();
    let out = dev.alloc::<E>(n)?;
    if n > 0 {
        Launch::new(
            dev,
            &dev.inner.index,
            format!("gather_{}", suffix(E::DTYPE)),
        )
        .ptr(src)
        .ptr(&out)
        .len(n)
        .rank(il)
        .view(il)?
        .ptr(index)
        .view(&view)?
        .len(sl.strides()[axis])
        .items(n)
        .run()?;
    }
    Ok(out)
}

/// In place: `dst[..][index[..][i][..]][..] += src[..][i][..]` along `axis` (atomic adds, so
/// colliding float indices add in an unspecified order).
pub(crate) fn scatter_add<E: Element>(
    dev: &Cuda,
    (dst, dl): (&mut CudaStorage<E>, &Layout),
    (index, il): (&CudaStorage<i64>, &Layout),
    (src, sl): (&CudaStorage<E>, &Layout),
    axis: usize,
) -> Result<()> {
    checks::fits("scatter_add", dl, dst.len())?;
    checks::fits("scatter_add", il, index.len())?;
    checks::fits("scatter_add", sl, src.len())?;
    let view = checks::scatter_add(dl, il, sl, axis)?;
    // Every index is checked before anything is added, so an error leaves `dst` untouched.
    check_indices(dev, "scatter_add", (index, il), axis, dl.dims()[axis])?;
    let n = il.numel();
    if n == 0 {
        return Ok(());
    }
    let name = format!("scatter_add_{}", suffix(E::DTYPE));
    Launch::new(dev, &dev.inner.index, name)
        .ptr(dst)
        .len(n)
        .rank(il)
        .view(il)?
        .ptr(index)
        .view(sl)?
        .ptr(src)
        .view(&view)?
        .len(dl.strides()[axis])
        .items(n)
        .run()
}

/// The slices `index[0], index[1], …` of `src` along `axis` (a 1-D index).
pub(crate) fn index_select<E: Element>(
    dev: &Cuda,
    (src, sl): (&CudaStorage<E>, &Layout),
    (index, il): (&CudaStorage<i64>, &Layout),
    axis: usize,
) -> Result<CudaStorage<E>> {
    checks::fits("index_select", sl, src.len())?;
    checks::fits("index_select", il, index.len())?;
    checks::index_select(sl, il, axis)?;
    check_indices(dev, "index_select", (index, il), axis, sl.dims()[axis])?;
    let nidx = il.numel();
    // Read through the source with the axis stride 0, then add `index[j] * stride`.
    let mut dims = sl.dims().to_vec();
    dims[axis] = nidx;
    let mut strides = sl.strides().to_vec();
    strides[axis] = 0;
    let inner: usize = dims[axis + 1..].iter().product();
    let view = Layout::new(dims, strides, sl.offset());
    let len = view.numel();
    let out = dev.alloc::<E>(len)?;
    if len > 0 {
        let name = format!("index_select_{}", suffix(E::DTYPE));
        Launch::new(dev, &dev.inner.index, name)
            .ptr(src)
            .ptr(&out)
            .len(len)
            .rank(&view)
            .view(&view)?
            .ptr(index)
            .len(il.offset())
            .len(il.strides()[0])
            .len(inner.max(1))
            .len(nidx.max(1))
            .len(sl.strides()[axis])
            .items(len)
            .run()?;
    }
    Ok(out)
}
