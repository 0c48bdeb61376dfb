//! Indexing: gather, scatter-add and index-select along one axis.

use crate::parallel::par_chunks;
use crate::storage::CpuStorage;
use nanotorch_ndarray_core::{checks, Element, Layout, ReduceOp, Result, StridedIndex};

pub(crate) fn gather<E: Element>(
    src: &[E],
    sl: &Layout,
    index: &[i64],
    il: &Layout,
    axis: usize,
) -> Result<CpuStorage<E>> {
    let view = sl.index_companion("gather", il, axis)?;
    let size = sl.dims()[axis];
    let stride = sl.strides()[axis];
    let mut out = Vec::with_capacity(il.numel());
    for (io, so) in il.strided_index().zip(view.strided_index()) {
        let i = checks::index_value("gather", index[io], axis, size)?;
        out.push(src[so + i * stride]);
    }
    Ok(CpuStorage::from_vec(out))
}

pub(crate) fn scatter_add<E: Element>(
    dst: &mut [E],
    dl: &Layout,
    index: &[i64],
    il: &Layout,
    src: &[E],
    sl: &Layout,
    axis: usize,
) -> Result<()> {
    let view = dl.index_companion("scatter_add", il, axis)?;
    let size = dl.dims()[axis];
    let stride = dl.strides()[axis];
    // Validate every index first, so an error leaves `dst` untouched.
    for io in il.strided_index() {
        checks::index_value("scatter_add", index[io], axis, size)?;
    }
    for ((io, so), d) in il
        .strided_index()
        .zip(sl.strided_index())
        .zip(view.strided_index())
    {
        let o = &mut dst[d + index[io] as usize * stride];
        *o = ReduceOp::Sum.combine(*o, src[so]);
    }
    Ok(())
}

pub(crate) fn index_select<E: Element>(
    src: &[E],
    sl: &Layout,
    index: &[i64],
    il: &Layout,
    axis: usize,
) -> Result<CpuStorage<E>> {
    checks::index_select(sl, il, axis)?;
    let size = sl.dims()[axis];
    let idx: Vec<usize> = il
        .strided_index()
        .map(|o| checks::index_value("index_select", index[o], axis, size))
        .collect::<Result<_>>()?;
    let mut dims = sl.dims().to_vec();
    dims[axis] = idx.len();
    // Read through `sl` with the axis stride 0, then add `idx[j] * stride` per output slice.
    let view = Layout::new(
        dims.clone(),
        {
            let mut s = sl.strides().to_vec();
            s[axis] = 0;
            s
        },
        sl.offset(),
    );
    let inner: usize = dims[axis + 1..].iter().product();
    let stride = sl.strides()[axis];
    let n = idx.len();
    let len = view.numel();
    Ok(CpuStorage::build(len, |out| {
        par_chunks(out, 1, len, |start, chunk| {
            let mut it = StridedIndex::starting_at(&view, start);
            for (p, o) in chunk.iter_mut().enumerate() {
                let j = ((start + p) / inner.max(1)) % n.max(1);
                o.write(src[it.next().unwrap_or(0) + idx[j] * stride]);
            }
        })
    }))
}
