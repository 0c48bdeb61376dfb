//! Padding: `pad` with constant, reflect, replicate and circular modes (`torch.nn.functional.pad`).
//!
//! Built from differentiable ops so the backward needs no rule of its own: the constant mode
//! crops with `narrow` and concatenates constant blocks with `cat`; the other modes are one
//! `index_select` per padded axis whose index maps every output position to the input position
//! it copies, so the backward (a scatter-add) sums each copied gradient back where it came from.

use crate::{in_op, Tensor};
use nanotorch_ndarray_core::{Backend, Error, Float, Result};

/// How `pad` fills the new border (PyTorch's `mode` argument of `F.pad`, and, for convolution
/// layers, `padding_mode`, where `Constant` is PyTorch's `'zeros'`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PadMode {
    /// A constant value (the `value` argument of `pad`; zero for convolutions).
    #[default]
    Constant,
    /// The mirror image without repeating the edge: `[a b c]` padded by 2 on the left is
    /// `[c b a b c]`. Each pad must be smaller than its axis.
    Reflect,
    /// The edge value repeated.
    Replicate,
    /// The other end of the axis (periodic). Each pad may be at most its axis' size.
    Circular,
}

impl PadMode {
    /// PyTorch's name of the mode (`'constant'`, `'reflect'`, …).
    pub fn name(self) -> &'static str {
        match self {
            PadMode::Constant => "constant",
            PadMode::Reflect => "reflect",
            PadMode::Replicate => "replicate",
            PadMode::Circular => "circular",
        }
    }
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// Pads (or, with negative amounts, crops) the trailing axes, as `torch.nn.functional.pad`:
    /// `pad` lists `(before, after)` pairs starting from the last axis, so `[l, r, t, b]` pads
    /// the last axis by `l`/`r` and the one before it by `t`/`b`. `value` fills the border in
    /// `PadMode::Constant` and is ignored otherwise.
    ///
    /// Unlike PyTorch, the non-constant modes are not limited to the last three axes. Errors
    /// (naming `pad`): an odd-length `pad` or one longer than twice the rank, a reflect pad not
    /// smaller than its axis, a circular pad larger than its axis, a non-constant pad of an empty
    /// axis, or a crop that leaves a negative size.
    ///
    /// ```
    /// use nanotorch_autograd::{PadMode, Tensor};
    /// use nanotorch_backend_cpu::Cpu;
    /// let x = Tensor::<f32, Cpu>::from_vec(vec![1.0, 2.0, 3.0], [1, 3], &Cpu)?;
    /// let y = x.pad(&[2, 1], PadMode::Reflect, 0.0)?;
    /// assert_eq!(y.to_vec()?, vec![3.0, 2.0, 1.0, 2.0, 3.0, 2.0]);
    /// # Ok::<(), nanotorch_ndarray_core::Error>(())
    /// ```
    #[track_caller]
    pub fn pad(&self, pad: &[isize], mode: PadMode, value: f64) -> Result<Self> {
        if !pad.len().is_multiple_of(2) || pad.len() > 2 * self.rank() {
            return Err(Error::invalid(
                "pad",
                format!(
                    "the pad list {pad:?} must hold (before, after) pairs for at most the {} \
                     axes of the input",
                    self.rank()
                ),
                self.shape(),
            ));
        }
        let rank = self.rank();
        let mut plan = Vec::with_capacity(pad.len() / 2);
        for (i, pair) in pad.chunks(2).enumerate() {
            let axis = rank - 1 - i;
            let (before, after) = (pair[0], pair[1]);
            check_axis(self, mode, axis, before, after)?;
            if before != 0 || after != 0 {
                plan.push((axis, before, after));
            }
        }
        in_op("pad", || {
            let mut out = self.clone();
            for &(axis, before, after) in &plan {
                out = match mode {
                    PadMode::Constant => pad_constant(&out, axis, before, after, value)?,
                    _ => pad_indexed(&out, axis, before, after, mode)?,
                };
            }
            Ok(out)
        })
    }
}

/// Refuses what PyTorch refuses for one axis of `pad`, naming the axis and its size.
fn check_axis<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    mode: PadMode,
    axis: usize,
    before: isize,
    after: isize,
) -> Result<()> {
    let size = x.dims()[axis] as isize;
    let fail = |why: String| {
        Err(Error::invalid(
            "pad",
            format!("axis {axis} (size {size}) padded by ({before}, {after}): {why}"),
            x.shape(),
        ))
    };
    if size + before + after < 0 {
        return fail("the crop leaves a negative size".into());
    }
    let widest = before.max(after);
    match mode {
        PadMode::Constant => Ok(()),
        _ if size == 0 && widest > 0 => fail(format!("{} padding of an empty axis", mode.name())),
        PadMode::Reflect if widest >= size => {
            fail("reflect padding must be smaller than the axis".into())
        }
        PadMode::Circular if widest > size => {
            fail("circular padding may not wrap around more than once".into())
        }
        _ => Ok(()),
    }
}

/// Constant padding of one axis: crop the negative sides, then add constant blocks.
fn pad_constant<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    axis: usize,
    before: isize,
    after: isize,
    value: f64,
) -> Result<Tensor<E, B>> {
    let size = x.dims()[axis];
    let (cut_before, cut_after) = ((-before).max(0) as usize, (-after).max(0) as usize);
    let kept = x.narrow(axis as isize, cut_before, size - cut_before - cut_after)?;
    let block = |len: isize| -> Result<Option<Tensor<E, B>>> {
        if len <= 0 {
            return Ok(None);
        }
        let mut dims = x.dims().to_vec();
        dims[axis] = len as usize;
        Tensor::full(dims, E::from_f64(value), x.backend()).map(Some)
    };
    let parts: Vec<_> = [block(before)?, Some(kept), block(after)?]
        .into_iter()
        .flatten()
        .collect();
    if parts.len() == 1 {
        return Ok(parts.into_iter().next().expect("one part"));
    }
    Tensor::cat(&parts, axis as isize)
}

/// Reflect, replicate or circular padding of one axis as a gather of input positions.
fn pad_indexed<E: Float, B: Backend>(
    x: &Tensor<E, B>,
    axis: usize,
    before: isize,
    after: isize,
    mode: PadMode,
) -> Result<Tensor<E, B>> {
    let size = x.dims()[axis] as isize;
    let index: Vec<i64> = (-before..size + after)
        .map(|i| source(i, size, mode) as i64)
        .collect();
    let len = index.len();
    let index = Tensor::<i64, B>::from_vec(index, [len], x.backend())?;
    x.index_select(axis as isize, &index)
}

/// The input position that output position `i` (counted from the input's first element, so
/// the left border is negative) copies; `check_axis` keeps `i` within one reflection or wrap.
pub(super) fn source(i: isize, size: isize, mode: PadMode) -> isize {
    match mode {
        PadMode::Reflect if i < 0 => -i,
        PadMode::Reflect if i >= size => 2 * (size - 1) - i,
        PadMode::Replicate => i.clamp(0, size - 1),
        PadMode::Circular => i.rem_euclid(size),
        _ => i,
    }
}
