//! Reductions over any set of axes (`kernels/reduce.cu`) and argmax/argmin along one axis
//! (`kernels/arg_reduce.cu`). One thread per output element walks its reduced elements: simple
//! and deterministic (the same order every run), not the fastest (see the README).

use super::suffix;
use crate::launch::Launch;
use crate::{Cuda, CudaStorage, Result};
use nanotorch_ndarray_core::checks;
use nanotorch_ndarray_core::{ArgReduceOp, Element, Layout, ReduceOp};

/// Reduces over `axes`; the result keeps each reduced axis with size 1.
pub(crate) fn reduce<E: Element>(
    dev: &Cuda,
    op: ReduceOp,
    x: &CudaStorage<E>,
    layout: &Layout,
    axes: &[usize],
) -> Result<CudaStorage<E>> {
    checks::fits(op.name(), layout, x.len())?;
    checks::reduce_axes(op.name(), layout, axes)?;
    // Split the layout: kept axes (reduced ones set to size 1) and the reduced axes alone.
    let mut kept_shape = layout.dims().to_vec();
    let (mut red_shape, mut red_strides) = (Vec::new(), Vec::new());
    for &a in axes {
        kept_shape[a] = 1;
        red_shape.push(layout.dims()[a]);
        red_strides.push(layout.strides()[a]);
    }
    let kept = Layout::new(kept_shape, layout.strides().to_vec(), layout.offset());
    let reduced = Layout::new(red_shape, red_strides, 0);
    let n_out = kept.numel();
    let out = dev.alloc::<E>(n_out)?;
    if n_out > 0 {
        let name = format!("reduce_{}_{}", op.name(), suffix(E::DTYPE));
        Launch::new(dev, &dev.inner.reduce, name)
            .ptr(x)
            .ptr(&out)
            .len(n_out)
            .rank(&kept)
            .view(&kept)?
            .rank(&reduced)
            .dims(&reduced)?
            .len(reduced.numel())
            .items(n_out)
            .run()?;
    }
    Ok(out)
}

/// Index of the extreme value along `axis`; the result keeps `axis` with size 1.
pub(crate) fn arg_reduce<E: Element>(
    dev: &Cuda,
    op: ArgReduceOp,
    x: &CudaStorage<E>,
    layout: &Layout,
    axis: usize,
) -> Result<CudaStorage<i64>> {
    checks::fits(op.name(), layout, x.len())?;
    checks::arg_reduce_axis(op.name(), layout, axis)?;
    // The layout without the reduced axis maps output i to the start of its row.
    let mut dims = layout.dims().to_vec();
    let mut strides = layout.strides().to_vec();
    let len = dims.remove(axis);
    let stride = strides.remove(axis);
    let outer = Layout::new(dims, strides, layout.offset());
    let n_out = outer.numel();
    let out = dev.alloc::<i64>(n_out)?;
    if n_out > 0 {
        let name = format!("arg_reduce_{}_{}", op.name(), suffix(E::DTYPE));
        Launch::new(dev, &dev.inner.arg_reduce, name)
            .ptr(x)
            .ptr(&out)
            .len(n_out)
            .rank(&outer)
            .view(&outer)?
            .len(len)
            .len(stride)
            .items(n_out)
            .run()?;
    }
    Ok(out)
}
