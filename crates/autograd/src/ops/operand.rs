//! The right operand of a binary op: a tensor or a scalar, as in PyTorch (`x.pow(3.0)`,
//! `x.add(&y)`, `x.gt(0.0)`). Each method picks the tensor rule or its scalar twin
//! (`add_scalar`, `pow_scalar`, …), so a scalar never becomes a broadcast tensor needlessly.

use crate::Tensor;
use nanotorch_ndarray_core::{Backend, BinaryOp, Element, Float, Result};

/// A tensor or a scalar on the right of a binary op.
#[derive(Debug)]
pub enum Operand<'a, E: Element, B: Backend> {
    /// A tensor, broadcast against the left one.
    Tensor(&'a Tensor<E, B>),
    /// A scalar of the tensor's element type.
    Scalar(E),
}

/// What a binary method accepts on its right: `&Tensor` or a scalar of the element type.
pub trait IntoOperand<'a, E: Element, B: Backend> {
    /// The operand.
    fn into_operand(self) -> Operand<'a, E, B>;
}

impl<'a, E: Element, B: Backend> IntoOperand<'a, E, B> for &'a Tensor<E, B> {
    fn into_operand(self) -> Operand<'a, E, B> {
        Operand::Tensor(self)
    }
}

impl<'a, E: Element, B: Backend> IntoOperand<'a, E, B> for E {
    fn into_operand(self) -> Operand<'a, E, B> {
        Operand::Scalar(self)
    }
}

macro_rules! float_binary {
    ($($(#[doc = $doc:literal])* $name:ident => $tensor:ident, $scalar:ident;)*) => {
        impl<E: Float, B: Backend> Tensor<E, B> {
            $(
                $(#[doc = $doc])*
                #[track_caller]
                pub fn $name<'r>(&self, rhs: impl IntoOperand<'r, E, B>) -> Result<Self>
                where
                    E: 'r,
                {
                    match rhs.into_operand() {
                        Operand::Tensor(t) => self.$tensor(t),
                        Operand::Scalar(s) => self.$scalar(s),
                    }
                }
            )*
        }
    };
}

float_binary! {
    /// `self + rhs` with broadcasting (`rhs` a tensor or a scalar).
    add => add_tensor, add_scalar;
    /// `self - rhs` with broadcasting.
    sub => sub_tensor, sub_scalar;
    /// `self * rhs` element-wise with broadcasting.
    mul => mul_tensor, mul_scalar;
    /// `self / rhs` element-wise with broadcasting.
    div => div_tensor, div_scalar;
    /// `self ^ rhs` element-wise with broadcasting (`x.pow(3.0)` or `x.pow(&e)`).
    pow => pow_tensor, pow_scalar;
    /// Element-wise maximum. With a tensor operand (`torch.maximum`) a tie splits the gradient
    /// evenly; with a scalar (`clamp_min`) it sends none to `self` at a tie.
    maximum => maximum_tensor, maximum_scalar;
    /// Element-wise minimum. With a tensor operand (`torch.minimum`) a tie splits the gradient
    /// evenly; with a scalar (`clamp_max`) it sends none to `self` at a tie.
    minimum => minimum_tensor, minimum_scalar;
    /// `atan2(self, rhs)` element-wise with broadcasting: the angle of the point `(rhs, self)`.
    atan2 => atan2_tensor, atan2_scalar;
}

impl<E: Float, B: Backend> Tensor<E, B> {
    /// `atan2(self, s)`: the scalar broadcast as a 0-d tensor (atan2 has no scalar kernel).
    #[track_caller]
    fn atan2_scalar(&self, s: E) -> Result<Self> {
        self.atan2_tensor(&Tensor::scalar(s, self.backend())?)
    }
}

macro_rules! comparisons {
    ($($(#[doc = $doc:literal])* $name:ident => $op:ident;)*) => {
        impl<E: Element, B: Backend> Tensor<E, B> {
            $(
                $(#[doc = $doc])*
                #[track_caller]
                pub fn $name<'r>(&self, rhs: impl IntoOperand<'r, E, B>) -> Result<Self>
                where
                    E: 'r,
                {
                    match rhs.into_operand() {
                        Operand::Tensor(t) => self.compare(BinaryOp::$op, t),
                        Operand::Scalar(s) => self.compare_scalar(BinaryOp::$op, s),
                    }
                }
            )*
        }
    };
}

comparisons! {
    /// `self == rhs` as a 0/1 mask (`rhs` a tensor or a scalar). Not differentiable.
    eq => Eq;
    /// `self != rhs` as a 0/1 mask.
    ne => Ne;
    /// `self < rhs` as a 0/1 mask.
    lt => Lt;
    /// `self <= rhs` as a 0/1 mask.
    le => Le;
    /// `self > rhs` as a 0/1 mask.
    gt => Gt;
    /// `self >= rhs` as a 0/1 mask.
    ge => Ge;
}

#[cfg(test)]
mod tests {
    use crate::Tensor;
    use nanotorch_backend_cpu::Cpu;

    #[test]
    fn binary_methods_take_a_tensor_or_a_scalar() {
        let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [3], &Cpu).unwrap();
        assert_eq!(x.pow(3.0).unwrap().to_vec().unwrap(), [1.0, 8.0, 27.0]);
        assert_eq!(x.pow(&x).unwrap().to_vec().unwrap(), [1.0, 4.0, 27.0]);
        assert_eq!(x.add(1.0).unwrap().to_vec().unwrap(), [2.0, 3.0, 4.0]);
        assert_eq!(x.gt(1.5).unwrap().to_vec().unwrap(), [0.0, 1.0, 1.0]);
        let labels = Tensor::from_vec(vec![0i64, 2, 2], [3], &Cpu).unwrap();
        assert_eq!(labels.eq(2).unwrap().to_vec().unwrap(), [0, 1, 1]);
    }
}
