//! + − × ÷, pow, maximum/minimum (tensor and scalar operands), and comparisons.
//!
//! Broadcasting happens in the forward pass, so each backward rule ends with `sum_to`: the
//! gradient of an input that was broadcast is summed over the axes it was repeated along.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, BinaryOp, Element, Float, Result, ScalarSide, Shape};

impl<E: Float, B: Backend> Tensor<E, B> {
    /// `self + rhs` with broadcasting.
    #[track_caller]
    pub(crate) fn add_tensor(&self, rhs: &Self) -> Result<Self> {
        let out = self.array().add(rhs.array())?;
        Tensor::try_from_op(out, "add", &[self, rhs], |inputs, _, g| {
            Ok(vec![
                Some(g.sum_to(inputs[0].shape())?),
                Some(g.sum_to(inputs[1].shape())?),
            ])
        })
    }

    /// `self - rhs` with broadcasting.
    #[track_caller]
    pub(crate) fn sub_tensor(&self, rhs: &Self) -> Result<Self> {
        let out = self.array().sub(rhs.array())?;
        Tensor::try_from_op(out, "sub", &[self, rhs], |inputs, _, g| {
            Ok(vec![
                Some(g.sum_to(inputs[0].shape())?),
                Some(g.neg()?.sum_to(inputs[1].shape())?),
            ])
        })
    }

    /// `self * rhs` element-wise with broadcasting.
    #[track_caller]
    pub(crate) fn mul_tensor(&self, rhs: &Self) -> Result<Self> {
        let out = self.array().mul(rhs.array())?;
        Tensor::try_from_op(out, "mul", &[self, rhs], |inputs, _, g| {
            let (a, b) = (&inputs[0], &inputs[1]);
            Ok(vec![
                a.requires_grad()
                    .then(|| g.mul(b)?.sum_to(a.shape()))
                    .transpose()?,
                b.requires_grad()
                    .then(|| g.mul(a)?.sum_to(b.shape()))
                    .transpose()?,
            ])
        })
    }

    /// `self / rhs` element-wise with broadcasting.
    #[track_caller]
    pub(crate) fn div_tensor(&self, rhs: &Self) -> Result<Self> {
        let out = self.array().div(rhs.array())?;
        Tensor::try_from_op(out, "div", &[self, rhs], |inputs, out, g| {
            let (a, b) = (&inputs[0], &inputs[1]);
            Ok(vec![
                a.requires_grad()
                    .then(|| g.div(b)?.sum_to(a.shape()))
                    .transpose()?,
                // d(a/b)/db = -a/b² = -out/b
                b.requires_grad()
                    .then(|| g.mul(out)?.div(b)?.neg()?.sum_to(b.shape()))
                    .transpose()?,
            ])
        })
    }

    /// `self ^ rhs` element-wise with broadcasting.
    #[track_caller]
    pub(crate) fn pow_tensor(&self, rhs: &Self) -> Result<Self> {
        let out = self.array().pow(rhs.array())?;
        Tensor::try_from_op(out, "pow", &[self, rhs], |inputs, out, g| {
            let (a, b) = (&inputs[0], &inputs[1]);
            Ok(vec![
                // d(a^b)/da = b·a^(b-1)
                a.requires_grad()
                    .then(|| {
                        g.mul(b)?
                            .mul(&a.pow(&b.sub_scalar(E::ONE)?)?)?
                            .sum_to(a.shape())
                    })
                    .transpose()?,
                // d(a^b)/db = a^b·ln a
                b.requires_grad()
                    .then(|| g.mul(out)?.mul(&a.log()?)?.sum_to(b.shape()))
                    .transpose()?,
            ])
        })
    }

    /// Element-wise maximum; at ties the gradient is split evenly (g/2 to each), as
    /// `torch.maximum`'s.
    #[track_caller]
    pub(crate) fn maximum_tensor(&self, rhs: &Self) -> Result<Self> {
        self.extremum(rhs, BinaryOp::Maximum, BinaryOp::Gt)
    }

    /// Element-wise minimum; at ties the gradient is split evenly (g/2 to each), as
    /// `torch.minimum`'s.
    #[track_caller]
    pub(crate) fn minimum_tensor(&self, rhs: &Self) -> Result<Self> {
        self.extremum(rhs, BinaryOp::Minimum, BinaryOp::Lt)
    }

    #[track_caller]
    fn extremum(&self, rhs: &Self, op: BinaryOp, wins: BinaryOp) -> Result<Self> {
        let out = self.array().binary(op, rhs.array())?;
        Tensor::try_from_op(out, op.name(), &[self, rhs], move |inputs, _, g| {
            let (a, b) = (inputs[0].detach(), inputs[1].detach());
            let half = E::from_f64(0.5);
            let a_share = a
                .compare(BinaryOp::Eq, &b)?
                .mul_scalar(half)?
                .add(&a.compare(wins, &b)?)?;
            let b_share = a_share.rsub_scalar(E::ONE)?;
            Ok(vec![
                Some(g.mul(&a_share)?.sum_to(inputs[0].shape())?),
                Some(g.mul(&b_share)?.sum_to(inputs[1].shape())?),
            ])
        })
    }

    /// `atan2(self, rhs)` element-wise with broadcasting: the angle of the point `(rhs, self)`.
    #[track_caller]
    pub(crate) fn atan2_tensor(&self, rhs: &Self) -> Result<Self> {
        let out = self.array().atan2(rhs.array())?;
        Tensor::try_from_op(out, "atan2", &[self, rhs], |inputs, _, g| {
            // ∂/∂a = b/(a² + b²), ∂/∂b = −a/(a² + b²)
            let (a, b) = (&inputs[0], &inputs[1]);
            let r2 = a.square()?.add(&b.square()?)?;
            Ok(vec![
                a.requires_grad()
                    .then(|| g.mul(b)?.div(&r2)?.sum_to(a.shape()))
                    .transpose()?,
                b.requires_grad()
                    .then(|| g.mul(a)?.div(&r2)?.neg()?.sum_to(b.shape()))
                    .transpose()?,
            ])
        })
    }

    /// Applies a table op by value: the autograd rule of every [`BinaryOp`] (comparisons give a
    /// mask without gradient). The match is exhaustive, so an op added to the table does not
    /// compile until it has a rule here.
    #[track_caller]
    pub fn binary(&self, op: BinaryOp, rhs: &Self) -> Result<Self> {
        match op {
            BinaryOp::Add => self.add(rhs),
            BinaryOp::Sub => self.sub(rhs),
            BinaryOp::Mul => self.mul(rhs),
            BinaryOp::Div => self.div(rhs),
            BinaryOp::Pow => self.pow(rhs),
            BinaryOp::Maximum => self.maximum(rhs),
            BinaryOp::Minimum => self.minimum(rhs),
            BinaryOp::Atan2 => self.atan2(rhs),
            BinaryOp::Eq
            | BinaryOp::Ne
            | BinaryOp::Lt
            | BinaryOp::Le
            | BinaryOp::Gt
            | BinaryOp::Ge => self.compare(op, rhs),
        }
    }

    /// `self + s`.
    #[track_caller]
    pub fn add_scalar(&self, s: E) -> Result<Self> {
        let out = self.array().add_scalar(s)?;
        Tensor::try_from_op(out, "add_scalar", &[self], |_, _, g| {
            Ok(vec![Some(g.clone())])
        })
    }

    /// `self - s`.
    #[track_caller]
    pub fn sub_scalar(&self, s: E) -> Result<Self> {
        self.add_scalar(E::ZERO - s)
    }

    /// `s - self`.
    #[track_caller]
    pub fn rsub_scalar(&self, s: E) -> Result<Self> {
        let out = self
            .array()
            .binary_scalar(BinaryOp::Sub, s, ScalarSide::Left)?;
        Tensor::try_from_op(out, "rsub_scalar", &[self], |_, _, g| {
            Ok(vec![Some(g.neg()?)])
        })
    }

    /// `self * s`.
    #[track_caller]
    pub fn mul_scalar(&self, s: E) -> Result<Self> {
        let out = self.array().mul_scalar(s)?;
        Tensor::try_from_op(out, "mul_scalar", &[self], move |_, _, g| {
            Ok(vec![Some(g.mul_scalar(s)?)])
        })
    }

    /// `self / s`.
    #[track_caller]
    pub fn div_scalar(&self, s: E) -> Result<Self> {
        let out = self.array().div_scalar(s)?;
        Tensor::try_from_op(out, "div_scalar", &[self], move |_, _, g| {
            Ok(vec![Some(g.div_scalar(s)?)])
        })
    }

    /// `s / self`.
    #[track_caller]
    pub fn rdiv_scalar(&self, s: E) -> Result<Self> {
        let out = self
            .array()
            .binary_scalar(BinaryOp::Div, s, ScalarSide::Left)?;
        // d(s/x)/dx = -s/x² = -out/x
        Tensor::try_from_op(out, "rdiv_scalar", &[self], |inputs, out, g| {
            Ok(vec![Some(g.mul(out)?.div(&inputs[0])?.neg()?)])
        })
    }

    /// `self ^ e` for a scalar exponent.
    #[track_caller]
    pub fn pow_scalar(&self, e: E) -> Result<Self> {
        let out = self.array().pow_scalar(e)?;
        Tensor::try_from_op(out, "pow_scalar", &[self], move |inputs, _, g| {
            Ok(vec![Some(
                g.mul(&inputs[0].pow_scalar(e - E::ONE)?)?.mul_scalar(e)?,
            )])
        })
    }

    /// `s ^ self` for a scalar base.
    #[track_caller]
    pub fn rpow_scalar(&self, s: E) -> Result<Self> {
        let out = self
            .array()
            .binary_scalar(BinaryOp::Pow, s, ScalarSide::Left)?;
        let ln_s = s.ln();
        Tensor::try_from_op(out, "rpow_scalar", &[self], move |_, out, g| {
            Ok(vec![Some(g.mul(out)?.mul_scalar(ln_s)?)])
        })
    }

    /// `max(self, s)` element-wise, PyTorch's `clamp_min(s)`: the gradient passes where
    /// `self > s` and is 0 at a tie (PyTorch 2.15's rule). [`Tensor::maximum`] with a tensor
    /// operand splits a tie evenly instead, as `torch.maximum` does.
    #[track_caller]
    pub fn maximum_scalar(&self, s: E) -> Result<Self> {
        let out = self.array().maximum_scalar(s)?;
        Tensor::try_from_op(out, "maximum_scalar", &[self], move |inputs, _, g| {
            let pass = inputs[0].detach().compare_scalar(BinaryOp::Gt, s)?;
            Ok(vec![Some(g.mul(&pass)?)])
        })
    }

    /// `min(self, s)` element-wise, PyTorch's `clamp_max(s)`: the gradient passes where
    /// `self < s` and is 0 at a tie (see [`Tensor::maximum_scalar`]).
    #[track_caller]
    pub fn minimum_scalar(&self, s: E) -> Result<Self> {
        let out = self.array().minimum_scalar(s)?;
        Tensor::try_from_op(out, "minimum_scalar", &[self], move |inputs, _, g| {
            let pass = inputs[0].detach().compare_scalar(BinaryOp::Lt, s)?;
            Ok(vec![Some(g.mul(&pass)?)])
        })
    }
}

impl<E: Element, B: Backend> Tensor<E, B> {
    /// Sums a gradient of a broadcast shape back down to `shape` (the adjoint of broadcasting).
    #[track_caller]
    pub fn sum_to(&self, shape: &Shape) -> Result<Self> {
        if self.shape() == shape {
            return Ok(self.clone());
        }
        let lead = self.rank() - shape.rank().min(self.rank());
        let axes: Vec<isize> = (0..self.rank())
            .filter(|&i| i < lead || (shape.dims()[i - lead] == 1 && self.dims()[i] != 1))
            .map(|i| i as isize)
            .collect();
        let summed = if axes.is_empty() {
            self.clone()
        } else {
            self.sum_dims(&axes, true)?
        };
        summed.reshape(shape.clone())
    }

    /// A comparison mask (1 where true, 0 where false), with broadcasting. Not differentiable.
    #[track_caller]
    pub fn compare(&self, op: BinaryOp, rhs: &Self) -> Result<Self> {
        Ok(Tensor::from_ndarray(self.array().binary(op, rhs.array())?))
    }

    /// A comparison against a scalar (1 where true, 0 where false). Not differentiable.
    #[track_caller]
    pub fn compare_scalar(&self, op: BinaryOp, s: E) -> Result<Self> {
        Ok(Tensor::from_ndarray(self.array().binary_scalar(
            op,
            s,
            ScalarSide::Right,
        )?))
    }

    /// Converts to another element type (not differentiable: the result is a leaf).
    #[track_caller]
    pub fn cast<T: Element>(&self) -> Result<Tensor<T, B>> {
        Ok(Tensor::from_ndarray(self.array().cast::<T>()?))
    }
}
