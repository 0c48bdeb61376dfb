//! Counter-based random numbers: element `i` of a fill with seed `s` is a pure function of
//! `(s, i)`. Every backend computes the same function, so a CPU and a GPU fill with the same seed
//! hold the same numbers, and a fill can be split across threads without sharing a generator.

use crate::RandomDist;

/// SplitMix64's finaliser: a fast, well-mixed bijection on `u64`.
#[inline(always)]
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The `i`-th uniform number in `[0, 1)` of the stream `seed` (53 random bits).
#[inline(always)]
pub fn uniform_at(seed: u64, i: u64) -> f64 {
    let bits = splitmix64(seed ^ splitmix64(i));
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Element `i` of a fill drawn from `dist` with `seed`, in f64. Normals use Box–Muller on the
/// uniforms `2i` and `2i + 1`.
#[inline]
pub fn sample_at(dist: RandomDist, seed: u64, i: u64) -> f64 {
    match dist {
        RandomDist::Uniform { low, high } => low + (high - low) * uniform_at(seed, i),
        RandomDist::Normal { mean, std } => {
            let u1 = 1.0 - uniform_at(seed, 2 * i); // in (0, 1], so ln is finite
            let u2 = uniform_at(seed, 2 * i + 1);
            mean + std * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        }
        RandomDist::Bernoulli { p } => {
            if uniform_at(seed, i) < p {
                1.0
            } else {
                0.0
            }
        }
    }
}

/// A seeded source of per-call seeds: each random op asks it for a fresh `u64`, so a program that
/// seeds it once (`manual_seed`) is reproducible bit for bit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Generator {
    seed: u64,
    counter: u64,
}

impl Generator {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Generator { seed, counter: 0 }
    }

    /// The next per-call seed.
    pub fn next_seed(&mut self) -> u64 {
        self.counter += 1;
        splitmix64(self.seed ^ splitmix64(self.counter.wrapping_mul(0xD1B5_4A32_D192_ED03)))
    }

    /// A uniform number in `[0, 1)` for host-side use (shuffles, dropout masks on the host).
    pub fn next_f64(&mut self) -> f64 {
        let s = self.next_seed();
        (s >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `0..n` (`n > 0`), without modulo bias worth noticing for `n < 2^32`.
    pub fn below(&mut self, n: usize) -> usize {
        (((self.next_seed() >> 32) * n as u64) >> 32) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_moments_are_close() {
        let n = 100_000;
        let mean = (0..n).map(|i| uniform_at(7, i)).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
    }

    #[test]
    fn normal_moments_are_close() {
        let n = 100_000u64;
        let d = RandomDist::Normal {
            mean: 1.0,
            std: 2.0,
        };
        let xs: Vec<f64> = (0..n).map(|i| sample_at(d, 3, i)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            (mean - 1.0).abs() < 0.03 && (var - 4.0).abs() < 0.1,
            "{mean} {var}"
        );
    }

    #[test]
    fn generator_is_reproducible() {
        let mut a = Generator::new(42);
        let mut b = Generator::new(42);
        assert_eq!(a.next_seed(), b.next_seed());
        assert_ne!(a.next_seed(), Generator::new(43).next_seed());
    }
}
