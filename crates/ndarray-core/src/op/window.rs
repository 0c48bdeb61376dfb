//! Sliding-window geometry shared by convolution and pooling.

use crate::{Error, Result, Shape};

/// The geometry of a 2-D sliding window (convolution or pooling) over `[N, C, H, W]` input.
/// 1-D windows use `H = 1`, `kernel.0 = 1`, `stride.0 = 1`, `padding.0 = 0`, `dilation.0 = 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Window2d {
    /// Kernel height and width.
    pub kernel: (usize, usize),
    /// Step between windows.
    pub stride: (usize, usize),
    /// Zero padding added on both sides.
    pub padding: (usize, usize),
    /// Spacing between kernel taps.
    pub dilation: (usize, usize),
}

impl Window2d {
    /// A window with stride 1, no padding, no dilation.
    pub fn new(kernel: (usize, usize)) -> Self {
        Window2d {
            kernel,
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
        }
    }

    /// Output height and width for an input of `(h, w)`, or an error naming `op` and saying
    /// which parameter is wrong and why: a zero kernel size, stride or dilation, or a (dilated)
    /// kernel wider than the padded input. `shape` is the input's, for the message.
    pub fn fit(
        &self,
        op: &'static str,
        h: usize,
        w: usize,
        shape: &Shape,
    ) -> Result<(usize, usize)> {
        let axes = [
            (
                "height",
                h,
                self.kernel.0,
                self.stride.0,
                self.padding.0,
                self.dilation.0,
            ),
            (
                "width",
                w,
                self.kernel.1,
                self.stride.1,
                self.padding.1,
                self.dilation.1,
            ),
        ];
        let mut out = [0; 2];
        for (o, (axis, len, k, s, p, d)) in out.iter_mut().zip(axes) {
            for (name, value) in [("kernel size", k), ("stride", s), ("dilation", d)] {
                if value == 0 {
                    return Err(Error::invalid(
                        op,
                        format!("{name} must be positive, got {value} for the {axis}"),
                        shape,
                    ));
                }
            }
            // Checked: a window from user input must not wrap around into one that "fits".
            let span = d.checked_mul(k - 1).and_then(|x| x.checked_add(1));
            let padded = p.checked_mul(2).and_then(|x| x.checked_add(len));
            let (Some(span), Some(padded)) = (span, padded) else {
                return Err(Error::invalid(
                    op,
                    format!(
                        "kernel size {k}, dilation {d} and padding {p} overflow a usize \
                         for the {axis}"
                    ),
                    shape,
                ));
            };
            if span > padded {
                return Err(Error::invalid(
                    op,
                    format!(
                        "the kernel spans {span} along the {axis} (size {k}, dilation {d}) but the \
                         padded input has only {padded} ({len} + 2 × padding {p})"
                    ),
                    shape,
                ));
            }
            *o = (padded - span) / s + 1;
        }
        Ok((out[0], out[1]))
    }

    /// Output height and width for an input of `(h, w)`, or `None` if the window does not fit
    /// or a stride/dilation is zero ([`fit`](Window2d::fit) says which).
    pub fn output_size(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let out = |len: usize, k: usize, s: usize, p: usize, d: usize| -> Option<usize> {
            if s == 0 || d == 0 || k == 0 {
                return None;
            }
            // Checked: a window from user input must not wrap around into one that "fits".
            let span = d.checked_mul(k - 1)?.checked_add(1)?;
            let padded = p.checked_mul(2)?.checked_add(len)?;
            (padded >= span).then(|| (padded - span) / s + 1)
        };
        Some((
            out(
                h,
                self.kernel.0,
                self.stride.0,
                self.padding.0,
                self.dilation.0,
            )?,
            out(
                w,
                self.kernel.1,
                self.stride.1,
                self.padding.1,
                self.dilation.1,
            )?,
        ))
    }
}
