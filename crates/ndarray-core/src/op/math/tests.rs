//! Accuracy sweeps: every function against an accurate reference over its whole input range,
//! special values included, with the bounds of chapter 2's table. f32 sweeps visit every 97th
//! bit pattern (all signs and exponents, subnormals, ±inf, NaNs); f64 sweeps step through the
//! bit patterns too (2^20 points, every exponent) and densely through the range that matters.
//! The f32 reference is libm's f64 function rounded to f32; the f64 reference is libm's f64
//! function, or for the composed activations the same formula in libm's `exp`/`ln_1p`/`tanh`
//! (whose own error, about 1 ulp, is then part of the figure).

use super::*;

/// The position of `x` on the number line in ulps (both zeros at 0), so that the distance of
/// two floats is the difference of their positions.
fn ord32(x: f32) -> i64 {
    let b = x.to_bits() as i64;
    if b & 0x8000_0000 != 0 {
        -(b & 0x7fff_ffff)
    } else {
        b
    }
}

fn ord64(x: f64) -> i128 {
    let b = x.to_bits() as i128;
    if b & (1 << 63) != 0 {
        -(b & 0x7fff_ffff_ffff_ffff)
    } else {
        b
    }
}

/// Ulps between `got` and `want`; NaN matches only NaN.
fn ulps32(got: f32, want: f32) -> u64 {
    match (got.is_nan(), want.is_nan()) {
        (true, true) => 0,
        (false, false) => (ord32(got) - ord32(want)).unsigned_abs(),
        _ => u64::MAX,
    }
}

fn ulps64(got: f64, want: f64) -> u64 {
    match (got.is_nan(), want.is_nan()) {
        (true, true) => 0,
        (false, false) => (ord64(got) - ord64(want))
            .unsigned_abs()
            .min(u64::MAX as u128) as u64,
        _ => u64::MAX,
    }
}

const SPECIALS32: [f32; 9] = [
    0.0,
    -0.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::NAN,
    f32::MIN_POSITIVE,
    -f32::MIN_POSITIVE,
    f32::MAX,
    f32::MIN,
];

/// The largest error of `f` over every 97th f32 bit pattern and the specials, and where.
fn sweep32(f: fn(f32) -> f32, reference: fn(f64) -> f64) -> (u64, f32) {
    let mut worst = (0, 0.0);
    let points = (0..=u32::MAX)
        .step_by(97)
        .map(f32::from_bits)
        .chain(SPECIALS32)
        .chain((1..64).map(f32::from_bits));
    for x in points {
        let want = reference(x as f64) as f32;
        let e = ulps32(f(x), want);
        if e > worst.0 {
            worst = (e, x);
        }
    }
    worst
}

/// The largest error of `f` over 2^20 f64 bit patterns (every exponent, both signs), 2·10^6
/// points evenly spread on `[lo, hi]`, and the specials.
fn sweep64(f: fn(f64) -> f64, reference: fn(f64) -> f64, lo: f64, hi: f64) -> (u64, f64) {
    sweep64_weighted(f, reference, lo, hi, |_| 1.0)
}

/// [`sweep64`] with the error at `x` divided by `weight(x)` (≥ 1): how a function whose
/// condition number grows (GELU's tail) is held to an error proportional to it.
fn sweep64_weighted(
    f: fn(f64) -> f64,
    reference: fn(f64) -> f64,
    lo: f64,
    hi: f64,
    weight: fn(f64) -> f64,
) -> (u64, f64) {
    let mut worst = (0, 0.0);
    let n = 2_000_000;
    let specials = [
        0.0,
        -0.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        f64::MIN_POSITIVE,
        f64::from_bits(1),
        f64::MAX,
        f64::MIN,
    ];
    let points = (0..=u64::MAX)
        .step_by((1 << 44) + 12_345)
        .map(f64::from_bits)
        .chain((0..=n).map(|i| lo + (hi - lo) * (i as f64 / n as f64)))
        .chain(specials);
    for x in points {
        let e = (ulps64(f(x), reference(x)) as f64 / weight(x)).ceil() as u64;
        if e > worst.0 {
            worst = (e, x);
        }
    }
    worst
}

// References in f64 (libm), in forms accurate in the tails.
fn sigmoid_ref(x: f64) -> f64 {
    if x < 0.0 {
        let e = x.exp();
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + (-x).exp())
    }
}
fn silu_ref(x: f64) -> f64 {
    if x < -700.0 {
        // e^x is subnormal (has lost bits) below -708.4: take e^(x+64) (x + 64 is exact)
        // and scale by e^-64 after the product. 1 + e^x is 1 here.
        x * (x + 64.0).exp() * (-64f64).exp()
    } else {
        x * sigmoid_ref(x)
    }
}
fn softplus_ref(x: f64) -> f64 {
    if x > 20.0 {
        x
    } else {
        x.max(0.0) + (-x.abs()).exp().ln_1p()
    }
}
fn gelu_tanh_ref(x: f64) -> f64 {
    let u = 0.797_884_560_802_865_4 * (x + 0.044715 * x * x * x);
    x * sigmoid_ref(2.0 * u)
}
/// `max(1, |2u|)`: the condition number of GELU's tail, `x·e^{−2|u|}`.
fn gelu_weight(x: f64) -> f64 {
    (2.0 * 0.797_884_560_802_865_4 * (x + 0.044715 * x * x * x))
        .abs()
        .max(1.0)
}
/// Counts only |x| ≤ 3 (an infinite weight makes an error 0).
fn only_within_3(x: f64) -> f64 {
    if x.abs() <= 3.0 {
        1.0
    } else {
        f64::INFINITY
    }
}
fn erf_ref(x: f64) -> f64 {
    libm::erf(x)
}
/// `x·Φ(x)` through libm's `erfc` where `1 + erf` would cancel.
fn gelu_erf_ref(x: f64) -> f64 {
    let w = x * std::f64::consts::FRAC_1_SQRT_2;
    if x < 0.0 {
        0.5 * x * libm::erfc(-w)
    } else {
        0.5 * x * (1.0 + libm::erf(w))
    }
}
/// Counts x above -37 only: below, GELU is subnormal and the reference multiplies a subnormal
/// `erfc` (which has lost bits) by x/2.
fn normal_gelu(x: f64) -> f64 {
    if x < -37.0 {
        f64::INFINITY
    } else {
        1.0
    }
}
/// The condition of the sum `Φ(x) + x·φ(x)`, `(|Φ| + |xφ|)/|Φ + xφ|`, which crosses 0 at
/// x ≈ -0.7518 (both kernel and reference cancel there), and [`normal_gelu`]'s cut.
fn grad_weight(x: f64) -> f64 {
    let w = x * std::f64::consts::FRAC_1_SQRT_2;
    let cdf = 0.5 * libm::erfc(-w);
    let xphi = x * 0.398_942_280_401_432_7 * (-0.5 * x * x).exp();
    ((cdf.abs() + xphi.abs()) / (cdf + xphi).abs()).max(1.0) * normal_gelu(x)
}
fn gelu_erf_grad_ref(x: f64) -> f64 {
    let w = x * std::f64::consts::FRAC_1_SQRT_2;
    let cdf = if x < 0.0 {
        0.5 * libm::erfc(-w)
    } else {
        0.5 * (1.0 + libm::erf(w))
    };
    // e^{-x²/2} with -x²/2 = h + l exactly (an FMA gives the product's rounding error l):
    // libm's exp of the rounded h alone would be off by |l| relatively, 512 ulp at x = -32.
    let h = -0.5 * x * x;
    let l = (-0.5 * x).mul_add(x, -h);
    // (Below -750 the term underflows; l could then overflow e^l.)
    let phi = if h < -750.0 { 0.0 } else { h.exp() * l.exp() };
    cdf + x * 0.398_942_280_401_432_7 * phi
}

/// Measured maxima (ulps) that the tests below hold each function to, as in chapter 2.
mod bound {
    pub const EXP32: u64 = 1;
    pub const LOG32: u64 = 1;
    pub const TANH32: u64 = 2;
    pub const SIGMOID32: u64 = 2;
    pub const SILU32: u64 = 2;
    pub const SOFTPLUS32: u64 = 2;
    pub const GELU_TANH32: u64 = 3;
    pub const EXP64: u64 = 1;
    pub const LOG64: u64 = 1;
    pub const TANH64: u64 = 3;
    pub const SIGMOID64: u64 = 2;
    pub const SILU64: u64 = 3;
    pub const SOFTPLUS64: u64 = 2;
    /// Per unit of GELU's condition number `max(1, |2u|)`.
    pub const GELU_TANH64: u64 = 5;
    pub const ERF64: u64 = 1;
    pub const GELU_ERF64: u64 = 5;
    /// Per unit of the condition of the sum `Φ + x·φ` (see `grad_weight`).
    pub const GELU_ERF_GRAD64: u64 = 5;
    /// On |x| ≤ 3, plain ulps.
    pub const GELU_TANH64_WITHIN_3: u64 = 18;
}

macro_rules! ulp_tests {
    ($($name:ident: $sweep:expr, $bound:expr;)*) => {$(
        #[test]
        fn $name() {
            let (e, x) = $sweep;
            eprintln!("{}: max {e} ulp at {x:e}", stringify!($name));
            assert!(e <= $bound, "{}: {e} ulp at x = {x:e} (bound {})", stringify!($name), $bound);
        }
    )*};
}

ulp_tests! {
    exp_f32_ulp: sweep32(exp_f32, f64::exp), bound::EXP32;
    log_f32_ulp: sweep32(log_f32, f64::ln), bound::LOG32;
    tanh_f32_ulp: sweep32(tanh_f32, f64::tanh), bound::TANH32;
    sigmoid_f32_ulp: sweep32(sigmoid_f32, sigmoid_ref), bound::SIGMOID32;
    silu_f32_ulp: sweep32(silu_f32, silu_ref), bound::SILU32;
    softplus_f32_ulp: sweep32(softplus_f32, softplus_ref), bound::SOFTPLUS32;
    gelu_tanh_f32_ulp: sweep32(gelu_tanh_f32, gelu_tanh_ref), bound::GELU_TANH32;
    exp_f64_ulp: sweep64(exp_f64, f64::exp, -750.0, 712.0), bound::EXP64;
    log_f64_ulp: sweep64(log_f64, f64::ln, 0.0, 1e3), bound::LOG64;
    tanh_f64_ulp: sweep64(tanh_f64, f64::tanh, -25.0, 25.0), bound::TANH64;
    sigmoid_f64_ulp: sweep64(sigmoid_f64, sigmoid_ref, -750.0, 750.0), bound::SIGMOID64;
    silu_f64_ulp: sweep64(silu_f64, silu_ref, -750.0, 750.0), bound::SILU64;
    softplus_f64_ulp: sweep64(softplus_f64, softplus_ref, -750.0, 30.0), bound::SOFTPLUS64;
    erf_f64_ulp: sweep64(erf_f64, erf_ref, -7.0, 7.0), bound::ERF64;
    gelu_erf_f64_ulp: sweep64_weighted(gelu_erf_f64, gelu_erf_ref, -37.0, 10.0, normal_gelu), bound::GELU_ERF64;
    gelu_erf_grad_f64_ulp: sweep64_weighted(gelu_erf_grad_f64, gelu_erf_grad_ref, -37.0, 10.0, grad_weight),
        bound::GELU_ERF_GRAD64;
    gelu_tanh_f64_ulp_within_3: sweep64_weighted(gelu_tanh_f64, gelu_tanh_ref, -3.0, 3.0, only_within_3),
        bound::GELU_TANH64_WITHIN_3;
    gelu_tanh_f64_ulp_per_2u: sweep64_weighted(gelu_tanh_f64, gelu_tanh_ref, -30.0, 30.0, gelu_weight),
        bound::GELU_TANH64;
}

#[test]
fn erf_f32_is_within_3e_7_of_libm() {
    // erf is held to an absolute bound (A&S 7.1.26 is an absolute approximation).
    let mut worst = 0.0f64;
    for bits in (0..=u32::MAX).step_by(97) {
        let x = f32::from_bits(bits);
        if x.is_nan() {
            assert!(erf_f32(x).is_nan());
            continue;
        }
        let (got, want) = (erf_f32(x) as f64, erf_ref(x as f64));
        // Relative below 0.5, up to rounding in the subnormals.
        let bound = if x.abs() < 0.5 {
            2e-7 * want.abs() + f32::from_bits(1) as f64
        } else {
            3e-7
        };
        assert!(
            (got - want).abs() <= bound,
            "erf({x:e}) = {got}, want {want}"
        );
        worst = worst.max((got - want).abs());
    }
    assert!(worst > 0.0);
}

#[test]
fn special_values_follow_libm() {
    assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
    assert_eq!(exp_f64(f64::NEG_INFINITY), 0.0);
    assert_eq!(exp_f64(0.0), 1.0);
    assert_eq!(log_f32(0.0), f32::NEG_INFINITY);
    assert_eq!(log_f64(-0.0), f64::NEG_INFINITY);
    assert!(log_f64(-1.0).is_nan() && log_f32(f32::NEG_INFINITY).is_nan());
    assert_eq!(log_f64(1.0).to_bits(), 0.0f64.to_bits());
    for t in [
        tanh_f32(-0.0),
        erf_f32(-0.0),
        silu_f32(-0.0),
        gelu_tanh_f32(-0.0),
    ] {
        assert_eq!(t.to_bits(), (-0.0f32).to_bits());
    }
    assert_eq!(tanh_f64(-0.0).to_bits(), (-0.0f64).to_bits());
    assert_eq!(tanh_f64(f64::NEG_INFINITY), -1.0);
    assert_eq!(sigmoid_f64(f64::NEG_INFINITY), 0.0);
    assert_eq!(sigmoid_f32(f32::INFINITY), 1.0);
    assert_eq!(softplus_f64(f64::INFINITY), f64::INFINITY);
    assert_eq!(softplus_f32(f32::NEG_INFINITY), 0.0);
    // PyTorch: -inf·0 is NaN.
    assert!(gelu_tanh_f64(f64::NEG_INFINITY).is_nan() && silu_f32(f32::NEG_INFINITY).is_nan());
    assert_eq!(gelu_tanh_f32(f32::INFINITY), f32::INFINITY);
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

/// The f64 group kernels give each element the bits of the per-element function: on a group
/// of middle values, one of far values, mixed ones (with NaN, infinities and signed zeros).
#[test]
fn f64_group_kernels_give_each_elements_bits() {
    let groups: [Box<dyn Fn(usize) -> f64>; 4] = [
        Box::new(|i| (i as f64 / GROUP as f64 - 0.5) * 2.0),
        Box::new(|i| 2.0 + i as f64 * 0.13),
        Box::new(|i| ((i as f64 * 0.754_877_666).fract() - 0.5) * 12.0),
        Box::new(|i| {
            [
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                -0.0,
                0.0,
                -40.0,
                1e-310,
            ][i % 7]
        }),
    ];
    type Pair = (&'static str, fn(&mut [f64; GROUP]), fn(f64) -> f64);
    let functions: [Pair; 3] = [
        ("erf", erf_f64_group, erf_f64),
        ("gelu_erf", gelu_erf_f64_group, gelu_erf_f64),
        ("gelu_erf_grad", gelu_erf_grad_f64_group, gelu_erf_grad_f64),
    ];
    for make in &groups {
        let x: [f64; GROUP] = std::array::from_fn(make);
        for (name, group, each) in functions {
            let mut y = x;
            group(&mut y);
            for (&xi, &yi) in x.iter().zip(&y) {
                assert_eq!(yi.to_bits(), each(xi).to_bits(), "{name}({xi})");
            }
        }
    }
}
