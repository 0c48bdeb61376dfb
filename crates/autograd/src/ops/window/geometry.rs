//! Checks and sizes shared by the convolutions, written over any number of spatial axes so that
//! a 1-d convolution speaks of lengths and single numbers, never of the 2-d one underneath.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// A per-axis option: a `usize` for 1-d convolutions, `(rows, columns)` for 2-d ones.
pub(super) trait Axes: Copy {
    /// The values, first axis first.
    fn axes(self) -> Vec<usize>;
}

impl Axes for usize {
    fn axes(self) -> Vec<usize> {
        vec![self]
    }
}

impl Axes for (usize, usize) {
    fn axes(self) -> Vec<usize> {
        vec![self.0, self.1]
    }
}

/// `[3]` as `3` and `[3, 2]` as `(3, 2)`: how the caller wrote the option.
pub(super) fn show(values: &[usize]) -> String {
    match values {
        [v] => v.to_string(),
        _ => format!(
            "({})",
            values
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Refuses a zero kernel size, stride or dilation (PyTorch refuses each), naming it.
pub(super) fn check_positive<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    options: &[(&str, &[usize])],
) -> Result<()> {
    for (name, values) in options {
        if values.contains(&0) {
            let msg = format!("{name} must be positive, got {}", show(values));
            return Err(Error::invalid(op, msg, x.shape()));
        }
    }
    Ok(())
}

/// Refuses `groups` of 0, channel counts it does not divide, and a weight whose per-group input
/// channels (`weight_in`) times `groups` is not the input's channel count, naming both shapes.
pub(super) fn check_groups<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    weight: &Tensor<E, B>,
    groups: usize,
    weight_in: usize,
    out_channels: usize,
) -> Result<()> {
    let c = x.dims()[1];
    let fail = |why: String| {
        Err(Error::invalid(
            op,
            format!("{why} (input {}, weight {})", x.shape(), weight.shape()),
            x.shape(),
        ))
    };
    if groups == 0 {
        return fail("groups must be positive, got 0".into());
    }
    if !c.is_multiple_of(groups) || !out_channels.is_multiple_of(groups) {
        return fail(format!(
            "groups = {groups} must divide both the {c} input and {out_channels} output channels"
        ));
    }
    if weight_in * groups != c {
        return fail(format!(
            "the weight expects {weight_in} channels per group × {groups} groups = {}, but the \
             input has {c}",
            weight_in * groups
        ));
    }
    Ok(())
}

/// Refuses a bias that is not `[out_channels]`.
pub(super) fn check_bias<E: Float, B: Backend>(
    op: &'static str,
    weight: &Tensor<E, B>,
    bias: Option<&Tensor<E, B>>,
    out_channels: usize,
) -> Result<()> {
    match bias {
        Some(b) if b.dims() != [out_channels] => Err(Error::ShapeMismatch {
            op,
            what: "the bias must be [o], one value per output channel of the weight",
            lhs: weight.shape().clone(),
            rhs: b.shape().clone(),
        }),
        _ => Ok(()),
    }
}

/// Output sizes of a convolution with per-axis `(before, after)` padding, or an error naming the
/// input size, kernel, dilation and padding when the dilated kernel spans more than the padded
/// input.
pub(super) fn conv_output<E: Float, B: Backend>(
    op: &'static str,
    x: &Tensor<E, B>,
    kernel: &[usize],
    stride: &[usize],
    dilation: &[usize],
    pad: &[(usize, usize)],
) -> Result<Vec<usize>> {
    let sizes = &x.dims()[2..];
    let mut out = Vec::with_capacity(sizes.len());
    for i in 0..sizes.len() {
        let span = dilation[i] * (kernel[i] - 1) + 1;
        let padded = sizes[i] + pad[i].0 + pad[i].1;
        if padded < span {
            let word = if sizes.len() == 1 { "length " } else { "" };
            let msg = format!(
                "kernel {} with dilation {} spans more than the input {word}{} padded by {}",
                show(kernel),
                show(dilation),
                show(sizes),
                pad_text(pad)
            );
            return Err(Error::invalid(op, msg, x.shape()));
        }
        out.push((padded - span) / stride[i] + 1);
    }
    Ok(out)
}

/// The padding as the caller would write it: one amount per axis when both sides agree.
fn pad_text(pad: &[(usize, usize)]) -> String {
    if pad.iter().all(|(a, b)| a == b) {
        show(&pad.iter().map(|p| p.0).collect::<Vec<_>>())
    } else {
        format!("{pad:?}")
    }
}
