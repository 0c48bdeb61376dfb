//! Seed arithmetic shared by the loader, samplers, transforms and generators.
//!
//! Every random decision in this crate is a pure function of a seed that is *derived*, not drawn
//! from a shared generator: the order of epoch `e` comes from `derive_seed(seed, e)`, the
//! augmentation of the `k`-th sample of that epoch from `derive_seed(epoch_seed, k)`. So results
//! never depend on which worker thread ran first.

use nanotorch_ndarray_core::random::splitmix64;
pub use nanotorch_ndarray_core::Generator;

/// A new seed that is a well-mixed function of `seed` and `stream` (distinct streams give
/// unrelated seeds).
pub fn derive_seed(seed: u64, stream: u64) -> u64 {
    splitmix64(
        seed ^ splitmix64(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x632B_E59B_D9B4_E019),
    )
}

/// A generator for the sub-stream `stream` of `seed`.
pub fn generator(seed: u64, stream: u64) -> Generator {
    Generator::new(derive_seed(seed, stream))
}

/// A standard normal draw (Box–Muller).
pub fn normal(rng: &mut Generator) -> f64 {
    let u1 = 1.0 - rng.next_f64(); // (0, 1]: ln is finite
    let u2 = rng.next_f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Shuffles `items` in place (Fisher–Yates).
pub fn shuffle<T>(items: &mut [T], rng: &mut Generator) {
    for i in (1..items.len()).rev() {
        let j = rng.below(i + 1);
        items.swap(i, j);
    }
}

/// A random permutation of `0..n`.
pub fn permutation(n: usize, rng: &mut Generator) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    shuffle(&mut p, rng);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_a_permutation_and_seeded() {
        let a = permutation(100, &mut generator(1, 0));
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..100).collect::<Vec<_>>());
        assert_eq!(a, permutation(100, &mut generator(1, 0)));
        assert_ne!(a, permutation(100, &mut generator(1, 1)));
    }

    #[test]
    fn normal_has_unit_moments() {
        let mut g = Generator::new(5);
        let xs: Vec<f64> = (0..50_000).map(|_| normal(&mut g)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
        assert!(
            mean.abs() < 0.02 && (var - 1.0).abs() < 0.03,
            "{mean} {var}"
        );
    }
}
