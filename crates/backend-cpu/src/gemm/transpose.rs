//! Packing with vector transposes (f32): a row-major A into a sliver of `R` rows (`R` elements
//! per step of k, `Micro::transpose_rows`), and a column-major B (a transposed weight, `x·Wᵀ`)
//! into a sliver of `NR` columns, 8 at a time (`Micro::transpose_columns`). Packing element by
//! element reads 8 to 32 rows in parallel one scalar at a time; in a GPT step that was a tenth
//! of the time spent in GEMMs.

use std::arch::x86_64::*;

/// Writes rows `0..R` (`R` = 6 or 8) of `a` (`kc` elements each, row stride `rsa`) to `out`
/// column by column, column `p` at `out + p·ldo` (`ldo` ≥ `R`): 8×8 blocks through the classic AVX transpose (unpack pairs, then quads,
/// then 128-bit halves), the `kc % 8` leftover columns one by one. For `R` = 6 rows 6 and 7 of
/// the block repeat row 5 (no read past the sliver) and each column stores its first 6 lanes.
///
/// # Safety
/// The CPU has AVX2; `a` addresses `R` rows of `kc` elements at stride `rsa`; `out` has room
/// for `(kc - 1)·ldo + R` elements.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn rows_f32<const R: usize>(
    kc: usize,
    a: *const f32,
    rsa: usize,
    out: *mut f32,
    ldo: usize,
) {
    const {
        assert!(
            R == 6 || R == 8,
            "the transpose is written for 6- and 8-row slivers"
        )
    };
    let full = kc - kc % 8;
    for p in (0..full).step_by(8) {
        let row = |r: usize| _mm256_loadu_ps(a.add(r.min(R - 1) * rsa + p));
        let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
        let (r4, r5, r6, r7) = (row(4), row(5), row(6), row(7));
        let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
        let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
        let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
        let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        let columns = [
            _mm256_permute2f128_ps::<0x20>(u0, u4),
            _mm256_permute2f128_ps::<0x20>(u1, u5),
            _mm256_permute2f128_ps::<0x20>(u2, u6),
            _mm256_permute2f128_ps::<0x20>(u3, u7),
            _mm256_permute2f128_ps::<0x31>(u0, u4),
            _mm256_permute2f128_ps::<0x31>(u1, u5),
            _mm256_permute2f128_ps::<0x31>(u2, u6),
            _mm256_permute2f128_ps::<0x31>(u3, u7),
        ];
        for (j, &column) in columns.iter().enumerate() {
            let dst = out.add((p + j) * ldo);
            if R == 8 {
                _mm256_storeu_ps(dst, column);
            } else {
                // Lanes 0..4, then 4 and 5 as one 64-bit store.
                _mm_storeu_ps(dst, _mm256_castps256_ps128(column));
                let high = _mm256_extractf128_ps::<1>(column);
                _mm_storel_epi64(dst.add(4) as *mut __m128i, _mm_castps_si128(high));
            }
        }
    }
    for p in full..kc {
        for r in 0..R {
            *out.add(p * ldo + r) = *a.add(r * rsa + p);
        }
    }
}
