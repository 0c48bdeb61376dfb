//! The closed sets of operations a backend implements. Ops are enum values, not closures, so a
//! device whose code is compiled ahead of time (CUDA) can pick a kernel by name.

/// Element-wise functions of one float argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// -x
    Neg,
    /// e^x
    Exp,
    /// ln x
    Log,
    /// ln(1 + x)
    Log1p,
    /// e^x - 1
    Expm1,
    /// √x
    Sqrt,
    /// 1/√x
    Rsqrt,
    /// 1/x
    Recip,
    /// x²
    Square,
    /// |x|
    Abs,
    /// -1, 0 or 1 (0 for NaN as well as 0)
    Sign,
    /// sin x
    Sin,
    /// cos x
    Cos,
    /// tanh x
    Tanh,
    /// 1/(1 + e^-x)
    Sigmoid,
    /// max(x, 0)
    Relu,
    /// x·Φ(x) with the exact normal CDF (`gelu(approximate='none')`)
    GeluErf,
    /// PyTorch's `gelu(approximate='tanh')`
    GeluTanh,
    /// x·sigmoid(x)
    Silu,
    /// ln(1 + e^x), computed stably (PyTorch's threshold 20: x itself above it)
    Softplus,
    /// erf x
    Erf,
    /// ⌊x⌋
    Floor,
    /// ⌈x⌉
    Ceil,
    /// Round half to even
    Round,
}

impl UnaryOp {
    /// Every unary op, for tests and kernel tables.
    pub const ALL: [UnaryOp; 24] = [
        UnaryOp::Neg,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Log1p,
        UnaryOp::Expm1,
        UnaryOp::Sqrt,
        UnaryOp::Rsqrt,
        UnaryOp::Recip,
        UnaryOp::Square,
        UnaryOp::Abs,
        UnaryOp::Sign,
        UnaryOp::Sin,
        UnaryOp::Cos,
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Relu,
        UnaryOp::GeluErf,
        UnaryOp::GeluTanh,
        UnaryOp::Silu,
        UnaryOp::Softplus,
        UnaryOp::Erf,
        UnaryOp::Floor,
        UnaryOp::Ceil,
        UnaryOp::Round,
    ];

    /// Lower-case name, used in kernel names (`unary_exp_f32`).
    pub fn name(self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Log1p => "log1p",
            UnaryOp::Expm1 => "expm1",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Rsqrt => "rsqrt",
            UnaryOp::Recip => "recip",
            UnaryOp::Square => "square",
            UnaryOp::Abs => "abs",
            UnaryOp::Sign => "sign",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Relu => "relu",
            UnaryOp::GeluErf => "gelu_erf",
            UnaryOp::GeluTanh => "gelu_tanh",
            UnaryOp::Silu => "silu",
            UnaryOp::Softplus => "softplus",
            UnaryOp::Erf => "erf",
            UnaryOp::Floor => "floor",
            UnaryOp::Ceil => "ceil",
            UnaryOp::Round => "round",
        }
    }

    /// The reference definition in f64: what every backend must compute (up to rounding).
    pub fn eval_f64(self, x: f64) -> f64 {
        use std::f64::consts::{FRAC_1_SQRT_2, PI};
        let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
        match self {
            UnaryOp::Neg => -x,
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Log1p => x.ln_1p(),
            UnaryOp::Expm1 => x.exp_m1(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Rsqrt => 1.0 / x.sqrt(),
            UnaryOp::Recip => 1.0 / x,
            UnaryOp::Square => x * x,
            UnaryOp::Abs => x.abs(),
            UnaryOp::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            }
            UnaryOp::Sin => x.sin(),
            UnaryOp::Cos => x.cos(),
            UnaryOp::Tanh => x.tanh(),
            UnaryOp::Sigmoid => sigmoid(x),
            UnaryOp::Relu => x.max(0.0),
            UnaryOp::GeluErf => 0.5 * x * (1.0 + libm::erf(x * FRAC_1_SQRT_2)),
            UnaryOp::GeluTanh => {
                0.5 * x * (1.0 + ((2.0 / PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
            }
            UnaryOp::Silu => x * sigmoid(x),
            UnaryOp::Softplus => {
                if x > 20.0 {
                    x
                } else {
                    x.exp().ln_1p()
                }
            }
            UnaryOp::Erf => libm::erf(x),
            UnaryOp::Floor => x.floor(),
            UnaryOp::Ceil => x.ceil(),
            UnaryOp::Round => x.round_ties_even(),
        }
    }
}

/// Element-wise functions of two arguments. Comparisons yield `1` (true) or `0` (false) in the
/// operands' element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// a + b
    Add,
    /// a - b
    Sub,
    /// a · b
    Mul,
    /// a / b (integers: truncating, division by zero gives 0)
    Div,
    /// a^b
    Pow,
    /// max(a, b), NaN-propagating
    Maximum,
    /// min(a, b), NaN-propagating
    Minimum,
    /// a == b
    Eq,
    /// a != b
    Ne,
    /// a < b
    Lt,
    /// a <= b
    Le,
    /// a > b
    Gt,
    /// a >= b
    Ge,
}

impl BinaryOp {
    /// Every binary op.
    pub const ALL: [BinaryOp; 13] = [
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Pow,
        BinaryOp::Maximum,
        BinaryOp::Minimum,
        BinaryOp::Eq,
        BinaryOp::Ne,
        BinaryOp::Lt,
        BinaryOp::Le,
        BinaryOp::Gt,
        BinaryOp::Ge,
    ];

    /// Lower-case name, used in kernel names (`binary_add_f32`).
    pub fn name(self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::Maximum => "maximum",
            BinaryOp::Minimum => "minimum",
            BinaryOp::Eq => "eq",
            BinaryOp::Ne => "ne",
            BinaryOp::Lt => "lt",
            BinaryOp::Le => "le",
            BinaryOp::Gt => "gt",
            BinaryOp::Ge => "ge",
        }
    }

    /// Whether the op is a comparison (yields a 0/1 mask).
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }

    /// The op applied to two elements: the reference every backend must match.
    #[inline(always)]
    pub fn eval<E: crate::Element>(self, a: E, b: E) -> E {
        let mask = |c: bool| if c { E::ONE } else { E::ZERO };
        match self {
            BinaryOp::Add => int_or(a, b, |x, y| x + y, i64::wrapping_add),
            BinaryOp::Sub => int_or(a, b, |x, y| x - y, i64::wrapping_sub),
            BinaryOp::Mul => int_or(a, b, |x, y| x * y, i64::wrapping_mul),
            BinaryOp::Div => int_or(
                a,
                b,
                |x, y| x / y,
                |x, y| if y == 0 { 0 } else { x.wrapping_div(y) },
            ),
            BinaryOp::Pow => a.pow(b),
            BinaryOp::Maximum => a.maximum(b),
            BinaryOp::Minimum => a.minimum(b),
            BinaryOp::Eq => mask(a == b),
            BinaryOp::Ne => mask(a != b),
            BinaryOp::Lt => mask(a < b),
            BinaryOp::Le => mask(a <= b),
            BinaryOp::Gt => mask(a > b),
            BinaryOp::Ge => mask(a >= b),
        }
    }
}

/// `float(a, b)` for float elements, `int(a, b)` for `i64` (where integer arithmetic wraps on
/// overflow, as PyTorch's does, rather than panicking in debug builds). The branch is on a
/// constant, so it disappears when inlined.
#[inline(always)]
fn int_or<E: crate::Element>(a: E, b: E, float: fn(E, E) -> E, int: fn(i64, i64) -> i64) -> E {
    if E::DTYPE == crate::DType::I64 {
        bytemuck::cast(int(bytemuck::cast(a), bytemuck::cast(b)))
    } else {
        float(a, b)
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

/// The geometry of a 2-D sliding window (convolution or pooling) over `[N, C, H, W]` input.
/// 1-D windows use `H = 1`, `kernel.0 = 1`, `stride.0 = 1`, `padding.0 = 0`, `dilation.0 = 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Window2d {
    /// Kernel height and width.
    pub kernel: (usize, usize),
    /// Step between windows.
    pub stride: (usize, usize),
    /// Zero padding added on both sides.
    pub padding: (usize, usize),
    /// Spacing between kernel taps.
    pub dilation: (usize, usize),
}

impl Window2d {
    /// A window with stride 1, no padding, no dilation.
    pub fn new(kernel: (usize, usize)) -> Self {
        Window2d {
            kernel,
            stride: (1, 1),
            padding: (0, 0),
            dilation: (1, 1),
        }
    }

    /// Output height and width for an input of `(h, w)`, or `None` if the window does not fit
    /// or a stride/dilation is zero.
    pub fn output_size(&self, h: usize, w: usize) -> Option<(usize, usize)> {
        let out = |len: usize, k: usize, s: usize, p: usize, d: usize| -> Option<usize> {
            if s == 0 || d == 0 || k == 0 {
                return None;
            }
            // Checked: a window from user input must not wrap around into one that "fits".
            let span = d.checked_mul(k - 1)?.checked_add(1)?;
            let padded = p.checked_mul(2)?.checked_add(len)?;
            (padded >= span).then(|| (padded - span) / s + 1)
        };
        Some((
            out(
                h,
                self.kernel.0,
                self.stride.0,
                self.padding.0,
                self.dilation.0,
            )?,
            out(
                w,
                self.kernel.1,
                self.stride.1,
                self.padding.1,
                self.dilation.1,
            )?,
        ))
    }
}
