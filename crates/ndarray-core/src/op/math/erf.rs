//! `erf` in f32 and the exact GELU built on it (`x·Φ(x)` and its derivative), without a libm
//! call, so their loops vectorise (f64: `erf64.rs`).

use super::exp::{exp_f32, horner32};

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

/// Exact GELU, `x·Φ(x) = x/2·(1 + erf(x/√2))`, in f32 with [`erf_f32`].
#[inline(always)]
pub fn gelu_erf_f32(x: f32) -> f32 {
    0.5 * x * (1.0 + erf_f32(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// GELU's derivative `Φ(x) + x·φ(x)` in f32 with [`erf_f32`] and [`exp_f32`].
#[inline(always)]
pub fn gelu_erf_grad_f32(x: f32) -> f32 {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let phi = 0.5 * (1.0 + erf_f32(x * std::f32::consts::FRAC_1_SQRT_2));
    (x * INV_SQRT_2PI).mul_add(exp_f32(-0.5 * x * x), phi)
}
