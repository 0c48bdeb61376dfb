//! `erf` for f32 without a libm call, so the loops of `erf`, exact GELU and its derivative
//! vectorise. libm's
//! `erf` is a scalar call per element (with branches per range); in a GPT training step it was
//! ~7% of the time. f64 keeps libm's (its accuracy is what the f64 reference and the gradient
//! checks are held to).

use crate::parallel::par_chunks;
use crate::storage::CpuStorage;
use nanotorch_ndarray_core::op::math::exp_f32;
use nanotorch_ndarray_core::{DType, Element, Layout};
use std::mem::MaybeUninit;

/// `erf` ([`ERF`]), exact GELU ([`GELU`]) or GELU's derivative ([`GELU_GRAD`]) of a contiguous
/// f32 array, `None` for
/// other dtypes and strided views (the caller's generic map handles those). Its own loops
/// rather than the generic map's closure: LLVM did not inline this much code through the
/// closure call, and the loop stayed scalar (measured: 9% of a GPT step instead of ~1%).
pub(crate) fn erf_map<E: Element, const KIND: u8>(
    x: &[E],
    layout: &Layout,
    cost: usize,
) -> Option<CpuStorage<E>> {
    if E::DTYPE != DType::F32 {
        return None;
    }
    let range = layout.contiguous_range()?;
    let src: &[f32] = bytemuck::try_cast_slice(&x[range]).ok()?;
    Some(CpuStorage::build(src.len(), |out| {
        par_chunks(out, 1, src.len() * cost, |start, chunk| {
            let src = &src[start..start + chunk.len()];
            // SAFETY: E is f32 (checked above), so the two element types are the same type.
            let chunk: &mut [MaybeUninit<f32>] =
                unsafe { std::slice::from_raw_parts_mut(chunk.as_mut_ptr().cast(), chunk.len()) };
            #[cfg(target_arch = "x86_64")]
            {
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F (checked just above).
                    return unsafe { erf_slice_avx512::<KIND>(src, chunk) };
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2 (checked just above).
                    return unsafe { erf_slice_avx2::<KIND>(src, chunk) };
                }
            }
            erf_slice::<KIND>(src, chunk);
        })
    }))
}

/// [`erf_map`]'s function: `erf x`.
pub(crate) const ERF: u8 = 0;
/// [`erf_map`]'s function: `x·Φ(x)`.
pub(crate) const GELU: u8 = 1;
/// [`erf_map`]'s function: `Φ(x) + x·φ(x)`.
pub(crate) const GELU_GRAD: u8 = 2;

/// The loop of [`erf_map`].
#[inline(always)]
fn erf_slice<const KIND: u8>(src: &[f32], out: &mut [MaybeUninit<f32>]) {
    for (o, &a) in out.iter_mut().zip(src) {
        o.write(match KIND {
            GELU => gelu_erf_f32(a),
            GELU_GRAD => gelu_erf_grad_f32(a),
            _ => erf_f32(a),
        });
    }
}

/// [`erf_slice`] for AVX-512F (16 lanes). Safety: only on a CPU with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn erf_slice_avx512<const KIND: u8>(src: &[f32], out: &mut [MaybeUninit<f32>]) {
    erf_slice::<KIND>(src, out)
}

/// [`erf_slice`] for AVX2 (8 lanes). Safety: only on a CPU with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn erf_slice_avx2<const KIND: u8>(src: &[f32], out: &mut [MaybeUninit<f32>]) {
    erf_slice::<KIND>(src, out)
}

/// The Maclaurin series of erf, `2/√π · Σ (−1)ⁿ x^(2n+1) / (n!(2n+1))`, up to n = 6: at
/// |x| = 0.5 the first left-out term is below 1e-9, far under f32's precision.
const TAYLOR: [f32; 7] = [
    std::f32::consts::FRAC_2_SQRT_PI,
    -0.376_126_39,
    0.112_837_92,
    -0.026_866_17,
    0.005_223_977_6,
    -0.000_854_832_7,
    0.000_120_553_33,
];

/// `erf x` in f32, within 3e-7 of the exact value (absolute; relative below |x| = 0.5, where
/// erf is small): the series above for |x| < 0.5, Abramowitz & Stegun 7.1.26 (the formula of
/// PyTorch's vectorised CPU `erf`) with the vectorisable `exp_f32` above it. Both branches are
/// computed and one is selected, so the loop has no jumps. erf(±∞) = ±1, NaN stays NaN, the
/// sign of zero is kept.
#[inline(always)]
pub(crate) fn erf_f32(x: f32) -> f32 {
    let a = x.abs();
    let z = a * a;
    let mut poly = TAYLOR[6];
    for &c in TAYLOR[..6].iter().rev() {
        poly = poly * z + c;
    }
    let small = a * poly;
    let t = 1.0 / (0.327_591_1 * a + 1.0);
    let r = ((((1.061_405_4 * t - 1.453_152) * t + 1.421_413_8) * t - 0.284_496_72) * t
        + 0.254_829_6)
        * t;
    let large = 1.0 - r * exp_f32(-z);
    let v = if a < 0.5 { small } else { large };
    v.copysign(x)
}

/// Exact GELU, `x·Φ(x) = x/2·(1 + erf(x/√2))`, in f32 with [`erf_f32`].
#[inline(always)]
pub(crate) fn gelu_erf_f32(x: f32) -> f32 {
    0.5 * x * (1.0 + erf_f32(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// GELU's derivative `Φ(x) + x·φ(x)` in f32 with [`erf_f32`] and `exp_f32`.
#[inline(always)]
pub(crate) fn gelu_erf_grad_f32(x: f32) -> f32 {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    0.5 * (1.0 + erf_f32(x * std::f32::consts::FRAC_1_SQRT_2))
        + x * INV_SQRT_2PI * exp_f32(-0.5 * x * x)
}

#[cfg(test)]
mod tests {
    use super::{erf_f32, gelu_erf_f32, gelu_erf_grad_f32};

    #[test]
    fn erf_f32_is_within_3e_7_of_libm() {
        let mut worst = 0.0f64;
        for i in -700_000..=700_000 {
            let x = i as f32 * 1e-5;
            let want = libm::erf(x as f64);
            let got = erf_f32(x) as f64;
            let err = (got - want).abs();
            // Below 0.5 the series is relatively accurate too.
            let bound = if x.abs() < 0.5 {
                2e-7 * want.abs()
            } else {
                3e-7
            };
            assert!(err <= bound, "erf({x}) = {got}, want {want}");
            worst = worst.max(err);
        }
        assert!(worst > 0.0);
    }

    #[test]
    fn erf_f32_special_values() {
        assert_eq!(erf_f32(f32::INFINITY), 1.0);
        assert_eq!(erf_f32(f32::NEG_INFINITY), -1.0);
        assert_eq!(erf_f32(100.0), 1.0);
        assert!(erf_f32(f32::NAN).is_nan());
        assert_eq!(erf_f32(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(erf_f32(0.0).to_bits(), 0.0f32.to_bits());
        assert!((erf_f32(1e-30) as f64 - libm::erf(1e-30)).abs() < 1e-36);
    }

    #[test]
    fn gelu_erf_f32_matches_the_f64_definition() {
        for i in -2000..=2000 {
            let x = i as f32 * 5e-3;
            let xd = x as f64;
            let want = 0.5 * xd * (1.0 + libm::erf(xd * std::f64::consts::FRAC_1_SQRT_2));
            let got = gelu_erf_f32(x) as f64;
            assert!(
                (got - want).abs() <= 2e-6 * want.abs().max(1.0),
                "gelu({x})"
            );
        }
    }

    #[test]
    fn gelu_erf_grad_f32_matches_the_f64_definition() {
        for i in -2000..=2000 {
            let x = i as f32 * 5e-3;
            let xd = x as f64;
            let want = 0.5 * (1.0 + libm::erf(xd * std::f64::consts::FRAC_1_SQRT_2))
                + xd * (-0.5 * xd * xd).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let got = gelu_erf_grad_f32(x) as f64;
            assert!(
                (got - want).abs() <= 2e-6,
                "gelu'({x}) = {got}, want {want}"
            );
        }
        // PyTorch's GELU backward gives 1 and 0 far out, and NaN at ±∞ (∞·0).
        assert_eq!(gelu_erf_grad_f32(50.0), 1.0);
        assert_eq!(gelu_erf_grad_f32(-50.0), 0.0);
        assert!(gelu_erf_grad_f32(f32::INFINITY).is_nan());
        assert!(gelu_erf_grad_f32(f32::NAN).is_nan());
    }
}
