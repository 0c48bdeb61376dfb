//! Reductions over any set of axes (`kernels/reduce.cu`) and argmax/argmin along one axis
//! (`kernels/arg_reduce.cu`). Many outputs over few or strided elements: one thread per output
//! walks its elements (a warp's loads are then adjacent). Few outputs, or rows of contiguous
//! elements: a block per output, or per chunk of one and a second pass over the chunks' results
//! (a full sum of 16M f32 took 6.4 s on an H200 with one thread for the single output). Both
//! are deterministic: the order depends only on the sizes.

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
    let reduced = merged(&red_shape, &red_strides);
    let n_out = kept.numel();
    let out = dev.alloc::<E>(n_out)?;
    if n_out == 0 {
        return Ok(out);
    }
    let n_red = reduced.numel();
    let contiguous_rows = reduced.strides().last() == Some(&1);
    if n_red < 2 * REDUCE_BLOCK || (n_out >= FEW_OUTPUTS && !contiguous_rows) {
        let name = format!("reduce_{}_{}", op.name(), suffix(E::DTYPE));
        Launch::new(dev, &dev.inner.reduce, name)
            .ptr(x)
            .ptr(&out)
            .len(n_out)
            .rank(&kept)
            .view(&kept)?
            .rank(&reduced)
            .dims(&reduced)?
            .len(n_red)
            .items(n_out)
            .run()?;
        return Ok(out);
    }
    // Few outputs: each output's elements in chunks of about `CHUNK` (their own blocks), whose
    // partial results a second pass folds. The chunk count depends only on the sizes.
    let chunks = if n_out >= FEW_OUTPUTS {
        1
    } else {
        (n_red / CHUNK).clamp(1, MAX_CHUNKS)
    };
    let blocks = |x: &CudaStorage<E>, out: &CudaStorage<E>, kept: &Layout, red: &Layout, chunks| {
        let name = format!("reduce_blocks_{}_{}", op.name(), suffix(E::DTYPE));
        Launch::new(dev, &dev.inner.reduce, name)
            .ptr(x)
            .ptr(out)
            .len(kept.numel())
            .rank(kept)
            .view(kept)?
            .rank(red)
            .dims(red)?
            .len(red.numel())
            .len(chunks)
            .shape(
                (((kept.numel() * chunks).min(MAX_GRID)) as u32, 1, 1),
                (REDUCE_BLOCK as u32, 1, 1),
            )
            .run()
    };
    if chunks == 1 {
        blocks(x, &out, &kept, &reduced, 1)?;
        return Ok(out);
    }
    let partials = dev.alloc::<E>(n_out * chunks)?;
    blocks(x, &partials, &kept, &reduced, chunks)?;
    let rows = Layout::new(vec![n_out], vec![chunks], 0);
    let row = Layout::new(vec![chunks], vec![1], 0);
    blocks(&partials, &out, &rows, &row, 1)?;
    Ok(out)
}

/// Threads per block of `reduce_blocks_*` (`REDUCE_BLOCK` in `kernels/reduce.cu`).
const REDUCE_BLOCK: usize = 256;
/// Below this many outputs a thread per output leaves most of the GPU idle.
const FEW_OUTPUTS: usize = 1024;
/// Reduced elements per block when few outputs are split into chunks.
const CHUNK: usize = 16 * REDUCE_BLOCK;
/// Most chunks per output (the second pass folds them in one block).
const MAX_CHUNKS: usize = 1024;
/// Most blocks per launch (the kernel loops over the rest).
const MAX_GRID: usize = 1 << 20;

/// The reduced axes as a layout, adjacent axes that are contiguous with each other merged and
/// size-1 axes dropped, so a full reduction of a contiguous array is one axis of stride 1 (the
/// kernels then skip the index arithmetic).
fn merged(shape: &[usize], strides: &[usize]) -> Layout {
    let (mut dims, mut steps): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    for (&d, &s) in shape.iter().zip(strides) {
        if d == 1 {
            continue;
        }
        match (dims.last_mut(), steps.last_mut()) {
            (Some(last_d), Some(last_s)) if *last_s == s * d => {
                *last_d *= d;
                *last_s = s;
            }
            _ => {
                dims.push(d);
                steps.push(s);
            }
        }
    }
    Layout::new(dims, steps, 0)
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
