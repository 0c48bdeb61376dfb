//! Convolution layers: thin modules over autograd's convolutions, holding PyTorch's parameter
//! layout and default init, with one options style (builder methods `stride`, `padding`,
//! `dilation`, `groups`, `without_bias`, …) for all of them.

use crate::module::layer_traits;
use crate::{init, Module, Visitor};
use nanotorch_autograd::{Conv1dOptions, Conv2dOptions, ConvPadding, PadMode, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

pub use transpose::{ConvTranspose1d, ConvTranspose2d};

/// The convolution layers of this folder, by name: `tests/gradcheck.rs` fails if one has no
/// case.
pub const CONV_LAYERS: &[&str] = &["Conv2d", "Conv1d", "ConvTranspose2d", "ConvTranspose1d"];

/// Refuses a zero in any of a layer's options that must be positive (`stride`, `dilation`, the
/// kernel size), naming the layer and the option: the fields are public and the builder methods
/// cannot fail, so the forward pass is the first place a bad value can be reported.
pub(crate) fn check_positive(layer: &'static str, options: &[(&str, &[usize])]) -> Result<()> {
    for (name, values) in options {
        if values.contains(&0) {
            return Err(Error::msg(format!(
                "{layer}: {name} must be positive, got {values:?}"
            )));
        }
    }
    Ok(())
}

/// A layer's weight and optional bias.
type WeightAndBias<E, B> = (Tensor<E, B>, Option<Tensor<E, B>>);

/// Weight of `shape` and bias `[out_channels]` drawn from `U(±1/√fan_in)` with
/// `fan_in = shape[1]·∏k`: what PyTorch's default `kaiming_uniform_(a=√5)` works out to. For a
/// transposed convolution `shape[1]` is `out/groups` (PyTorch computes the fan on the weight as
/// stored, `[in, out/groups, k…]`), for a convolution `in/groups`.
fn conv_parameters<E: Float, B: Backend>(
    shape: Vec<usize>,
    out_channels: usize,
    bias: bool,
    backend: &B,
) -> Result<WeightAndBias<E, B>> {
    let fan_in: usize = shape[1..].iter().product();
    let bound = 1.0 / (fan_in.max(1) as f64).sqrt();
    let weight = init::uniform(shape, -bound, bound, backend)?;
    let bias = bias
        .then(|| init::uniform([out_channels], -bound, bound, backend))
        .transpose()?;
    Ok((weight, bias))
}

/// Refuses `groups` that are 0 or do not divide both channel counts, as PyTorch's constructor.
fn check_groups(layer: &str, in_channels: usize, out_channels: usize, groups: usize) -> Result<()> {
    if groups == 0 || !in_channels.is_multiple_of(groups) || !out_channels.is_multiple_of(groups) {
        return Err(Error::msg(format!(
            "{layer}: groups = {groups} must be positive and divide both in_channels = \
             {in_channels} and out_channels = {out_channels}"
        )));
    }
    Ok(())
}

/// 2-D convolution (`nn.Conv2d`): input `[n, in, h, w]`, weight `[out, in/groups, kh, kw]`,
/// bias `[out]`.
pub struct Conv2d<E: Float = f32, B: Backend = Cpu> {
    /// `[out_channels, in_channels/groups, kh, kw]`.
    pub weight: Tensor<E, B>,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Tensor<E, B>>,
    /// Step between windows, `(rows, columns)`.
    pub stride: (usize, usize),
    /// Padding on each side, `(rows, columns)`; ignored when `padding_same` is set.
    pub padding: (usize, usize),
    /// `padding='same'`: pad so the output has the input's size (stride 1 only).
    pub padding_same: bool,
    /// Spacing between kernel taps, `(rows, columns)`.
    pub dilation: (usize, usize),
    /// Channel groups (`in_channels` for a depthwise convolution).
    pub groups: usize,
    /// How the padding is filled (`Constant` is PyTorch's `'zeros'`).
    pub padding_mode: PadMode,
}

impl<E: Float, B: Backend> Conv2d<E, B> {
    /// `nn.Conv2d(in, out, kernel_size)`: stride 1, no padding, one group, with a bias; the
    /// builder methods set the rest.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: (usize, usize),
        backend: &B,
    ) -> Result<Self> {
        let shape = vec![out_channels, in_channels, kernel.0, kernel.1];
        let (weight, bias) = conv_parameters(shape, out_channels, true, backend)?;
        Ok(Conv2d {
            weight,
            bias,
            stride: (1, 1),
            padding: (0, 0),
            padding_same: false,
            dilation: (1, 1),
            groups: 1,
            padding_mode: PadMode::Constant,
        })
    }

    /// The forward pass: `[n, in, h, w]` → `[n, out, h', w']`. A `stride` or `dilation` of 0
    /// is an error naming the layer (PyTorch refuses both).
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        let (s, d) = (self.stride, self.dilation);
        check_positive(
            "Conv2d",
            &[("stride", &[s.0, s.1]), ("dilation", &[d.0, d.1])],
        )?;
        let options = Conv2dOptions {
            stride: self.stride,
            padding: padding_of(self.padding_same, self.padding),
            dilation: self.dilation,
            groups: self.groups,
            padding_mode: self.padding_mode,
        };
        x.conv2d_with(&self.weight, self.bias.as_ref(), &options)
    }
}

/// 1-D convolution (`nn.Conv1d`): input `[n, in, l]`, weight `[out, in/groups, k]`.
pub struct Conv1d<E: Float = f32, B: Backend = Cpu> {
    /// `[out_channels, in_channels/groups, k]`.
    pub weight: Tensor<E, B>,
    /// `[out_channels]`, if the layer has a bias.
    pub bias: Option<Tensor<E, B>>,
    /// Step between windows.
    pub stride: usize,
    /// Padding on each side; ignored when `padding_same` is set.
    pub padding: usize,
    /// `padding='same'`: pad so the output has the input's length (stride 1 only).
    pub padding_same: bool,
    /// Spacing between kernel taps.
    pub dilation: usize,
    /// Channel groups (`in_channels` for a depthwise convolution).
    pub groups: usize,
    /// How the padding is filled (`Constant` is PyTorch's `'zeros'`).
    pub padding_mode: PadMode,
}

impl<E: Float, B: Backend> Conv1d<E, B> {
    /// `nn.Conv1d(in, out, kernel_size)`: stride 1, no padding, one group, with a bias; the
    /// builder methods set the rest, as for `Conv2d`.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        backend: &B,
    ) -> Result<Self> {
        let shape = vec![out_channels, in_channels, kernel];
        let (weight, bias) = conv_parameters(shape, out_channels, true, backend)?;
        Ok(Conv1d {
            weight,
            bias,
            stride: 1,
            padding: 0,
            padding_same: false,
            dilation: 1,
            groups: 1,
            padding_mode: PadMode::Constant,
        })
    }

    /// The forward pass: `[n, in, l]` → `[n, out, l']`. A `stride` or `dilation` of 0 is an
    /// error naming the layer.
    pub fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        check_positive(
            "Conv1d",
            &[("stride", &[self.stride]), ("dilation", &[self.dilation])],
        )?;
        let options = Conv1dOptions {
            stride: self.stride,
            padding: padding_of(self.padding_same, self.padding),
            dilation: self.dilation,
            groups: self.groups,
            padding_mode: self.padding_mode,
        };
        x.conv1d_with(&self.weight, self.bias.as_ref(), &options)
    }
}

/// The autograd padding option of a layer's `padding` and `padding_same` fields.
fn padding_of<S>(same: bool, padding: S) -> ConvPadding<S> {
    if same {
        ConvPadding::Same
    } else {
        ConvPadding::Explicit(padding)
    }
}

/// `extra_repr` of a convolution: the options always shown, then, as PyTorch does, the ones
/// that differ from their defaults (`output_padding`, `groups`, `padding_mode`).
fn describe(
    weight: &[usize],
    channels: (usize, usize),
    shown: String,
    groups: usize,
    bias: bool,
    padding_mode: PadMode,
) -> String {
    let kernel = &weight[2.min(weight.len())..];
    let kernel = match kernel {
        [k] => k.to_string(),
        _ => format!(
            "({})",
            kernel
                .iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut s = format!(
        "{}, {}, kernel_size={kernel}, {shown}",
        channels.0, channels.1
    );
    if groups != 1 {
        s += &format!(", groups={groups}");
    }
    s += &format!(", bias={bias}");
    if padding_mode != PadMode::Constant {
        s += &format!(", padding_mode={}", padding_mode.name());
    }
    s
}

/// Axis `i` of a weight's shape, 0 if missing (the fields are public, so printing must not
/// trust them).
fn at(dims: &[usize], i: usize) -> usize {
    dims.get(i).copied().unwrap_or(0)
}

/// `Module` for a convolution, and the builder methods that transposed convolutions lack
/// (`padding` clearing `padding_same`, `padding_same`, `padding_valid`, `padding_mode`) or have
/// in another form (`groups`: their weight layout differs).
macro_rules! conv_repr {
    ($($name:ident: $size:ty;)*) => {$(
        impl<E: Float, B: Backend> Module<E, B> for $name<E, B> {
            fn visit<'a>(&'a self, v: &mut Visitor<'a, E, B>) {
                v.parameter("weight", &self.weight);
                v.parameter("bias", self.bias.as_ref());
            }

            fn extra_repr(&self) -> String {
                let d = self.weight.dims();
                let padding = if self.padding_same {
                    "same".to_string()
                } else {
                    format!("{:?}", self.padding)
                };
                let shown = format!(
                    "stride={:?}, padding={padding}, dilation={:?}",
                    self.stride, self.dilation
                );
                let channels = (at(d, 1) * self.groups, at(d, 0));
                describe(d, channels, shown, self.groups, self.bias.is_some(), self.padding_mode)
            }
        }

        impl<E: Float, B: Backend> $name<E, B> {
            /// With `padding` on each side (builder style; clears `padding_same`).
            pub fn padding(mut self, padding: $size) -> Self {
                self.padding = padding;
                self.padding_same = false;
                self
            }

            /// With `padding='same'`: the output keeps the input's size (stride 1 only; an
            /// even kernel puts the extra padding after, as PyTorch).
            pub fn padding_same(mut self) -> Self {
                self.padding_same = true;
                self
            }

            /// With `padding='valid'`: no padding.
            pub fn padding_valid(mut self) -> Self {
                self.padding_same = false;
                self.padding = Default::default();
                self
            }

            /// With `padding_mode` (`'zeros'` is `PadMode::Constant`).
            pub fn padding_mode(mut self, mode: PadMode) -> Self {
                self.padding_mode = mode;
                self
            }

            /// With `groups`: redraws the weight as `[out, in/groups, k…]` (and the bias, if
            /// any) with the fan-in of that shape. An error if `groups` does not divide both
            /// channel counts, as PyTorch's constructor.
            pub fn groups(mut self, groups: usize) -> Result<Self> {
                let mut shape = self.weight.dims().to_vec();
                let (in_channels, out) = (shape[1] * self.groups, shape[0]);
                check_groups(stringify!($name), in_channels, out, groups)?;
                shape[1] = in_channels / groups;
                let has_bias = self.bias.is_some();
                let (weight, bias) = conv_parameters(shape, out, has_bias, self.weight.backend())?;
                (self.weight, self.bias, self.groups) = (weight, bias, groups);
                Ok(self)
            }
        }
    )*};
}

conv_repr! {
    Conv2d: (usize, usize);
    Conv1d: usize;
}

/// The options of a convolution as builder methods, the same for every convolution (PyTorch's
/// keyword arguments `stride`, `dilation`, `bias=False`), shared with the transposed ones.
macro_rules! conv_options {
    ($($name:ident: $size:ty;)*) => {$(
        impl<E: Float, B: Backend> $name<E, B> {
            /// With `stride` (builder style).
            pub fn stride(mut self, stride: $size) -> Self {
                self.stride = stride;
                self
            }

            /// With `dilation` (builder style).
            pub fn dilation(mut self, dilation: $size) -> Self {
                self.dilation = dilation;
                self
            }

            /// Without a bias (`bias=False`).
            pub fn without_bias(mut self) -> Self {
                self.bias = None;
                self
            }
        }
    )*};
}

conv_options! {
    Conv2d: (usize, usize);
    Conv1d: usize;
}

layer_traits!(Conv2d, Conv1d);

// After the macros, so that their textual scope covers it.
mod transpose;
