//! Dropping the kernel taps that only ever see padding.
//!
//! Deep in a network the planes are a few pixels wide: a 3×3 convolution with padding 1 over
//! a 1×1 plane reads the input through its centre tap only, the other eight see zeros for
//! every output. Through im2col they still cost their share of the columns, of the matrix
//! product and, in the backward pass, of col2im and the weight's gradient: in ResNet-18 on
//! 32×32 images the last stage multiplied nine times the numbers it needed. The taps that
//! ever read the input form one block of rows and columns of the kernel, so the convolution
//! with the kernel cut to that block (and the padding reduced to match) is the same sum with
//! the zero terms left out. The cut is a view of the weight ([`cut_kernel`]) whose gradient is
//! the full kernel's, zeros where the taps saw only padding.

use crate::ops::pad::PadMode;
use crate::{is_grad_enabled, Tensor};
use nanotorch_ndarray_core::{Backend, Float, NDArray, Result, Window2d};
use std::ops::Range;

/// The window cut to the taps that read the input, and the kernel rows and columns kept; `None`
/// when every tap reads the input somewhere, or when the cut window would not give the same
/// output size with im2col's symmetric padding.
pub(super) fn live_window(
    window: &Window2d,
    (h, w): (usize, usize),
    (oh, ow): (usize, usize),
) -> Option<(Window2d, Range<usize>, Range<usize>)> {
    let rows = live_axis(
        window.kernel.0,
        window.stride.0,
        window.dilation.0,
        window.padding.0,
        h,
        oh,
    )?;
    let cols = live_axis(
        window.kernel.1,
        window.stride.1,
        window.dilation.1,
        window.padding.1,
        w,
        ow,
    )?;
    if rows.taps.len() == window.kernel.0 && cols.taps.len() == window.kernel.1 {
        return None;
    }
    let cut = Window2d {
        kernel: (rows.taps.len(), cols.taps.len()),
        padding: (rows.padding, cols.padding),
        ..*window
    };
    Some((cut, rows.taps, cols.taps))
}

/// `weight` `[o, c, kh, kw]` cut to kernel `rows × cols`, copied contiguous: as a view, the
/// cut's elements lie one tap row or more apart, and both products that read it (the forward
/// one and, transposed, the input's gradient) packed it from those scattered elements, at
/// 8–12 GFLOP/s for the 3×3 kernels of ResNet-18's last stage, cut to their centre (Zen 4);
/// the copy reads the kernel once and both products then run at full speed. The gradient is
/// written into a zero kernel in one pass (two recorded `narrow`s would zero and write it
/// twice, the second time in rows of one or two elements). Under `create_graph` the gradient
/// is the recorded zero padding instead, so it stays differentiable.
pub(super) fn cut_kernel<E: Float, B: Backend>(
    weight: &Tensor<E, B>,
    rows: Range<usize>,
    cols: Range<usize>,
) -> Result<Tensor<E, B>> {
    let (kh, kw) = (weight.dims()[2], weight.dims()[3]);
    // The zero padding that undoes the cut: `pad`'s order, last axis first.
    let sides = [cols.start, kw - cols.end, rows.start, kh - rows.end].map(|n| n as isize);
    let cut = move |a: &NDArray<E, B>| {
        a.narrow(2, rows.start, rows.len())?
            .narrow(3, cols.start, cols.len())
    };
    let view = cut(weight.array())?.contiguous()?;
    Tensor::try_from_op(view, "narrow", &[weight], move |inputs, _, g| {
        if is_grad_enabled() {
            return Ok(vec![Some(g.pad(&sides, PadMode::Constant, 0.0)?)]);
        }
        let whole = NDArray::zeros(inputs[0].dims().to_vec(), g.backend())?;
        cut(&whole)?.assign(g.array())?;
        Ok(vec![Some(Tensor::from_ndarray(whole))])
    })
}

/// One axis's live taps and the padding that goes with them.
struct LiveAxis {
    taps: Range<usize>,
    padding: usize,
}

/// The taps `a..b` of a kernel of `k` (at `stride`, `dilation`, `padding` over `len` inputs,
/// `out` outputs) that read an input for some output, and the padding that keeps the first
/// tap's reads where they were; `None` if no tap reads anything, or if the cut window would
/// change the output's size.
fn live_axis(
    k: usize,
    stride: usize,
    dilation: usize,
    padding: usize,
    len: usize,
    out: usize,
) -> Option<LiveAxis> {
    let reads = |tap: usize| {
        (0..out).any(|o| {
            (o * stride + tap * dilation)
                .checked_sub(padding)
                .is_some_and(|i| i < len)
        })
    };
    let first = (0..k).find(|&t| reads(t))?;
    let last = (0..k).rev().find(|&t| reads(t))?;
    // Tap `t` reads input `o·stride + t·dilation − padding`; shifting the kernel's start by
    // `first` taps keeps every live tap's reads if the padding shrinks by `first·dilation`.
    let padding = padding.checked_sub(first * dilation)?;
    let span = (last - first) * dilation + 1;
    let cut_out = (len + 2 * padding).checked_sub(span)? / stride + 1;
    (cut_out == out).then_some(LiveAxis {
        taps: first..last + 1,
        padding,
    })
}

#[cfg(test)]
mod tests {
    use super::{live_axis, live_window};
    use nanotorch_ndarray_core::Window2d;

    fn window(kernel: usize, stride: usize, padding: usize, dilation: usize) -> Window2d {
        Window2d {
            kernel: (kernel, kernel),
            stride: (stride, stride),
            padding: (padding, padding),
            dilation: (dilation, dilation),
        }
    }

    #[test]
    fn a_one_pixel_plane_keeps_only_the_centre_tap() {
        let (cut, rows, cols) = live_window(&window(3, 1, 1, 1), (1, 1), (1, 1)).unwrap();
        assert_eq!((rows, cols), (1..2, 1..2));
        assert_eq!((cut.kernel, cut.padding), ((1, 1), (0, 0)));
    }

    #[test]
    fn a_strided_window_over_two_pixels_drops_its_first_row_and_column() {
        let (cut, rows, cols) = live_window(&window(3, 2, 1, 1), (2, 2), (1, 1)).unwrap();
        assert_eq!((rows, cols), (1..3, 1..3));
        assert_eq!((cut.kernel, cut.padding), ((2, 2), (0, 0)));
    }

    #[test]
    fn windows_whose_taps_all_read_something_are_left_alone() {
        assert!(live_window(&window(3, 1, 1, 1), (2, 2), (2, 2)).is_none());
        assert!(live_window(&window(3, 1, 0, 1), (5, 5), (3, 3)).is_none());
        assert!(live_window(&window(7, 2, 3, 1), (32, 32), (16, 16)).is_none());
    }

    #[test]
    fn cuts_that_would_move_reads_or_change_the_output_size_are_refused() {
        // Kernel 2, stride 2, padding 2 over one input: only tap 0 reads it (for the second
        // output), but kernel 1 with padding 2 on both sides gives 3 outputs, not 2.
        assert!(live_axis(2, 2, 1, 2, 1, 2).is_none());
        // Dilation 2, padding 1: only tap 1 reads; starting the kernel there needs padding −1.
        assert!(live_axis(2, 2, 2, 1, 2, 1).is_none());
    }
}
