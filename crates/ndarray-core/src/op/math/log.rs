//! `ln x` (and `ln(1 + x)` on [0, 1], for softplus) in f32 and f64 with FMA: `x = 2^k·m` with
//! `m` in [√½, √2) and `f = m − 1`, then `ln x = k·ln2 + ln(1 + f)`. The split into `m` and `k`
//! is done on the bits (no `frexp` call, no branch), so loops vectorise.
//!
//! f64 keeps fdlibm's scheme, `s = f/(2 + f)` and `ln(1 + f) = f − f²/2 + s·(f²/2 + R(s²))`
//! with `R` a polynomial in `s²` (|s| ≤ 0.172): 53 bits from a degree-7 polynomial. f32 takes
//! Cephes `logf`'s `f − f²/2 + f³·P(f)`, a degree-8 `P` in `f` itself: two more FMAs than the
//! division-based form needs, and no division (the slowest instruction of the loop).

use super::exp::{horner32, horner64, LN2_HI_32, LN2_HI_64, LN2_LO_32, LN2_LO_64};

/// `R(z)/z` for f64: fdlibm's minimax coefficients Lg7 … Lg1 (error below 2^-58.45).
const LG64: [f64; 7] = [
    1.479_819_860_511_658_6e-1,
    1.531_383_769_920_937_3e-1,
    1.818_357_216_161_805e-1,
    2.222_219_843_214_978_4e-1,
    2.857_142_874_366_239e-1,
    3.999_999_999_940_942e-1,
    6.666_666_666_666_735e-1,
];

/// The bits of √½ in f32: adding `1 − √½`'s distance in the exponent field makes the exponent
/// step up exactly where `m` would pass √2.
const SQRT_HALF_32: u32 = 0x3f35_04f3;
/// The bits of √½ in f64.
const SQRT_HALF_64: u64 = 0x3fe6_a09e_667f_3bcd;

/// `ln x` in f32 (max error in chapter 2's table): -inf at ±0, NaN below 0 and for NaN, +inf
/// at +inf, subnormals handled by a prescale of 2^25.
#[inline(always)]
pub fn log_f32(x: f32) -> f32 {
    // One multiply by a chosen factor (and one chosen bias for k), so that the bit work below
    // runs once: written as "scale if tiny", LLVM computed it for both and blended.
    let (scale, k_bias) = if x < f32::MIN_POSITIVE {
        (33_554_432.0, 8_388_608.0 + 127.0 + 25.0)
    } else {
        (1.0, 8_388_608.0 + 127.0)
    };
    let ix = (x * scale)
        .to_bits()
        .wrapping_add(0x3f80_0000 - SQRT_HALF_32);
    // k as a float without an int→float conversion: the 9 top bits below a 2^23 exponent.
    let k = f32::from_bits(0x4b00_0000 | (ix >> 23)) - k_bias;
    let m = f32::from_bits((ix & 0x007f_ffff) + SQRT_HALF_32);
    let v = log1p_core32(m - 1.0, k);
    // Outside (0, inf): -inf at ±0, x itself at +inf, NaN below 0 and for NaN.
    let special = if x == 0.0 {
        f32::NEG_INFINITY
    } else if x > 0.0 {
        x
    } else {
        f32::NAN
    };
    // `0 < x < inf` on the bits (positive subnormals and normals are 1 ..= 0x7f7f_ffff), one
    // unsigned comparison where LLVM made the two float ones six operations.
    if x.to_bits().wrapping_sub(1) < 0x7f7f_ffff {
        v
    } else {
        special
    }
}

/// `k·ln2 + ln(1 + f)` for `f` in [√½ − 1, √2 − 1]: `f − f²/2 + f³·P(f)` with no division.
#[inline(always)]
fn log1p_core32(f: f32, k: f32) -> f32 {
    let z = f * f;
    let y = horner32(f, &CEPHES32) * f * z;
    let y = k.mul_add(LN2_LO_32, y);
    let y = (-0.5f32).mul_add(z, y);
    k.mul_add(LN2_HI_32, f + y)
}

/// Cephes `logf`'s P (highest first).
const CEPHES32: [f32; 9] = [
    7.037_683_6e-2,
    -1.151_461e-1,
    1.167_699_9e-1,
    -1.242_014_1e-1,
    1.424_932_3e-1,
    -1.666_805_8e-1,
    2.000_071_5e-1,
    -2.499_999_4e-1,
    3.333_333e-1,
];

/// `ln x` in f64: [`log_f32`]'s split into `k` and `m` (prescale 2^54 for subnormals) and its
/// handling of the special values.
#[inline(always)]
pub fn log_f64(x: f64) -> f64 {
    let (scale, k_bias) = if x < f64::MIN_POSITIVE {
        (
            18_014_398_509_481_984.0,
            4_503_599_627_370_496.0 + 1023.0 + 54.0,
        )
    } else {
        (1.0, 4_503_599_627_370_496.0 + 1023.0)
    };
    let ix = (x * scale)
        .to_bits()
        .wrapping_add(0x3ff0_0000_0000_0000 - SQRT_HALF_64);
    let k = f64::from_bits(0x4330_0000_0000_0000 | (ix >> 52)) - k_bias;
    let m = f64::from_bits((ix & 0x000f_ffff_ffff_ffff) + SQRT_HALF_64);
    let v = log1p_core64(m - 1.0, k);
    let special = if x == 0.0 {
        f64::NEG_INFINITY
    } else if x > 0.0 {
        x
    } else {
        f64::NAN
    };
    if x.to_bits().wrapping_sub(1) < 0x7fef_ffff_ffff_ffff {
        v
    } else {
        special
    }
}

/// `k·ln2 + ln(1 + f)` for `f` in [√½ − 1, √2 − 1] (fdlibm's final sum, with FMA).
#[inline(always)]
fn log1p_core64(f: f64, k: f64) -> f64 {
    let s = f / (2.0 + f);
    let z = s * s;
    let r = z * horner64(z, &LG64);
    let hfsq = 0.5 * f * f;
    let lo = (hfsq + r).mul_add(s, k * LN2_LO_64);
    k.mul_add(LN2_HI_64, (lo - hfsq) + f)
}

/// `ln(1 + e)` for `e` in [0, 1] (softplus's tail): `u = 1 + e` rounds, and `c = e − (u − 1)`
/// (exact) is what the rounding lost; `ln u + c/u` puts it back to first order.
#[inline(always)]
pub(super) fn log1p_unit_f32(e: f32) -> f32 {
    let u = 1.0 + e;
    let c = e - (u - 1.0);
    log_f32(u) + c / u
}

/// [`log1p_unit_f32`] for f64.
#[inline(always)]
pub(super) fn log1p_unit_f64(e: f64) -> f64 {
    let u = 1.0 + e;
    let c = e - (u - 1.0);
    log_f64(u) + c / u
}
