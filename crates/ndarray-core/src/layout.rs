//! `Layout`: how an array's logical elements sit in its storage (shape, strides, offset), and the
//! view algebra on it. Every view here is O(rank): no element moves.

use crate::{Error, Result, Shape, StridedIndex};

/// Shape + strides (in elements) + offset of the first element into storage.
///
/// A stride of 0 repeats one element along an axis (that is how broadcasting is a view).
#[derive(Clone, PartialEq, Eq, Debug, Hash, serde::Serialize, serde::Deserialize)]
pub struct Layout {
    shape: Shape,
    strides: Vec<usize>,
    offset: usize,
}

impl Layout {
    /// A row-major layout starting at offset 0.
    pub fn contiguous(shape: impl Into<Shape>) -> Self {
        let shape = shape.into();
        let strides = shape.contiguous_strides();
        Layout {
            shape,
            strides,
            offset: 0,
        }
    }

    /// A layout from raw parts. Nothing is checked against a storage here: backends check a
    /// layout's [`storage_extent`](Layout::storage_extent) before they read through it.
    ///
    /// # Panics
    /// If `strides` does not have one entry per axis of `shape` (a programming error, not data).
    pub fn new(shape: impl Into<Shape>, strides: Vec<usize>, offset: usize) -> Self {
        let shape = shape.into();
        assert_eq!(
            shape.rank(),
            strides.len(),
            "Layout::new: one stride per axis"
        );
        Layout {
            shape,
            strides,
            offset,
        }
    }

    /// The logical shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// Axis sizes.
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    /// Strides in elements, one per axis.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Offset of element `[0, 0, ...]` in storage.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Number of logical elements.
    pub fn numel(&self) -> usize {
        self.shape.numel()
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.shape.rank()
    }

    /// True when elements are in row-major order with no gaps (the offset may be non-zero).
    /// Axes of size 1 may have any stride, and an empty layout is contiguous, as in PyTorch.
    pub fn is_contiguous(&self) -> bool {
        if self.numel() == 0 {
            return true;
        }
        let mut expected: usize = 1;
        for (&dim, &stride) in self.dims().iter().zip(&self.strides).rev() {
            if dim != 1 && stride != expected {
                return false;
            }
            expected = expected.saturating_mul(dim);
        }
        true
    }

    /// If the layout is contiguous, the storage range `offset..offset + numel` it covers (`0..0`
    /// for an empty layout, whose offset may point past the end of its storage).
    pub fn contiguous_range(&self) -> Option<std::ops::Range<usize>> {
        if self.numel() == 0 {
            return Some(0..0);
        }
        self.is_contiguous()
            .then(|| self.offset..self.offset + self.numel())
    }

    /// One past the largest storage index this layout touches (0 for an empty array): how big
    /// the storage must be. `usize::MAX` when that does not fit in a `usize` (absurd strides from
    /// a hand-made layout), so a bounds check against any real storage fails.
    pub fn storage_extent(&self) -> usize {
        if self.dims().contains(&0) {
            return 0;
        }
        self.dims()
            .iter()
            .zip(&self.strides)
            .try_fold(self.offset, |acc, (&d, &s)| {
                (d - 1)
                    .checked_mul(s)
                    .and_then(|reach| acc.checked_add(reach))
            })
            .and_then(|last| last.checked_add(1))
            .unwrap_or(usize::MAX)
    }

    /// Iterates the storage offsets of every logical element, in row-major logical order.
    pub fn strided_index(&self) -> StridedIndex<'_> {
        StridedIndex::new(self)
    }

    /// A view with the same elements in another shape, without a copy, if the strides allow it
    /// (PyTorch's `view`). Errors with [`Error::NotViewable`] otherwise, and with
    /// [`Error::ReshapeNumel`] if the element counts differ.
    pub fn reshape(&self, op: &'static str, to: &Shape) -> Result<Layout> {
        // Counted with checks first: a requested shape whose count overflows must not wrap (or
        // saturate) into a count that happens to match.
        crate::size::numel(op, to)?;
        if to.numel() != self.numel() {
            return Err(Error::ReshapeNumel {
                op,
                from: self.shape.clone(),
                to: to.clone(),
            });
        }
        if self.is_contiguous() {
            return Ok(Layout {
                shape: to.clone(),
                strides: to.contiguous_strides(),
                offset: self.offset,
            });
        }
        self.view_strides(to)
            .map(|strides| Layout {
                shape: to.clone(),
                strides,
                offset: self.offset,
            })
            .ok_or_else(|| Error::NotViewable {
                op,
                shape: self.shape.clone(),
                strides: self.strides.clone(),
                to: to.clone(),
            })
    }

    /// PyTorch's `computeStride`: walk old axes in chunks that are contiguous among themselves and
    /// map each chunk onto the new axes that multiply to the same size.
    fn view_strides(&self, to: &Shape) -> Option<Vec<usize>> {
        let old_dims = self.dims();
        let old_strides = &self.strides;
        let new_dims = to.dims();
        let mut new_strides = vec![0; new_dims.len()];
        if self.numel() == 0 {
            return Some(to.contiguous_strides());
        }
        let mut view_d = new_dims.len() as isize - 1;
        let mut chunk_base_stride = *old_strides.last().unwrap_or(&1);
        let mut tensor_numel = 1;
        let mut view_numel = 1;
        for tensor_d in (0..old_dims.len()).rev() {
            tensor_numel *= old_dims[tensor_d];
            let chunk_ends = tensor_d == 0
                || (old_dims[tensor_d - 1] != 1
                    && old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride);
            if chunk_ends {
                while view_d >= 0 && (view_numel < tensor_numel || new_dims[view_d as usize] == 1) {
                    new_strides[view_d as usize] = view_numel * chunk_base_stride;
                    view_numel *= new_dims[view_d as usize];
                    view_d -= 1;
                }
                if view_numel != tensor_numel {
                    return None;
                }
                if tensor_d > 0 {
                    chunk_base_stride = old_strides[tensor_d - 1];
                    tensor_numel = 1;
                    view_numel = 1;
                }
            }
        }
        if view_d != -1 {
            return None;
        }
        Some(new_strides)
    }

    /// Reorders axes: axis `i` of the result is axis `perm[i]` of `self`.
    pub fn permute(&self, perm: &[usize]) -> Result<Layout> {
        let rank = self.rank();
        let mut seen = vec![false; rank];
        if perm.len() != rank
            || perm
                .iter()
                .any(|&p| p >= rank || std::mem::replace(&mut seen[p], true))
        {
            return Err(Error::invalid(
                "permute",
                format!("{perm:?} is not a permutation of {rank} axes"),
                &self.shape,
            ));
        }
        Ok(Layout {
            shape: perm
                .iter()
                .map(|&p| self.dims()[p])
                .collect::<Vec<_>>()
                .into(),
            strides: perm.iter().map(|&p| self.strides[p]).collect(),
            offset: self.offset,
        })
    }

    /// Swaps two axes.
    pub fn transpose(&self, a: usize, b: usize) -> Result<Layout> {
        let mut perm: Vec<usize> = (0..self.rank()).collect();
        if a >= self.rank() || b >= self.rank() {
            return Err(Error::AxisOutOfRange {
                op: "transpose",
                axis: a.max(b) as isize,
                shape: self.shape.clone(),
            });
        }
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// For gather and scatter: this layout's strides and offset walked over `index`'s shape with
    /// `axis`'s stride set to 0, so position `p` of the index maps to the storage offset of "`p`
    /// with the axis coordinate 0"; adding `index[p] · stride[axis]` gives the element. First
    /// checks what the `Backend` contract asks of the index: this layout's rank and, off
    /// `axis`, no larger sizes (`op` names the caller in the error).
    pub fn index_companion(&self, op: &'static str, index: &Layout, axis: usize) -> Result<Layout> {
        let fits = axis < self.rank()
            && index.rank() == self.rank()
            && (0..self.rank()).all(|i| i == axis || index.dims()[i] <= self.dims()[i]);
        if !fits {
            return Err(Error::ShapeMismatch {
                op,
                what: "index must have the input's rank and no larger sizes off the axis",
                lhs: self.shape.clone(),
                rhs: index.shape.clone(),
            });
        }
        let mut strides = self.strides.clone();
        strides[axis] = 0;
        Ok(Layout {
            shape: index.shape.clone(),
            strides,
            offset: self.offset,
        })
    }

    /// Broadcasts to `to` by giving new and size-1 axes stride 0 (PyTorch's `expand`).
    pub fn broadcast_to(&self, op: &'static str, to: &Shape) -> Result<Layout> {
        let err = || Error::Broadcast {
            op,
            lhs: self.shape.clone(),
            rhs: to.clone(),
        };
        if to.rank() < self.rank() {
            return Err(err());
        }
        if to.checked_numel().is_none() {
            // A broadcast view costs no memory, so only here can an absurd shape appear.
            return Err(Error::invalid(
                op,
                "the broadcast shape has more elements than a usize can count",
                to,
            ));
        }
        let lead = to.rank() - self.rank();
        let mut strides = vec![0; to.rank()];
        for (i, &dim) in self.dims().iter().enumerate() {
            let target = to.dims()[lead + i];
            strides[lead + i] = if dim == target {
                self.strides[i]
            } else if dim == 1 {
                0
            } else {
                return Err(err());
            };
        }
        Ok(Layout {
            shape: to.clone(),
            strides,
            offset: self.offset,
        })
    }

    /// Elements `start..start + len` of one axis.
    pub fn narrow(&self, axis: usize, start: usize, len: usize) -> Result<Layout> {
        let size = self.dims().get(axis).copied();
        match (start.checked_add(len), size) {
            (Some(end), Some(size)) if end <= size => self.slice(axis, start, end, 1),
            (_, None) => Err(Error::AxisOutOfRange {
                op: "narrow",
                axis: axis as isize,
                shape: self.shape.clone(),
            }),
            // Written as start + length: their sum may not fit in a usize.
            (_, Some(size)) => Err(Error::invalid(
                "narrow",
                format!(
                    "start ({start}) + length ({len}) exceeds the size ({size}) of axis {axis}"
                ),
                &self.shape,
            )),
        }
    }

    /// Every `step`-th element of `start..end` along one axis (`end` is clamped to the axis size,
    /// as Python slicing does).
    pub fn slice(&self, axis: usize, start: usize, end: usize, step: usize) -> Result<Layout> {
        if axis >= self.rank() {
            return Err(Error::AxisOutOfRange {
                op: "slice",
                axis: axis as isize,
                shape: self.shape.clone(),
            });
        }
        if step == 0 {
            return Err(Error::invalid(
                "slice",
                "step must be positive",
                &self.shape,
            ));
        }
        let dim = self.dims()[axis];
        let end = end.min(dim);
        if start > end {
            return Err(Error::invalid(
                "slice",
                format!("start {start} is past end {end} on axis {axis}"),
                &self.shape,
            ));
        }
        let len = (end - start).div_ceil(step);
        let mut dims = self.dims().to_vec();
        dims[axis] = len;
        let mut strides = self.strides.clone();
        let offset = if len == 0 {
            self.offset
        } else {
            // Checked: a hand-made layout (Layout::new) may carry strides that overflow here.
            start
                .checked_mul(self.strides[axis])
                .and_then(|o| o.checked_add(self.offset))
                .ok_or_else(|| {
                    Error::invalid(
                        "slice",
                        format!("start {start} on axis {axis} lies beyond any storage"),
                        &self.shape,
                    )
                })?
        };
        // Saturating: a step that overflows the stride leaves at most one element on the axis
        // (a step past the end), whose stride is never used to address memory.
        strides[axis] = strides[axis].saturating_mul(step);
        Ok(Layout {
            shape: dims.into(),
            strides,
            offset,
        })
    }

    /// Removes an axis of size 1.
    pub fn squeeze(&self, axis: usize) -> Result<Layout> {
        if axis >= self.rank() || self.dims()[axis] != 1 {
            return Err(Error::invalid(
                "squeeze",
                format!("axis {axis} does not have size 1"),
                &self.shape,
            ));
        }
        let mut dims = self.dims().to_vec();
        let mut strides = self.strides.clone();
        dims.remove(axis);
        strides.remove(axis);
        Ok(Layout {
            shape: dims.into(),
            strides,
            offset: self.offset,
        })
    }

    /// Inserts an axis of size 1 at position `axis` (`0..=rank`).
    pub fn unsqueeze(&self, axis: usize) -> Result<Layout> {
        if axis > self.rank() {
            return Err(Error::AxisOutOfRange {
                op: "unsqueeze",
                axis: axis as isize,
                shape: self.shape.clone(),
            });
        }
        let mut dims = self.dims().to_vec();
        let mut strides = self.strides.clone();
        // Saturating: the stride of a size-1 axis is never used to address memory.
        let stride = strides
            .get(axis)
            .map_or(1, |&s| s.saturating_mul(dims[axis]));
        dims.insert(axis, 1);
        strides.insert(axis, stride);
        Ok(Layout {
            shape: dims.into(),
            strides,
            offset: self.offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(l: &Layout) -> Vec<usize> {
        l.strided_index().collect()
    }

    #[test]
    fn transpose_then_view_fails_but_contiguous_view_succeeds() {
        let l = Layout::contiguous([2, 3]);
        let t = l.transpose(0, 1).unwrap();
        assert_eq!(offsets(&t), vec![0, 3, 1, 4, 2, 5]);
        let err = t
            .reshape("view", &Shape::from([6]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("[3, 2]") && err.contains("[6]"), "{err}");
        assert!(t.reshape("view", &Shape::from([3, 2, 1])).is_ok());
    }

    #[test]
    fn reshape_of_sliced_rows_keeps_strides() {
        // A [4, 6] array with every other row: rows are contiguous, so [2, 2, 3] is a view.
        let l = Layout::contiguous([4, 6]).slice(0, 0, 4, 2).unwrap();
        let v = l.reshape("view", &Shape::from([2, 2, 3])).unwrap();
        assert_eq!(v.strides(), &[12, 3, 1]);
        assert_eq!(offsets(&v), offsets(&l));
    }

    #[test]
    fn slice_with_step_and_broadcast() {
        let l = Layout::contiguous([10]).slice(0, 1, 10, 3).unwrap();
        assert_eq!(offsets(&l), vec![1, 4, 7]);
        let b = Layout::contiguous([3, 1])
            .broadcast_to("expand", &Shape::from([2, 3, 4]))
            .unwrap();
        assert_eq!(b.strides(), &[0, 1, 0]);
        assert_eq!(b.storage_extent(), 3);
    }

    #[test]
    fn squeeze_unsqueeze_round_trip() {
        let l = Layout::contiguous([2, 3]);
        let u = l.unsqueeze(2).unwrap();
        assert_eq!(u.dims(), &[2, 3, 1]);
        assert_eq!(u.squeeze(2).unwrap(), l);
        assert!(l.squeeze(0).is_err());
    }
}
