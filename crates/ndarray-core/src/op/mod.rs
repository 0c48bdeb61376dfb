//! The closed sets of operations a backend implements. Ops are enum values, not closures, so a
//! device whose code is compiled ahead of time (CUDA) can pick a kernel by name.
//!
//! The element-wise ops are tables (`unary.rs`, `binary.rs`) expanded by the macros in
//! `table.rs`; reductions, random fills and window geometry are small enough to be written out.

mod binary;
mod lstm;
pub mod math;
mod softmax;
mod step;
mod table;
mod unary;
mod window;

pub use binary::{binary_kernels, BinaryKernel, BinaryKind, BinaryOp, BinaryVisitor};
pub use lstm::{LstmUnit, LstmUnitGrad};
pub use softmax::Softmax;
pub use step::{FusedStep, SgdMomentum, StepDirection};
pub use unary::{unary_kernels, UnaryKernel, UnaryOp, UnaryVisitor};
pub use window::Window2d;

/// Where an op is smooth enough to check numerically (gradcheck and backend tests draw their
/// inputs from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// Every real number; tests keep away from 0 and the op's isolated kinks.
    Real,
    /// Positive numbers only (log, sqrt).
    Positive,
}

/// `float(a, b)` for float elements, `int(a, b)` for the integer ones, computed in `i64` (where
/// integer arithmetic wraps on overflow, as PyTorch's does, rather than panicking in debug
/// builds). The branch is on a constant, so it disappears when inlined.
#[inline(always)]
fn int_or<E: crate::Element>(a: E, b: E, float: fn(E, E) -> E, int: fn(i64, i64) -> i64) -> E {
    if E::DTYPE.is_float() {
        float(a, b)
    } else {
        E::from_i64(int(a.to_i64(), b.to_i64()))
    }
}

/// Reductions over a set of axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// Σ
    Sum,
    /// Π
    Prod,
    /// max (NaN-propagating; `-inf`/`i64::MIN` over an empty set)
    Max,
    /// min (NaN-propagating; `+inf`/`i64::MAX` over an empty set)
    Min,
}

impl ReduceOp {
    /// Lower-case name, used in kernel names.
    pub fn name(self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Prod => "prod",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
        }
    }

    /// The value a reduction over nothing yields.
    pub fn identity<E: crate::Element>(self) -> E {
        match self {
            ReduceOp::Sum => E::ZERO,
            ReduceOp::Prod => E::ONE,
            ReduceOp::Max => E::MIN,
            ReduceOp::Min => E::MAX,
        }
    }

    /// Folds one more element into an accumulator.
    #[inline(always)]
    pub fn combine<E: crate::Element>(self, acc: E, x: E) -> E {
        match self {
            ReduceOp::Sum => int_or(acc, x, |a, b| a + b, i64::wrapping_add),
            ReduceOp::Prod => int_or(acc, x, |a, b| a * b, i64::wrapping_mul),
            ReduceOp::Max => acc.maximum(x),
            ReduceOp::Min => acc.minimum(x),
        }
    }
}

/// Reductions to the index of an extreme value along one axis (first occurrence wins; a NaN
/// counts as the extreme, as in PyTorch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArgReduceOp {
    /// Index of the maximum.
    ArgMax,
    /// Index of the minimum.
    ArgMin,
}

impl ArgReduceOp {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            ArgReduceOp::ArgMax => "argmax",
            ArgReduceOp::ArgMin => "argmin",
        }
    }
}

/// Whether a scalar operand stands left or right of the array in a scalar binary op, so that
/// `2 - x` and `x - 2` are both one kernel call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScalarSide {
    /// `array op scalar`
    Right,
    /// `scalar op array`
    Left,
}

/// A distribution for random fills.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RandomDist {
    /// Uniform on `[low, high)`.
    Uniform {
        /// Inclusive lower bound.
        low: f64,
        /// Exclusive upper bound.
        high: f64,
    },
    /// Normal with the given mean and standard deviation.
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// 1 with probability `p`, else 0.
    Bernoulli {
        /// Probability of a 1.
        p: f64,
    },
}
