//! Transposed convolution (`conv_transpose1d`, `conv_transpose2d`): the adjoint of convolution.
//!
//! A convolution is `y = W·im2col(x)`; its adjoint is `x = col2im(Wᵀ·y)`, and that is the
//! transposed convolution: each input pixel scatters a kernel-sized patch, weighted by the
//! kernel, into the output. With groups, `Wᵀ` is applied per group as one batched product. The
//! patches are summed (col2im) onto the full, uncropped output; `padding` then crops it and
//! `output_padding` extends the far side, which `pad` does in one call (negative amounts crop).

use super::geometry::{check_bias, check_groups, check_positive, show, Axes};
use crate::ops::pad::PadMode;
use crate::{in_op, Tensor};
use nanotorch_ndarray_core::{Backend, Error, Float, Result, Window2d};

/// Options of `conv_transpose1d` / `conv_transpose2d`, the keyword arguments of PyTorch's
/// `F.conv_transpose2d`; `S` is `usize` for 1-d and `(rows, columns)` for 2-d. Default: stride
/// 1, no padding or output padding, dilation 1, one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvTransposeOptions<S> {
    /// Step between the patches each input pixel writes (the forward convolution's stride).
    pub stride: S,
    /// Cropped from both sides of the output (the forward convolution's padding).
    pub padding: S,
    /// Added to the far side (bottom/right) of the output, to pick among the input sizes a
    /// strided forward convolution maps to the same size. Smaller than stride or dilation.
    pub output_padding: S,
    /// Spacing between kernel taps.
    pub dilation: S,
    /// Channel groups, as for convolution.
    pub groups: usize,
}

/// Options of a 1-d transposed convolution.
pub type ConvTranspose1dOptions = ConvTransposeOptions<usize>;
/// Options of a 2-d transposed convolution.
pub type ConvTranspose2dOptions = ConvTransposeOptions<(usize, usize)>;

impl Default for ConvTransposeOptions<usize> {
    fn default() -> Self {
        ConvTransposeOptions::with(0, 1)
    }
}

impl Default for ConvTransposeOptions<(usize, usize)> {
    fn default() -> Self {
        ConvTransposeOptions::with((0, 0), (1, 1))
    }
}

impl<S: Copy> ConvTransposeOptions<S> {
    fn with(zero: S, one: S) -> Self {
        ConvTransposeOptions {
            stride: one,
            padding: zero,
            output_padding: zero,
            dilation: one,
            groups: 1,
        }
    }

    /// With `stride` (builder style).
    pub fn stride(mut self, stride: S) -> Self {
        self.stride = stride;
        self
    }

    /// With `padding` (builder style).
    pub fn padding(mut self, padding: S) -> Self {
        self.padding = padding;
        self
    }

    /// With `output_padding` (builder style).
    pub fn output_padding(mut self, output_padding: S) -> Self {
        self.output_padding = output_padding;
        self
    }

    /// With `dilation` (builder style).
    pub fn dilation(mut self, dilation: S) -> Self {
        self.dilation = dilation;
        self
    }

    /// With `groups` (builder style).
    pub fn groups(mut self, groups: usize) -> Self {
        self.groups = groups;
        self
    }
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// 2-D transposed convolution (`torch.nn.functional.conv_transpose2d`): input
    /// `[n, c, h, w]`, weight `[c, o/groups, kh, kw]` (PyTorch's layout), bias `[o]`; the
    /// output is `[n, o, h', w']` with `h' = (h − 1)·s − 2p + d·(kh − 1) + output_padding + 1`.
    ///
    /// ```
    /// use nanotorch_autograd::{ConvTranspose2dOptions, Tensor};
    /// use nanotorch_backend_cpu::Cpu;
    /// let x = Tensor::<f32, Cpu>::ones([1, 2, 4, 4], &Cpu)?;
    /// let w = Tensor::ones([2, 3, 3, 3], &Cpu)?;
    /// let options = ConvTranspose2dOptions::default()
    ///     .stride((2, 2))
    ///     .padding((1, 1))
    ///     .output_padding((1, 1));
    /// assert_eq!(x.conv_transpose2d(&w, None, &options)?.dims(), &[1, 3, 8, 8]);
    /// # Ok::<(), nanotorch_ndarray_core::Error>(())
    /// ```
    #[track_caller]
    pub fn conv_transpose2d(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        options: &ConvTranspose2dOptions,
    ) -> Result<Self> {
        transpose("conv_transpose2d", self, weight, bias, options)
    }

    /// 1-D transposed convolution (`torch.nn.functional.conv_transpose1d`): input `[n, c, l]`,
    /// weight `[c, o/groups, k]`, bias `[o]`.
    #[track_caller]
    pub fn conv_transpose1d(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        options: &ConvTranspose1dOptions,
    ) -> Result<Self> {
        transpose("conv_transpose1d", self, weight, bias, options)
    }
}

/// Both transposed convolutions: checks in the caller's rank, then the 2-d product and col2im.
#[track_caller]
fn transpose<E: Float, B: Backend, S: Axes>(
    op: &'static str,
    x: &Tensor<E, B>,
    weight: &Tensor<E, B>,
    bias: Option<&Tensor<E, B>>,
    options: &ConvTransposeOptions<S>,
) -> Result<Tensor<E, B>> {
    let (stride, dilation) = (options.stride.axes(), options.dilation.axes());
    let (padding, extra) = (options.padding.axes(), options.output_padding.axes());
    let rank = stride.len() + 2;
    let (groups, w) = (options.groups, weight.dims());
    if x.rank() != rank || weight.rank() != rank {
        return Err(Error::ShapeMismatch {
            op,
            what: if rank == 3 {
                "expected input [n, c, l] and weight [c, o/groups, k]"
            } else {
                "expected input [n, c, h, w] and weight [c, o/groups, kh, kw]"
            },
            lhs: x.shape().clone(),
            rhs: weight.shape().clone(),
        });
    }
    let kernel = w[2..].to_vec();
    let out_channels = w[1] * groups;
    // The weight's input channels are all of them (dim 0), so `c / groups` per group.
    check_groups(op, x, weight, groups, w[0] / groups.max(1), out_channels)?;
    if !w[0].is_multiple_of(groups) || w[0] != x.dims()[1] {
        return Err(Error::ShapeMismatch {
            op,
            what: "the weight's dim 0 must be the input's channel count c",
            lhs: x.shape().clone(),
            rhs: weight.shape().clone(),
        });
    }
    check_positive(
        op,
        x,
        &[
            ("kernel size", &kernel),
            ("stride", &stride),
            ("dilation", &dilation),
        ],
    )?;
    let sizes = x.dims()[2..].to_vec();
    let mut full = Vec::with_capacity(sizes.len());
    let mut out = Vec::with_capacity(sizes.len());
    for i in 0..sizes.len() {
        if extra[i] >= stride[i] && extra[i] >= dilation[i] {
            let msg = format!(
                "output_padding {} must be smaller than either stride {} or dilation {}",
                show(&extra),
                show(&stride),
                show(&dilation)
            );
            return Err(Error::invalid(op, msg, x.shape()));
        }
        let whole = sizes[i].saturating_sub(1) * stride[i] + dilation[i] * (kernel[i] - 1) + 1;
        if sizes[i] == 0 || whole + extra[i] <= 2 * padding[i] {
            let msg = format!(
                "the output would be empty: input {} with kernel {}, stride {}, dilation {}, \
                 padding {} and output_padding {}",
                show(&sizes),
                show(&kernel),
                show(&stride),
                show(&dilation),
                show(&padding),
                show(&extra)
            );
            return Err(Error::invalid(op, msg, x.shape()));
        }
        full.push(whole);
        out.push(whole + extra[i] - 2 * padding[i]);
    }
    check_bias(op, weight, bias, out_channels)?;
    in_op(op, || {
        let lift = |v: &[usize], one: usize| {
            if v.len() == 1 {
                (one, v[0])
            } else {
                (v[0], v[1])
            }
        };
        let (x4, w4) = if rank == 3 {
            (x.unsqueeze(2)?, weight.unsqueeze(2)?)
        } else {
            (x.clone(), weight.clone())
        };
        let (n, c) = (x4.dims()[0], x4.dims()[1]);
        let (h, wd) = (x4.dims()[2], x4.dims()[3]);
        let patch: usize = w4.dims()[1..].iter().product(); // (o/g)·kh·kw
        let kernels = w4.reshape([groups, c / groups, patch])?.transpose(-1, -2)?; // [g, (o/g)·kh·kw, c/g]
        let pixels = x4.reshape([n, groups, c / groups, h * wd])?;
        let cols = kernels
            .matmul(&pixels)?
            .reshape([n, groups * patch, h * wd])?; // [n, o·kh·kw, h·w]
        let window = Window2d {
            kernel: lift(&kernel, 1),
            stride: lift(&stride, 1),
            padding: (0, 0),
            dilation: lift(&dilation, 1),
        };
        let image = cols.col2im(out_channels, lift(&full, 1), window)?;
        // Crop `padding` from the start of each axis and keep `out` positions: negative pads
        // crop, and a positive far side (output_padding beyond padding) adds zeros.
        let crop: Vec<isize> = (0..full.len())
            .rev()
            .flat_map(|i| {
                let start = -(padding[i] as isize);
                [start, out[i] as isize - full[i] as isize - start]
            })
            .collect();
        let y = image.pad(&crop, PadMode::Constant, 0.0)?;
        let y = if rank == 3 { y.squeeze(2)? } else { y };
        match bias {
            Some(b) => {
                let mut dims = vec![1; rank - 1];
                dims[0] = out_channels;
                y.add(&b.reshape(dims)?)
            }
            None => Ok(y),
        }
    })
}
