//! The unary op table: every element-wise function of one float argument, declared once.
//!
//! Adding an op here gives it an enum variant, a name, an `NDArray` method, an f64 reference,
//! a CPU kernel and a CUDA kernel (after `cargo xtask ptx`). Its gradient is written beside the
//! other rules in `autograd/src/ops/unary.rs` (the compiler points there: `Tensor::unary` must
//! match every op). Chapter 2, "Adding an op", walks through it.

use super::math::{
    fast_erf, fast_erf_group, fast_exp, fast_gelu_erf, fast_gelu_erf_grad,
    fast_gelu_erf_grad_group, fast_gelu_erf_group, fast_gelu_tanh, fast_log, fast_sigmoid,
    fast_silu, fast_softplus, fast_tanh, selu, GROUP,
};
use super::table::unary_ops;
use super::Domain;
use crate::{Backend, Float, NDArray, Result};

/// The kernel of one unary op: a zero-sized type, so a backend's loop over it is compiled (and
/// vectorised) for that op alone.
pub trait UnaryKernel {
    /// The op this kernel computes.
    const OP: UnaryOp;
    /// The op on one element.
    fn apply<E: Float>(x: E) -> E;

    /// Whether a loop should call [`UnaryKernel::apply_group`] on groups of `E` rather than
    /// `apply` on each element: true where the op has a group kernel in that dtype, one that
    /// skips work a whole group does not need (f64 `erf` and exact GELU leave out their far
    /// interval where no element of the group lies in it).
    #[inline(always)]
    fn groups<E: Float>() -> bool {
        false
    }

    /// The op on [`GROUP`] elements at once, in place: the same bits as `apply` on each.
    #[inline(always)]
    fn apply_group<E: Float>(x: &mut [E; GROUP]) {
        for x in x.iter_mut() {
            *x = Self::apply(*x);
        }
    }
}

/// What a backend passes to [`UnaryOp::dispatch`]: called back with the op's kernel type.
pub trait UnaryVisitor {
    /// What the visit returns (a backend's result storage, say).
    type Output;
    /// Runs with the kernel of the dispatched op.
    fn visit<K: UnaryKernel>(self) -> Self::Output;
}

unary_ops! {
    /// -x
    Neg("neg", neg, cost 1, Real) cuda "-x" |x| -x;
    /// e^x
    Exp("exp", exp, cost 16, Real) |x| x.exp(), fast |x| fast_exp(x);
    /// ln x
    Log("log", log, cost 16, Positive) |x| x.ln(), fast |x| fast_log(x);
    /// ln(1 + x)
    Log1p("log1p", log1p, cost 16, Positive) |x| x.ln_1p();
    /// e^x - 1
    Expm1("expm1", expm1, cost 16, Real) |x| x.exp_m1();
    /// √x
    Sqrt("sqrt", sqrt, cost 1, Positive) |x| x.sqrt();
    /// 1/√x
    Rsqrt("rsqrt", rsqrt, cost 1, Positive) cuda "T(1) / F::sqrt(x)" |x| E::ONE / x.sqrt();
    /// 1/x
    Recip("recip", recip, cost 1, Real) cuda "T(1) / x" |x| E::ONE / x;
    /// x²
    Square("square", square, cost 1, Real) cuda "x * x" |x| x * x;
    /// |x|
    Abs("abs", abs, cost 1, Real) cuda "F::fabs(x)" |x| x.abs();
    /// -1, 0 or 1 (0 for NaN as well as 0)
    Sign("sign", sign, cost 1, Real) cuda "x > T(0) ? T(1) : (x < T(0) ? T(-1) : T(0))"
        |x| if x > E::ZERO { E::ONE } else if x < E::ZERO { -E::ONE } else { E::ZERO };
    /// sin x
    Sin("sin", sin, cost 16, Real) |x| x.sin();
    /// cos x
    Cos("cos", cos, cost 16, Real) |x| x.cos();
    /// tanh x
    Tanh("tanh", tanh, cost 16, Real) |x| x.tanh(), fast |x| fast_tanh(x);
    /// 1/(1 + e^-x)
    Sigmoid("sigmoid", sigmoid, cost 16, Real) cuda "T(1) / (T(1) + F::exp(-x))"
        |x| E::ONE / (E::ONE + (-x).exp()), fast |x| fast_sigmoid(x);
    /// max(x, 0)
    Relu("relu", relu, cost 1, Real) cuda "F::fmax(x, T(0))"
        |x| if x > E::ZERO { x } else { E::ZERO };
    /// x·Φ(x) with the exact normal CDF (`gelu(approximate='none')`)
    GeluErf("gelu_erf", gelu, cost 16, Real)
        cuda "T(0.5) * x * (T(1) + F::erf(x * T(0.70710678118654752440)))"
        |x| E::from_f64(0.5) * x * (E::ONE + (x * E::from_f64(std::f64::consts::FRAC_1_SQRT_2)).erf()),
        fast |x| fast_gelu_erf(x), group |x| fast_gelu_erf_group(x);
    /// `Φ(x) + x·φ(x)`, the derivative of exact GELU: its backward pass as one kernel
    GeluErfGrad("gelu_erf_grad", gelu_erf_grad, cost 16, Real)
        cuda "T(0.5) * (T(1) + F::erf(x * T(0.70710678118654752440))) + x * T(0.39894228040143267794) * F::exp(T(-0.5) * x * x)"
        |x| E::from_f64(0.5) * (E::ONE + (x * E::from_f64(std::f64::consts::FRAC_1_SQRT_2)).erf())
            + x * E::from_f64(0.398_942_280_401_432_7) * (E::from_f64(-0.5) * x * x).exp(),
        fast |x| fast_gelu_erf_grad(x), group |x| fast_gelu_erf_grad_group(x);
    /// PyTorch's `gelu(approximate='tanh')`
    GeluTanh("gelu_tanh", gelu_tanh, cost 16, Real)
        cuda "T(0.5) * x * (T(1) + F::tanh(T(0.79788456080286535588) * (x + T(0.044715) * x * x * x)))"
        |x| E::from_f64(0.5) * x * (E::ONE + (E::from_f64(0.797_884_560_802_865_4)
            * (x + E::from_f64(0.044715) * x * x * x)).tanh()),
        fast |x| fast_gelu_tanh(x);
    /// x·sigmoid(x)
    Silu("silu", silu, cost 16, Real) cuda "x / (T(1) + F::exp(-x))"
        |x| x / (E::ONE + (-x).exp()), fast |x| fast_silu(x);
    /// ln(1 + e^x), computed stably (PyTorch's threshold 20: x itself above it)
    Softplus("softplus", softplus, cost 16, Real) cuda "x > T(20) ? x : F::log1p(F::exp(x))"
        |x| if x > E::from_f64(20.0) { x } else { x.exp().ln_1p() }, fast |x| fast_softplus(x);
    /// erf x
    Erf("erf", erf, cost 16, Real) |x| x.erf(), fast |x| fast_erf(x),
        group |x| fast_erf_group(x);
    /// ⌊x⌋
    Floor("floor", floor, cost 1, Real) |x| x.floor();
    /// ⌈x⌉
    Ceil("ceil", ceil, cost 1, Real) |x| x.ceil();
    /// Round half to even
    Round("round", round, cost 1, Real) cuda "F::rint(x)" |x| x.round_half_even();
    /// `scale·(max(0, x) + min(0, α(eˣ − 1)))` with PyTorch's α ≈ 1.6733 and scale ≈ 1.0507
    Selu("selu", selu, cost 16, Real)
        cuda "x > T(0) ? T(1.0507009873554804934) * x : T(1.7580993408473768599) * F::expm1(x)"
        |x| selu(x);
    /// `max(0, x) + min(0, eˣ − 1)`: CELU (and ELU) with α = 1; `Tensor::celu(α)` scales it
    Celu("celu", celu, cost 16, Real) cuda "x > T(0) ? x : F::expm1(x)"
        |x| if x > E::ZERO { x } else { x.exp_m1() };
    /// `ln(sigmoid(x))`, computed stably as `min(x, 0) − ln(1 + e^−|x|)`
    LogSigmoid("logsigmoid", logsigmoid, cost 16, Real)
        cuda "(x < T(0) ? x : T(0)) - F::log1p(F::exp(-F::fabs(x)))"
        |x| (if x < E::ZERO { x } else { E::ZERO }) - (-x.abs()).exp().ln_1p();
    /// `relu6(x + 3) / 6`: 0 below -3, 1 above 3
    Hardsigmoid("hardsigmoid", hardsigmoid, cost 1, Real)
        cuda "x <= T(-3) ? T(0) : (x >= T(3) ? T(1) : (x + T(3)) / T(6))"
        |x| {
            // The middle piece for every x, then the choice: with the division inside a
            // branch, LLVM's cost model kept the f64 loop scalar on AVX2.
            let middle = (x + E::from_f64(3.0)) / E::from_f64(6.0);
            if x <= E::from_f64(-3.0) {
                E::ZERO
            } else if x >= E::from_f64(3.0) {
                E::ONE
            } else {
                middle
            }
        };
    /// `x·relu6(x + 3) / 6`: 0 below -3, x above 3
    Hardswish("hardswish", hardswish, cost 1, Real)
        cuda "x <= T(-3) ? T(0) : (x >= T(3) ? x : x * (x + T(3)) / T(6))"
        |x| {
            // As Hardsigmoid: the middle piece first.
            let middle = x * (x + E::from_f64(3.0)) / E::from_f64(6.0);
            if x <= E::from_f64(-3.0) {
                E::ZERO
            } else if x >= E::from_f64(3.0) {
                x
            } else {
                middle
            }
        };
    /// `x·tanh(ln(1 + eˣ))`
    Mish("mish", mish, cost 16, Real) cuda "x * F::tanh(F::log1p(F::exp(x)))"
        |x| x * x.exp().ln_1p().tanh();
}
