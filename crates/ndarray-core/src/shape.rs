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

    /// Number of elements (1 for a scalar, 0 if any axis is 0). A count that overflows a `usize`
    /// saturates to `usize::MAX` (never wraps, never panics): no buffer can hold that many, so
    /// every allocation of such a shape is refused (see [`crate::size`]), and code that must tell
    /// the difference uses [`checked_numel`](Shape::checked_numel).
    pub fn numel(&self) -> usize {
        self.checked_numel().unwrap_or(usize::MAX)
    }

    /// [`numel`](Shape::numel), or `None` if the count overflows a `usize`.
    pub fn checked_numel(&self) -> Option<usize> {
        // An empty axis anywhere makes the count 0, however large the others are.
        if self.0.contains(&0) {
            return Some(0);
        }
        self.0.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
    }

    /// Row-major (C order) strides for this shape, in elements.
    pub fn contiguous_strides(&self) -> Vec<usize> {
        let mut strides = vec![0; self.rank()];
        let mut acc: usize = 1;
        for (stride, &dim) in strides.iter_mut().zip(&self.0).rev() {
            *stride = acc;
            // Saturating: only a shape too big to allocate overflows here, and its strides are
            // never used to address memory.
            acc = acc.saturating_mul(dim.max(1));
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

    /// `torch.matmul`'s shape rule, worked out in one place for the forward pass and the
    /// backward pass: a 1-d left operand `[k]` is promoted to the matrix `[1, k]`, a 1-d right
    /// operand to `[k, 1]`, batch axes broadcast, and the promoted axes are removed from the
    /// result again. Errors name `matmul` and both shapes as given.
    pub fn matmul(lhs: &Shape, rhs: &Shape) -> Result<MatmulShapes> {
        if lhs.rank() == 0 || rhs.rank() == 0 {
            return Err(Error::ShapeMismatch {
                op: "matmul",
                what: "both operands need at least one axis",
                lhs: lhs.clone(),
                rhs: rhs.clone(),
            });
        }
        let promoted_lhs = if lhs.rank() == 1 {
            Shape(vec![1, lhs.0[0]])
        } else {
            lhs.clone()
        };
        let promoted_rhs = if rhs.rank() == 1 {
            Shape(vec![rhs.0[0], 1])
        } else {
            rhs.clone()
        };
        let (lr, rr) = (promoted_lhs.rank(), promoted_rhs.rank());
        let (m, k) = (promoted_lhs.0[lr - 2], promoted_lhs.0[lr - 1]);
        let (k2, n) = (promoted_rhs.0[rr - 2], promoted_rhs.0[rr - 1]);
        if k != k2 {
            return Err(Error::ShapeMismatch {
                op: "matmul",
                what: "inner dimensions differ",
                lhs: lhs.clone(),
                rhs: rhs.clone(),
            });
        }
        let batch = Shape::broadcast(
            "matmul",
            &Shape(promoted_lhs.0[..lr - 2].to_vec()),
            &Shape(promoted_rhs.0[..rr - 2].to_vec()),
        )
        .map_err(|_| Error::Broadcast {
            op: "matmul",
            lhs: lhs.clone(),
            rhs: rhs.clone(),
        })?;
        let mut promoted_out = batch.0.clone();
        promoted_out.extend([m, n]);
        let mut out = batch.0.clone();
        if lhs.rank() > 1 {
            out.push(m);
        }
        if rhs.rank() > 1 {
            out.push(n);
        }
        Ok(MatmulShapes {
            lhs: promoted_lhs,
            rhs: promoted_rhs,
            batch,
            m,
            k,
            n,
            promoted_out: Shape(promoted_out),
            out: Shape(out),
        })
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

/// The shapes involved in one `matmul`, from [`Shape::matmul`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatmulShapes {
    /// The left operand as a (batch of) matrices: `[k]` becomes `[1, k]`.
    pub lhs: Shape,
    /// The right operand as a (batch of) matrices: `[k]` becomes `[k, 1]`.
    pub rhs: Shape,
    /// The broadcast batch axes (possibly none).
    pub batch: Shape,
    /// Rows of the left matrix.
    pub m: usize,
    /// The inner (contracted) size.
    pub k: usize,
    /// Columns of the right matrix.
    pub n: usize,
    /// The product of the promoted operands: `batch + [m, n]`.
    pub promoted_out: Shape,
    /// The result as `torch.matmul` gives it: `promoted_out` without the promoted axes.
    pub out: Shape,
}

/// Sizes asked of `reshape`, `view` or `expand`, where one size may be PyTorch's `-1`: inferred
/// from the element count by `reshape`/`view`, kept from the input by `expand`.
///
/// Every way of writing a shape converts into it: `[usize; N]`, `&[usize]`, `Vec<usize>`,
/// [`Shape`], a single `usize`, and the signed forms `[isize; N]`, `[i32; N]`, `[i64; N]` (so
/// the literal `[-1, 784]` works), their slices and `Vec`s. `usize::MAX` also means "infer" (the
/// older spelling). Bad sizes (`-2`, two `-1`s) are reported when the op runs, naming it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Dims(Vec<Dim>);

/// One requested size.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Dim {
    Size(usize),
    Infer,
    /// A negative size other than `-1`: kept so the error can show it.
    Bad(i64),
}

impl Dims {
    /// Refuses a negative size other than `-1`, naming `op` and `from`.
    fn refuse_bad_sizes(&self, op: &'static str, from: &Shape) -> Result<()> {
        if let Some(bad) = self.0.iter().find_map(|d| match d {
            Dim::Bad(v) => Some(*v),
            _ => None,
        }) {
            return Err(Error::invalid(
                op,
                format!("invalid size {bad} in {self} (only -1 may be negative)"),
                from,
            ));
        }
        Ok(())
    }

    /// Checks for sizes that are never valid (`-2`, two `-1`s), naming `op` and `from`, and
    /// returns the position of the `-1`, if any.
    fn check(&self, op: &'static str, from: &Shape) -> Result<Option<usize>> {
        self.refuse_bad_sizes(op, from)?;
        let mut infer = self.0.iter().enumerate().filter(|(_, d)| **d == Dim::Infer);
        let first = infer.next().map(|(i, _)| i);
        if infer.next().is_some() {
            return Err(Error::invalid(
                op,
                format!("only one size can be -1 in {self}"),
                from,
            ));
        }
        Ok(first)
    }

    /// The shape to reshape `from` into, with a `-1` inferred from the element count. A product
    /// of the given sizes that does not divide the element count is an error naming `op` and
    /// both shapes; without a `-1`, the element counts are checked by the reshape itself.
    pub fn resolve(&self, op: &'static str, from: &Shape) -> Result<Shape> {
        let infer = self.check(op, from)?;
        let sizes: Vec<usize> = self
            .0
            .iter()
            .map(|d| match d {
                Dim::Size(n) => *n,
                _ => 1,
            })
            .collect();
        let Some(i) = infer else {
            return Ok(Shape(sizes));
        };
        let known = sizes.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        let numel = from.numel();
        match known {
            Some(k) if k != 0 && numel.is_multiple_of(k) => {
                let mut dims = sizes;
                dims[i] = numel / k;
                Ok(Shape(dims))
            }
            Some(0) => Err(Error::invalid(
                op,
                format!("cannot infer the -1 in {self}: the other sizes multiply to 0, so any size would fit"),
                from,
            )),
            _ => Err(Error::invalid(
                op,
                format!("shape {self} is invalid for an input of {numel} elements"),
                from,
            )),
        }
    }

    /// The shape to expand `from` to, where a `-1` keeps the size of the matching axis of
    /// `from` (axes align from the end, as in broadcasting). A `-1` on a new leading axis is an
    /// error, as in PyTorch.
    pub fn resolve_expand(&self, op: &'static str, from: &Shape) -> Result<Shape> {
        self.refuse_bad_sizes(op, from)?;
        let lead = self.0.len().saturating_sub(from.rank());
        let dims = self
            .0
            .iter()
            .enumerate()
            .map(|(i, d)| match d {
                Dim::Size(n) => Ok(*n),
                _ if i >= lead => Ok(from.dims()[i - lead]),
                _ => Err(Error::invalid(
                    op,
                    format!("-1 is not allowed for the new leading axis {i} of {self}"),
                    from,
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Shape(dims))
    }
}

impl fmt::Display for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match d {
                Dim::Size(n) => write!(f, "{n}")?,
                Dim::Infer => f.write_str("-1")?,
                Dim::Bad(v) => write!(f, "{v}")?,
            }
        }
        f.write_str("]")
    }
}

impl fmt::Debug for Dims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Dim {
    fn from_unsigned(n: usize) -> Self {
        // usize::MAX is the older spelling of -1 (no array can have that many elements on an axis).
        if n == usize::MAX {
            Dim::Infer
        } else {
            Dim::Size(n)
        }
    }

    fn from_signed(n: i64) -> Self {
        match n {
            -1 => Dim::Infer,
            // A size beyond usize cannot be allocated anyway; keep it visible in the error.
            n if n < 0 => Dim::Bad(n),
            n => usize::try_from(n).map_or(Dim::Bad(n), Dim::Size),
        }
    }
}

impl From<Shape> for Dims {
    fn from(s: Shape) -> Self {
        Dims(s.0.into_iter().map(Dim::from_unsigned).collect())
    }
}

impl From<&Shape> for Dims {
    fn from(s: &Shape) -> Self {
        Dims(s.0.iter().map(|&n| Dim::from_unsigned(n)).collect())
    }
}

impl From<()> for Dims {
    fn from(_: ()) -> Self {
        Dims(Vec::new())
    }
}

/// The conversions for one integer type: a single size, arrays, slices and vectors of it.
macro_rules! dims_from {
    ($t:ty, $conv:expr) => {
        impl From<$t> for Dims {
            fn from(n: $t) -> Self {
                Dims(vec![$conv(n)])
            }
        }
        impl<const N: usize> From<[$t; N]> for Dims {
            fn from(v: [$t; N]) -> Self {
                Dims(v.into_iter().map($conv).collect())
            }
        }
        impl From<&[$t]> for Dims {
            fn from(v: &[$t]) -> Self {
                Dims(v.iter().copied().map($conv).collect())
            }
        }
        impl From<Vec<$t>> for Dims {
            fn from(v: Vec<$t>) -> Self {
                Dims(v.into_iter().map($conv).collect())
            }
        }
    };
}

dims_from!(usize, Dim::from_unsigned);
dims_from!(isize, |n: isize| Dim::from_signed(n as i64));
dims_from!(i64, Dim::from_signed);
dims_from!(i32, |n: i32| Dim::from_signed(i64::from(n)));

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

    #[test]
    fn dims_infer_one_minus_one_from_the_element_count() {
        let from = Shape::from([2, 3, 4]);
        let r = |d: Dims| d.resolve("reshape", &from);
        assert_eq!(r([-1, 4].into()).unwrap(), Shape::from([6, 4]));
        assert_eq!(r([2isize, -1].into()).unwrap(), Shape::from([2, 12]));
        assert_eq!(r(vec![-1i64].into()).unwrap(), Shape::from([24]));
        assert_eq!(r((-1).into()).unwrap(), Shape::from([24]));
        assert_eq!(r([4usize, usize::MAX].into()).unwrap(), Shape::from([4, 6]));
        // Without a -1 the sizes pass through; the reshape itself checks the count.
        assert_eq!(r([5, 5].into()).unwrap(), Shape::from([5, 5]));
        assert_eq!(r((&[6usize, 4][..]).into()).unwrap(), Shape::from([6, 4]));
    }

    #[test]
    fn dims_errors_name_the_op_and_both_shapes() {
        let from = Shape::from([3, 4]);
        let err = Dims::from([-1, 5])
            .resolve("view", &from)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("view:") && err.contains("[-1, 5]") && err.contains("[3, 4]"),
            "{err}"
        );
        let err = Dims::from([-1, -1])
            .resolve("reshape", &from)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("reshape:") && err.contains("only one"),
            "{err}"
        );
        let err = Dims::from([-2, 6])
            .resolve("reshape", &from)
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid size -2"), "{err}");
        let err = Dims::from([0, -1])
            .resolve("reshape", &from)
            .unwrap_err()
            .to_string();
        assert!(err.contains("[0, -1]") && err.contains("[3, 4]"), "{err}");
    }

    #[test]
    fn expand_dims_keep_the_axis_for_minus_one() {
        let from = Shape::from([3, 1]);
        let e = |d: Dims| d.resolve_expand("expand", &from);
        assert_eq!(e([-1, 5].into()).unwrap(), Shape::from([3, 5]));
        assert_eq!(e([2, -1, 5].into()).unwrap(), Shape::from([2, 3, 5]));
        let err = e([-1, -1, 5].into()).unwrap_err().to_string();
        assert!(
            err.starts_with("expand:") && err.contains("leading axis 0"),
            "{err}"
        );
    }

    #[test]
    fn matmul_shapes_follow_torch_matmul() {
        let mm = |l: &[usize], r: &[usize]| Shape::matmul(&l.into(), &r.into());
        let s = mm(&[3], &[3]).unwrap(); // dot product
        assert_eq!((s.lhs.dims(), s.rhs.dims()), (&[1, 3][..], &[3, 1][..]));
        assert_eq!(
            (s.promoted_out, s.out),
            (Shape::from([1, 1]), Shape::scalar())
        );
        let s = mm(&[3], &[2, 3, 4]).unwrap(); // vector times a batch of matrices
        assert_eq!((s.batch.dims(), s.out.dims()), (&[2][..], &[2, 4][..]));
        assert_eq!(s.promoted_out, Shape::from([2, 1, 4]));
        let s = mm(&[5, 1, 2, 3], &[4, 3, 7]).unwrap();
        assert_eq!((s.m, s.k, s.n), (2, 3, 7));
        assert_eq!(s.out, Shape::from([5, 4, 2, 7]));
        let s = mm(&[2, 3], &[3]).unwrap();
        assert_eq!(s.out, Shape::from([2]));
        let err = mm(&[2, 3], &[4]).unwrap_err().to_string();
        assert_eq!(
            err,
            "matmul: inner dimensions differ: lhs [2, 3] vs rhs [4]"
        );
        let err = mm(&[2, 1, 3], &[3, 3, 1]).unwrap_err().to_string();
        assert!(
            err.contains("[2, 1, 3]") && err.contains("[3, 3, 1]"),
            "{err}"
        );
        assert!(mm(&[], &[3]).is_err());
    }
}
