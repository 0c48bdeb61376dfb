//! The preconditions every [`Backend`](crate::Backend) checks before it touches storage, written
//! once so that the same mistake gives the same [`Error`] variant (and message) on every device.
//!
//! `NDArray` never hands a backend a layout that breaks these rules; they guard the trait's
//! other callers (a layout built by hand can point anywhere, and a device kernel must never
//! read past its buffer). Which variant each mistake gets:
//!
//! | mistake | variant |
//! |---|---|
//! | a layout reaching past its storage | [`Error::InvalidArgument`] |
//! | operands whose shapes must agree and do not (element-wise, matmul, gather's index) | [`Error::ShapeMismatch`] |
//! | an axis not below the rank | [`Error::AxisOutOfRange`] |
//! | unsorted or repeated reduce axes, an empty arg-reduce axis, a non-1-D index, a window that does not fit, columns that do not match their image, an in-place write (assign, `op_`) into a broadcast view | [`Error::InvalidArgument`] |
//! | an index value outside its axis | [`Error::IndexOutOfBounds`] |
//!
//! The conformance suite (`conformance::check_errors`) asserts this table on every backend.

use crate::{Error, Layout, Result, Shape, Window2d};

/// Fails unless `layout` stays inside a storage of `len` elements.
pub fn fits(op: &'static str, layout: &Layout, len: usize) -> Result<()> {
    let need = layout.storage_extent();
    if need > len {
        return Err(Error::invalid(
            op,
            format!(
                "layout (strides {:?}, offset {}) needs {need} elements but the storage holds {len}",
                layout.strides(),
                layout.offset()
            ),
            layout.shape(),
        ));
    }
    Ok(())
}

/// Fails unless two operands have one shape (element-wise operands, broadcast already).
pub fn same_shape(op: &'static str, a: &Layout, b: &Layout) -> Result<()> {
    if a.shape() != b.shape() {
        return Err(Error::ShapeMismatch {
            op,
            what: "operands must have one shape",
            lhs: a.shape().clone(),
            rhs: b.shape().clone(),
        });
    }
    Ok(())
}

/// Fails unless `layout` can be written in place: no axis of size > 1 with stride 0 (several
/// elements would share one slot, and a parallel device write would race on it).
pub fn writable(op: &'static str, layout: &Layout) -> Result<()> {
    let broadcast = layout
        .dims()
        .iter()
        .zip(layout.strides())
        .any(|(&d, &s)| d > 1 && s == 0);
    if broadcast {
        return Err(Error::invalid(
            op,
            "cannot write in place into a broadcast view (several elements share one slot)",
            layout.shape(),
        ));
    }
    Ok(())
}

/// Fails unless `axis < shape.rank()`.
pub fn axis(op: &'static str, shape: &Shape, axis: usize) -> Result<()> {
    if axis >= shape.rank() {
        return Err(Error::AxisOutOfRange {
            op,
            axis: isize::try_from(axis).unwrap_or(isize::MAX),
            shape: shape.clone(),
        });
    }
    Ok(())
}

/// Reduce axes: each in range ([`Error::AxisOutOfRange`]), sorted and distinct
/// ([`Error::InvalidArgument`]).
pub fn reduce_axes(op: &'static str, layout: &Layout, axes: &[usize]) -> Result<()> {
    for &a in axes {
        axis(op, layout.shape(), a)?;
    }
    if axes.windows(2).any(|w| w[0] >= w[1]) {
        return Err(Error::invalid(
            op,
            format!("reduce axes {axes:?} must be sorted and distinct"),
            layout.shape(),
        ));
    }
    Ok(())
}

/// The axis of argmax/argmin: in range and not empty (an empty row has no extreme).
pub fn arg_reduce_axis(op: &'static str, layout: &Layout, ax: usize) -> Result<()> {
    axis(op, layout.shape(), ax)?;
    if layout.dims()[ax] == 0 {
        return Err(Error::invalid(
            op,
            format!("axis {ax} is empty, so it has no extreme value"),
            layout.shape(),
        ));
    }
    Ok(())
}

/// Batched matmul operands: `[b, m, k]` and `[b, k, n]`, or `[b₁, …, bᵣ, m, k]` and `[b₁, …,
/// bᵣ, k, n]` with the same batch sizes. Returns `(b, m, k, n)`, `b` the batch sizes' product.
pub fn matmul(lhs: &Layout, rhs: &Layout) -> Result<(usize, usize, usize, usize)> {
    let (l, r) = (lhs.dims(), rhs.dims());
    let rank = l.len();
    if rank < 3 || r.len() != rank || l[..rank - 2] != r[..rank - 2] || l[rank - 1] != r[rank - 2] {
        return Err(Error::ShapeMismatch {
            op: "matmul",
            what: "expects [b.., m, k] and [b.., k, n] with the same batch axes",
            lhs: lhs.shape().clone(),
            rhs: rhs.shape().clone(),
        });
    }
    // Both layouts passed `fits` (their element counts are addressable), so this product is too.
    let batch = l[..rank - 2].iter().product();
    Ok((batch, l[rank - 2], l[rank - 1], r[rank - 1]))
}

/// [`matmul`]'s operands and an addend of the product's shape in the same form (`[b.., m, n]`).
pub fn matmul_add(
    lhs: &Layout,
    rhs: &Layout,
    addend: &Layout,
) -> Result<(usize, usize, usize, usize)> {
    let (batch, m, k, n) = matmul(lhs, rhs)?;
    let rank = lhs.rank();
    let want = [&lhs.dims()[..rank - 1], &[n]].concat();
    if addend.dims() != want.as_slice() {
        return Err(Error::ShapeMismatch {
            op: "matmul_add",
            what: "the addend must have the product's shape",
            lhs: addend.shape().clone(),
            rhs: Shape::from(want),
        });
    }
    Ok((batch, m, k, n))
}

/// The offset of each matrix of a batched matmul operand ([`matmul`]'s layouts), in row-major
/// batch order: one stride per batch axis, walked like an odometer.
pub fn batch_offsets(layout: &Layout) -> Vec<usize> {
    let rank = layout.rank();
    let (dims, strides) = (&layout.dims()[..rank - 2], &layout.strides()[..rank - 2]);
    let mut offsets = vec![layout.offset()];
    for (&d, &s) in dims.iter().zip(strides).rev() {
        // Each axis, innermost first, repeats what is there at its own stride.
        let inner = std::mem::take(&mut offsets);
        offsets = (0..d)
            .flat_map(|i| inner.iter().map(move |&o| o + i * s))
            .collect();
    }
    offsets
}

/// One index value: `Ok(i)` when `0 <= v < size`, else [`Error::IndexOutOfBounds`].
pub fn index_value(op: &'static str, v: i64, ax: usize, size: usize) -> Result<usize> {
    match usize::try_from(v) {
        Ok(i) if i < size => Ok(i),
        _ => Err(Error::IndexOutOfBounds {
            op,
            index: v,
            axis: ax,
            size,
        }),
    }
}

/// Gather: the axis is in range and the index fits the source off the axis. Returns the
/// source's companion layout ([`Layout::index_companion`]) that the index walks.
pub fn gather(src: &Layout, index: &Layout, ax: usize) -> Result<Layout> {
    axis("gather", src.shape(), ax)?;
    src.index_companion("gather", index, ax)
}

/// Scatter-add: as [`gather`] for the destination, and the source shaped like the index.
/// Returns the destination's companion layout. (A broadcast destination is allowed: colliding
/// slots add up, as colliding indices do.)
pub fn scatter_add(dst: &Layout, index: &Layout, src: &Layout, ax: usize) -> Result<Layout> {
    axis("scatter_add", dst.shape(), ax)?;
    same_shape("scatter_add", index, src)?;
    dst.index_companion("scatter_add", index, ax)
}

/// Index-select: the axis is in range and the index is 1-D.
pub fn index_select(src: &Layout, index: &Layout, ax: usize) -> Result<()> {
    axis("index_select", src.shape(), ax)?;
    if index.rank() != 1 {
        return Err(Error::invalid(
            "index_select",
            format!("needs a 1-D index, got shape {}", index.shape()),
            src.shape(),
        ));
    }
    Ok(())
}

/// The sizes of one im2col/col2im transform: input `[n, c, h, w]`, output grid `oh × ow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowGeometry {
    /// Batch size.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Image height.
    pub h: usize,
    /// Image width.
    pub w: usize,
    /// Output rows (window positions down).
    pub oh: usize,
    /// Output columns (window positions across).
    pub ow: usize,
}

impl WindowGeometry {
    /// Elements of the column array `[n, c·kh·kw, oh·ow]`.
    pub fn cols_len(&self, window: &Window2d) -> usize {
        self.n * self.c * window.kernel.0 * window.kernel.1 * self.oh * self.ow
    }

    /// Elements of the image `[n, c, h, w]`.
    pub fn image_len(&self) -> usize {
        self.n * self.c * self.h * self.w
    }
}

/// The window over `[n, c, h, w]`: it fits (stride, dilation and kernel non-zero, the dilated
/// kernel no wider than the padded input) and both sides of the transform can be counted.
pub fn window(op: &'static str, dims: [usize; 4], window: &Window2d) -> Result<WindowGeometry> {
    let [n, c, h, w] = dims;
    let shape = || Shape::from(dims.to_vec());
    let (oh, ow) = window.fit(op, h, w, &shape())?;
    // Both sides must be countable (huge padding makes huge column arrays).
    let (kh, kw) = window.kernel;
    let counts: [&[usize]; 2] = [&[n, c, kh, kw, oh, ow], &[n, c, h, w]];
    let countable = counts.iter().all(|d| {
        d.iter()
            .try_fold(1usize, |a, &x| a.checked_mul(x))
            .is_some()
    });
    if !countable {
        return Err(Error::invalid(
            op,
            format!("window {window:?} gives more elements than a usize counts"),
            &shape(),
        ));
    }
    Ok(WindowGeometry { n, c, h, w, oh, ow })
}

/// im2col's input: a `[n, c, h, w]` layout and a window that fits it.
pub fn im2col(layout: &Layout, win: &Window2d) -> Result<WindowGeometry> {
    let dims: [usize; 4] = layout
        .dims()
        .try_into()
        .map_err(|_| Error::invalid("im2col", "expects a [n, c, h, w] array", layout.shape()))?;
    window("im2col", dims, win)
}

/// col2im's input: columns `[n, channels·kh·kw, oh·ow]` matching the image `image_hw` under
/// the window.
pub fn col2im(
    cols: &Layout,
    channels: usize,
    image_hw: (usize, usize),
    win: &Window2d,
) -> Result<WindowGeometry> {
    let (h, w) = image_hw;
    let n = cols.dims().first().copied().unwrap_or(0);
    let g = window("col2im", [n, channels, h, w], win)?;
    let (kh, kw) = win.kernel;
    let d = cols.dims();
    let ok = cols.rank() == 3
        && channels.checked_mul(kh * kw) == Some(d[1])
        && g.oh.checked_mul(g.ow) == Some(d[2]);
    if !ok {
        return Err(Error::invalid(
            "col2im",
            format!("columns do not match {channels} channels of {h}x{w} with {win:?}"),
            cols.shape(),
        ));
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_names_the_op_and_the_shortfall() {
        let l = Layout::new(vec![2, 3], vec![3, 1], 1);
        assert!(fits("copy", &l, 7).is_ok());
        let e = fits("copy", &l, 6).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { op: "copy", .. }));
        assert!(e.to_string().contains("needs 7 elements"), "{e}");
    }

    #[test]
    fn axes_out_of_range_and_unsorted_differ() {
        let l = Layout::contiguous(vec![2, 3]);
        assert!(matches!(
            reduce_axes("sum", &l, &[2]),
            Err(Error::AxisOutOfRange { axis: 2, .. })
        ));
        assert!(matches!(
            reduce_axes("sum", &l, &[1, 0]),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(reduce_axes("sum", &l, &[0, 1]).is_ok());
        let empty = Layout::contiguous(vec![2, 0]);
        assert!(matches!(
            arg_reduce_axis("argmax", &empty, 1),
            Err(Error::InvalidArgument { .. })
        ));
    }

    #[test]
    fn index_values_at_the_edges() {
        assert_eq!(index_value("gather", 2, 0, 3), Ok(2));
        for bad in [3, -1, i64::MIN] {
            assert_eq!(
                index_value("gather", bad, 1, 3),
                Err(Error::IndexOutOfBounds {
                    op: "gather",
                    index: bad,
                    axis: 1,
                    size: 3
                })
            );
        }
    }

    #[test]
    fn windows_that_do_not_fit_or_overflow() {
        let w = Window2d::new((3, 3));
        let g = window("im2col", [1, 2, 4, 5], &w).unwrap();
        assert_eq!((g.oh, g.ow), (2, 3));
        assert_eq!(g.cols_len(&w), 2 * 9 * 6);
        assert!(window("im2col", [1, 2, 2, 5], &w).is_err());
        let huge = Window2d {
            padding: (usize::MAX / 4, 0),
            ..Window2d::new((1, 1))
        };
        let e = window("im2col", [2, 2, 1, 1], &huge).unwrap_err();
        assert!(e.to_string().contains("more elements"), "{e}");
        let cols = Layout::contiguous(vec![1, 2 * 9, 5]);
        assert!(col2im(&cols, 2, (4, 5), &w).is_err());
        let cols = Layout::contiguous(vec![1, 2 * 9, 6]);
        assert_eq!(col2im(&cols, 2, (4, 5), &w).unwrap(), g);
    }

    #[test]
    fn gather_scatter_and_select_shapes() {
        let src = Layout::contiguous(vec![3, 4]);
        assert!(matches!(
            gather(&src, &Layout::contiguous(vec![3, 4]), 2),
            Err(Error::AxisOutOfRange { .. })
        ));
        assert!(matches!(
            gather(&src, &Layout::contiguous(vec![4, 2]), 1),
            Err(Error::ShapeMismatch { .. })
        ));
        let idx = Layout::contiguous(vec![3, 2]);
        assert!(matches!(
            scatter_add(&src, &idx, &Layout::contiguous(vec![3, 3]), 1),
            Err(Error::ShapeMismatch { .. })
        ));
        let broadcast = Layout::new(vec![3, 4], vec![0, 1], 0);
        assert!(matches!(
            writable("add_", &broadcast),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(writable("add_", &Layout::new(vec![1, 4], vec![0, 1], 0)).is_ok());
        assert!(matches!(
            index_select(&src, &Layout::contiguous(vec![2, 1]), 0),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(index_select(&src, &Layout::contiguous(vec![5]), 1).is_ok());
    }

    #[test]
    fn matmul_batch_axes_and_their_offsets() {
        // Attention's queries: `[batch 2, heads 3]` over a fused projection (row stride 3·4·3),
        // the heads 4 apart: the two batch axes do not merge.
        let q = Layout::new(vec![2, 3, 5, 4], vec![180, 4, 36, 1], 7);
        let k = Layout::new(vec![2, 3, 4, 5], vec![0, 20, 1, 4], 0);
        assert_eq!(matmul(&q, &k).unwrap(), (6, 5, 4, 5));
        assert_eq!(batch_offsets(&q), [7, 11, 15, 187, 191, 195]);
        assert_eq!(batch_offsets(&k), [0, 20, 40, 0, 20, 40]);
        // Batch axes must agree, and there must be at least one.
        let k2 = Layout::new(vec![3, 2, 4, 5], vec![40, 20, 1, 4], 0);
        assert!(matches!(matmul(&q, &k2), Err(Error::ShapeMismatch { .. })));
        let flat = Layout::contiguous(vec![5, 4]);
        assert!(matches!(
            matmul(&flat, &flat),
            Err(Error::ShapeMismatch { .. })
        ));
        assert_eq!(
            batch_offsets(&Layout::contiguous(vec![0, 2, 2])),
            Vec::<usize>::new()
        );
    }
}
