//! A tiny seeded random number generator, so the crate needs no dependencies and the same seed
//! gives the same weights and data everywhere.

/// SplitMix64 (Steele, Lea and Flood, 2014): a 64-bit counter put through a mixing function.
/// Not cryptographic, and not the fastest, but six lines long and good enough to initialise
/// weights and draw noise.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    /// A generator whose whole sequence is fixed by `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[low, high)`, like Python's `random.uniform`.
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        // The top 53 bits fill an f64's mantissa exactly: a multiple of 2⁻⁵³ in [0, 1).
        let unit = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        low + (high - low) * unit
    }

    /// A standard normal draw (mean 0, standard deviation 1), by the Box–Muller transform.
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(0.0, 1.0); // in (0, 1], so the log is finite
        let u2 = self.uniform(0.0, 1.0);
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// A uniformly random index in `0..n` (`n > 0`). The modulo bias is below 2⁻⁵⁰ for the
    /// sizes used here.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
