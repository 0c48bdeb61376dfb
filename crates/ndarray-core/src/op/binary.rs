//! The binary op table: every element-wise function of two arguments, declared once (see
//! `unary.rs` for what an entry generates). Integer arithmetic wraps on overflow, as PyTorch's
//! does, rather than panicking in debug builds.

use super::table::binary_ops;
use super::Domain;
use crate::{Backend, DType, Element, Float, NDArray, Result, ScalarSide};

/// The kernel of one binary op: a zero-sized type with the float and the integer definition.
pub trait BinaryKernel {
    /// The op this kernel computes.
    const OP: BinaryOp;

    /// The op on two floats.
    fn float<F: Float>(a: F, b: F) -> F;

    /// The op on two integers. Float-only ops keep this default, which is never reached:
    /// `NDArray` refuses them on integer arrays (see [`BinaryOp::supports_integers`]).
    #[inline(always)]
    fn int(_a: i64, _b: i64) -> i64 {
        0
    }

    /// The op on two elements of any type: the float or the integer definition. The branch is
    /// on a constant, so it disappears when inlined.
    #[inline(always)]
    fn apply<E: Element>(a: E, b: E) -> E {
        match E::DTYPE {
            DType::F32 => bytemuck::cast(Self::float::<f32>(bytemuck::cast(a), bytemuck::cast(b))),
            DType::F64 => bytemuck::cast(Self::float::<f64>(bytemuck::cast(a), bytemuck::cast(b))),
            DType::I64 => bytemuck::cast(Self::int(bytemuck::cast(a), bytemuck::cast(b))),
            // The small types compute in i64 and wrap (u8) or test non-zero (Bool) on the way back.
            DType::U8 | DType::Bool => E::from_i64(Self::int(a.to_i64(), b.to_i64())),
        }
    }
}

/// What a backend passes to [`BinaryOp::dispatch`]: called back with the op's kernel type.
pub trait BinaryVisitor {
    /// What the visit returns.
    type Output;
    /// Runs with the kernel of the dispatched op.
    fn visit<K: BinaryKernel>(self) -> Self::Output;
}

/// What a binary op yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryKind {
    /// A value of the operands' type.
    Arithmetic,
    /// 1 (true) or 0 (false) in the operands' type.
    Comparison,
}

/// 1 or 0 in `E`.
#[inline(always)]
fn mask<E: Element>(c: bool) -> E {
    if c {
        E::ONE
    } else {
        E::ZERO
    }
}

binary_ops! {
    /// a + b
    Add("add", add / add_scalar, cost 1, Arithmetic, Real, bool true) cuda "Arith<T>::add(a, b)"
        float |a, b| a + b, int |a, b| a.wrapping_add(b);
    /// a - b
    Sub("sub", sub / sub_scalar, cost 1, Arithmetic, Real, bool false) cuda "Arith<T>::sub(a, b)"
        float |a, b| a - b, int |a, b| a.wrapping_sub(b);
    /// a · b
    Mul("mul", mul / mul_scalar, cost 1, Arithmetic, Real, bool true) cuda "Arith<T>::mul(a, b)"
        float |a, b| a * b, int |a, b| a.wrapping_mul(b);
    /// a / b (integers: truncating, division by zero gives 0)
    Div("div", div / div_scalar, cost 1, Arithmetic, Real, bool false) cuda "Arith<T>::div(a, b)"
        float |a, b| a / b, int |a, b| if b == 0 { 0 } else { a.wrapping_div(b) };
    /// a^b (integers: by repeated multiplication, negative powers give 0 or ±1)
    Pow("pow", pow / pow_scalar, cost 16, Arithmetic, Positive, bool false) cuda "Arith<T>::pow(a, b)"
        float |a, b| a.powf(b), int |a, b| Element::pow(a, b);
    /// max(a, b), NaN-propagating
    Maximum("maximum", maximum / maximum_scalar, cost 1, Arithmetic, Real, bool true) cuda "Arith<T>::maximum(a, b)"
        float |a, b| a.maximum(b), int |a, b| a.max(b);
    /// min(a, b), NaN-propagating
    Minimum("minimum", minimum / minimum_scalar, cost 1, Arithmetic, Real, bool true) cuda "Arith<T>::minimum(a, b)"
        float |a, b| a.minimum(b), int |a, b| a.min(b);
    /// a == b
    Eq("eq", eq / eq_scalar, cost 1, Comparison, Real, bool true) cuda "a == b ? T(1) : T(0)"
        float |a, b| mask(a == b), int |a, b| mask(a == b);
    /// a != b
    Ne("ne", ne / ne_scalar, cost 1, Comparison, Real, bool true) cuda "a != b ? T(1) : T(0)"
        float |a, b| mask(a != b), int |a, b| mask(a != b);
    /// a < b
    Lt("lt", lt / lt_scalar, cost 1, Comparison, Real, bool true) cuda "a < b ? T(1) : T(0)"
        float |a, b| mask(a < b), int |a, b| mask(a < b);
    /// a <= b
    Le("le", le / le_scalar, cost 1, Comparison, Real, bool true) cuda "a <= b ? T(1) : T(0)"
        float |a, b| mask(a <= b), int |a, b| mask(a <= b);
    /// a > b
    Gt("gt", gt / gt_scalar, cost 1, Comparison, Real, bool true) cuda "a > b ? T(1) : T(0)"
        float |a, b| mask(a > b), int |a, b| mask(a > b);
    /// a >= b
    Ge("ge", ge / ge_scalar, cost 1, Comparison, Real, bool true) cuda "a >= b ? T(1) : T(0)"
        float |a, b| mask(a >= b), int |a, b| mask(a >= b);
    /// atan2(a, b): the angle of the point (b, a), in (-π, π] (float-only)
    Atan2("atan2", atan2 / atan2_scalar, cost 16, Arithmetic, Real, bool false) cuda "F::atan2(a, b)"
        float |a, b| a.atan2(b);
}
