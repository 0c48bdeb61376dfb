//! Zero-copy views: each returns an array sharing `self`'s storage with a new layout.
//! Axes may be negative (`-1` is the last), as in PyTorch.

use super::NDArray;
use crate::shape::Dims;
use crate::{Backend, Element, Error, Result, Shape};

impl<E: Element, B: Backend> NDArray<E, B> {
    /// The same elements in another shape, as a view when the strides allow it and a copy
    /// otherwise (PyTorch's `reshape`). One size may be `-1`, inferred from the element count:
    /// `reshape([-1, 784])`.
    pub fn reshape(&self, shape: impl Into<Dims>) -> Result<Self> {
        let to = shape.into().resolve("reshape", self.shape())?;
        match self.layout.reshape("reshape", &to) {
            Ok(layout) => Ok(self.with_layout(layout)),
            Err(Error::NotViewable { .. }) => self.copy()?.reshape(to),
            Err(e) => Err(e),
        }
    }

    /// The same elements in another shape without a copy, or an error if the strides do not
    /// allow it (PyTorch's `view`). One size may be `-1`.
    pub fn view(&self, shape: impl Into<Dims>) -> Result<Self> {
        let to = shape.into().resolve("view", self.shape())?;
        Ok(self.with_layout(self.layout.reshape("view", &to)?))
    }

    /// Reorders axes: axis `i` of the result is axis `perm[i]` of `self`.
    pub fn permute(&self, perm: &[isize]) -> Result<Self> {
        let perm = perm
            .iter()
            .map(|&a| self.shape().axis("permute", a))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.with_layout(self.layout.permute(&perm)?))
    }

    /// Swaps two axes.
    pub fn transpose(&self, a: isize, b: isize) -> Result<Self> {
        let a = self.shape().axis("transpose", a)?;
        let b = self.shape().axis("transpose", b)?;
        Ok(self.with_layout(self.layout.transpose(a, b)?))
    }

    /// The transpose of a matrix (0-d and 1-d arrays are returned as they are), as `torch.t`.
    pub fn t(&self) -> Result<Self> {
        match self.rank() {
            0 | 1 => Ok(self.clone()),
            2 => self.transpose(0, 1),
            _ => Err(Error::invalid(
                "t",
                "expects an array of at most 2 axes",
                self.shape(),
            )),
        }
    }

    /// A view broadcast to `shape` (size-1 and missing leading axes repeat with stride 0).
    pub fn broadcast_to(&self, shape: impl Into<Shape>) -> Result<Self> {
        Ok(self.with_layout(self.layout.broadcast_to("broadcast_to", &shape.into())?))
    }

    /// PyTorch's name for [`NDArray::broadcast_to`], where a size of `-1` keeps that axis:
    /// `[3, 1]` expanded to `[-1, 4]` is `[3, 4]`. Errors name `expand`.
    pub fn expand(&self, shape: impl Into<Dims>) -> Result<Self> {
        let to = shape.into().resolve_expand("expand", self.shape())?;
        Ok(self.with_layout(self.layout.broadcast_to("expand", &to)?))
    }

    /// Elements `start..start + len` along `axis`, as `torch.narrow`. Unlike a slice, the range
    /// is not clamped: it must lie inside the axis.
    pub fn narrow(&self, axis: isize, start: usize, len: usize) -> Result<Self> {
        let resolved = self.shape().axis("narrow", axis)?;
        let size = self.dims()[resolved];
        match start.checked_add(len) {
            Some(end) if end <= size => {
                Ok(self.with_layout(self.layout.narrow(resolved, start, len)?))
            }
            _ => Err(Error::invalid(
                "narrow",
                format!(
                    "start ({start}) + length ({len}) exceeds the size ({size}) of axis {axis}"
                ),
                self.shape(),
            )),
        }
    }

    /// Every `step`-th element of `start..end` along `axis` (`end` is clamped, as Python's slices).
    pub fn slice(&self, axis: isize, start: usize, end: usize, step: usize) -> Result<Self> {
        let axis = self.shape().axis("slice", axis)?;
        Ok(self.with_layout(self.layout.slice(axis, start, end, step)?))
    }

    /// Removes `axis`, which must have size 1.
    pub fn squeeze(&self, axis: isize) -> Result<Self> {
        let axis = self.shape().axis("squeeze", axis)?;
        Ok(self.with_layout(self.layout.squeeze(axis)?))
    }

    /// Removes every axis of size 1.
    pub fn squeeze_all(&self) -> Result<Self> {
        let mut layout = self.layout.clone();
        for axis in (0..self.rank()).rev() {
            if self.dims()[axis] == 1 {
                layout = layout.squeeze(axis)?;
            }
        }
        Ok(self.with_layout(layout))
    }

    /// Inserts an axis of size 1 at `axis` (in `-rank-1..=rank`).
    pub fn unsqueeze(&self, axis: isize) -> Result<Self> {
        let rank = self.rank() as isize;
        let resolved = if axis < 0 { axis + rank + 1 } else { axis };
        if resolved < 0 || resolved > rank {
            return Err(Error::AxisOutOfRange {
                op: "unsqueeze",
                axis,
                shape: self.shape().clone(),
            });
        }
        Ok(self.with_layout(self.layout.unsqueeze(resolved as usize)?))
    }

    /// Merges axes `start..=end` into one (a view when possible), as `torch.flatten`.
    pub fn flatten(&self, start: isize, end: isize) -> Result<Self> {
        if self.rank() == 0 {
            return self.reshape([1]);
        }
        let start = self.shape().axis("flatten", start)?;
        let end = self.shape().axis("flatten", end)?;
        if start > end {
            return Err(Error::invalid(
                "flatten",
                "start axis is after end axis",
                self.shape(),
            ));
        }
        let dims = self.dims();
        let mut new: Vec<usize> = dims[..start].to_vec();
        new.push(dims[start..=end].iter().product());
        new.extend_from_slice(&dims[end + 1..]);
        self.reshape(new)
    }
}
