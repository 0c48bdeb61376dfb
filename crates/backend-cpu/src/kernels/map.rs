//! Generators and maps: the loops every element-wise kernel runs, with a contiguous fast path
//! (compiled again for AVX2 and AVX-512, picked at run time) and a strided path over rows.

use crate::parallel::{par_chunks, Rows};
use crate::storage::CpuStorage;
use nanotorch_ndarray_core::{Element, Layout};
use std::mem::MaybeUninit;

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

#[cfg(test)]
mod tests {
    use super::map_contiguous;
    use nanotorch_ndarray_core::math::exp_f32;

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
        let got = map_contiguous(&x, 16, exp_f32);
        for (&xi, &g) in x.iter().zip(got.as_slice()) {
            let want = exp_f32(xi);
            assert!(
                g.to_bits() == want.to_bits() || (g.is_nan() && want.is_nan()),
                "exp({xi}): map {g}, scalar {want}"
            );
        }
    }
}
