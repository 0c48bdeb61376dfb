//! Convolution (`conv1d`, `conv2d`) with PyTorch's options: stride, padding (amounts, `'same'`,
//! `'valid'`), dilation, groups and padding mode.
//!
//! One path serves both ranks: a 1-d convolution is a 2-d one over a height-1 image. Grouped
//! convolution is one batched matrix product: the columns `[n, c·k, L]` are viewed as
//! `[n, g, (c/g)·k, L]` (im2col lays out channels outermost, so each group's rows are one block)
//! and multiplied by the kernels viewed as `[g, o/g, (c/g)·k]`.

use super::geometry::{check_bias, check_groups, check_positive, conv_output, Axes};
use super::live_taps::{cut_kernel, live_window};
use crate::ops::pad::PadMode;
use crate::{in_op, Tensor};
use nanotorch_ndarray_core::{Backend, Error, Float, Result, Window2d};

/// A convolution's `padding`: amounts per axis, or PyTorch's `'same'` / `'valid'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvPadding<S> {
    /// This many on both sides of each axis.
    Explicit(S),
    /// Whatever keeps the output the input's size (`padding='same'`, stride 1 only): a total
    /// of `dilation·(k − 1)` per axis, the odd one out going after (right/bottom), as PyTorch.
    Same,
    /// No padding (`padding='valid'`).
    Valid,
}

impl From<usize> for ConvPadding<usize> {
    fn from(p: usize) -> Self {
        ConvPadding::Explicit(p)
    }
}

impl From<(usize, usize)> for ConvPadding<(usize, usize)> {
    fn from(p: (usize, usize)) -> Self {
        ConvPadding::Explicit(p)
    }
}

/// Options of `conv1d_with` / `conv2d_with`, PyTorch's keyword arguments; `S` is `usize` for
/// 1-d and `(rows, columns)` for 2-d. The default is PyTorch's: stride 1, no padding, dilation
/// 1, one group, zero padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvOptions<S> {
    /// Step between windows.
    pub stride: S,
    /// Padding amounts, or `'same'` / `'valid'`.
    pub padding: ConvPadding<S>,
    /// Spacing between kernel taps.
    pub dilation: S,
    /// Channel groups: input and output channels split into `groups` independent blocks
    /// (`groups == in_channels` is a depthwise convolution).
    pub groups: usize,
    /// How the border is filled (`padding_mode`; `Constant` is PyTorch's `'zeros'`).
    pub padding_mode: PadMode,
}

/// Options of a 1-d convolution.
pub type Conv1dOptions = ConvOptions<usize>;
/// Options of a 2-d convolution.
pub type Conv2dOptions = ConvOptions<(usize, usize)>;

impl Default for ConvOptions<usize> {
    fn default() -> Self {
        ConvOptions::with_ones(1)
    }
}

impl Default for ConvOptions<(usize, usize)> {
    fn default() -> Self {
        ConvOptions::with_ones((1, 1))
    }
}

impl<S: Copy> ConvOptions<S> {
    fn with_ones(one: S) -> Self {
        ConvOptions {
            stride: one,
            padding: ConvPadding::Valid,
            dilation: one,
            groups: 1,
            padding_mode: PadMode::Constant,
        }
    }

    /// With `stride` (builder style).
    pub fn stride(mut self, stride: S) -> Self {
        self.stride = stride;
        self
    }

    /// With `padding`: an amount per axis, `ConvPadding::Same` or `ConvPadding::Valid`.
    pub fn padding(mut self, padding: impl Into<ConvPadding<S>>) -> Self {
        self.padding = padding.into();
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

    /// With `padding_mode` (builder style).
    pub fn padding_mode(mut self, mode: PadMode) -> Self {
        self.padding_mode = mode;
        self
    }
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// 2-D convolution (cross-correlation, as `torch.nn.functional.conv2d` with groups = 1):
    /// input `[n, c, h, w]`, weight `[o, c, kh, kw]`, optional bias `[o]`. See `conv2d_with`
    /// for groups, `'same'` padding and padding modes.
    #[track_caller]
    pub fn conv2d(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        stride: (usize, usize),
        padding: (usize, usize),
        dilation: (usize, usize),
    ) -> Result<Self> {
        let options = Conv2dOptions::default()
            .stride(stride)
            .padding(padding)
            .dilation(dilation);
        self.conv2d_with(weight, bias, &options)
    }

    /// 1-D convolution: input `[n, c, l]`, weight `[o, c, k]`, optional bias `[o]`. See
    /// `conv1d_with` for the other options.
    #[track_caller]
    pub fn conv1d(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        stride: usize,
        padding: usize,
        dilation: usize,
    ) -> Result<Self> {
        let options = Conv1dOptions::default()
            .stride(stride)
            .padding(padding)
            .dilation(dilation);
        self.conv1d_with(weight, bias, &options)
    }

    /// 2-D convolution with every option of `torch.nn.functional.conv2d` plus the layer's
    /// `padding_mode`: input `[n, c, h, w]`, weight `[o, c/groups, kh, kw]`, bias `[o]`.
    ///
    /// ```
    /// use nanotorch_autograd::{Conv2dOptions, ConvPadding, Tensor};
    /// use nanotorch_backend_cpu::Cpu;
    /// let x = Tensor::<f32, Cpu>::ones([1, 4, 5, 5], &Cpu)?;
    /// let w = Tensor::ones([4, 1, 2, 2], &Cpu)?; // depthwise: one 2×2 kernel per channel
    /// let options = Conv2dOptions::default().groups(4).padding(ConvPadding::Same);
    /// assert_eq!(x.conv2d_with(&w, None, &options)?.dims(), &[1, 4, 5, 5]);
    /// # Ok::<(), nanotorch_ndarray_core::Error>(())
    /// ```
    #[track_caller]
    pub fn conv2d_with(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        options: &Conv2dOptions,
    ) -> Result<Self> {
        convolve("conv2d", self, weight, bias, options)
    }

    /// 1-D convolution with every option of `torch.nn.functional.conv1d` plus `padding_mode`:
    /// input `[n, c, l]`, weight `[o, c/groups, k]`, bias `[o]`.
    #[track_caller]
    pub fn conv1d_with(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        options: &Conv1dOptions,
    ) -> Result<Self> {
        convolve("conv1d", self, weight, bias, options)
    }
}

/// Both convolutions: checks in the caller's rank, then the 2-d product.
#[track_caller]
fn convolve<E: Float, B: Backend, S: Axes>(
    op: &'static str,
    x: &Tensor<E, B>,
    weight: &Tensor<E, B>,
    bias: Option<&Tensor<E, B>>,
    options: &ConvOptions<S>,
) -> Result<Tensor<E, B>> {
    let (stride, dilation) = (options.stride.axes(), options.dilation.axes());
    let rank = stride.len() + 2;
    let (groups, w) = (options.groups, weight.dims());
    let ranks_fit = x.rank() == rank && weight.rank() == rank;
    if !ranks_fit || (groups == 1 && x.dims()[1] != w[1]) {
        return Err(Error::ShapeMismatch {
            op,
            what: if rank == 3 {
                "expected input [n, c, l] and weight [o, c, k] with the same c"
            } else {
                "expected input [n, c, h, w] and weight [o, c, kh, kw] with the same c"
            },
            lhs: x.shape().clone(),
            rhs: weight.shape().clone(),
        });
    }
    let kernel = w[2..].to_vec();
    check_groups(op, x, weight, groups, w[1], w[0])?;
    check_positive(
        op,
        x,
        &[
            ("kernel size", &kernel),
            ("stride", &stride),
            ("dilation", &dilation),
        ],
    )?;
    let pad: Vec<(usize, usize)> = match options.padding {
        ConvPadding::Explicit(p) => p.axes().into_iter().map(|p| (p, p)).collect(),
        ConvPadding::Valid => vec![(0, 0); kernel.len()],
        ConvPadding::Same if stride.iter().any(|&s| s != 1) => {
            return Err(Error::invalid(
                op,
                "padding='same' is not supported for strided convolutions",
                x.shape(),
            ))
        }
        ConvPadding::Same => (0..kernel.len())
            .map(|i| {
                let total = dilation[i] * (kernel[i] - 1);
                (total / 2, total - total / 2)
            })
            .collect(),
    };
    let out = conv_output(op, x, &kernel, &stride, &dilation, &pad)?;
    check_bias(op, weight, bias, w[0])?;
    in_op(op, || {
        // Zero padding that is the same on both sides is im2col's own; anything else is `pad`
        // first, then an unpadded convolution, as PyTorch does for `padding_mode`.
        let symmetric = pad.iter().all(|(a, b)| a == b);
        let (x, window_pad) = if options.padding_mode == PadMode::Constant && symmetric {
            (x.clone(), pad.iter().map(|p| p.0).collect())
        } else {
            let list: Vec<isize> = pad
                .iter()
                .rev()
                .flat_map(|&(a, b)| [a as isize, b as isize])
                .collect();
            (x.pad(&list, options.padding_mode, 0.0)?, vec![0; pad.len()])
        };
        let lift = |v: &[usize], one: usize| {
            if v.len() == 1 {
                (one, v[0])
            } else {
                (v[0], v[1])
            }
        };
        let window = Window2d {
            kernel: lift(&kernel, 1),
            stride: lift(&stride, 1),
            padding: lift(&window_pad, 0),
            dilation: lift(&dilation, 1),
        };
        let (x4, w4) = if rank == 3 {
            (x.unsqueeze(2)?, weight.unsqueeze(2)?)
        } else {
            (x, weight.clone())
        };
        let plane = (x4.dims()[2], x4.dims()[3]);
        let (window, w4) = match live_window(&window, plane, lift(&out, 1)) {
            Some((cut, rows, cols)) => (cut, cut_kernel(&w4, rows, cols)?),
            None => (window, w4),
        };
        let y = grouped_product(&x4, &w4, window, groups, lift(&out, 1))?;
        // `y` is a view batch-second; adding the bias writes the batch-first result in the
        // same pass that would otherwise only copy it.
        let y = match bias {
            Some(b) => y.add(&b.reshape([w[0], 1, 1])?)?,
            None => y.contiguous()?,
        };
        if rank == 3 {
            y.squeeze(2)
        } else {
            Ok(y)
        }
    })
}

/// `[n, c, h, w]` ⊛ `[o, c/g, kh, kw]` → `[n, o, oh, ow]` (a view of `[o, n, oh, ow]`
/// storage) as one (batched over groups) matrix
/// product with the whole batch side by side: `[o, c·kh·kw] @ [c·kh·kw, n·oh·ow]`. One product
/// per image would repack the weight n times and, deep in a network where each image is a few
/// pixels, multiply by matrices only a few columns wide.
fn grouped_product<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    weight: &Tensor<E, B>,
    window: Window2d,
    groups: usize,
    (oh, ow): (usize, usize),
) -> Result<Tensor<E, B>> {
    let (n, o) = (x.dims()[0], weight.dims()[0]);
    let per_group: usize = weight.dims()[1..].iter().product();
    // A view where the backend lays the columns out tap-major (see `NDArray::im2col`), else a copy.
    let cols = x
        .im2col(window)? // [n, c·kh·kw, oh·ow]
        .permute(&[1, 0, 2])?
        .reshape([groups, per_group, n * oh * ow])?;
    let kernels = weight.reshape([groups, o / groups, per_group])?;
    let y = kernels.matmul(&cols)?; // [g, o/g, n·oh·ow]
    y.reshape([o, n, oh, ow])?
        .permute(&[1, 0, 2, 3])?
        .contiguous()
}
