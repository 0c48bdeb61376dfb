//! Indexing: gather, scatter-add and index-select along one axis.

use crate::parallel::par_chunks;
use crate::storage::CpuStorage;
use nanotorch_ndarray_core::{checks, Element, Layout, ReduceOp, Result, StridedIndex};

/// `(row length, picks per row)` when `data` and `index` are contiguous and index along their
/// last axis with the same leading axes: gather and scatter-add then walk plain rows, with no
/// strided index per element (max pooling and cross-entropy index this way).
fn last_axis_rows(data: &Layout, il: &Layout, axis: usize) -> Option<(usize, usize)> {
    let last = il.rank().checked_sub(1)? == axis;
    let same_rows = data.dims()[..axis] == il.dims()[..axis];
    let filled = data.numel() > 0 && il.numel() > 0;
    (last && same_rows && filled && data.is_contiguous() && il.is_contiguous())
        .then(|| (data.dims()[axis], il.dims()[axis]))
}

/// Checks a plain run of index values, for an error before any work starts (the first value
/// outside `0..size` names itself).
fn check_all(op: &'static str, index: &[i64], axis: usize, size: usize) -> Result<()> {
    if index.iter().all(|&i| (0..size as i64).contains(&i)) {
        return Ok(());
    }
    let bad = index.iter().find(|&&i| !(0..size as i64).contains(&i));
    checks::index_value(op, *bad.unwrap_or(&-1), axis, size).map(|_| ())
}

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
    if let Some((row_len, picks)) = last_axis_rows(sl, il, axis) {
        let src = &src[sl.offset()..];
        let index = &index[il.offset()..il.offset() + il.numel()];
        check_all("gather", index, axis, size)?;
        return Ok(CpuStorage::build(index.len(), |out| {
            // A pick costs a load and a store; rows are independent, so threads take whole rows.
            par_chunks(out, picks, index.len() * 2, |start, chunk| {
                let rows = chunk.chunks_mut(picks).zip(index[start..].chunks(picks));
                for (r, (out, wanted)) in (start / picks..).zip(rows) {
                    let row = &src[r * row_len..(r + 1) * row_len];
                    for (o, &i) in out.iter_mut().zip(wanted) {
                        o.write(row[i as usize]);
                    }
                }
            })
        }));
    }
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
    if let Some(run) = il.contiguous_range() {
        check_all("scatter_add", &index[run], axis, size)?;
    } else {
        for io in il.strided_index() {
            checks::index_value("scatter_add", index[io], axis, size)?;
        }
    }
    if let (Some((row_len, picks)), true) = (last_axis_rows(dl, il, axis), sl == il) {
        let index = &index[il.offset()..il.offset() + il.numel()];
        let src = &src[sl.offset()..sl.offset() + sl.numel()];
        let rows = index.len() / picks;
        let dst = &mut dst[dl.offset()..dl.offset() + rows * row_len];
        // Each row of `index` writes only its own row of `dst`: threads take whole rows.
        par_chunks(dst, row_len, index.len() * 2, |start, chunk| {
            let first = start / row_len;
            let picks_of = |r: usize| r * picks..(r + 1) * picks;
            for (r, row) in (first..).zip(chunk.chunks_mut(row_len)) {
                for (&i, &x) in index[picks_of(r)].iter().zip(&src[picks_of(r)]) {
                    row[i as usize] = ReduceOp::Sum.combine(row[i as usize], x);
                }
            }
        });
        return Ok(());
    }
    // The index is the same along every axis after `axis` (an expanded index, as index_select's
    // and embedding's backward pass gives) and the blocks after `axis` are contiguous in src and
    // dst: add whole blocks, one index read per block (an embedding's backward pass went from a
    // strided walk per element to a vectorised add per row).
    let rank = il.rank();
    let block: usize = il.dims()[axis + 1..].iter().product();
    let index_is_expanded = (axis + 1..rank).all(|k| il.dims()[k] == 1 || il.strides()[k] == 0);
    if block > 1 && index_is_expanded && inner_contiguous(sl, axis) && inner_contiguous(&view, axis)
    {
        let outer = |l: &Layout| {
            Layout::new(
                l.dims()[..=axis].to_vec(),
                l.strides()[..=axis].to_vec(),
                l.offset(),
            )
        };
        for ((io, so), d) in outer(il)
            .strided_index()
            .zip(outer(sl).strided_index())
            .zip(outer(&view).strided_index())
        {
            let at = d + index[io] as usize * stride;
            for (o, &x) in dst[at..at + block].iter_mut().zip(&src[so..so + block]) {
                *o = ReduceOp::Sum.combine(*o, x);
            }
        }
        return Ok(());
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

/// Whether the axes after `axis` of `l` are laid out row-major with unit innermost stride, so
/// each block after `axis` is one contiguous run.
fn inner_contiguous(l: &Layout, axis: usize) -> bool {
    let mut expect = 1;
    for k in (axis + 1..l.rank()).rev() {
        if l.dims()[k] != 1 && l.strides()[k] != expect {
            return false;
        }
        expect *= l.dims()[k];
    }
    true
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

#[cfg(test)]
mod tests {
    use super::scatter_add;
    use nanotorch_ndarray_core::Layout;

    /// `dst[i, idx[j], k] += src[i, j, k]` with the index expanded along k (the block path) and
    /// with a full index (the element path) give what the definition gives.
    #[test]
    fn block_and_element_paths_follow_the_definition() {
        let (outer, rows, picks, inner) = (2, 4, 5, 3);
        let idx_1d = [3i64, 0, 3, 1, 2];
        let src: Vec<f64> = (0..outer * picks * inner)
            .map(|v| v as f64 * 0.5 + 1.0)
            .collect();
        let mut want = vec![0.0; outer * rows * inner];
        for i in 0..outer {
            for (j, &r) in idx_1d.iter().enumerate() {
                for k in 0..inner {
                    want[(i * rows + r as usize) * inner + k] += src[(i * picks + j) * inner + k];
                }
            }
        }
        let dl = Layout::contiguous([outer, rows, inner]);
        let sl = Layout::contiguous([outer, picks, inner]);
        // Expanded: strides 0 on the outer and inner axes.
        let expanded = Layout::new(vec![outer, picks, inner], vec![0, 1, 0], 0);
        let mut dst = vec![0.0; outer * rows * inner];
        scatter_add(&mut dst, &dl, &idx_1d, &expanded, &src, &sl, 1).unwrap();
        assert_eq!(dst, want);
        // The same index written out in full takes the element path.
        let full: Vec<i64> = (0..outer * picks * inner)
            .map(|e| idx_1d[(e / inner) % picks])
            .collect();
        let mut dst = vec![0.0; outer * rows * inner];
        scatter_add(&mut dst, &dl, &full, &sl, &src, &sl, 1).unwrap();
        assert_eq!(dst, want);
    }
}
