//! Sliding-window ops: convolution and pooling, built on the backend's im2col / col2im.
//!
//! im2col copies every window of the input into a column, so a convolution is one batched matrix
//! product with the flattened kernels, and pooling is a reduction over each column. col2im is
//! im2col's adjoint (it sums overlapping windows back), so each is the other's backward.

use crate::{in_op, Tensor};
use nanotorch_ndarray_core::{Backend, Error, Float, Result, Shape, Window2d};

/// The output size `(oh, ow)` of `window` over an `h × w` image, or an error of `op` that names
/// the argument at fault: a kernel, stride or dilation of 0 (PyTorch refuses each), or a kernel
/// whose span is larger than the padded input. `Window2d::output_size` answers only "no".
fn output_size(
    op: &'static str,
    window: &Window2d,
    (h, w): (usize, usize),
    shape: &Shape,
) -> Result<(usize, usize)> {
    let positive = |name: &str, (a, b): (usize, usize)| {
        if a == 0 || b == 0 {
            Err(Error::invalid(
                op,
                format!("{name} must be positive in both axes, got ({a}, {b})"),
                shape,
            ))
        } else {
            Ok(())
        }
    };
    positive("kernel size", window.kernel)?;
    positive("stride", window.stride)?;
    positive("dilation", window.dilation)?;
    window.output_size(h, w).ok_or_else(|| {
        Error::invalid(
            op,
            format!(
                "kernel {:?} with dilation {:?} spans more than the input {:?} padded by {:?}",
                window.kernel,
                window.dilation,
                (h, w),
                window.padding
            ),
            shape,
        )
    })
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Windows of a `[n, c, h, w]` tensor as columns `[n, c·kh·kw, oh·ow]`.
    #[track_caller]
    pub fn im2col(&self, window: Window2d) -> Result<Self> {
        let out = self.array().im2col(&window)?;
        let (c, h, w) = (self.dims()[1], self.dims()[2], self.dims()[3]);
        Tensor::try_from_op(out, "im2col", &[self], move |_, _, g| {
            Ok(vec![Some(g.col2im(c, (h, w), window)?)])
        })
    }

    /// Sums columns `[n, c·kh·kw, oh·ow]` back into a `[n, c, h, w]` image.
    #[track_caller]
    pub fn col2im(
        &self,
        channels: usize,
        image_hw: (usize, usize),
        window: Window2d,
    ) -> Result<Self> {
        let out = self.array().col2im(channels, image_hw, &window)?;
        Tensor::try_from_op(out, "col2im", &[self], move |_, _, g| {
            Ok(vec![Some(g.im2col(window)?)])
        })
    }

    /// 2-D convolution (cross-correlation, as `torch.nn.functional.conv2d` with groups = 1):
    /// input `[n, c, h, w]`, weight `[o, c, kh, kw]`, optional bias `[o]`.
    #[track_caller]
    pub fn conv2d(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        stride: (usize, usize),
        padding: (usize, usize),
        dilation: (usize, usize),
    ) -> Result<Self> {
        let (input, w) = (self.dims(), weight.dims());
        if input.len() != 4 || w.len() != 4 || input[1] != w[1] {
            return Err(Error::ShapeMismatch {
                op: "conv2d",
                what: "expected input [n, c, h, w] and weight [o, c, kh, kw] with the same c",
                lhs: self.shape().clone(),
                rhs: weight.shape().clone(),
            });
        }
        let window = Window2d {
            kernel: (w[2], w[3]),
            stride,
            padding,
            dilation,
        };
        let (oh, ow) = output_size("conv2d", &window, (input[2], input[3]), self.shape())?;
        if let Some(b) = bias {
            if b.dims() != [w[0]] {
                return Err(Error::ShapeMismatch {
                    op: "conv2d",
                    what: "the bias must be [o], one value per output channel of the weight",
                    lhs: weight.shape().clone(),
                    rhs: b.shape().clone(),
                });
            }
        }
        in_op("conv2d", || {
            let cols = self.im2col(window)?; // [n, c·kh·kw, oh·ow]
            let kernels = weight.reshape([w[0], w[1] * w[2] * w[3]])?; // [o, c·kh·kw]
            let out = kernels.matmul(&cols)?.reshape([input[0], w[0], oh, ow])?;
            match bias {
                Some(b) => out.add(&b.reshape([w[0], 1, 1])?),
                None => Ok(out),
            }
        })
    }

    /// 1-D convolution: input `[n, c, l]`, weight `[o, c, k]`, optional bias `[o]`.
    #[track_caller]
    pub fn conv1d(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        stride: usize,
        padding: usize,
        dilation: usize,
    ) -> Result<Self> {
        if self.rank() != 3 || weight.rank() != 3 || self.dims()[1] != weight.dims()[1] {
            return Err(Error::ShapeMismatch {
                op: "conv1d",
                what: "expected input [n, c, l] and weight [o, c, k] with the same c",
                lhs: self.shape().clone(),
                rhs: weight.shape().clone(),
            });
        }
        // Checked here, in one dimension, so that no error speaks of the 2-d convolution
        // underneath (its `(1, stride)` tuples and `[n, c, 1, l]` shapes).
        let (len, k) = (self.dims()[2], weight.dims()[2]);
        for (name, value) in [
            ("kernel size", k),
            ("stride", stride),
            ("dilation", dilation),
        ] {
            if value == 0 {
                return Err(Error::invalid(
                    "conv1d",
                    format!("{name} must be positive, got 0"),
                    self.shape(),
                ));
            }
        }
        let window = Window2d {
            kernel: (1, k),
            stride: (1, stride),
            padding: (0, padding),
            dilation: (1, dilation),
        };
        if window.output_size(1, len).is_none() {
            return Err(Error::invalid(
                "conv1d",
                format!(
                    "kernel {k} with dilation {dilation} spans more than the input length {len} \
                     padded by {padding}"
                ),
                self.shape(),
            ));
        }
        in_op("conv1d", || {
            let out = self.unsqueeze(2)?.conv2d(
                &weight.unsqueeze(2)?,
                bias,
                (1, stride),
                (0, padding),
                (1, dilation),
            )?;
            out.squeeze(2)
        })
    }

    /// Max pooling over `kernel` windows of a `[n, c, h, w]` tensor (no padding; the gradient goes
    /// to the maximum of each window, shared among ties).
    #[track_caller]
    pub fn max_pool2d(&self, kernel: (usize, usize), stride: (usize, usize)) -> Result<Self> {
        self.pool2d("max_pool2d", kernel, stride, |cols| {
            cols.max_dims(&[1], false)
        })
    }

    /// Average pooling over `kernel` windows of a `[n, c, h, w]` tensor (no padding).
    #[track_caller]
    pub fn avg_pool2d(&self, kernel: (usize, usize), stride: (usize, usize)) -> Result<Self> {
        self.pool2d("avg_pool2d", kernel, stride, |cols| {
            cols.mean_dims(&[1], false)
        })
    }

    #[track_caller]
    fn pool2d(
        &self,
        op: &'static str,
        kernel: (usize, usize),
        stride: (usize, usize),
        reduce: impl Fn(&Self) -> Result<Self>,
    ) -> Result<Self> {
        let [n, c, h, w] = <[usize; 4]>::try_from(self.dims())
            .map_err(|_| Error::invalid(op, "expects a [n, c, h, w] tensor", self.shape()))?;
        let window = Window2d {
            kernel,
            stride,
            padding: (0, 0),
            dilation: (1, 1),
        };
        let (oh, ow) = output_size(op, &window, (h, w), self.shape())?;
        in_op(op, || {
            // Each channel is pooled on its own: fold channels into the batch.
            let cols = self.reshape([n * c, 1, h, w])?.im2col(window)?; // [n·c, kh·kw, oh·ow]
            reduce(&cols)?.reshape([n, c, oh, ow])
        })
    }
}
