//! How a seed becomes random numbers: every random decision in this crate (shuffle orders,
//! samplers, random transforms, the noise of generated datasets) draws from a [`DataRng`] made
//! here from a seed and a stream number.
//!
//! The generator is ChaCha8 (`rand_chacha`), for two reasons. It is value-stable: the same seed
//! gives the same numbers on every platform and in every future release of the crate, which rand's
//! `StdRng` does not promise. And one seed keys 2^64 independent *streams*, each of which can be
//! entered at any position in constant time; so the order of epoch `e` is stream `e` of the
//! sampler's seed, and the augmentation seed of the `k`-th sample of an epoch is the `k`-th number
//! of that epoch's augmentation stream, computed directly by whichever worker loads the sample.
//! Nothing is drawn from a generator that threads share, so results never depend on which worker
//! ran first.
//!
//! Device-side random fills (`Tensor::randn`, dropout masks) are a different matter: they use
//! ndarray-core's counter-based generator so that CPU and GPU produce the same numbers.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The generator behind all of this crate's randomness (ChaCha8; see the [module](self) docs).
pub type DataRng = ChaCha8Rng;

/// The generator of stream `stream` of `seed`: keyed by `seed` (through
/// [`SeedableRng::seed_from_u64`]), positioned at the start of ChaCha's stream `stream`.
/// Distinct streams of one seed are independent.
///
/// ```
/// use nanotorch_data::seed::generator;
/// use rand::Rng;
///
/// let a: Vec<u32> = (0..3).map(|_| generator(7, 0).gen()).collect();
/// assert_eq!(a[0], a[1]); // a fresh generator of the same (seed, stream) repeats itself
/// let x: u32 = generator(7, 1).gen();
/// assert_ne!(a[0], x); // another stream of the same seed does not
/// ```
pub fn generator(seed: u64, stream: u64) -> DataRng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// The `position`-th 64-bit number of stream `stream` of `seed`, computed without drawing the
/// ones before it (ChaCha is seekable). The loader gives the sample at position `k` of epoch `e`
/// the seed `nth_u64(augment_seed, e, k)`.
pub fn nth_u64(seed: u64, stream: u64, position: u64) -> u64 {
    let mut rng = generator(seed, stream);
    // A u64 is two of ChaCha's 32-bit words.
    rng.set_word_pos(u128::from(position) * 2);
    rng.next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nth_u64_seeks_to_the_sequential_draw() {
        let mut g = generator(3, 5);
        let sequential: Vec<u64> = (0..40).map(|_| g.next_u64()).collect();
        for (k, &want) in sequential.iter().enumerate() {
            assert_eq!(nth_u64(3, 5, k as u64), want, "position {k}");
        }
    }

    #[test]
    fn seeds_and_streams_are_distinct() {
        let first = |seed, stream| generator(seed, stream).next_u64();
        assert_eq!(first(1, 0), first(1, 0));
        assert_ne!(first(1, 0), first(1, 1));
        assert_ne!(first(1, 0), first(2, 0));
    }
}
