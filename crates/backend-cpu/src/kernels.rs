//! The kernels behind `Cpu`'s `Backend` methods. Each has a contiguous fast path (a plain slice
//! loop the compiler vectorises) and a strided path that walks rows of the coalesced layout with
//! the shared `StridedIndex`; large outputs are split across threads by `parallel::par_chunks`.

use crate::parallel::{coalesce, par_chunks, Rows};
use crate::storage::CpuStorage;
use nanotorch_ndarray_core::{
    ArgReduceOp, BinaryOp, DType, Element, Error, Float, Layout, ReduceOp, Result, ScalarSide,
    StridedIndex, UnaryOp, Window2d,
};
use std::mem::MaybeUninit;

// ---------------------------------------------------------------------------------------------
// Generators and maps

/// Output element `i` is `f(i)`.
pub(crate) fn generate<E: Element>(
    len: usize,
    cost: usize,
    f: impl Fn(usize) -> E + Sync,
) -> CpuStorage<E> {
    CpuStorage::build(len, |out| {
        par_chunks(out, 1, len * cost, |start, chunk| {
            for (i, o) in chunk.iter_mut().enumerate() {
                o.write(f(start + i));
            }
        })
    })
}

/// `f` over a contiguous slice.
pub(crate) fn map_contiguous<E: Element, T: Element>(
    x: &[E],
    cost: usize,
    f: impl Fn(E) -> T + Sync,
) -> CpuStorage<T> {
    CpuStorage::build(x.len(), |out| {
        par_chunks(out, 1, x.len() * cost, |start, chunk| {
            let src = &x[start..start + chunk.len()];
            // Wider vectors where the CPU has them (the check is a cached flag read).
            #[cfg(target_arch = "x86_64")]
            {
                if std::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU has AVX-512F (checked just above).
                    return unsafe { map_slice_avx512(src, chunk, &f) };
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2 (checked just above).
                    return unsafe { map_slice_avx2(src, chunk, &f) };
                }
            }
            map_slice(src, chunk, &f);
        })
    })
}

/// The loop of `map_contiguous`.
#[inline(always)]
fn map_slice<E: Element, T: Element>(src: &[E], out: &mut [MaybeUninit<T>], f: &impl Fn(E) -> T) {
    for (o, &a) in out.iter_mut().zip(src) {
        o.write(f(a));
    }
}

// `map_slice` compiled again for wider vectors. The baseline x86-64 build vectorises 4 f32 lanes
// (SSE2); these copies 8 (AVX2) and 16 (AVX-512). That pays for compute-bound maps: exp (and
// sigmoid, silu, which use it) on 1M f32, one thread, measured 1.35 ms baseline, 0.85 ms AVX2,
// 0.57 ms AVX-512 (2 threads: 0.71, 0.49, 0.41 ms). Memory-bound maps run as fast either way.
// The same IEEE operations run in every copy (Rust never fuses a multiply and an add by
// itself), so the results are identical.

/// `map_slice` for AVX-512F. Safety: call it only on a CPU that has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn map_slice_avx512<E: Element, T: Element>(
    src: &[E],
    out: &mut [MaybeUninit<T>],
    f: &impl Fn(E) -> T,
) {
    map_slice(src, out, f)
}

/// `map_slice` for AVX2. Safety: call it only on a CPU that has AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn map_slice_avx2<E: Element, T: Element>(
    src: &[E],
    out: &mut [MaybeUninit<T>],
    f: &impl Fn(E) -> T,
) {
    map_slice(src, out, f)
}

/// `f` over the elements of `layout`, into a contiguous result.
pub(crate) fn map1<E: Element, T: Element>(
    x: &[E],
    layout: &Layout,
    cost: usize,
    f: impl Fn(E) -> T + Sync,
) -> CpuStorage<T> {
    if let Some(r) = layout.contiguous_range() {
        return map_contiguous(&x[r], cost, f);
    }
    let rows = Rows::new([layout]);
    let [s] = rows.inner_strides;
    CpuStorage::build(layout.numel(), |out| {
        rows.for_each_out(out, cost, |[base], row| {
            if s == 1 {
                let len = row.len();
                for (o, &a) in row.iter_mut().zip(&x[base..base + len]) {
                    o.write(f(a));
                }
            } else {
                for (j, o) in row.iter_mut().enumerate() {
                    o.write(f(x[base + j * s]));
                }
            }
        })
    })
}

/// `f(a, b)` over two layouts of one shape.
pub(crate) fn map2<E: Element, T: Element>(
    a: &[E],
    la: &Layout,
    b: &[E],
    lb: &Layout,
    cost: usize,
    f: impl Fn(E, E) -> T + Sync,
) -> CpuStorage<T> {
    let n = la.numel();
    if let (Some(ra), Some(rb)) = (la.contiguous_range(), lb.contiguous_range()) {
        let (a, b) = (&a[ra], &b[rb]);
        return CpuStorage::build(n, |out| {
            par_chunks(out, 1, n * cost, |start, chunk| {
                let end = start + chunk.len();
                for ((o, &x), &y) in chunk.iter_mut().zip(&a[start..end]).zip(&b[start..end]) {
                    o.write(f(x, y));
                }
            })
        });
    }
    // Rows of the coalesced shape: a bias add [B, N] + [N] has rows where both sides are
    // contiguous, a [B, N] + [B, 1] has rows where one side is a single broadcast value.
    let rows = Rows::new([la, lb]);
    let [sa, sb] = rows.inner_strides;
    CpuStorage::build(n, |out| {
        rows.for_each_out(out, cost, |[ba, bb], row| {
            let len = row.len();
            match (sa, sb) {
                (1, 1) => {
                    for ((o, &x), &y) in row.iter_mut().zip(&a[ba..ba + len]).zip(&b[bb..bb + len])
                    {
                        o.write(f(x, y));
                    }
                }
                (1, 0) => {
                    let y = b[bb];
                    for (o, &x) in row.iter_mut().zip(&a[ba..ba + len]) {
                        o.write(f(x, y));
                    }
                }
                (0, 1) => {
                    let x = a[ba];
                    for (o, &y) in row.iter_mut().zip(&b[bb..bb + len]) {
                        o.write(f(x, y));
                    }
                }
                _ => {
                    for (j, o) in row.iter_mut().enumerate() {
                        o.write(f(a[ba + j * sa], b[bb + j * sb]));
                    }
                }
            }
        })
    })
}

/// In place: `dst = f(dst, src)` at the positions of `dl`.
pub(crate) fn update<E: Element>(
    dst: &mut [E],
    dl: &Layout,
    src: &[E],
    sl: &Layout,
    f: impl Fn(E, E) -> E + Sync,
) {
    if let (Some(rd), Some(rs)) = (dl.contiguous_range(), sl.contiguous_range()) {
        let (d, s) = (&mut dst[rd], &src[rs]);
        let n = d.len();
        par_chunks(d, 1, n, |start, chunk| {
            let len = chunk.len();
            for (o, &y) in chunk.iter_mut().zip(&s[start..start + len]) {
                *o = f(*o, y);
            }
        });
        return;
    }
    let rows = Rows::new([dl, sl]);
    let [sd, ss] = rows.inner_strides;
    let len = rows.inner;
    rows.for_each(|[bd, bs]| {
        if sd == 1 && ss == 1 {
            for (o, &y) in dst[bd..bd + len].iter_mut().zip(&src[bs..bs + len]) {
                *o = f(*o, y);
            }
        } else {
            for j in 0..len {
                let o = &mut dst[bd + j * sd];
                *o = f(*o, src[bs + j * ss]);
            }
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Element-wise ops: match the op once, outside the loop, so each loop body is one closure the
// compiler can inline and vectorise.

macro_rules! with_binary {
    ($op:expr, $E:ty, |$f:ident| $body:expr) => {
        match $op {
            BinaryOp::Add => {
                let $f = |a: $E, b: $E| BinaryOp::Add.eval(a, b);
                $body
            }
            BinaryOp::Sub => {
                let $f = |a: $E, b: $E| BinaryOp::Sub.eval(a, b);
                $body
            }
            BinaryOp::Mul => {
                let $f = |a: $E, b: $E| BinaryOp::Mul.eval(a, b);
                $body
            }
            BinaryOp::Div => {
                let $f = |a: $E, b: $E| BinaryOp::Div.eval(a, b);
                $body
            }
            BinaryOp::Pow => {
                let $f = |a: $E, b: $E| BinaryOp::Pow.eval(a, b);
                $body
            }
            BinaryOp::Maximum => {
                let $f = |a: $E, b: $E| BinaryOp::Maximum.eval(a, b);
                $body
            }
            BinaryOp::Minimum => {
                let $f = |a: $E, b: $E| BinaryOp::Minimum.eval(a, b);
                $body
            }
            BinaryOp::Eq => {
                let $f = |a: $E, b: $E| BinaryOp::Eq.eval(a, b);
                $body
            }
            BinaryOp::Ne => {
                let $f = |a: $E, b: $E| BinaryOp::Ne.eval(a, b);
                $body
            }
            BinaryOp::Lt => {
                let $f = |a: $E, b: $E| BinaryOp::Lt.eval(a, b);
                $body
            }
            BinaryOp::Le => {
                let $f = |a: $E, b: $E| BinaryOp::Le.eval(a, b);
                $body
            }
            BinaryOp::Gt => {
                let $f = |a: $E, b: $E| BinaryOp::Gt.eval(a, b);
                $body
            }
            BinaryOp::Ge => {
                let $f = |a: $E, b: $E| BinaryOp::Ge.eval(a, b);
                $body
            }
        }
    };
}

/// Relative cost per element, which scales the threading threshold (see `PAR_THRESHOLD`).
fn binary_cost(op: BinaryOp) -> usize {
    if op == BinaryOp::Pow {
        TRANSCENDENTAL_COST
    } else {
        1
    }
}

/// A transcendental function costs ~15-20x a memory-bound add per element (measured: exp 2.7 ns
/// vs add 0.15 ns per f32 element on one core), so it is worth threads at a 16x smaller size.
pub(crate) const TRANSCENDENTAL_COST: usize = 16;

fn unary_cost(op: UnaryOp) -> usize {
    use UnaryOp::*;
    match op {
        Neg | Sqrt | Rsqrt | Recip | Square | Abs | Sign | Relu | Floor | Ceil | Round => 1,
        _ => TRANSCENDENTAL_COST,
    }
}

/// `e^x` for f32 without a libm call, so a loop over it vectorises (Cephes `expf`: x = n·ln2 + r,
/// a degree-6 polynomial on r, then 2^n built in the exponent bits, split in two factors so that
/// results down to the subnormals and up to overflow come out right). Within 1-2 ulp of
/// `f32::exp`; overflows to inf above ~88.72, underflows to 0 below ~-103.9, NaN stays NaN.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
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

/// `exp` in `E`: the vectorisable version for f32, `Float::exp` otherwise.
#[inline(always)]
fn exp_e<E: Float>(x: E) -> E {
    if E::DTYPE == DType::F32 {
        bytemuck::cast(exp_f32(bytemuck::cast(x)))
    } else {
        x.exp()
    }
}

pub(crate) fn binary<E: Element>(
    op: BinaryOp,
    a: &[E],
    la: &Layout,
    b: &[E],
    lb: &Layout,
) -> CpuStorage<E> {
    with_binary!(op, E, |f| map2(a, la, b, lb, binary_cost(op), f))
}

pub(crate) fn binary_scalar<E: Element>(
    op: BinaryOp,
    x: &[E],
    layout: &Layout,
    s: E,
    side: ScalarSide,
) -> CpuStorage<E> {
    match side {
        ScalarSide::Right => {
            with_binary!(op, E, |f| map1(x, layout, binary_cost(op), move |a| f(
                a, s
            )))
        }
        ScalarSide::Left => {
            with_binary!(op, E, |f| map1(x, layout, binary_cost(op), move |a| f(
                s, a
            )))
        }
    }
}

pub(crate) fn binary_inplace<E: Element>(
    op: BinaryOp,
    dst: &mut [E],
    dl: &Layout,
    rhs: &[E],
    rl: &Layout,
) {
    with_binary!(op, E, |f| update(dst, dl, rhs, rl, f))
}

pub(crate) fn scalar_inplace<E: Element>(op: BinaryOp, dst: &mut [E], dl: &Layout, s: E) {
    // The scalar as a 0-d array broadcast to the destination's shape (stride 0 everywhere).
    let src = [s];
    let sl = Layout::new(dl.shape().clone(), vec![0; dl.rank()], 0);
    if let Some(r) = dl.contiguous_range() {
        let d = &mut dst[r];
        let n = d.len();
        with_binary!(op, E, |f| par_chunks(d, 1, n, |_, chunk| {
            for o in chunk.iter_mut() {
                *o = f(*o, s);
            }
        }));
        return;
    }
    with_binary!(op, E, |f| update(dst, dl, &src, &sl, f))
}

macro_rules! with_unary {
    ($op:expr, $E:ty, |$f:ident| $body:expr) => {{
        let c = |v: f64| <$E>::from_f64(v);
        match $op {
            UnaryOp::Neg => {
                let $f = |x: $E| -x;
                $body
            }
            UnaryOp::Exp => {
                let $f = |x: $E| exp_e(x);
                $body
            }
            UnaryOp::Log => {
                let $f = |x: $E| x.ln();
                $body
            }
            UnaryOp::Log1p => {
                let $f = |x: $E| x.ln_1p();
                $body
            }
            UnaryOp::Expm1 => {
                let $f = |x: $E| x.exp_m1();
                $body
            }
            UnaryOp::Sqrt => {
                let $f = |x: $E| x.sqrt();
                $body
            }
            UnaryOp::Rsqrt => {
                let $f = |x: $E| <$E>::ONE / x.sqrt();
                $body
            }
            UnaryOp::Recip => {
                let $f = |x: $E| <$E>::ONE / x;
                $body
            }
            UnaryOp::Square => {
                let $f = |x: $E| x * x;
                $body
            }
            UnaryOp::Abs => {
                let $f = |x: $E| x.abs();
                $body
            }
            UnaryOp::Sign => {
                let $f = |x: $E| {
                    if x > <$E>::ZERO {
                        <$E>::ONE
                    } else if x < <$E>::ZERO {
                        -<$E>::ONE
                    } else {
                        <$E>::ZERO
                    }
                };
                $body
            }
            UnaryOp::Sin => {
                let $f = |x: $E| x.sin();
                $body
            }
            UnaryOp::Cos => {
                let $f = |x: $E| x.cos();
                $body
            }
            UnaryOp::Tanh => {
                let $f = |x: $E| x.tanh();
                $body
            }
            UnaryOp::Sigmoid => {
                let $f = |x: $E| <$E>::ONE / (<$E>::ONE + exp_e(-x));
                $body
            }
            UnaryOp::Relu => {
                let $f = |x: $E| if x > <$E>::ZERO { x } else { <$E>::ZERO };
                $body
            }
            UnaryOp::GeluErf => {
                let (half, r) = (c(0.5), c(std::f64::consts::FRAC_1_SQRT_2));
                let $f = move |x: $E| half * x * (<$E>::ONE + (x * r).erf());
                $body
            }
            UnaryOp::GeluTanh => {
                let (half, k, a) = (c(0.5), c((2.0 / std::f64::consts::PI).sqrt()), c(0.044715));
                let $f = move |x: $E| half * x * (<$E>::ONE + (k * (x + a * x * x * x)).tanh());
                $body
            }
            UnaryOp::Silu => {
                let $f = |x: $E| x / (<$E>::ONE + exp_e(-x));
                $body
            }
            UnaryOp::Softplus => {
                let t = c(20.0);
                let $f = move |x: $E| if x > t { x } else { x.exp().ln_1p() };
                $body
            }
            UnaryOp::Erf => {
                let $f = |x: $E| x.erf();
                $body
            }
            UnaryOp::Floor => {
                let $f = |x: $E| x.floor();
                $body
            }
            UnaryOp::Ceil => {
                let $f = |x: $E| x.ceil();
                $body
            }
            UnaryOp::Round => {
                let $f = |x: $E| x.round_half_even();
                $body
            }
        }
    }};
}

pub(crate) fn unary<E: Float>(op: UnaryOp, x: &[E], layout: &Layout) -> CpuStorage<E> {
    with_unary!(op, E, |f| map1(x, layout, unary_cost(op), f))
}

pub(crate) fn where_cond<E: Element>(x: [&[E]; 3], l: [&Layout; 3]) -> CpuStorage<E> {
    let pick = |c: E, t: E, f: E| if c != E::ZERO { t } else { f };
    let n = l[0].numel();
    if let (Some(r0), Some(r1), Some(r2)) = (
        l[0].contiguous_range(),
        l[1].contiguous_range(),
        l[2].contiguous_range(),
    ) {
        let (c, t, f) = (&x[0][r0], &x[1][r1], &x[2][r2]);
        return CpuStorage::build(n, |out| {
            par_chunks(out, 1, n, |start, chunk| {
                for (i, o) in chunk.iter_mut().enumerate() {
                    let k = start + i;
                    o.write(pick(c[k], t[k], f[k]));
                }
            })
        });
    }
    let rows = Rows::new(l);
    let s = rows.inner_strides;
    CpuStorage::build(n, |out| {
        rows.for_each_out(out, 1, |b, row| {
            for (j, o) in row.iter_mut().enumerate() {
                o.write(pick(
                    x[0][b[0] + j * s[0]],
                    x[1][b[1] + j * s[1]],
                    x[2][b[2] + j * s[2]],
                ));
            }
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Reductions

macro_rules! with_reduce {
    ($op:expr, $E:ty, |$f:ident| $body:expr) => {
        match $op {
            ReduceOp::Sum => {
                let $f = |a: $E, b: $E| ReduceOp::Sum.combine(a, b);
                $body
            }
            ReduceOp::Prod => {
                let $f = |a: $E, b: $E| ReduceOp::Prod.combine(a, b);
                $body
            }
            ReduceOp::Max => {
                let $f = |a: $E, b: $E| ReduceOp::Max.combine(a, b);
                $body
            }
            ReduceOp::Min => {
                let $f = |a: $E, b: $E| ReduceOp::Min.combine(a, b);
                $body
            }
        }
    };
}

/// Independent partial sums in `fold_slice`: enough that the adds of several vector registers
/// are in flight at once (an add's latency is ~4 cycles; with one chain per register the loop
/// waits on it). 8 gave ~6 GB/s on one core, 32 gives ~15 GB/s (16M f32, 2-core dev machine).
const SUM_LANES: usize = 32;

/// Folds a contiguous slice. Sums use `SUM_LANES` independent accumulators so the loop
/// vectorises (the order of float additions differs from a left fold; the result is as accurate
/// or better, since each partial sum holds fewer terms).
#[inline]
fn fold_slice<E: Element>(op: ReduceOp, s: &[E]) -> E {
    if op == ReduceOp::Sum && E::DTYPE != DType::I64 {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            return unsafe { sum_slice_avx512(s) };
        }
        return sum_slice(s);
    }
    with_reduce!(op, E, |f| s.iter().fold(op.identity(), |a, &x| f(a, x)))
}

/// `sum_slice` compiled for AVX-512 (16 f32 lanes). Safety: only on a CPU with AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sum_slice_avx512<E: Element>(s: &[E]) -> E {
    sum_slice(s)
}

/// The sum of a float slice with `SUM_LANES` partial sums (the same bits in every compiled copy:
/// the additions are the same IEEE operations in the same order).
#[inline(always)]
fn sum_slice<E: Element>(s: &[E]) -> E {
    {
        let mut acc = [E::ZERO; SUM_LANES];
        let chunks = s.chunks_exact(SUM_LANES);
        let rest = chunks.remainder();
        for c in chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a = *a + v;
            }
        }
        // Pairwise, so the partial sums meet in a balanced tree.
        let mut width = SUM_LANES;
        while width > 1 {
            width /= 2;
            for k in 0..width {
                acc[k] = acc[k] + acc[k + width];
            }
        }
        rest.iter().fold(acc[0], |t, &x| t + x)
    }
}

/// Folds one long contiguous slice (a full reduction) on every core: fixed-size blocks fold in
/// parallel, then their partial results fold in order. The block size does not depend on the
/// thread count, so the result is the same bits on any machine.
fn fold_long<E: Element>(op: ReduceOp, s: &[E]) -> E {
    const BLOCK: usize = 1 << 15;
    if s.len() <= BLOCK {
        return fold_slice(op, s);
    }
    let mut partials = vec![op.identity(); s.len().div_ceil(BLOCK)];
    par_chunks(&mut partials, 1, s.len(), |start, chunk| {
        for (i, p) in chunk.iter_mut().enumerate() {
            let from = (start + i) * BLOCK;
            *p = fold_slice(op, &s[from..(from + BLOCK).min(s.len())]);
        }
    });
    fold_slice(op, &partials)
}

pub(crate) fn reduce<E: Element>(
    op: ReduceOp,
    x: &[E],
    layout: &Layout,
    axes: &[usize],
) -> CpuStorage<E> {
    let dims = layout.dims();
    let strides = layout.strides();
    let is_reduced = |i: usize| axes.contains(&i);
    let out_len: usize = (0..dims.len())
        .filter(|&i| !is_reduced(i))
        .map(|i| dims[i])
        .product();
    let red_len: usize = axes.iter().map(|&a| dims[a]).product();
    if out_len == 0 {
        return CpuStorage::build(0, |_| {});
    }
    if red_len == 0 {
        return generate(out_len, 1, |_| op.identity());
    }
    if red_len == 1 {
        return map1(x, layout, 1, |v| v);
    }
    let kept: Vec<usize> = (0..dims.len()).filter(|&i| !is_reduced(i)).collect();
    let pick = |ax: &[usize]| -> (Vec<usize>, Vec<usize>) {
        (
            ax.iter().map(|&i| dims[i]).collect(),
            ax.iter().map(|&i| strides[i]).collect(),
        )
    };
    let (kd, ks) = pick(&kept);
    let (rd, rs) = pick(axes);
    let (rd, [rs]) = coalesce(&rd, [&rs]);
    let (kd, [ks]) = coalesce(&kd, [&ks]);
    let total = layout.numel();

    // A: the reduced axes form one contiguous run (sum over the last axis): fold slices.
    if rd.len() == 1 && rs[0] == 1 {
        let kept_layout = Layout::new(kd, ks, layout.offset());
        let n = rd[0];
        if out_len == 1 {
            let base = layout.offset();
            return generate(1, 1, |_| fold_long(op, &x[base..base + n]));
        }
        return CpuStorage::build(out_len, |out| {
            par_chunks(out, 1, total, |start, chunk| {
                let mut it = StridedIndex::starting_at(&kept_layout, start);
                for o in chunk.iter_mut() {
                    let base = it.next().unwrap_or(0);
                    o.write(fold_slice(op, &x[base..base + n]));
                }
            })
        });
    }

    let red_layout = Layout::new(rd, rs, 0);
    // B: the kept axes end in a contiguous run (sum over the batch of a [B, N] array): add whole
    // rows of the input into rows of the output, a vectorised loop per reduced position.
    if *ks.last().unwrap_or(&0) == 1 && kd.last().is_some_and(|&n| n > 1) {
        let kn = *kd.last().unwrap_or(&1);
        let r = kd.len();
        let outer = Layout::new(kd[..r - 1].to_vec(), ks[..r - 1].to_vec(), layout.offset());
        return CpuStorage::build(out_len, |out| {
            par_chunks(out, 1, total, |start, chunk| {
                for o in chunk.iter_mut() {
                    o.write(op.identity());
                }
                // SAFETY: every element was just written.
                let chunk: &mut [E] = unsafe { &mut *(chunk as *mut [MaybeUninit<E>] as *mut [E]) };
                let mut pos = start;
                let end = start + chunk.len();
                let mut outer_it = StridedIndex::starting_at(&outer, start / kn);
                while pos < end {
                    let base = outer_it.next().unwrap_or(0);
                    let col0 = pos % kn;
                    let seg = (kn - col0).min(end - pos);
                    let dst = &mut chunk[pos - start..pos - start + seg];
                    with_reduce!(op, E, |f| {
                        for roff in red_layout.strided_index() {
                            let src = &x[base + roff + col0..base + roff + col0 + seg];
                            for (d, &v) in dst.iter_mut().zip(src) {
                                *d = f(*d, v);
                            }
                        }
                    });
                    pos += seg;
                }
            })
        });
    }

    // C: anything else: the reduced offsets once, then one fold per output element.
    let kept_layout = Layout::new(kd, ks, layout.offset());
    let offsets: Vec<usize> = red_layout.strided_index().collect();
    CpuStorage::build(out_len, |out| {
        par_chunks(out, 1, total, |start, chunk| {
            let mut it = StridedIndex::starting_at(&kept_layout, start);
            for o in chunk.iter_mut() {
                let base = it.next().unwrap_or(0);
                let v = with_reduce!(op, E, |f| offsets
                    .iter()
                    .fold(op.identity(), |a, &r| f(a, x[base + r])));
                o.write(v);
            }
        })
    })
}

pub(crate) fn arg_reduce<E: Element>(
    op: ArgReduceOp,
    x: &[E],
    layout: &Layout,
    axis: usize,
) -> CpuStorage<i64> {
    let mut dims = layout.dims().to_vec();
    let mut strides = layout.strides().to_vec();
    let n = dims.remove(axis);
    let s = strides.remove(axis);
    let outer = Layout::new(dims, strides, layout.offset());
    let out_len = outer.numel();
    let better = |cand: E, best: E| match op {
        ArgReduceOp::ArgMax => cand > best,
        ArgReduceOp::ArgMin => cand < best,
    };
    CpuStorage::build(out_len, |out| {
        par_chunks(out, 1, out_len * n, |start, chunk| {
            let mut it = StridedIndex::starting_at(&outer, start);
            for o in chunk.iter_mut() {
                let base = it.next().unwrap_or(0);
                let mut best = x[base];
                let mut idx = 0usize;
                if !best.is_nan() {
                    for j in 1..n {
                        let v = x[base + j * s];
                        if v.is_nan() {
                            idx = j;
                            break;
                        }
                        if better(v, best) {
                            best = v;
                            idx = j;
                        }
                    }
                }
                o.write(idx as i64);
            }
        })
    })
}

// ---------------------------------------------------------------------------------------------
// Indexing

fn check_index(op: &'static str, v: i64, axis: usize, size: usize) -> Result<usize> {
    if v < 0 || v as u64 >= size as u64 {
        return Err(Error::IndexOutOfBounds {
            op,
            index: v,
            axis,
            size,
        });
    }
    Ok(v as usize)
}

pub(crate) fn gather<E: Element>(
    src: &[E],
    sl: &Layout,
    index: &[i64],
    il: &Layout,
    axis: usize,
) -> Result<CpuStorage<E>> {
    let view = sl.index_companion("gather", il, axis)?;
    let size = sl.dims()[axis];
    let stride = sl.strides()[axis];
    let mut out = Vec::with_capacity(il.numel());
    for (io, so) in il.strided_index().zip(view.strided_index()) {
        let i = check_index("gather", index[io], axis, size)?;
        out.push(src[so + i * stride]);
    }
    Ok(CpuStorage::from_vec(out))
}

pub(crate) fn scatter_add<E: Element>(
    dst: &mut [E],
    dl: &Layout,
    index: &[i64],
    il: &Layout,
    src: &[E],
    sl: &Layout,
    axis: usize,
) -> Result<()> {
    let view = dl.index_companion("scatter_add", il, axis)?;
    let size = dl.dims()[axis];
    let stride = dl.strides()[axis];
    // Validate every index first, so an error leaves `dst` untouched.
    for io in il.strided_index() {
        check_index("scatter_add", index[io], axis, size)?;
    }
    for ((io, so), d) in il
        .strided_index()
        .zip(sl.strided_index())
        .zip(view.strided_index())
    {
        let o = &mut dst[d + index[io] as usize * stride];
        *o = ReduceOp::Sum.combine(*o, src[so]);
    }
    Ok(())
}

pub(crate) fn index_select<E: Element>(
    src: &[E],
    sl: &Layout,
    index: &[i64],
    il: &Layout,
    axis: usize,
) -> Result<CpuStorage<E>> {
    if axis >= sl.rank() || il.rank() != 1 {
        return Err(Error::invalid(
            "index_select",
            "needs a 1-D index and an axis in range",
            sl.shape(),
        ));
    }
    let size = sl.dims()[axis];
    let idx: Vec<usize> = il
        .strided_index()
        .map(|o| check_index("index_select", index[o], axis, size))
        .collect::<Result<_>>()?;
    let mut dims = sl.dims().to_vec();
    dims[axis] = idx.len();
    // Read through `sl` with the axis stride 0, then add `idx[j] * stride` per output slice.
    let view = Layout::new(
        dims.clone(),
        {
            let mut s = sl.strides().to_vec();
            s[axis] = 0;
            s
        },
        sl.offset(),
    );
    let inner: usize = dims[axis + 1..].iter().product();
    let stride = sl.strides()[axis];
    let n = idx.len();
    let len = view.numel();
    Ok(CpuStorage::build(len, |out| {
        par_chunks(out, 1, len, |start, chunk| {
            let mut it = StridedIndex::starting_at(&view, start);
            for (p, o) in chunk.iter_mut().enumerate() {
                let j = ((start + p) / inner.max(1)) % n.max(1);
                o.write(src[it.next().unwrap_or(0) + idx[j] * stride]);
            }
        })
    }))
}

// ---------------------------------------------------------------------------------------------
// im2col / col2im

struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
}

fn geometry(op: &'static str, dims: [usize; 4], window: &Window2d) -> Result<Geometry> {
    let [n, c, h, w] = dims;
    let (oh, ow) = window.output_size(h, w).ok_or_else(|| {
        Error::invalid(
            op,
            format!("window {window:?} does not fit"),
            &vec![n, c, h, w].into(),
        )
    })?;
    // Both sides of the transform must be countable (huge padding makes huge column arrays).
    let (kh, kw) = window.kernel;
    let counts: [&[usize]; 2] = [&[n, c, kh, kw, oh, ow], &[n, c, h, w]];
    if counts.iter().any(|dims| {
        dims.iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .is_none()
    }) {
        return Err(Error::invalid(
            op,
            format!("window {window:?} gives more elements than a usize counts"),
            &vec![n, c, h, w].into(),
        ));
    }
    Ok(Geometry { n, c, h, w, oh, ow })
}

/// The input coordinate a window tap reads, or `None` in the padding.
#[inline]
fn tap(o: usize, k: usize, stride: usize, dil: usize, pad: usize, len: usize) -> Option<usize> {
    (o * stride + k * dil).checked_sub(pad).filter(|&i| i < len)
}

/// The outputs `lo..hi` (of `out_len`) whose tap `k` lands inside the input (`tap` is `Some`),
/// and the input position of the first: each row of im2col/col2im is then zeros (padding), a
/// strided run of the input, and zeros again, with no per-element test.
fn valid_span(
    k: usize,
    stride: usize,
    dil: usize,
    pad: usize,
    len: usize,
    out_len: usize,
) -> (usize, usize, usize) {
    let reach = k * dil;
    let lo = pad.saturating_sub(reach).div_ceil(stride).min(out_len);
    let hi = (len + pad)
        .saturating_sub(reach)
        .div_ceil(stride)
        .min(out_len);
    let hi = hi.max(lo);
    (lo, hi, (lo * stride + reach).saturating_sub(pad))
}

pub(crate) fn im2col<E: Float>(
    x: &[E],
    layout: &Layout,
    window: &Window2d,
) -> Result<CpuStorage<E>> {
    let dims: [usize; 4] = layout
        .dims()
        .try_into()
        .map_err(|_| Error::invalid("im2col", "expects a [n, c, h, w] array", layout.shape()))?;
    let g = geometry("im2col", dims, window)?;
    let (kh, kw) = window.kernel;
    let st = layout.strides();
    let plane = kh * kw * g.oh * g.ow;
    let len = g.n * g.c * plane;
    Ok(CpuStorage::build(len, |out| {
        par_chunks(out, plane, len, |start, chunk| {
            for (p, block) in chunk.chunks_mut(plane.max(1)).enumerate() {
                let nc = start / plane.max(1) + p;
                let (ni, ci) = (nc / g.c, nc % g.c);
                let base = layout.offset() + ni * st[0] + ci * st[1];
                let mut rows = block.chunks_mut(g.ow.max(1));
                for ki in 0..kh {
                    for kj in 0..kw {
                        let (lo, hi, ix0) = valid_span(
                            kj,
                            window.stride.1,
                            window.dilation.1,
                            window.padding.1,
                            g.w,
                            g.ow,
                        );
                        for oy in 0..g.oh {
                            let Some(row) = rows.next() else { return };
                            let iy = tap(
                                oy,
                                ki,
                                window.stride.0,
                                window.dilation.0,
                                window.padding.0,
                                g.h,
                            );
                            let Some(y) = iy.filter(|_| lo < hi) else {
                                row.iter_mut().for_each(|o| {
                                    o.write(E::ZERO);
                                });
                                continue;
                            };
                            let (left, rest) = row.split_at_mut(lo);
                            let (mid, right) = rest.split_at_mut(hi - lo);
                            left.iter_mut().chain(right).for_each(|o| {
                                o.write(E::ZERO);
                            });
                            let first = base + y * st[2] + ix0 * st[3];
                            let step = window.stride.1 * st[3]; // 0 for a broadcast width axis
                            if step == 1 {
                                // the common case (stride 1, contiguous rows): a copy
                                let src = &x[first..first + mid.len()];
                                for (o, &v) in mid.iter_mut().zip(src) {
                                    o.write(v);
                                }
                            } else {
                                for (j, o) in mid.iter_mut().enumerate() {
                                    o.write(x[first + j * step]);
                                }
                            }
                        }
                    }
                }
            }
        })
    }))
}

pub(crate) fn col2im<E: Float>(
    cols: &[E],
    cl: &Layout,
    channels: usize,
    image_hw: (usize, usize),
    window: &Window2d,
) -> Result<CpuStorage<E>> {
    let (h, w) = image_hw;
    let n = cl.dims().first().copied().unwrap_or(0);
    let g = geometry("col2im", [n, channels, h, w], window)?;
    let (kh, kw) = window.kernel;
    let ok = cl.rank() == 3 && cl.dims()[1] == channels * kh * kw && cl.dims()[2] == g.oh * g.ow;
    if !ok {
        return Err(Error::invalid(
            "col2im",
            format!("columns do not match {channels} channels of {h}x{w} with {window:?}"),
            cl.shape(),
        ));
    }
    let st = cl.strides();
    let plane = h * w;
    let len = g.n * g.c * plane;
    Ok(CpuStorage::build(len, |out| {
        par_chunks(out, plane, len * kh * kw, |start, chunk| {
            for o in chunk.iter_mut() {
                o.write(E::ZERO);
            }
            // SAFETY: every element was just written.
            let chunk: &mut [E] = unsafe { &mut *(chunk as *mut [MaybeUninit<E>] as *mut [E]) };
            for (p, img) in chunk.chunks_mut(plane.max(1)).enumerate() {
                let nc = start / plane.max(1) + p;
                let (ni, ci) = (nc / g.c, nc % g.c);
                for ki in 0..kh {
                    for kj in 0..kw {
                        let row = (ci * kh + ki) * kw + kj;
                        let base = cl.offset() + ni * st[0] + row * st[1];
                        let (lo, hi, ix0) = valid_span(
                            kj,
                            window.stride.1,
                            window.dilation.1,
                            window.padding.1,
                            w,
                            g.ow,
                        );
                        if lo == hi {
                            continue;
                        }
                        for oy in 0..g.oh {
                            let Some(y) = tap(
                                oy,
                                ki,
                                window.stride.0,
                                window.dilation.0,
                                window.padding.0,
                                h,
                            ) else {
                                continue;
                            };
                            let first = base + (oy * g.ow + lo) * st[2];
                            let count = hi - lo;
                            if window.stride.1 == 1 && st[2] == 1 {
                                // the common case: add one contiguous run into another
                                let dst = &mut img[y * w + ix0..y * w + ix0 + count];
                                for (d, &v) in dst.iter_mut().zip(&cols[first..first + count]) {
                                    *d = *d + v;
                                }
                            } else {
                                let dst = img[y * w + ix0..].iter_mut().step_by(window.stride.1);
                                for (j, d) in dst.take(count).enumerate() {
                                    *d = *d + cols[first + j * st[2]];
                                }
                            }
                        }
                    }
                }
            }
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::{exp_f32, map_contiguous, sum_slice, TRANSCENDENTAL_COST};

    #[test]
    fn avx512_sum_gives_the_same_bits_as_the_baseline_sum() {
        let x: Vec<f32> = (0..100_003)
            .map(|i| ((i * 7919) % 1013) as f32 * 0.37 - 150.0)
            .collect();
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F (checked just above).
            let wide = unsafe { super::sum_slice_avx512(&x) };
            assert_eq!(wide.to_bits(), sum_slice(&x).to_bits());
        }
        let plain: f64 = x.iter().map(|&v| v as f64).sum();
        assert!((sum_slice(&x) as f64 - plain).abs() < 1e-3 * plain.abs().max(1.0));
    }

    #[test]
    fn vectorised_exp_map_matches_scalar_exp_bit_for_bit() {
        // Through `map_contiguous`, i.e. the AVX-512/AVX2 copy where the CPU has one, and split
        // across threads: the same bits as the scalar function, special values included.
        let mut x: Vec<f32> = (0..300_000).map(|i| -110.0 + i as f32 * 0.000_7).collect();
        x.extend([
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
            -0.0,
            88.72,
            -103.9,
        ]);
        let got = map_contiguous(&x, TRANSCENDENTAL_COST, exp_f32);
        for (&xi, &g) in x.iter().zip(got.as_slice()) {
            let want = exp_f32(xi);
            assert!(
                g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()),
                "exp({xi}): map {g}, scalar {want}"
            );
        }
    }

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
}
