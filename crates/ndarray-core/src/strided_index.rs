//! The one iterator every strided kernel walks: storage offsets of a layout's elements in
//! row-major logical order.

use crate::Layout;

/// Iterator over the storage offsets of every element of a [`Layout`].
///
/// It keeps a multi-index and bumps it like an odometer, so each step costs O(1) amortised.
/// Kernels that care about speed call [`Layout::contiguous_range`] first and only fall back here.
pub struct StridedIndex<'a> {
    dims: &'a [usize],
    strides: &'a [usize],
    index: Vec<usize>,
    next: Option<usize>,
}

impl<'a> StridedIndex<'a> {
    /// Starts at the first element of `layout`.
    pub fn new(layout: &'a Layout) -> Self {
        StridedIndex {
            dims: layout.dims(),
            strides: layout.strides(),
            index: vec![0; layout.rank()],
            next: (layout.numel() > 0).then_some(layout.offset()),
        }
    }

    /// Starts at logical (row-major) position `start` of `layout`, so a kernel can split one
    /// layout's elements across threads; past the end it yields nothing.
    pub fn starting_at(layout: &'a Layout, start: usize) -> Self {
        let dims = layout.dims();
        let strides = layout.strides();
        let mut index = vec![0; layout.rank()];
        if start >= layout.numel() {
            return StridedIndex {
                dims,
                strides,
                index,
                next: None,
            };
        }
        let mut rest = start;
        let mut offset = layout.offset();
        for axis in (0..dims.len()).rev() {
            index[axis] = rest % dims[axis];
            rest /= dims[axis];
            offset += index[axis] * strides[axis];
        }
        StridedIndex {
            dims,
            strides,
            index,
            next: Some(offset),
        }
    }
}

impl Iterator for StridedIndex<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        let current = self.next?;
        let mut offset = current;
        let mut axis = self.dims.len();
        loop {
            if axis == 0 {
                self.next = None;
                break;
            }
            axis -= 1;
            self.index[axis] += 1;
            offset += self.strides[axis];
            if self.index[axis] < self.dims[axis] {
                self.next = Some(offset);
                break;
            }
            offset -= self.strides[axis] * self.index[axis];
            self.index[axis] = 0;
        }
        Some(current)
    }
}
