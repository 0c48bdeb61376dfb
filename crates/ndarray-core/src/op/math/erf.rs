//! `erf` in f32 and the exact GELU built on it (`x·Φ(x)` and its derivative), without a libm
//! call, so their loops vectorise (f64: `erf64.rs`).

use super::exp::{exp_f32, exp_or_zero_f32, horner32};

/// The Maclaurin series of erf, `2/√π · Σ (−1)ⁿ x^(2n+1) / (n!(2n+1))`, n = 6 down to 0: at
/// |x| = 0.5 the first left-out term is below 1e-9, far under f32's precision.
const TAYLOR: [f32; 7] = [
    0.000_120_553_33,
    -0.000_854_832_7,
    0.005_223_977_6,
    -0.026_866_17,
    0.112_837_92,
    -0.376_126_39,
    std::f32::consts::FRAC_2_SQRT_PI,
];

/// Abramowitz & Stegun 7.1.26: `1 − erf a ≈ t·P(t)·e^{−a²}`, `t = 1/(1 + 0.3275911a)`
/// (highest coefficient first; the formula of PyTorch's vectorised CPU `erf`).
const AS: [f32; 5] = [
    1.061_405_4,
    -1.453_152,
    1.421_413_8,
    -0.284_496_72,
    0.254_829_6,
];

/// `erf x` in f32, within 3e-7 of the exact value (absolute; relative below |x| = 0.5, where
/// erf is small): the series above for |x| < 0.5, A&S 7.1.26 above it. Both branches are
/// computed and one is selected, so the loop has no jumps. erf(±∞) = ±1, NaN stays NaN, the
/// sign of zero is kept.
#[inline(always)]
pub fn erf_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = a * a;
    let small = a * horner32(z, &TAYLOR);
    let t = 1.0 / 0.327_591_1f32.mul_add(a, 1.0);
    let r = horner32(t, &AS) * t;
    let large = (-r).mul_add(exp_f32(-z), 1.0);
    let v = if a < 0.5 { small } else { large };
    v.copysign(x)
}

/// `(Φ(x), e^{−x²/2})` in f32: the normal CDF from A&S 7.1.26's `erfc a = t·P(t)·e^{−a²}` at
/// `a = |x|/√2` (`Φ = erfc/2` below 0, `1 − erfc/2` above), and the Gaussian factor it is built
/// on, which GELU's derivative needs too. GELU needs Φ to an absolute 1e-7, which this gives on
/// the whole line, so there is no series branch (erf's relative accuracy near 0 is [`erf_f32`]'s
/// concern): GELU's loop is bound by the FMA and multiply pipes, and the branch cost 7 of ~32.
#[inline(always)]
fn normal_cdf_f32(x: f32) -> (f32, f32) {
    let a = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / 0.327_591_1f32.mul_add(a, 1.0);
    let gauss = exp_or_zero_f32(-(a * a));
    let half_erfc = horner32(t, &AS) * (0.5 * t) * gauss;
    let cdf = if x < 0.0 { half_erfc } else { 1.0 - half_erfc };
    (cdf, gauss)
}

/// Exact GELU, `x·Φ(x)`, in f32 (within 2e-6 of the f64 definition on [−10, 10]).
#[inline(always)]
pub fn gelu_erf_f32(x: f32) -> f32 {
    x * normal_cdf_f32(x).0
}

/// GELU's derivative `Φ(x) + x·φ(x)` in f32, `φ(x) = e^{−x²/2}/√(2π)` from the same exponential.
#[inline(always)]
pub fn gelu_erf_grad_f32(x: f32) -> f32 {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let (cdf, gauss) = normal_cdf_f32(x);
    (x * INV_SQRT_2PI).mul_add(gauss, cdf)
}
