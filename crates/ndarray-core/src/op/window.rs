//! Sliding-window geometry shared by convolution and pooling.

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

    /// Output height and width for an input of `(h, w)`, or `None` if the window does not fit
    /// or a stride/dilation is zero.
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
