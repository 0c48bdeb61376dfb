//! `F.interpolate` and `nn.Upsample`, one spatial axis at a time.
//!
//! Every mode here is separable: bilinear is linear along the rows, then along the columns. Along
//! one axis, an output position reads one input position (nearest) or mixes two with weights
//! `λ₀ + λ₁ = 1` (linear). Both are an `index_select` of the input along that axis and, for
//! linear, a weighted sum with constant weights, so the backward is `index_select`'s
//! scatter-add: each input position receives the weights it was read with.
//!
//! Which positions and weights is PyTorch's arithmetic, copied down to its shortcuts, because
//! users compare against it: see [`nearest_source`] and [`linear_source`].

use crate::module::repr;
use crate::{Forward, Module, Visitor};
use nanotorch_autograd::{in_op, Tensor};
use nanotorch_backend_cpu::Cpu;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// How [`interpolate`] picks the output size: PyTorch's `size` or its `scale_factor`. One value
/// applies to every spatial axis; otherwise give one per spatial axis.
#[derive(Debug, Clone, PartialEq)]
pub enum Resize {
    /// The output's spatial size (`size=`).
    Size(Vec<usize>),
    /// Multipliers of the input's spatial size (`scale_factor=`): the output size is
    /// `floor(in · s)`, and the source positions use `1/s`, not `in/out`, as PyTorch does.
    ScaleFactor(Vec<f64>),
}

macro_rules! resize_from {
    ($($t:ty => |$v:ident| $body:expr;)*) => {$(
        impl From<$t> for Resize {
            fn from($v: $t) -> Self {
                $body
            }
        }
    )*};
}

resize_from! {
    usize => |n| Resize::Size(vec![n]);
    (usize, usize) => |s| Resize::Size(vec![s.0, s.1]);
    (usize, usize, usize) => |s| Resize::Size(vec![s.0, s.1, s.2]);
    Vec<usize> => |s| Resize::Size(s);
    f64 => |f| Resize::ScaleFactor(vec![f]);
    (f64, f64) => |f| Resize::ScaleFactor(vec![f.0, f.1]);
    (f64, f64, f64) => |f| Resize::ScaleFactor(vec![f.0, f.1, f.2]);
    Vec<f64> => |f| Resize::ScaleFactor(f);
}

/// The interpolation of [`interpolate`] (PyTorch's `mode` strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InterpolateMode {
    /// `'nearest'`: PyTorch's historical rule `src = floor(dst · scale)`, any of 1 to 3 spatial
    /// axes. It is not centred: downsampling by 2 reads positions 0, 2, 4, ….
    #[default]
    Nearest,
    /// `'nearest-exact'`: the centred rule `src = floor((dst + ½) · scale)`.
    NearestExact,
    /// `'linear'`, for `[n, c, l]`.
    Linear,
    /// `'bilinear'`, for `[n, c, h, w]`.
    Bilinear,
    /// `'trilinear'`, for `[n, c, d, h, w]`.
    Trilinear,
}

impl InterpolateMode {
    /// PyTorch's name of the mode.
    pub fn name(self) -> &'static str {
        match self {
            InterpolateMode::Nearest => "nearest",
            InterpolateMode::NearestExact => "nearest-exact",
            InterpolateMode::Linear => "linear",
            InterpolateMode::Bilinear => "bilinear",
            InterpolateMode::Trilinear => "trilinear",
        }
    }

    /// The input rank the mode requires, or `None` for the nearest modes (3 to 5).
    fn rank(self) -> Option<usize> {
        match self {
            InterpolateMode::Linear => Some(3),
            InterpolateMode::Bilinear => Some(4),
            InterpolateMode::Trilinear => Some(5),
            InterpolateMode::Nearest | InterpolateMode::NearestExact => None,
        }
    }
}

/// Resamples the spatial axes of `x` (`[n, c, …]`, one to three spatial axes) to a new size, as
/// `F.interpolate(x, size | scale_factor, mode, align_corners)`.
///
/// `align_corners` (linear modes only, as in PyTorch) maps the corner pixels' centres onto each
/// other: `src = dst · (in−1)/(out−1)`. Without it pixels are areas, and centres map as
/// `src = (dst + ½) · scale − ½`, clamped at 0, with `scale = in/out` (or `1/scale_factor`).
///
/// Errors, naming `interpolate` and the input shape: a mode that needs another rank (`bilinear`
/// on a 3-D input), `align_corners` with a nearest mode, a size or factor list of the wrong
/// length, a factor that is not positive and finite, or an empty input or output axis.
///
/// ```
/// use nanotorch_autograd::Tensor;
/// use nanotorch_backend_cpu::Cpu;
/// use nanotorch_nn::{interpolate, InterpolateMode};
///
/// let x = Tensor::<f64, Cpu>::from_vec(vec![0.0, 1.0, 2.0], [1, 1, 3], &Cpu)?;
/// let up = interpolate(&x, 5, InterpolateMode::Linear, true)?;
/// assert_eq!(up.to_vec()?, vec![0.0, 0.5, 1.0, 1.5, 2.0]);
/// let near = interpolate(&x, 2.0, InterpolateMode::Nearest, false)?;
/// assert_eq!(near.to_vec()?, vec![0.0, 0.0, 1.0, 1.0, 2.0, 2.0]);
/// # Ok::<(), nanotorch_ndarray_core::Error>(())
/// ```
pub fn interpolate<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    resize: impl Into<Resize>,
    mode: InterpolateMode,
    align_corners: bool,
) -> Result<Tensor<E, B>> {
    let axes = plan(x, &resize.into(), mode, align_corners)?;
    in_op("interpolate", || {
        let mut y = x.clone();
        for (i, axis) in axes.iter().enumerate() {
            y = resample_axis(&y, 2 + i, axis, mode, align_corners)?;
        }
        Ok(y)
    })
}

/// One spatial axis: input size, output size and the user's scale factor, if one was given.
struct Axis {
    input: usize,
    output: usize,
    scale_factor: Option<f64>,
}

/// Checks the arguments of [`interpolate`] and works out each spatial axis's sizes.
fn plan<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    resize: &Resize,
    mode: InterpolateMode,
    align_corners: bool,
) -> Result<Vec<Axis>> {
    let fail = |msg: String| Err(Error::invalid("interpolate", msg, x.shape()));
    let rank_ok = match mode.rank() {
        Some(r) => x.rank() == r,
        None => (3..=5).contains(&x.rank()),
    };
    if !rank_ok {
        let want = mode
            .rank()
            .map_or("3-D to 5-D".to_string(), |r| format!("{r}-D"));
        return fail(format!(
            "mode '{}' needs a {want} input [n, c, …], got {}-D",
            mode.name(),
            x.rank()
        ));
    }
    if align_corners && mode.rank().is_none() {
        return fail(format!(
            "align_corners is only for the linear modes (linear, bilinear, trilinear), not '{}'",
            mode.name()
        ));
    }
    let inputs = &x.dims()[2..];
    if let Some(i) = inputs.iter().position(|&d| d == 0) {
        return fail(format!("spatial axis {} of the input is empty", i + 2));
    }
    let given = match resize {
        Resize::Size(s) => s.len(),
        Resize::ScaleFactor(f) => f.len(),
    };
    if given != 1 && given != inputs.len() {
        return fail(format!(
            "{given} sizes or scale factors for {} spatial axes (give 1 or {})",
            inputs.len(),
            inputs.len()
        ));
    }
    let pick = |i: usize| if given == 1 { 0 } else { i };
    let mut axes = Vec::with_capacity(inputs.len());
    for (i, &input) in inputs.iter().enumerate() {
        let (output, scale_factor) = match resize {
            Resize::Size(s) => (s[pick(i)], None),
            Resize::ScaleFactor(f) => {
                let f = f[pick(i)];
                if !(f.is_finite() && f > 0.0) {
                    return fail(format!("scale factor {f} is not positive and finite"));
                }
                ((input as f64 * f).floor() as usize, Some(f))
            }
        };
        if output == 0 {
            return fail(format!(
                "output size of spatial axis {} is 0 (input size {input})",
                i + 2
            ));
        }
        axes.push(Axis {
            input,
            output,
            scale_factor,
        });
    }
    Ok(axes)
}

/// `x` resampled along `dim`.
fn resample_axis<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    dim: usize,
    axis: &Axis,
    mode: InterpolateMode,
    align_corners: bool,
) -> Result<Tensor<E, B>> {
    if axis.output == axis.input {
        // PyTorch copies here whatever the scale factor, and so do we
        return Ok(x.clone());
    }
    let backend = x.backend();
    let index = |i: Vec<i64>| Tensor::<i64, B>::from_vec(i, [axis.output], backend);
    if mode.rank().is_none() {
        let exact = mode == InterpolateMode::NearestExact;
        let src = (0..axis.output)
            .map(|dst| nearest_source(dst, axis, exact))
            .collect();
        return x.index_select(dim as isize, &index(src)?);
    }
    let (mut i0, mut i1, mut w0, mut w1) = (vec![], vec![], vec![], vec![]);
    for dst in 0..axis.output {
        let (a, b, lambda) = linear_source(dst, axis, align_corners);
        i0.push(a);
        i1.push(b);
        w0.push(E::from_f64(1.0 - lambda));
        w1.push(E::from_f64(lambda));
    }
    // the weights vary along `dim` only and broadcast over every other axis
    let mut weight_shape = vec![1; x.rank()];
    weight_shape[dim] = axis.output;
    let w0 = Tensor::from_vec(w0, weight_shape.clone(), backend)?;
    let w1 = Tensor::from_vec(w1, weight_shape, backend)?;
    let near = x.index_select(dim as isize, &index(i0)?)?.mul(&w0)?;
    let far = x.index_select(dim as isize, &index(i1)?)?.mul(&w1)?;
    near.add(&far)
}

/// PyTorch's `compute_scales_value` for the nearest modes, in `f32` as PyTorch computes it:
/// `1/scale_factor` when a factor was given, else `in/out`.
fn nearest_scale(axis: &Axis) -> f32 {
    match axis.scale_factor {
        Some(f) => (1.0 / f) as f32,
        None => axis.input as f32 / axis.output as f32,
    }
}

/// The input position output position `dst` reads (`nearest_idx` / `nearest_exact_idx`):
/// `floor(dst · scale)` or `floor((dst + ½) · scale)`, at most `in − 1`. The products are
/// rounded to `f32` as PyTorch's `floorf` does, so non-integer scales land where PyTorch's do.
fn nearest_source(dst: usize, axis: &Axis, exact: bool) -> i64 {
    let src = if exact {
        ((dst as f64 + 0.5) * nearest_scale(axis) as f64) as f32
    } else if axis.output == 2 * axis.input {
        // PyTorch's shortcut, which can disagree with the scale factor given
        return (dst / 2) as i64;
    } else {
        dst as f32 * nearest_scale(axis)
    };
    (src.floor() as i64).min(axis.input as i64 - 1)
}

/// The two input positions output position `dst` mixes and the weight `λ` of the second
/// (`compute_source_index_and_lambda`): `src = dst · (in−1)/(out−1)` with `align_corners`,
/// else `max((dst + ½) · scale − ½, 0)` with `scale = 1/scale_factor` or `in/out`.
fn linear_source(dst: usize, axis: &Axis, align_corners: bool) -> (i64, i64, f64) {
    let (input, output) = (axis.input, axis.output);
    let src = if align_corners {
        let ratio = if output > 1 {
            (input - 1) as f64 / (output - 1) as f64
        } else {
            0.0
        };
        ratio * dst as f64
    } else {
        let scale = axis
            .scale_factor
            .map_or(input as f64 / output as f64, |f| 1.0 / f);
        (scale * (dst as f64 + 0.5) - 0.5).max(0.0)
    };
    let i0 = (src.floor() as i64).min(input as i64 - 1);
    let lambda = (src - i0 as f64).clamp(0.0, 1.0);
    let i1 = if i0 < input as i64 - 1 { i0 + 1 } else { i0 };
    (i0, i1, lambda)
}

/// Resamples the spatial axes of its input (`nn.Upsample`): [`interpolate`] as a layer, with
/// PyTorch's defaults (mode `nearest`, no `align_corners`).
#[derive(Debug, Clone, PartialEq)]
pub struct Upsample {
    /// The output size or the scale factor.
    pub resize: Resize,
    /// The interpolation.
    pub mode: InterpolateMode,
    /// Whether corner centres are aligned (linear modes only).
    pub align_corners: bool,
}

impl Upsample {
    /// `nn.Upsample(size=…)` or `nn.Upsample(scale_factor=…)`, by the type given (`usize`s for a
    /// size, `f64`s for a factor), in mode `nearest`.
    pub fn new(resize: impl Into<Resize>) -> Self {
        Upsample {
            resize: resize.into(),
            mode: InterpolateMode::Nearest,
            align_corners: false,
        }
    }

    /// With `mode` (builder style).
    pub fn mode(mut self, mode: InterpolateMode) -> Self {
        self.mode = mode;
        self
    }

    /// With `align_corners` (builder style).
    pub fn align_corners(mut self, align_corners: bool) -> Self {
        self.align_corners = align_corners;
        self
    }

    /// The forward pass: [`interpolate`] with the layer's options.
    pub fn forward<E: Float, B: Backend>(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        interpolate(x, self.resize.clone(), self.mode, self.align_corners)
    }
}

impl<E: Float, B: Backend> Module<E, B> for Upsample {
    fn visit<'a>(&'a self, _v: &mut Visitor<'a, E, B>) {}

    /// As PyTorch: `size=…` or `scale_factor=…` (a tuple when there are several), and the mode.
    fn extra_repr(&self) -> String {
        fn one_or_tuple<T: std::fmt::Debug>(v: &[T]) -> String {
            match v {
                [one] => format!("{one:?}"),
                many => format!(
                    "({})",
                    many.iter()
                        .map(|x| format!("{x:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        let info = match &self.resize {
            Resize::Size(s) => format!("size={}", one_or_tuple(s)),
            Resize::ScaleFactor(f) => format!("scale_factor={}", one_or_tuple(f)),
        };
        format!("{info}, mode='{}'", self.mode.name())
    }
}

impl<E: Float, B: Backend> Forward<E, B> for Upsample {
    fn forward(&self, x: &Tensor<E, B>) -> Result<Tensor<E, B>> {
        Upsample::forward(self, x)
    }
}

impl std::fmt::Display for Upsample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&repr::<f32, Cpu, _>(self))
    }
}
