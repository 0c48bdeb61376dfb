//! `Shape`: the extent of each axis, and the broadcasting rule between two shapes.

use crate::{Error, Result};
use std::fmt;

/// The size of each axis of an array, outermost first. A 0-d (scalar) shape has no axes.
#[derive(Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Shape(Vec<usize>);

impl Shape {
    /// A shape from its axis sizes.
    pub fn new(dims: impl Into<Vec<usize>>) -> Self {
        Shape(dims.into())
    }

    /// The 0-d shape of a scalar.
    pub fn scalar() -> Self {
        Shape(Vec::new())
    }

    /// Axis sizes, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// Number of axes.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Number of elements (1 for a scalar, 0 if any axis is 0).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }

    /// [`numel`](Shape::numel), or `None` if the count overflows a `usize`.
    pub fn checked_numel(&self) -> Option<usize> {
        self.0.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
    }

    /// Row-major (C order) strides for this shape, in elements.
    pub fn contiguous_strides(&self) -> Vec<usize> {
        let mut strides = vec![0; self.rank()];
        let mut acc = 1;
        for (stride, &dim) in strides.iter_mut().zip(&self.0).rev() {
            *stride = acc;
            acc *= dim.max(1);
        }
        strides
    }

    /// Turns a possibly negative axis (`-1` = last) into an index, or errors naming `op`.
    pub fn axis(&self, op: &'static str, axis: isize) -> Result<usize> {
        let rank = self.rank() as isize;
        let resolved = if axis < 0 { axis + rank } else { axis };
        if resolved < 0 || resolved >= rank {
            return Err(Error::AxisOutOfRange {
                op,
                axis,
                shape: self.clone(),
            });
        }
        Ok(resolved as usize)
    }

    /// Resolves a list of axes, rejecting duplicates; an empty list means every axis.
    pub fn axes(&self, op: &'static str, axes: &[isize]) -> Result<Vec<usize>> {
        if axes.is_empty() {
            return Ok((0..self.rank()).collect());
        }
        let mut out = Vec::with_capacity(axes.len());
        for &a in axes {
            let a = self.axis(op, a)?;
            if out.contains(&a) {
                return Err(Error::invalid(op, format!("axis {a} given twice"), self));
            }
            out.push(a);
        }
        out.sort_unstable();
        Ok(out)
    }

    /// The shape two operands broadcast to, by NumPy/PyTorch rules: align trailing axes; each pair
    /// must be equal or contain a 1.
    pub fn broadcast(op: &'static str, lhs: &Shape, rhs: &Shape) -> Result<Shape> {
        let rank = lhs.rank().max(rhs.rank());
        let mut dims = vec![0; rank];
        for (i, dim) in dims.iter_mut().enumerate() {
            let l = lhs.dim_from_end(rank - 1 - i);
            let r = rhs.dim_from_end(rank - 1 - i);
            *dim = match (l, r) {
                (a, b) if a == b => a,
                (1, b) => b,
                (a, 1) => a,
                _ => {
                    return Err(Error::Broadcast {
                        op,
                        lhs: lhs.clone(),
                        rhs: rhs.clone(),
                    })
                }
            };
        }
        Ok(Shape(dims))
    }

    /// Size of the axis `i` places from the end, or 1 past the front (how broadcasting pads).
    fn dim_from_end(&self, i: usize) -> usize {
        if i < self.rank() {
            self.0[self.rank() - 1 - i]
        } else {
            1
        }
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl From<Vec<usize>> for Shape {
    fn from(v: Vec<usize>) -> Self {
        Shape(v)
    }
}

impl From<&[usize]> for Shape {
    fn from(v: &[usize]) -> Self {
        Shape(v.to_vec())
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(v: [usize; N]) -> Self {
        Shape(v.to_vec())
    }
}

impl From<&Shape> for Shape {
    fn from(s: &Shape) -> Self {
        s.clone()
    }
}

impl From<()> for Shape {
    fn from(_: ()) -> Self {
        Shape::scalar()
    }
}

impl From<usize> for Shape {
    fn from(n: usize) -> Self {
        Shape(vec![n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_follows_numpy_rules() {
        let b = |l: &[usize], r: &[usize]| Shape::broadcast("add", &l.into(), &r.into());
        assert_eq!(b(&[2, 1, 3], &[4, 1]).unwrap(), Shape::from([2, 4, 3]));
        assert_eq!(b(&[], &[5]).unwrap(), Shape::from([5]));
        assert_eq!(b(&[0, 1], &[1, 3]).unwrap(), Shape::from([0, 3]));
        let err = b(&[2, 3], &[4]).unwrap_err().to_string();
        assert_eq!(
            err,
            "add: shapes [2, 3] and [4] cannot be broadcast together"
        );
    }

    #[test]
    fn negative_axes_resolve_and_bad_ones_error() {
        let s = Shape::from([2, 3, 4]);
        assert_eq!(s.axis("sum", -1).unwrap(), 2);
        let err = s.axis("sum", 3).unwrap_err().to_string();
        assert!(
            err.contains("sum") && err.contains("[2, 3, 4]") && err.contains("axis 3"),
            "{err}"
        );
    }

    #[test]
    fn contiguous_strides_are_row_major() {
        assert_eq!(Shape::from([2, 3, 4]).contiguous_strides(), vec![12, 4, 1]);
        assert!(Shape::scalar().contiguous_strides().is_empty());
    }
}
