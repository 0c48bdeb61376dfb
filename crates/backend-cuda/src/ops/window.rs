//! im2col and col2im (`kernels/im2col.cu`): the sliding-window transforms that turn convolution
//! and pooling into matmuls and reductions. col2im gathers over taps (no atomics), adding in the
//! CPU's order.

use super::suffix;
use crate::launch::Launch;
use crate::{Cuda, CudaStorage, Result};
use nanotorch_ndarray_core::checks::{self, WindowGeometry};
use nanotorch_ndarray_core::{Float, Layout, Window2d};

/// The window arguments shared by `im2col_*` and `col2im_*`, in their order:
/// `kh, kw, oh, ow, sh, sw, ph, pw, dh, dw`.
fn window_args<'a>(launch: Launch<'a>, w: &Window2d, g: &WindowGeometry) -> Launch<'a> {
    [
        w.kernel.0,
        w.kernel.1,
        g.oh,
        g.ow,
        w.stride.0,
        w.stride.1,
        w.padding.0,
        w.padding.1,
        w.dilation.0,
        w.dilation.1,
    ]
    .into_iter()
    .fold(launch, Launch::len)
}

/// `[n, c, h, w]` into columns `[n, c·kh·kw, oh·ow]`.
pub(crate) fn im2col<E: Float>(
    dev: &Cuda,
    x: &CudaStorage<E>,
    layout: &Layout,
    window: &Window2d,
) -> Result<CudaStorage<E>> {
    checks::fits("im2col", layout, x.len())?;
    let g = checks::im2col(layout, window)?;
    let len = g.cols_len(window);
    let out = dev.alloc::<E>(len)?;
    if len > 0 {
        let st = layout.strides();
        let launch = Launch::new(
            dev,
            &dev.inner.im2col,
            format!("im2col_{}", suffix(E::DTYPE)),
        )
        .ptr(x)
        .ptr(&out)
        .len(len)
        .len(layout.offset());
        let launch = [st[0], st[1], st[2], st[3], g.c, g.h, g.w]
            .into_iter()
            .fold(launch, Launch::len);
        window_args(launch, window, &g).items(len).run()?;
    }
    Ok(out)
}

/// Columns `[n, c·kh·kw, oh·ow]` summed back into an image `[n, c, h, w]`.
pub(crate) fn col2im<E: Float>(
    dev: &Cuda,
    (cols, cl): (&CudaStorage<E>, &Layout),
    channels: usize,
    image_hw: (usize, usize),
    window: &Window2d,
) -> Result<CudaStorage<E>> {
    checks::fits("col2im", cl, cols.len())?;
    let g = checks::col2im(cl, channels, image_hw, window)?;
    let len = g.image_len();
    let out = dev.alloc::<E>(len)?;
    if len > 0 {
        let st = cl.strides();
        let launch = Launch::new(
            dev,
            &dev.inner.im2col,
            format!("col2im_{}", suffix(E::DTYPE)),
        )
        .ptr(cols)
        .ptr(&out)
        .len(len)
        .len(cl.offset());
        let launch = [st[0], st[1], st[2], g.c, g.h, g.w]
            .into_iter()
            .fold(launch, Launch::len);
        window_args(launch, window, &g).items(len).run()?;
    }
    Ok(out)
}
