//! Element types: what a single number in an array can be.
//!
//! Three types cover a deep-learning library: `f32` (training), `f64` (gradient checks) and `i64`
//! (indices and labels, PyTorch's `long`). Masks produced by comparisons use the element type of
//! their inputs and hold `0` or `1`, so `grad * (x > 0)` needs no cast.

use std::fmt::{Debug, Display};

/// The runtime tag of an element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum DType {
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
    /// 64-bit signed integer.
    I64,
}

impl DType {
    /// The short name used in messages, kernel names and file formats (`f32`, `f64`, `i64`).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I64 => "i64",
        }
    }

    /// Size of one element in bytes.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
        }
    }
}

impl Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A scalar type that arrays can hold. Implemented for `f32`, `f64` and `i64`.
pub trait Element:
    bytemuck::Pod
    + Copy
    + Send
    + Sync
    + Debug
    + Display
    + PartialEq
    + PartialOrd
    + Default
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + 'static
{
    /// The runtime tag of this type.
    const DTYPE: DType;
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;
    /// The smallest value (`-inf` for floats), the identity of `max`.
    const MIN: Self;
    /// The largest value (`+inf` for floats), the identity of `min`.
    const MAX: Self;
    /// Converts from `f64` (rounding toward zero for integers, as `as` does).
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64`.
    fn to_f64(self) -> f64;
    /// `self` raised to `rhs` (integers: by repeated multiplication, negative powers give 0 or ±1).
    fn pow(self, rhs: Self) -> Self;
    /// The larger of two values; NaN propagates for floats (as `torch.maximum`).
    fn maximum(self, rhs: Self) -> Self;
    /// The smaller of two values; NaN propagates for floats (as `torch.minimum`).
    fn minimum(self, rhs: Self) -> Self;
    /// Whether this value is NaN (always false for integers).
    fn is_nan(self) -> bool;
}

/// A floating-point element type: every math function the unary ops need.
pub trait Float: Element + std::ops::Neg<Output = Self> {
    /// e^x
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// ln(1 + x), accurate near 0.
    fn ln_1p(self) -> Self;
    /// e^x - 1, accurate near 0.
    fn exp_m1(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Sine.
    fn sin(self) -> Self;
    /// Cosine.
    fn cos(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// Largest integer not above `self`.
    fn floor(self) -> Self;
    /// Smallest integer not below `self`.
    fn ceil(self) -> Self;
    /// Round half to even, as `torch.round`.
    fn round_half_even(self) -> Self;
    /// `self` raised to a float power.
    fn powf(self, e: Self) -> Self;
    /// The error function.
    fn erf(self) -> Self;
}

macro_rules! impl_float {
    ($t:ident, $dtype:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$dtype;
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const MIN: Self = $t::NEG_INFINITY;
            const MAX: Self = $t::INFINITY;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn pow(self, rhs: Self) -> Self {
                self.powf(rhs)
            }
            #[inline(always)]
            fn maximum(self, rhs: Self) -> Self {
                if self.is_nan() || rhs.is_nan() {
                    $t::NAN
                } else if self >= rhs {
                    self
                } else {
                    rhs
                }
            }
            #[inline(always)]
            fn minimum(self, rhs: Self) -> Self {
                if self.is_nan() || rhs.is_nan() {
                    $t::NAN
                } else if self <= rhs {
                    self
                } else {
                    rhs
                }
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                $t::is_nan(self)
            }
        }

        impl Float for $t {
            #[inline(always)]
            fn exp(self) -> Self {
                $t::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                $t::ln(self)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                $t::ln_1p(self)
            }
            #[inline(always)]
            fn exp_m1(self) -> Self {
                $t::exp_m1(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                $t::sqrt(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                $t::abs(self)
            }
            #[inline(always)]
            fn sin(self) -> Self {
                $t::sin(self)
            }
            #[inline(always)]
            fn cos(self) -> Self {
                $t::cos(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                $t::tanh(self)
            }
            #[inline(always)]
            fn floor(self) -> Self {
                $t::floor(self)
            }
            #[inline(always)]
            fn ceil(self) -> Self {
                $t::ceil(self)
            }
            #[inline(always)]
            fn round_half_even(self) -> Self {
                $t::round_ties_even(self)
            }
            #[inline(always)]
            fn powf(self, e: Self) -> Self {
                $t::powf(self, e)
            }
            #[inline(always)]
            fn erf(self) -> Self {
                libm::erf(self as f64) as $t
            }
        }
    };
}

impl_float!(f32, F32);
impl_float!(f64, F64);

impl Element for i64 {
    const DTYPE: DType = DType::I64;
    const ZERO: Self = 0;
    const ONE: Self = 1;
    const MIN: Self = i64::MIN;
    const MAX: Self = i64::MAX;
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as i64
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn pow(self, rhs: Self) -> Self {
        match rhs {
            r if r >= 0 => self.wrapping_pow(r.min(u32::MAX as i64) as u32),
            _ if self == 1 => 1,
            _ if self == -1 => {
                if rhs % 2 == 0 {
                    1
                } else {
                    -1
                }
            }
            _ => 0,
        }
    }
    #[inline(always)]
    fn maximum(self, rhs: Self) -> Self {
        Ord::max(self, rhs)
    }
    #[inline(always)]
    fn minimum(self, rhs: Self) -> Self {
        Ord::min(self, rhs)
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maximum_propagates_nan_like_torch() {
        assert!(Element::maximum(f32::NAN, 1.0).is_nan());
        assert!(Element::minimum(1.0f64, f64::NAN).is_nan());
        assert_eq!(Element::maximum(2.0f32, -1.0), 2.0);
    }

    #[test]
    fn integer_pow_handles_negative_exponents() {
        assert_eq!(Element::pow(3i64, 4), 81);
        assert_eq!(Element::pow(2i64, -1), 0);
        assert_eq!(Element::pow(-1i64, -3), -1);
    }
}
