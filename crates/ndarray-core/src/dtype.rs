//! Element types: what a single number in an array can be.
//!
//! `f32` (training), `f64` (gradient checks) and `i64` (indices and labels, PyTorch's `long`)
//! carry the math; `u8` (raw image and IDX data) and [`Bool`] (flags and masks you keep) are for
//! storage, casts and comparisons. Masks produced by comparisons use the element type of their
//! inputs and hold `0` or `1`, so `grad * (x > 0)` needs no cast.

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
    /// 8-bit unsigned integer (arithmetic wraps, as PyTorch's `uint8`).
    U8,
    /// A boolean stored in one byte ([`Bool`]).
    Bool,
}

impl DType {
    /// The short name used in messages, kernel names and file formats (`f32`, `f64`, `i64`).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I64 => "i64",
            DType::U8 => "u8",
            DType::Bool => "bool",
        }
    }

    /// Whether this is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// Size of one element in bytes.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::U8 | DType::Bool => 1,
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
    /// Converts to `i64` (floats truncate toward zero; `Bool` gives 0 or 1).
    fn to_i64(self) -> i64;
    /// Converts from `i64`: wrapping for `u8` (as PyTorch's integer arithmetic), non-zero is
    /// true for `Bool`.
    fn from_i64(v: i64) -> Self;
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
    /// The four-quadrant arctangent of `self / other` (`self` is y, `other` is x).
    fn atan2(self, other: Self) -> Self;
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
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                v as $t
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
            #[inline(always)]
            fn atan2(self, other: Self) -> Self {
                $t::atan2(self, other)
            }
        }
    };
}

impl_float!(f32, F32);
impl_float!(f64, F64);

/// `Element` for an integer type: casts as Rust's `as` (truncating toward zero from floats, as
/// PyTorch's `.to(int)`), no NaN, and `pow` by the given rule (integer powers wrap, as in PyTorch).
macro_rules! impl_int {
    ($t:ty, $dtype:ident, pow: |$base:ident, $exp:ident| $pow:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$dtype;
            const ZERO: Self = 0;
            const ONE: Self = 1;
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn pow(self, rhs: Self) -> Self {
                let ($base, $exp) = (self, rhs);
                $pow
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
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                v as $t
            }
        }
    };
}

// A negative exponent: 1 and -1 keep their magnitude, everything else truncates to 0.
impl_int!(i64, I64, pow: |base, exp| match exp {
    e if e >= 0 => base.wrapping_pow(e.min(u32::MAX as i64) as u32),
    _ if base == 1 => 1,
    e if base == -1 => if e % 2 == 0 { 1 } else { -1 },
    _ => 0,
});
impl_int!(u8, U8, pow: |base, exp| base.wrapping_pow(exp as u32));

/// A boolean element, stored in one byte that is 0 or 1 (as PyTorch's `bool` tensors are).
///
/// Rust's `bool` cannot be an [`Element`]: an element is plain bytes that a device copies in
/// and out (`bytemuck::Pod`), and a `bool` with any byte other than 0 or 1 is undefined
/// behaviour. `Bool` converts to and from `bool`; any non-zero byte reads as true. Its `+` is
/// logical or and its `*` logical and (PyTorch's `True + True` is `True`); subtraction,
/// division and powers of booleans are refused by the array ops, as in PyTorch.
#[repr(transparent)]
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, bytemuck::Pod, bytemuck::Zeroable,
)]
pub struct Bool(u8);

impl Bool {
    /// `true`.
    pub const TRUE: Bool = Bool(1);
    /// `false`.
    pub const FALSE: Bool = Bool(0);

    /// The value as a Rust `bool`.
    pub fn get(self) -> bool {
        self.0 != 0
    }
}

impl From<bool> for Bool {
    fn from(b: bool) -> Self {
        Bool(b as u8)
    }
}

impl From<Bool> for bool {
    fn from(b: Bool) -> Self {
        b.get()
    }
}

impl Debug for Bool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Debug::fmt(&self.get(), f)
    }
}

impl Display for Bool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // PyTorch prints `True`/`False`.
        f.write_str(if self.get() { "True" } else { "False" })
    }
}

impl std::ops::Add for Bool {
    type Output = Bool;
    fn add(self, rhs: Bool) -> Bool {
        Bool::from(self.get() || rhs.get())
    }
}

impl std::ops::Mul for Bool {
    type Output = Bool;
    fn mul(self, rhs: Bool) -> Bool {
        Bool::from(self.get() && rhs.get())
    }
}

impl std::ops::Sub for Bool {
    type Output = Bool;
    /// `a and not b` (the array ops refuse `-` on booleans; this exists for the trait bound).
    fn sub(self, rhs: Bool) -> Bool {
        Bool::from(self.get() && !rhs.get())
    }
}

impl std::ops::Div for Bool {
    type Output = Bool;
    /// `a` where `b` is true, false otherwise (refused by the array ops, as `-` is).
    fn div(self, rhs: Bool) -> Bool {
        Bool::from(self.get() && rhs.get())
    }
}

impl Element for Bool {
    const DTYPE: DType = DType::Bool;
    const ZERO: Self = Bool::FALSE;
    const ONE: Self = Bool::TRUE;
    const MIN: Self = Bool::FALSE;
    const MAX: Self = Bool::TRUE;
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        Bool::from(v != 0.0)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self.get() as u8 as f64
    }
    fn pow(self, rhs: Self) -> Self {
        Bool::from(self.get() || !rhs.get())
    }
    #[inline(always)]
    fn maximum(self, rhs: Self) -> Self {
        self + rhs
    }
    #[inline(always)]
    fn minimum(self, rhs: Self) -> Self {
        self * rhs
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        false
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self.get() as i64
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        Bool::from(v != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_integer_and_boolean_elements_convert_like_pytorch() {
        assert_eq!(u8::from_i64(300), 44); // wraps, as uint8 arithmetic does
        assert_eq!(Bool::from_i64(2), Bool::TRUE);
        assert_eq!(Bool::from_f64(0.0), Bool::FALSE);
        assert_eq!(Bool::TRUE + Bool::TRUE, Bool::TRUE);
        assert_eq!(Bool::TRUE * Bool::FALSE, Bool::FALSE);
        assert_eq!(format!("{}", Bool::from(true)), "True");
        assert_eq!(DType::U8.size_in_bytes(), 1);
        assert!(!DType::Bool.is_float());
    }

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
