//! Seeded synthetic datasets for quick experiments: two moons, spirals, Gaussian blobs. The same
//! seed gives the same points on every machine (see [`seed`](crate::seed)).

use crate::seed::{generator, DataRng};
use crate::TensorDataset;
use nanotorch_ndarray_core::{Error, Result};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_distr::StandardNormal;

/// A standard normal draw.
fn normal(rng: &mut DataRng) -> f64 {
    rng.sample(StandardNormal)
}

/// Two interleaving half circles, as scikit-learn's `make_moons(n_samples, noise=noise,
/// shuffle=True)`: `n / 2` points (rounded down) of class 0 on the upper arc
/// `(cos t, sin t)`, the rest of class 1 on the lower arc `(1 - cos t, 0.5 - sin t)`, `t` evenly
/// spaced in `[0, π]`, plus Gaussian noise of standard deviation `noise`; then shuffled.
/// Features `[2]`.
pub fn moons(n_samples: usize, noise: f32, seed: u64) -> Result<TensorDataset> {
    check_noise("moons", noise)?;
    let n_out = n_samples / 2;
    let n_in = n_samples - n_out;
    let mut g = generator(seed, 0);
    let mut points = Vec::with_capacity(n_samples);
    for i in 0..n_out {
        let t = std::f64::consts::PI * evenly_spaced(i, n_out);
        points.push(([t.cos(), t.sin()], 0));
    }
    for i in 0..n_in {
        let t = std::f64::consts::PI * evenly_spaced(i, n_in);
        points.push(([1.0 - t.cos(), 0.5 - t.sin()], 1));
    }
    finish_2d(points, noise, &mut g)
}

/// `n_classes` interleaved spiral arms of `n_per_class` points each (the CS231n spiral): arm `k`
/// has radius `r` from 0 to 1 and angle `4k + 4r` radians (plus Gaussian noise of std `noise`
/// on the angle), point `(r sin θ, r cos θ)`; then shuffled. Features `[2]`, labels `0..n_classes`.
pub fn spirals(
    n_per_class: usize,
    n_classes: usize,
    noise: f32,
    seed: u64,
) -> Result<TensorDataset> {
    check_noise("spirals", noise)?;
    let mut g = generator(seed, 0);
    let mut points = Vec::with_capacity(n_per_class.saturating_mul(n_classes));
    for k in 0..n_classes {
        for i in 0..n_per_class {
            let r = evenly_spaced(i, n_per_class);
            let theta = 4.0 * k as f64 + 4.0 * r + f64::from(noise) * normal(&mut g);
            points.push(([r * theta.sin(), r * theta.cos()], k as i64));
        }
    }
    finish_2d(points, 0.0, &mut g)
}

/// Isotropic Gaussian blobs, as scikit-learn's `make_blobs(n_samples, n_features, centers,
/// cluster_std)`: `centers` centres drawn uniformly from the box `[-10, 10]^n_features`,
/// `n_samples` points spread over them as evenly as possible (the first `n_samples % centers`
/// get one more), each centre plus Gaussian noise of std `cluster_std`; labelled by centre,
/// then shuffled. Features `[n_features]`.
pub fn blobs(
    n_samples: usize,
    n_features: usize,
    centers: usize,
    cluster_std: f32,
    seed: u64,
) -> Result<TensorDataset> {
    check_noise("blobs", cluster_std)?;
    if centers == 0 || n_features == 0 {
        return Err(Error::msg(format!(
            "blobs: need at least one centre and one feature (got {centers} and {n_features})"
        )));
    }
    let mut g = generator(seed, 0);
    let centres: Vec<Vec<f64>> = (0..centers)
        .map(|_| (0..n_features).map(|_| g.gen_range(-10.0..10.0)).collect())
        .collect();
    let mut rows: Vec<(Vec<f32>, i64)> = Vec::with_capacity(n_samples);
    for (c, centre) in centres.iter().enumerate() {
        let count = n_samples / centers + usize::from(c < n_samples % centers);
        for _ in 0..count {
            let x = centre
                .iter()
                .map(|&m| (m + f64::from(cluster_std) * normal(&mut g)) as f32)
                .collect();
            rows.push((x, c as i64));
        }
    }
    rows.shuffle(&mut g);
    let labels = rows.iter().map(|r| r.1).collect();
    let features = rows.into_iter().flat_map(|r| r.0).collect();
    TensorDataset::new(features, [n_features], labels)
}

/// Point `i` of `n` evenly spaced in `[0, 1]`, both ends included (0 when `n` is 1), as
/// `numpy.linspace(0, 1, n)[i]`.
fn evenly_spaced(i: usize, n: usize) -> f64 {
    if n > 1 {
        i as f64 / (n - 1) as f64
    } else {
        0.0
    }
}

fn check_noise(op: &str, noise: f32) -> Result<()> {
    if noise.is_finite() && noise >= 0.0 {
        Ok(())
    } else {
        Err(Error::msg(format!(
            "{op}: noise must be a finite number >= 0, got {noise}"
        )))
    }
}

/// Adds noise, shuffles, and packs 2-D points into a dataset.
fn finish_2d(
    mut points: Vec<([f64; 2], i64)>,
    noise: f32,
    g: &mut DataRng,
) -> Result<TensorDataset> {
    if noise > 0.0 {
        for (p, _) in &mut points {
            p[0] += f64::from(noise) * normal(g);
            p[1] += f64::from(noise) * normal(g);
        }
    }
    points.shuffle(g);
    let labels = points.iter().map(|p| p.1).collect();
    let features = points
        .iter()
        .flat_map(|(p, _)| [p[0] as f32, p[1] as f32])
        .collect();
    TensorDataset::new(features, [2], labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::class_counts;
    use crate::Dataset;

    #[test]
    fn moons_match_sklearn_geometry() {
        let d = moons(101, 0.0, 1).unwrap();
        assert_eq!(d.len(), 101);
        assert_eq!(class_counts(d.labels(), 2), vec![50, 51]);
        for i in 0..d.len() {
            let s = d.get(i).unwrap();
            let (x, y) = (s.features[0] as f64, s.features[1] as f64);
            let (cx, cy) = if s.label == 0 { (0.0, 0.0) } else { (1.0, 0.5) };
            let r = ((x - cx).powi(2) + (y - cy).powi(2)).sqrt();
            assert!((r - 1.0).abs() < 1e-5, "{x} {y}");
        }
        assert_eq!(moons(50, 0.1, 3).unwrap(), moons(50, 0.1, 3).unwrap());
        assert_ne!(moons(50, 0.1, 3).unwrap(), moons(50, 0.1, 4).unwrap());
        assert!(moons(10, -1.0, 0).is_err());
    }

    #[test]
    fn spirals_and_blobs() {
        let s = spirals(30, 3, 0.1, 2).unwrap();
        assert_eq!(s.len(), 90);
        assert_eq!(class_counts(s.labels(), 3), vec![30, 30, 30]);
        assert!(s.features().iter().all(|v| v.abs() <= 1.0 + 1e-6));

        let b = blobs(103, 3, 4, 0.5, 9).unwrap();
        assert_eq!(b.len(), 103);
        assert_eq!(b.sample_shape().dims(), &[3]);
        assert_eq!(class_counts(b.labels(), 4), vec![26, 26, 26, 25]);
        // Points sit near their class mean.
        for c in 0..4 {
            let idx: Vec<usize> = (0..b.len()).filter(|&i| b.labels()[i] == c).collect();
            let mean: Vec<f32> = (0..3)
                .map(|j| {
                    idx.iter().map(|&i| b.feature(i).unwrap()[j]).sum::<f32>() / idx.len() as f32
                })
                .collect();
            for &i in &idx {
                let f = b.feature(i).unwrap();
                let d2: f32 = (0..3).map(|j| (f[j] - mean[j]).powi(2)).sum();
                assert!(d2.sqrt() < 3.0, "{d2}");
            }
        }
        assert!(blobs(10, 2, 0, 1.0, 0).is_err());
    }
}
