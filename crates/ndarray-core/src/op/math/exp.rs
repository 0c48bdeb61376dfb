//! `e^x` and `e^x − 1` in f32 and f64 from one scheme (chapter 2, "Transcendental functions"):
//! `x = n·ln2 + r` with `n` an integer and `|r| ≤ ln2/2`, a polynomial for `e^r − 1`, then
//! `2^n` put into the exponent bits. Every polynomial step is one `mul_add` (one rounding), and
//! there is no branch on the data: out-of-range inputs are clamped with comparisons, so a loop
//! over these functions vectorises and gives the same bits on every instruction set.

/// `1.5·2^23`: adding it to an f32 below 2^22 in magnitude rounds it to an integer, which then
/// sits in the low mantissa bits (two's complement), ready to be moved into an exponent field.
const SHIFT32: f32 = 12_582_912.0;
/// `1.5·2^52`, [`SHIFT32`] for f64.
const SHIFT64: f64 = 6_755_399_441_055_744.0;

/// Where `mul_exp_f32` clamps its argument from below: `e^x` is 0 in f32 from -103.98 on, but
/// `m·e^x` with |m| up to 110 (SiLU's `x·e^x`) only from -108.9 on. Below it callers that
/// multiply must give `m·0` themselves.
pub(super) const EXP_LO_32: f32 = -110.0;
/// [`EXP_LO_32`] for f64 (`e^x` is 0 from -745.2 on, `x·e^x` from -751.9 on).
pub(super) const EXP_LO_64: f64 = -760.0;

/// ln 2 rounded to f32, and the rest (`ln2 − LN2_HI_32`): with FMA, `x − n·LN2_HI_32` is
/// computed exactly before its one rounding, so the low part restores the bits the high part
/// lacks (Cody–Waite with a two-part constant).
pub(super) const LN2_HI_32: f32 = std::f32::consts::LN_2;
/// The low part of ln 2 for f32.
pub(super) const LN2_LO_32: f32 = -1.904_654_3e-9;
/// ln 2 rounded to f64.
pub(super) const LN2_HI_64: f64 = std::f64::consts::LN_2;
/// `ln2 − LN2_HI_64`.
pub(super) const LN2_LO_64: f64 = 2.319_046_813_846_299_6e-17;

/// `(e^r − 1 − r)/r²` on `|r| ≤ ln2/2` for f32: Cephes `expf`'s minimax coefficients (degree
/// 5, so `e^r` is a degree-7 polynomial), highest first.
const P32: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    0.5,
];

/// `(e^r − 1 − r)/r²` for f64: the Taylor coefficients `1/k!`, k = 13 down to 2. At
/// `|r| = ln2/2` the first term left out, `r^14/14!`, is 4e-18: 0.04 ulp of the result.
const P64: [f64; 12] = exp_taylor64();

/// The Taylor coefficients `1/k!` of `(e^r − 1 − r)/r²`, k = N + 1 down to 2 (highest first),
/// each one correctly rounded division (k! is exact in f64 up to 18!).
const fn exp_taylor64<const N: usize>() -> [f64; N] {
    let mut c = [0.0; N];
    let mut i = 0;
    while i < N {
        let (mut k, mut factorial) = (2, 1.0);
        while k <= N + 1 - i {
            factorial *= k as f64;
            k += 1;
        }
        c[i] = 1.0 / factorial;
        i += 1;
    }
    c
}

/// Horner's scheme with one FMA per step, coefficients highest first.
#[inline(always)]
pub(super) fn horner32<const N: usize>(x: f32, c: &[f32; N]) -> f32 {
    let mut p = c[0];
    for &k in &c[1..] {
        p = p.mul_add(x, k);
    }
    p
}

/// [`horner32`] for f64.
#[inline(always)]
pub(super) fn horner64<const N: usize>(x: f64, c: &[f64; N]) -> f64 {
    let mut p = c[0];
    for &k in &c[1..] {
        p = p.mul_add(x, k);
    }
    p
}

/// An integer `n` (|n| < 2^22) held as `n + SHIFT32`, which keeps it in its low mantissa bits:
/// the form rounding produces it in, and the one `2^n` is built from. Kept rather than
/// recomputed, it saves an addition per use (a vector loop here is bound by its operation
/// count: the 512-bit units are two ports).
#[derive(Clone, Copy)]
struct Shifted32(f32);

impl Shifted32 {
    /// `n` as a float.
    #[inline(always)]
    fn n(self) -> f32 {
        self.0 - SHIFT32
    }

    /// `2^n` for `n` in [-126, 127]: adding the bias to the bits then shifting by 23 leaves
    /// `n + 127` in the exponent field.
    #[inline(always)]
    fn pow2(self) -> f32 {
        f32::from_bits(self.0.to_bits().wrapping_add(127) << 23)
    }

    /// `2^n` as two factors `2^n1·2^(n − n1)`, `n1 = n/2` rounded to even, each a normal
    /// number for `n` in [-252, 254] where `2^n` alone is not. `n − n1` is the difference of
    /// the two shifted forms' bits.
    #[inline(always)]
    fn pow2_halves(self) -> (f32, f32) {
        let half = self.n().mul_add(0.5, SHIFT32); // n/2 is exact; the addition rounds it
        let rest = self.0.to_bits().wrapping_sub(half.to_bits());
        (
            Shifted32(half).pow2(),
            f32::from_bits(rest.wrapping_add(127) << 23),
        )
    }
}

/// [`Shifted32`] for f64 (|n| < 2^51).
#[derive(Clone, Copy)]
struct Shifted64(f64);

impl Shifted64 {
    /// `n` as a float.
    #[inline(always)]
    fn n(self) -> f64 {
        self.0 - SHIFT64
    }

    /// `2^n` for `n` in [-1022, 1023].
    #[inline(always)]
    fn pow2(self) -> f64 {
        f64::from_bits(self.0.to_bits().wrapping_add(1023) << 52)
    }

    /// [`Shifted32::pow2_halves`] for f64 (`n` in [-2044, 2046]).
    #[inline(always)]
    fn pow2_halves(self) -> (f64, f64) {
        let half = self.n().mul_add(0.5, SHIFT64);
        let rest = self.0.to_bits().wrapping_sub(half.to_bits());
        (
            Shifted64(half).pow2(),
            f64::from_bits(rest.wrapping_add(1023) << 52),
        )
    }
}

/// The reduction and the polynomial: `(n, e^r − 1)` with `x = n·ln2 + r`.
#[inline(always)]
fn reduce32(x: f32) -> (Shifted32, f32) {
    let shifted = Shifted32(x.mul_add(std::f32::consts::LOG2_E, SHIFT32));
    let n = shifted.n();
    let r = (-n).mul_add(LN2_HI_32, x);
    let r = (-n).mul_add(LN2_LO_32, r);
    (shifted, horner32(r, &P32).mul_add(r * r, r))
}

/// [`reduce32`] for f64.
#[inline(always)]
fn reduce64(x: f64) -> (Shifted64, f64) {
    let shifted = Shifted64(x.mul_add(std::f64::consts::LOG2_E, SHIFT64));
    let n = shifted.n();
    let r = (-n).mul_add(LN2_HI_64, x);
    let r = (-n).mul_add(LN2_LO_64, r);
    (shifted, horner64(r, &P64).mul_add(r * r, r))
}

/// `(e^x, m·e^x)` in f32, the product taken before the scaling by `2^n`: where `e^x` alone would
/// be subnormal (and have lost bits) the product keeps them, which SiLU and GELU need in their
/// tails. [`exp_f32`] is `m = 1`. Inputs are clamped to [-104, 89] first (with comparisons,
/// which NaN passes through), where `e^x` is already 0 and inf, so `n` stays in [-150, 129].
#[inline(always)]
pub(super) fn mul_exp_f32(m: f32, x: f32) -> (f32, f32) {
    let xc = x.clamp(EXP_LO_32, 89.0); // NaN stays NaN
    let (n, em1) = reduce32(xc);
    // 2^n in two factors, each a normal number even where 2^n alone is not (n down to -159,
    // up to 129): the first product is exact (so `(1 + em1)·s1` is one FMA, the same bits),
    // the second rounds once, into the subnormals or to inf where the true result lies there.
    let (s1, s2) = n.pow2_halves();
    (s1.mul_add(em1, s1) * s2, m.mul_add(em1, m) * s1 * s2)
}

/// `e^x` in f32 (max error in chapter 2's table). Overflows to +inf above ln(f32::MAX), gives
/// subnormals and then 0 below -87.3, NaN stays NaN.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    mul_exp_f32(1.0, x).0
}

/// `e^x` in f32 where the result is a normal number (x ≥ −87.33), and 0 below: one scaling by
/// `2^n` instead of [`mul_exp_f32`]'s two, for callers whose product with `e^x` is negligible
/// once `e^x` is that small (the normal CDF's tail).
#[inline(always)]
pub(super) fn exp_or_zero_f32(x: f32) -> f32 {
    const LO: f32 = -87.33; // e^LO is just above f32::MIN_POSITIVE, so n ≥ −126
    let (n, em1) = reduce32(x.clamp(LO, 89.0)); // NaN stays NaN
    let s = n.pow2();
    let e = s.mul_add(em1, s);
    if x < LO {
        0.0
    } else {
        e
    }
}

/// [`mul_exp_f32`] for f64: a degree-13 polynomial, inputs clamped to [[`EXP_LO_64`], 710]
/// (n in [-1097, 1025]).
#[inline(always)]
pub(super) fn mul_exp_f64(m: f64, x: f64) -> (f64, f64) {
    let xc = x.clamp(EXP_LO_64, 710.0); // NaN stays NaN
    let (n, em1) = reduce64(xc);
    let (s1, s2) = n.pow2_halves();
    (s1.mul_add(em1, s1) * s2, m.mul_add(em1, m) * s1 * s2)
}

/// `(e^r − 1 − r)/r²` to degree 15 (`1/k!`, k = 17 down to 2), for [`mul_exp_sum_f64`]'s wider
/// `|r| ≤ 0.47`, where the first term of `e^r` left out, `r^18/18!`, is below 1e-21.
const P64_WIDE: [f64; 16] = exp_taylor64();

/// The middle of the `lo` range [`mul_exp_sum_f64`] accepts.
const SUM_LO_MID: f64 = -0.115;

/// `m·e^(hi + lo)` in f64 for `lo` in [−0.23, 0] (erfc's rational correction to its exponent
/// `hi = −a² − 0.5625`). `n` comes from `hi` alone and `hi` is reduced exactly by Cody–Waite, so
/// all of that runs before `lo` is known; `lo` is then one addition to the small remainder,
/// which the polynomial covers out to 0.47 (in Estrin's order: its depth is 4 multiplications,
/// not 16). This is GELU's critical path: the loop's iterations do not overlap (each is ~180
/// vector instructions, more than the scheduler holds), so its length sets the speed.
#[inline(always)]
pub(super) fn mul_exp_sum_f64(m: f64, hi: f64, lo: f64) -> f64 {
    let hc = hi.clamp(EXP_LO_64, 710.0); // NaN stays NaN
    let shifted = Shifted64((hc + SUM_LO_MID).mul_add(std::f64::consts::LOG2_E, SHIFT64));
    let n = shifted.n();
    let r = (-n).mul_add(LN2_HI_64, hc);
    let r = (-n).mul_add(LN2_LO_64, r) + lo;
    let em1 = estrin64(r, &P64_WIDE).mul_add(r * r, r);
    let (s1, s2) = shifted.pow2_halves();
    m.mul_add(em1, m) * s1 * s2
}

/// The polynomial with coefficients `c` (highest first) at `x`, in Estrin's order: neighbouring
/// coefficients paired with `x`, the pairs with `x²`, those with `x⁴` …, so the depth of
/// dependent operations is `log2 N` FMAs instead of Horner's `N − 1`, for a few more
/// multiplications.
#[inline(always)]
pub(super) fn estrin64<const N: usize>(x: f64, c: &[f64; N]) -> f64 {
    estrin_sel64(x, true, c, c)
}

/// [`estrin64`] on the coefficients of `a` or `b`, chosen per element by `first`.
#[inline(always)]
pub(super) fn estrin_sel64<const N: usize>(x: f64, first: bool, a: &[f64; N], b: &[f64; N]) -> f64 {
    // Lowest degree first.
    let mut t = [0.0; N];
    for (j, t) in t.iter_mut().enumerate() {
        let (ca, cb) = (a[N - 1 - j], b[N - 1 - j]);
        *t = if first { ca } else { cb };
    }
    let (mut len, mut p) = (N, x);
    while len > 1 {
        let half = len.div_ceil(2);
        for j in 0..half {
            t[j] = if 2 * j + 1 < len {
                t[2 * j + 1].mul_add(p, t[2 * j])
            } else {
                t[2 * j]
            };
        }
        len = half;
        p = p * p;
    }
    t[0]
}

/// `e^x` in f64: [`exp_f32`]'s scheme.
#[inline(always)]
pub fn exp_f64(x: f64) -> f64 {
    mul_exp_f64(1.0, x).0
}

/// `e^x − 1` for `x` in [0, 44] (what `tanh` needs): `2^n·(1 + p) − 1 = 2^n·p + (2^n − 1)`,
/// one FMA, so small results keep their relative accuracy (for `n = 0` it is `p` itself).
#[inline(always)]
pub(super) fn expm1_pos_f32(x: f32) -> f32 {
    let (n, em1) = reduce32(x);
    let s = n.pow2();
    s.mul_add(em1, s - 1.0)
}

/// [`expm1_pos_f32`] for f64.
#[inline(always)]
pub(super) fn expm1_pos_f64(x: f64) -> f64 {
    let (n, em1) = reduce64(x);
    let s = n.pow2();
    s.mul_add(em1, s - 1.0)
}
