//! The GEMM paths against a naive triple loop in f64, over shapes that cross every block edge
//! (`MR`, `NR`, `KC`, `MC`, `NC`, the direct-B row limit and the dot kernel's blocks) and every
//! operand orientation.

#[cfg(target_arch = "x86_64")]
use super::{
    avx2::Avx2,
    avx512::{Avx512, Avx512Narrow},
    blocked_gemm,
};
use super::{gemm, portable_gemm};
#[cfg(target_arch = "x86_64")]
use crate::kernels::Isa;
use nanotorch_ndarray_core::Float;

/// Small integers scaled so f32 products and sums of a few hundred terms are exact.
fn values(len: usize, seed: u64) -> Vec<f64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x % 17) as f64 - 8.0) / 4.0
        })
        .collect()
}

type Gemm<E> = unsafe fn(
    (usize, usize, usize),
    *const E,
    (usize, usize),
    *const E,
    (usize, usize),
    *mut E,
    usize,
);

/// Runs `f` on `m×k @ k×n` with A and B stored row- or column-major and compares with the
/// naive product, exactly (the inputs are chosen so every partial sum is representable).
fn check<E: Float>(f: Gemm<E>, (m, k, n): (usize, usize, usize)) {
    let a64 = values(m * k, (m * 31 + k) as u64);
    let b64 = values(k * n, (k * 17 + n) as u64);
    let mut want = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            want[i * n + j] = (0..k).map(|p| a64[i * k + p] * b64[p * n + j]).sum();
        }
    }
    for (a_rows, b_rows) in [(true, true), (true, false), (false, true), (false, false)] {
        // Store each operand in the chosen order; the strides say how to read it back.
        let (a, sa) = store::<E>(&a64, m, k, a_rows);
        let (b, sb) = store::<E>(&b64, k, n, b_rows);
        // An ldc wider than n checks that C's row stride is honoured.
        let ldc = n + 3;
        let mut c = vec![E::from_f64(-99.0); m * ldc];
        unsafe {
            f(
                (m, k, n),
                a.as_ptr(),
                sa,
                b.as_ptr(),
                sb,
                c.as_mut_ptr(),
                ldc,
            )
        };
        for i in 0..m {
            for j in 0..n {
                let got = c[i * ldc + j].to_f64();
                assert_eq!(
                    got,
                    want[i * n + j],
                    "{m}x{k}x{n} a_rows={a_rows} b_rows={b_rows} at ({i}, {j})"
                );
            }
            for j in n..ldc {
                assert_eq!(c[i * ldc + j].to_f64(), -99.0, "wrote past column {n}");
            }
        }
    }
}

/// `rows×cols` values in row-major order, stored row- or column-major, with their strides.
fn store<E: Float>(
    x: &[f64],
    rows: usize,
    cols: usize,
    row_major: bool,
) -> (Vec<E>, (usize, usize)) {
    if row_major {
        (x.iter().map(|&v| E::from_f64(v)).collect(), (cols, 1))
    } else {
        let mut t = vec![E::ZERO; x.len()];
        for i in 0..rows {
            for j in 0..cols {
                t[j * rows + i] = E::from_f64(x[i * cols + j]);
            }
        }
        (t, (1, rows))
    }
}

const SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (3, 5, 7),
    (8, 16, 32),
    (9, 17, 33),
    (32, 128, 512),
    (64, 300, 40),
    (65, 7, 65),
    (130, 257, 100),
    (7, 600, 1100),
    // A read in place (few columns) over several row and k blocks, with a short last sliver
    (130, 600, 20),
    // one vector wide or less (the narrow AVX-512 kernel), A in place and packed
    (40, 300, 16),
    (23, 9, 8),
    // short k over several column blocks; the dot kernel over several k
    // blocks with a tail, odd rows and columns
    (3, 9, 1100),
    (5, 2100, 3),
];

#[test]
fn every_path_matches_the_naive_product_exactly() {
    for &shape in SHAPES {
        check::<f32>(gemm::<f32>, shape);
        check::<f64>(gemm::<f64>, shape);
        check::<f32>(portable_gemm::<f32>, shape);
    }
}

/// Every packed micro-kernel this CPU has, called directly (the dispatch picks only the widest,
/// and sends some shapes to the dot kernel).
#[cfg(target_arch = "x86_64")]
#[test]
fn each_packed_kernel_this_cpu_has_matches_the_naive_product_exactly() {
    let isa = Isa::best();
    for &shape in SHAPES {
        if isa <= Isa::Avx2 {
            check::<f32>(blocked_gemm::<f32, Avx2>, shape);
            check::<f64>(blocked_gemm::<f64, Avx2>, shape);
        }
        if isa == Isa::Avx512 {
            check::<f32>(blocked_gemm::<f32, Avx512>, shape);
            check::<f64>(blocked_gemm::<f64, Avx512>, shape);
            check::<f32>(blocked_gemm::<f32, Avx512Narrow>, shape);
            check::<f64>(blocked_gemm::<f64, Avx512Narrow>, shape);
        }
    }
}

/// The AVX2 and both AVX-512 kernels run the same FMAs in the same order for each element, so
/// on inputs whose sums round they still agree bit for bit (runs only where AVX-512 is present).
#[cfg(target_arch = "x86_64")]
#[test]
fn avx2_and_avx512_kernels_give_the_same_bits() {
    if Isa::best() != Isa::Avx512 {
        return;
    }
    let (m, k, n) = (37, 700, 90);
    let a: Vec<f32> = (0..m * k)
        .map(|i| ((i * 7919) % 1013) as f32 / 97.3 - 5.0)
        .collect();
    let b: Vec<f32> = (0..k * n)
        .map(|i| ((i * 6007) % 1031) as f32 / 89.1 - 5.5)
        .collect();
    let run = |f: Gemm<f32>| {
        let mut c = vec![0.0f32; m * n];
        unsafe {
            f(
                (m, k, n),
                a.as_ptr(),
                (k, 1),
                b.as_ptr(),
                (n, 1),
                c.as_mut_ptr(),
                n,
            )
        };
        c
    };
    let wide = run(blocked_gemm::<f32, Avx512>);
    for other in [
        run(blocked_gemm::<f32, Avx2>),
        run(blocked_gemm::<f32, Avx512Narrow>),
    ] {
        assert!(wide
            .iter()
            .zip(&other)
            .all(|(x, y)| x.to_bits() == y.to_bits()));
    }
}
