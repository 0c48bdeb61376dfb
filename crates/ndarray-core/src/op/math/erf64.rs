//! `erf` and the exact GELU in f64 without a libm call: fdlibm's `s_erf.c` rational
//! approximations (FreeBSD msun, as in the `libm` crate; © 1993 Sun Microsystems, freely
//! distributable with this notice), with every interval computed and one selected per element
//! instead of a branch, the coefficients of two intervals that share a form selected before one
//! evaluation, and FMA in the Horner steps. fdlibm's intervals for |x|: below 0.84375
//! `erf = x + x·P(x²)/Q(x²)`; to 1.25 `erf = c + P(s)/Q(s)` with `s = |x| − 1`; above,
//! `erfc = e^{−x² − 0.5625 + R(1/x²)/S(1/x²)}/|x|` (two coefficient sets, split at 1/0.35).
//! There `R(1/z)/S(1/z) = z·R'(z)/S'(z)` with `z = x²` and the coefficients in reverse order, so
//! the far polynomials start from `x²` rather than waiting for a division to give `1/x²`.

use super::exp::{estrin_sel64, mul_exp_f64, mul_exp_sum_f64, EXP_LO_64};

/// erf(1) rounded to 24 bits (fdlibm's `erx`).
const ERX: f64 = 0.8450629115104675;

// Highest coefficient first. The near interval's polynomials are padded with leading zeros to
// the middle interval's degree (a zero step of Horner's scheme changes no bit).
const PP: [f64; 7] = [
    0.0,
    0.0,
    -2.3763016656650163e-05,
    -0.005770270296489442,
    -0.02848174957559851,
    -0.3250421072470015,
    0.12837916709551256,
];
const QQ: [f64; 7] = [
    0.0,
    -3.960228278775368e-06,
    0.00013249473800432164,
    0.005081306281875766,
    0.0650222499887673,
    0.39791722395915535,
    1.0,
];
const PA: [f64; 7] = [
    -0.002166375594868791,
    0.035478304325618236,
    -0.11089469428239668,
    0.31834661990116175,
    -0.3722078760357013,
    0.41485611868374833,
    -0.0023621185607526594,
];
const QA: [f64; 7] = [
    0.011984499846799107,
    0.01363708391202905,
    0.12617121980876164,
    0.07182865441419627,
    0.540397917702171,
    0.10642088040084423,
    1.0,
];
// The far intervals' coefficients in reverse order (see above): `R'` and `S'` in `z = x²`,
// highest first. `RB` and `SB` end in the zero that pads fdlibm's shorter second set.
const RA: [f64; 8] = [
    -0.009864944034847148,
    -0.6938585727071818,
    -10.558626225323291,
    -62.375332450326006,
    -162.39666946257347,
    -184.60509290671104,
    -81.2874355063066,
    -9.814329344169145,
];
const SA: [f64; 9] = [
    1.0,
    19.651271667439257,
    137.65775414351904,
    434.56587747522923,
    645.3872717332679,
    429.00814002756783,
    108.63500554177944,
    6.570249770319282,
    -0.0604244152148581,
];
const RB: [f64; 8] = [
    -0.0098649429247001,
    -0.799283237680523,
    -17.757954917754752,
    -160.63638485582192,
    -637.5664433683896,
    -1025.0951316110772,
    -483.5191916086514,
    0.0,
];
const SB: [f64; 9] = [
    1.0,
    30.33806074348246,
    325.7925129965739,
    1536.729586084437,
    3199.8582195085955,
    2553.0504064331644,
    474.52854120695537,
    -22.44095244658582,
    0.0,
];

/// The near and middle intervals' rational function at `a` (below 1.25): whether `a` is near,
/// and the numerator and denominator.
#[inline(always)]
fn mid_rational(a: f64) -> (bool, f64, f64) {
    let near = a < 0.843_75;
    let t = if near { a * a } else { a - 1.0 };
    (
        near,
        estrin_sel64(t, near, &PP, &PA),
        estrin_sel64(t, near, &QQ, &QA),
    )
}

/// `(erf a, m·erfc a)` below 1.25, from the near or middle rational function's value `ratio`.
#[inline(always)]
fn mid_finish(a: f64, m: f64, near: bool, ratio: f64) -> (f64, f64) {
    // Both intervals' values, then a choice: written as branches, LLVM's cost model kept the
    // loops that call this scalar on AVX2.
    let erf_near = a.mul_add(ratio, a);
    let erfc_near = if a < 0.25 {
        1.0 - erf_near
    } else {
        0.5 - (a.mul_add(ratio, a - 0.5))
    };
    let (erf_mid, erfc_mid) = (ERX + ratio, (1.0 - ERX) - ratio);
    let erf = if near { erf_near } else { erf_mid };
    let erfc = if near { erfc_near } else { erfc_mid };
    (erf, m * erfc)
}

/// The far interval's rational function at `a` (1.25 or more; a smaller `a` is clamped):
/// `R(1/a²)/S(1/a²)`'s numerator and denominator, and `(a, a²)` after clamping to [1.25, 30].
#[inline(always)]
fn far_rational(a: f64) -> (f64, f64, f64, f64) {
    // Above 30, erfc is 0 in f64 (and a = ∞ would give ∞ − ∞ in `far_finish`).
    let af = if a > 30.0 { 30.0 } else { a };
    let af = if af < 1.25 { 1.25 } else { af };
    let h = af * af;
    let first = af < f64::from_bits(0x4006_db6d_0000_0000);
    (
        h * estrin_sel64(h, first, &RA, &RB),
        estrin_sel64(h, first, &SA, &SB),
        af,
        h,
    )
}

/// `(erf a, m·erfc a)` for a far `a` (or NaN), from `far_rational`'s clamped `af`, `h = af²`
/// and the value `ratio` of its rational function: `erfc a = e^{−a² − 0.5625 + R/S}/a`.
#[inline(always)]
fn far_finish(a: f64, m: f64, af: f64, h: f64, ratio: f64) -> (f64, f64) {
    // −a² − 0.5625 carried as a sum of two doubles (FMA gives a²'s rounding error exactly),
    // so the large exponent loses nothing; 1/a is taken beside the polynomials, off the path
    // that leads to the exponential.
    let l = af.mul_add(af, -h);
    let e1 = -h - 0.5625;
    let err = (-h - e1) - 0.5625;
    let b = (ratio - l) + err;
    let inv_a = 1.0 / af;
    let m_erfc = mul_exp_sum_f64(m * inv_a, e1, b);
    let m_erfc = if a > 30.0 { m * 0.0 } else { m_erfc };
    (1.0 - m_erfc, m_erfc)
}

/// How `(erf a, m·erfc a)` is computed for `a ≥ 0` (or NaN): over every interval ([`Full`]),
/// or over the near and middle ones ([`Mid`]) or the far one ([`Far`]) where the caller knows
/// which holds. The first is exact to fdlibm's accuracy where `m = 1` (above 1.25 it is
/// `1 − m·erfc a`); `m·erfc a` is formed before the final scaling by `2^n`, so it keeps its bits
/// where `erfc a` alone would be subnormal.
trait Core {
    /// `(erf a, m·erfc a)`.
    fn eval(a: f64, m: f64) -> (f64, f64);
}

/// Every interval, one selected per element.
struct Full;

/// The near and middle intervals, for `a` below 1.25: [`Full`]'s bits there.
struct Mid;

/// The far interval, for `a` of 1.25 or more (or NaN): [`Full`]'s bits there.
struct Far;

impl Core for Full {
    #[inline(always)]
    fn eval(a: f64, m: f64) -> (f64, f64) {
        // Two divisions per element, not four: every element needs one rational function only
        // (near and middle share one form, far has its own), so numerator and denominator are
        // selected before a single division, and far's `1/a` is taken once for `1/a²` and for
        // the final scaling. (Division is the slowest vector instruction; on Zen 1 the four of
        // them set this function's speed.)
        let (near, p_mid, q_mid) = mid_rational(a);
        let (r_far, s_far, af, h) = far_rational(a);
        let mid = a < 1.25;
        let ratio = if mid { p_mid } else { r_far } / if mid { q_mid } else { s_far };
        // Both, then a choice (see `mid_finish`).
        let (near_or_mid, far) = (
            mid_finish(a, m, near, ratio),
            far_finish(a, m, af, h, ratio),
        );
        if mid {
            near_or_mid
        } else {
            far
        }
    }
}

impl Core for Mid {
    #[inline(always)]
    fn eval(a: f64, m: f64) -> (f64, f64) {
        let (near, p, q) = mid_rational(a);
        mid_finish(a, m, near, p / q)
    }
}

impl Core for Far {
    #[inline(always)]
    fn eval(a: f64, m: f64) -> (f64, f64) {
        let (r, s, af, h) = far_rational(a);
        far_finish(a, m, af, h, r / s)
    }
}

/// Elements per group in the grouped kernels ([`gelu_erf_f64_group`] and its kin).
pub const GROUP: usize = 256;

/// One 512-bit vector of f64: the far elements of a group are computed this many at a time.
const LANES: usize = 8;

/// `$f::<Far>` on each element of the group `$x` (in place) whose `|x|·$scale` is 1.25 or more
/// (or NaN), `$f::<Mid>` on the others: a vectorised loop over `$f::<Full>` computes every
/// interval for every element, though under 8% of normally distributed activations
/// (|x| ≥ 1.77 for N(0, 1)) lie in the far one. So the far elements are gathered into as few
/// vectors as they fill, `Mid` runs on the whole group, `Far` on the gathered ones, and they are
/// put back. Each element gets the bits `$f::<Full>` would give it.
///
/// Plain loops call the functions by name: a function passed as a value may stay out of line,
/// compiled without the FMA of the loop it came from, where every `mul_add` becomes a libm call.
macro_rules! by_group {
    ($x:expr, $scale:expr, $f:ident) => {{
        let x: &mut [f64; GROUP] = $x;
        // Where the far elements are, packed (branch-free: each index is written, and the
        // count moves past it only if the element is far), then their values.
        let mut is_far = [0u8; GROUP];
        for (is_far, &x) in is_far.iter_mut().zip(x.iter()) {
            let a = (x * $scale).abs();
            *is_far = u8::from(a >= 1.25 || a.is_nan());
        }
        let mut from = [0u16; GROUP + 1];
        let mut count = 0;
        for (i, &is_far) in is_far.iter().enumerate() {
            from[count] = i as u16;
            count += usize::from(is_far);
        }
        let mut far = [0.0; GROUP];
        for (far, &i) in far.iter_mut().zip(&from[..count]) {
            *far = x[usize::from(i)];
        }
        for x in x.iter_mut() {
            *x = $f::<Mid>(*x);
        }
        for v in 0..count.div_ceil(LANES) {
            for x in far[v * LANES..(v + 1) * LANES].iter_mut() {
                *x = $f::<Far>(*x);
            }
        }
        for (&value, &i) in far[..count].iter().zip(&from[..count]) {
            x[usize::from(i)] = value;
        }
    }};
}

/// `erf x` through the core `C`.
#[inline(always)]
fn erf_with<C: Core>(x: f64) -> f64 {
    C::eval(x.abs(), 1.0).0.copysign(x)
}

/// `erf x` in f64 (max error in chapter 2's table): ±1 at ±∞, NaN stays NaN, the sign of zero
/// is kept.
#[inline(always)]
pub fn erf_f64(x: f64) -> f64 {
    erf_with::<Full>(x)
}

/// [`erf_f64`] on a group of [`GROUP`] elements, in place (the same bits, faster where
/// |x| < 1.25).
#[inline(always)]
pub fn erf_f64_group(x: &mut [f64; GROUP]) {
    by_group!(x, 1.0, erf_with)
}

/// GELU through the core `C`: `x/2·(1 + erf(x/√2))` for x ≥ 0 and `x/2·erfc(|x|/√2)` below.
#[inline(always)]
fn gelu_with<C: Core>(x: f64) -> f64 {
    let a = (x * std::f64::consts::FRAC_1_SQRT_2).abs();
    let neg = x < 0.0;
    let (erf, m_erfc) = C::eval(a, if neg { 0.5 * x } else { 1.0 });
    if neg {
        m_erfc
    } else {
        0.5 * x * (1.0 + erf)
    }
}

/// Exact GELU `x·Φ(x)` in f64: `x/2·(1 + erf(x/√2))` for x ≥ 0 and `x/2·erfc(|x|/√2)` below,
/// where `1 + erf` would cancel.
#[inline(always)]
pub fn gelu_erf_f64(x: f64) -> f64 {
    gelu_with::<Full>(x)
}

/// [`gelu_erf_f64`] on a group of [`GROUP`] elements, in place (the same bits, faster where
/// |x| < 1.25·√2).
#[inline(always)]
pub fn gelu_erf_f64_group(x: &mut [f64; GROUP]) {
    by_group!(x, std::f64::consts::FRAC_1_SQRT_2, gelu_with)
}

/// GELU's derivative `Φ(x) + x·φ(x)` in f64, `Φ` as in [`gelu_erf_f64`] and
/// `φ(x) = e^{−x²/2}/√(2π)` with `−x²/2` carried as a sum of two doubles.
#[inline(always)]
pub fn gelu_erf_grad_f64(x: f64) -> f64 {
    gelu_grad_with::<Full>(x)
}

/// [`gelu_erf_grad_f64`] on a group of [`GROUP`] elements, in place (the same bits, faster
/// where |x| < 1.25·√2).
#[inline(always)]
pub fn gelu_erf_grad_f64_group(x: &mut [f64; GROUP]) {
    by_group!(x, std::f64::consts::FRAC_1_SQRT_2, gelu_grad_with)
}

/// GELU's derivative through the core `C`.
#[inline(always)]
fn gelu_grad_with<C: Core>(x: f64) -> f64 {
    const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
    let a = (x * std::f64::consts::FRAC_1_SQRT_2).abs();
    let neg = x < 0.0;
    let (erf, m_erfc) = C::eval(a, if neg { 0.5 } else { 1.0 });
    let cdf = if neg { m_erfc } else { 0.5 * (1.0 + erf) };
    let hx = -0.5 * x;
    let h = hx * x;
    let l = hx.mul_add(x, -h);
    let (_, xphi) = mul_exp_f64(x * INV_SQRT_2PI, h);
    let xphi = xphi.mul_add(l, xphi);
    // Far out x·φ(x) is 0 (NaN at ±∞, ∞·0, as PyTorch's backward gives).
    let xphi = if h < EXP_LO_64 { x * 0.0 } else { xphi };
    cdf + xphi
}
