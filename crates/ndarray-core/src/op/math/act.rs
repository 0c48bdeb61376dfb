//! tanh and the activations built on `e^x`: sigmoid, SiLU, softplus and GELU's tanh form, in f32
//! and f64. Each is written once (the macro below instantiates it per float type) from
//! [`exp`](super::exp) and [`log`](super::log)'s pieces, in forms that stay accurate in the
//! tails: `e^−|x|` never overflows, and `1 + tanh u` is evaluated as `2·sigmoid(2u)` rather than
//! by a cancelling sum.

use super::exp::{
    exp_f32, exp_f64, expm1_pos_f32, expm1_pos_f64, mul_exp_f32, mul_exp_f64, EXP_LO_32, EXP_LO_64,
};
use super::log::{log1p_unit_f32, log1p_unit_f64};

macro_rules! activations {
    ($t:ident, $exp:ident, $mul_exp:ident, $lo:ident, $expm1:ident, $log1p:ident, $tanh_max:literal,
     $tanh:ident, $sigmoid:ident, $silu:ident, $softplus:ident) => {
        /// `tanh x = sign(x)·e/(e + 2)` with `e = e^{2|x|} − 1`, which keeps its relative
        /// accuracy for small |x| (for subnormal x it gives x exactly). |x| is clamped where
        /// the quotient already rounds to 1; NaN stays NaN, the sign of zero is kept.
        #[inline(always)]
        pub fn $tanh(x: $t) -> $t {
            let a = x.abs();
            let a = if a > $tanh_max { $tanh_max } else { a };
            let e = $expm1(a + a);
            (e / (e + 2.0)).copysign(x)
        }

        /// `1/(1 + e^−x)`, through `e = e^−|x|` (never overflows): `1/(1 + e)` for x ≥ 0,
        /// `e/(1 + e)` below, so the small results of negative x keep their relative accuracy.
        #[inline(always)]
        pub fn $sigmoid(x: $t) -> $t {
            let e = $exp(-x.abs());
            let num = if x < 0.0 { e } else { 1.0 };
            num / (1.0 + e)
        }

        /// `x·sigmoid(x)`, one division: `x/(1 + e)` or `x·e/(1 + e)` with `e = e^−|x|`,
        /// the product `x·e` formed before `e` is scaled into the subnormals.
        #[inline(always)]
        pub fn $silu(x: $t) -> $t {
            let (e, xe) = $mul_exp(x, -x.abs());
            // Below the clamp of `$mul_exp` the true product is 0 (NaN at -inf, as PyTorch's).
            let xe = if x < $lo { x * 0.0 } else { xe };
            let num = if x < 0.0 { xe } else { x };
            num / (1.0 + e)
        }

        /// `ln(1 + e^x)` as `max(x, 0) + ln(1 + e^−|x|)`, and x itself above PyTorch's
        /// threshold 20.
        #[inline(always)]
        pub fn $softplus(x: $t) -> $t {
            let pos = if x > 0.0 { x } else { 0.0 };
            let v = pos + $log1p($exp(-x.abs()));
            if x > 20.0 {
                x
            } else {
                v
            }
        }
    };
}

activations!(
    f32,
    exp_f32,
    mul_exp_f32,
    EXP_LO_32,
    expm1_pos_f32,
    log1p_unit_f32,
    10.0,
    tanh_f32,
    sigmoid_f32,
    silu_f32,
    softplus_f32
);
activations!(
    f64,
    exp_f64,
    mul_exp_f64,
    EXP_LO_64,
    expm1_pos_f64,
    log1p_unit_f64,
    22.0,
    tanh_f64,
    sigmoid_f64,
    silu_f64,
    softplus_f64
);

/// `√(2/π)` and `0.044715·√(2/π)`: GELU's tanh form is `x·sigmoid(2u)` with
/// `u = x·(K + K3·x²)`.
const K: f64 = 0.797_884_560_802_865_4;
const K3: f64 = K * 0.044715;

/// PyTorch's `gelu(approximate='tanh')`, `x/2·(1 + tanh u)` with `u = √(2/π)·(x + 0.044715x³)`,
/// computed as `x·sigmoid(2u)` (the same function): for negative x the sum `1 + tanh u` would
/// cancel to nothing. `2u` is formed in f64 and carried as an f32 pair: the result is
/// ~`x·e^{−2|u|}` there, whose relative error is `2|u|` times that of `u`, so an f32 `u` would
/// cost ~`2|u|` ulp.
#[inline(always)]
pub fn gelu_tanh_f32(x: f32) -> f32 {
    let xd = x as f64;
    let a = -(2.0 * xd * (xd * xd).mul_add(K3, K)).abs();
    // Kept finite (an f32 pair of -inf would give NaN); below EXP_LO_32 the product is 0.
    let a = if a < EXP_LO_32 as f64 {
        EXP_LO_32 as f64 - 1.0
    } else {
        a
    };
    let ah = a as f32;
    let al = (a - ah as f64) as f32;
    let (e, xe) = mul_exp_f32(x, ah);
    // e^{ah + al} = e^{ah}·(1 + al) to f32 precision (|al| ≤ 2^-17 here).
    let (e, xe) = (e.mul_add(al, e), xe.mul_add(al, xe));
    let xe = if ah < EXP_LO_32 { x * 0.0 } else { xe };
    let num = if x < 0.0 { xe } else { x };
    num / (1.0 + e)
}

/// [`gelu_tanh_f32`] in f64, `2u` in plain f64 (so in the far negative tail, where the result
/// is ~`x·e^{−2|u|}`, the error grows like `2|u|` ulp, as it does in the formula itself).
#[inline(always)]
pub fn gelu_tanh_f64(x: f64) -> f64 {
    let u2 = 2.0 * x * (x * x).mul_add(K3, K);
    let (e, xe) = mul_exp_f64(x, -u2.abs());
    let xe = if -u2.abs() < EXP_LO_64 { x * 0.0 } else { xe };
    let num = if u2 < 0.0 { xe } else { x };
    num / (1.0 + e)
}
