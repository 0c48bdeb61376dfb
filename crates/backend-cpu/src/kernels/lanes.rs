//! Row reductions in [`LANES`] partial results, element `i` into lane `i % LANES`, so they
//! vectorise and every row is reduced in the same order whatever the thread count.
//!
//! Why a helper: written as `for chunk in row.chunks(LANES)` with an inner loop over the lanes,
//! the compiler keeps the partial results in memory (the inner loop's length is not fixed) and
//! turns a running maximum into masked stores, which AMD CPUs run many times slower than a
//! blend. Whole chunks as fixed-size arrays keep the partials in registers.

/// Partial results per row: 16 f32 fill one AVX-512 register, two AVX2 ones.
pub(crate) const LANES: usize = 16;

/// `LANES` partial folds of `row` from `init`: lane `j` is `f(…f(f(init, row[j]), row[j +
/// LANES])…)`. The last, partial chunk is filled up with `pad`, which must leave a lane as it
/// is (`f(a, pad) == a`): a partial chunk folded lane by lane is a masked store again.
#[inline(always)]
pub(crate) fn fold_lanes<E: Copy>(
    row: &[E],
    init: E,
    pad: E,
    mut f: impl FnMut(E, E) -> E,
) -> [E; LANES] {
    let mut acc = [init; LANES];
    let mut chunks = row.chunks_exact(LANES);
    for chunk in &mut chunks {
        let chunk: &[E; LANES] = chunk.try_into().expect("chunks_exact yields LANES");
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a = f(*a, v);
        }
    }
    if let Some(last) = padded(chunks.remainder(), pad) {
        for (a, &v) in acc.iter_mut().zip(&last) {
            *a = f(*a, v);
        }
    }
    acc
}

/// [`fold_lanes`] over two rows of one length, element by element (`f(s, pad_a, pad_b) == s`).
#[inline(always)]
pub(crate) fn fold_lanes2<E: Copy>(
    (a, pad_a): (&[E], E),
    (b, pad_b): (&[E], E),
    init: E,
    mut f: impl FnMut(E, E, E) -> E,
) -> [E; LANES] {
    let mut acc = [init; LANES];
    let (mut ca, mut cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    for (x, y) in (&mut ca).zip(&mut cb) {
        let x: &[E; LANES] = x.try_into().expect("chunks_exact yields LANES");
        let y: &[E; LANES] = y.try_into().expect("chunks_exact yields LANES");
        for ((s, &u), &v) in acc.iter_mut().zip(x).zip(y) {
            *s = f(*s, u, v);
        }
    }
    if let (Some(x), Some(y)) = (padded(ca.remainder(), pad_a), padded(cb.remainder(), pad_b)) {
        for ((s, &u), &v) in acc.iter_mut().zip(&x).zip(&y) {
            *s = f(*s, u, v);
        }
    }
    acc
}

/// The [`LANES`] partial sums of a fold added up, in lane order.
#[inline(always)]
pub(crate) fn sum_lanes<E: nanotorch_ndarray_core::Float>(lanes: [E; LANES]) -> E {
    lanes.iter().fold(E::ZERO, |a, &b| a + b)
}

/// A partial chunk as a whole one, filled up with `pad`; `None` for an empty one.
#[inline(always)]
pub(crate) fn padded<E: Copy>(rest: &[E], pad: E) -> Option<[E; LANES]> {
    (!rest.is_empty()).then(|| {
        let mut whole = [pad; LANES];
        whole[..rest.len()].copy_from_slice(rest);
        whole
    })
}
