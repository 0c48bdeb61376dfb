//! The two-moons toy data set, as scikit-learn's `make_moons`.

use crate::rng::Rng;

/// Two interleaving half circles in the plane, as scikit-learn's
/// `make_moons(n_samples, noise=noise)`: the upper moon `(cos t, sin t)` and the lower one
/// `(1 − cos t, 0.5 − sin t)` for `t` evenly spaced over `[0, π]`, `n_samples / 2` points on the
/// first (the rest on the second), shuffled, each coordinate plus Gaussian noise of standard
/// deviation `noise`.
///
/// Labels are `-1.0` (upper) and `1.0` (lower), the ±1 that micrograd's demo turns scikit-learn's
/// 0/1 into for its max-margin loss. Returns `(points, labels)`.
///
/// ```
/// let (x, y) = nanotorch_scalar::make_moons(100, 0.1, 0);
/// assert_eq!((x.len(), y.len()), (100, 100));
/// assert_eq!(y.iter().filter(|&&l| l > 0.0).count(), 50);
/// ```
pub fn make_moons(n_samples: usize, noise: f64, seed: u64) -> (Vec<[f64; 2]>, Vec<f64>) {
    let n_upper = n_samples / 2;
    let n_lower = n_samples - n_upper;
    let angle = |i: usize, n: usize| std::f64::consts::PI * i as f64 / (n.max(2) - 1) as f64;
    let mut points: Vec<([f64; 2], f64)> = (0..n_upper)
        .map(|i| ([angle(i, n_upper).cos(), angle(i, n_upper).sin()], -1.0))
        .chain((0..n_lower).map(|i| {
            let t = angle(i, n_lower);
            ([1.0 - t.cos(), 0.5 - t.sin()], 1.0)
        }))
        .collect();
    let mut rng = Rng::new(seed);
    // Fisher–Yates: every order equally likely.
    for i in (1..points.len()).rev() {
        points.swap(i, rng.below(i + 1));
    }
    for (p, _) in &mut points {
        p[0] += noise * rng.normal();
        p[1] += noise * rng.normal();
    }
    points.into_iter().unzip()
}
