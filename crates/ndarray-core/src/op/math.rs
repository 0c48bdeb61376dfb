//! Scalar math the op table's kernels share: an `exp` and a `tanh` that vectorise, and SELU's
//! constants.

use crate::{DType, Float};

/// SELU's `scale` (PyTorch's `torch.nn.SELU`).
pub const SELU_SCALE: f64 = 1.050_700_987_355_480_5;
/// SELU's `alpha`.
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;

/// `selu(x) = scale·x` for `x > 0`, `scale·α·(eˣ − 1)` otherwise.
#[inline(always)]
pub fn selu<E: Float>(x: E) -> E {
    if x > E::ZERO {
        E::from_f64(SELU_SCALE) * x
    } else {
        E::from_f64(SELU_SCALE * SELU_ALPHA) * x.exp_m1()
    }
}

/// `e^x`: [`exp_f32`] for f32 (so a loop over it vectorises), `Float::exp` otherwise.
#[inline(always)]
pub fn fast_exp<E: Float>(x: E) -> E {
    if E::DTYPE == DType::F32 {
        bytemuck::cast(exp_f32(bytemuck::cast(x)))
    } else {
        x.exp()
    }
}

/// `e^x` for f32 without a libm call, so a loop over it vectorises (Cephes `expf`: x = n·ln2 + r,
/// a degree-6 polynomial on r, then 2^n built in the exponent bits, split in two factors so that
/// results down to the subnormals and up to overflow come out right). Within 1-2 ulp of
/// `f32::exp`; overflows to inf above ~88.72, underflows to 0 below ~-103.9, NaN stays NaN.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    // NaN fails both comparisons and becomes -104 here (so the integer conversion below is
    // defined); it is restored at the end.
    let xc = if x >= -104.0 {
        if x <= 89.0 {
            x
        } else {
            89.0
        }
    } else {
        -104.0
    };
    // Round to nearest with the 1.5·2^23 trick (vectorises without SSE4.1's roundps).
    let t = xc * std::f32::consts::LOG2_E;
    let n = (t + 12_582_912.0) - 12_582_912.0;
    let r = xc - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let y = p * r * r + r + 1.0;
    // SAFETY: n is an integer in [-151, 129] (xc is finite and clamped), so it fits an i32.
    let ni: i32 = unsafe { n.to_int_unchecked() };
    let h = ni >> 1;
    let s1 = f32::from_bits(((h + 127) as u32) << 23);
    let s2 = f32::from_bits(((ni - h + 127) as u32) << 23);
    let v = y * s1 * s2;
    if x.is_nan() {
        x
    } else {
        v
    }
}

/// `tanh x`: [`tanh_f32`] for f32 (so a loop over it vectorises), `Float::tanh` otherwise.
#[inline(always)]
pub fn fast_tanh<E: Float>(x: E) -> E {
    if E::DTYPE == DType::F32 {
        bytemuck::cast(tanh_f32(bytemuck::cast(x)))
    } else {
        x.tanh()
    }
}

/// `tanh x` for f32 without a libm call (Cephes `tanhf`): an odd polynomial below |x| = 0.625,
/// where `1 − 2/(e^{2|x|} + 1)` would lose relative accuracy, and that formula on [`exp_f32`]
/// above it. Both branches are computed and one is selected, so the loop has no branch to stop
/// it vectorising. Within 2-3 ulp of `f32::tanh`; ±1 for large |x|, NaN stays NaN.
#[inline(always)]
pub fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = x * x;
    let small =
        ((((-5.704_988_7e-3 * z + 2.063_909e-2) * z - 5.373_971_6e-2) * z + 1.333_144_2e-1) * z
            - 3.333_328e-1)
            * z
            * x
            + x;
    // e^{2|x|} overflows to inf above |x| ≈ 44, where 2/(inf + 1) = 0 gives exactly 1.
    let large = (1.0 - 2.0 / (exp_f32(2.0 * a) + 1.0)).copysign(x);
    if a < 0.625 {
        // Odd: the sign of x, also for -0.0 (which the sum above turns into +0.0).
        small.copysign(x)
    } else {
        large
    }
}

#[cfg(test)]
mod tests {
    use super::{exp_f32, tanh_f32};

    #[test]
    fn exp_f32_matches_libm_everywhere() {
        let mut x = -120.0f32;
        while x < 100.0 {
            let (got, want) = (exp_f32(x), x.exp());
            let ok = if want == 0.0 || want.is_infinite() {
                got == want || (got - want).abs() < 1e-44
            } else if want < f32::MIN_POSITIVE {
                // Subnormal results: a few units of the smallest subnormal.
                (got - want).abs() <= 8.0 * f32::from_bits(1)
            } else {
                ((got - want) / want).abs() < 4.0 * f32::EPSILON
            };
            assert!(ok, "exp({x}) = {got}, libm {want}");
            x += 0.0137;
        }
        assert!(exp_f32(f32::NAN).is_nan());
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(0.0), 1.0);
        assert_eq!(exp_f32(88.72), 88.72f32.exp());
    }

    #[test]
    fn tanh_f32_matches_libm_everywhere() {
        let mut x = -30.0f32;
        while x < 30.0 {
            for v in [x, x * 1e-3, x * 1e-7] {
                let (got, want) = (tanh_f32(v), v.tanh());
                let ok = if want == 0.0 {
                    got == 0.0
                } else {
                    ((got - want) / want).abs() < 4.0 * f32::EPSILON
                };
                assert!(ok, "tanh({v}) = {got}, libm {want}");
            }
            x += 0.0071;
        }
        assert!(tanh_f32(f32::NAN).is_nan());
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    }
}
