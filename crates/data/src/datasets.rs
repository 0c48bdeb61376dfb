//! Ready-made datasets: the UCI optical-digits set bundled in the crate, and seeded synthetic
//! generators (two moons, spirals, Gaussian blobs) for quick experiments.

use crate::readers::{parse_csv, CsvOptions};
use crate::rng::{self, normal};
use crate::TensorDataset;
use nanotorch_ndarray_core::{Error, Generator, Result};

/// The bundled `digits.csv.gz`: 1,797 rows of 64 pixel counts (0..=16) and a label (0..=9).
static DIGITS_CSV_GZ: &[u8] = include_bytes!("../data/digits.csv.gz");

/// Rows in the digits set.
pub const DIGITS_ROWS: usize = 1797;
/// Samples in the digits training split.
pub const DIGITS_TRAIN: usize = 1438;
/// Samples in the digits test split.
pub const DIGITS_TEST: usize = 359;
/// The seed of the digits train/test split.
pub const DIGITS_SPLIT_SEED: u64 = 20_260_601;

/// All 1,797 samples of the UCI "Optical Recognition of Handwritten Digits" set (E. Alpaydin,
/// C. Kaynak, 1998; CC BY 4.0; the copy scikit-learn ships as `load_digits`), in file order.
///
/// Each sample is 64 values (an 8×8 image, row-major; reshape with
/// [`TensorDataset::reshape_samples`] to `[1, 8, 8]` for a convolution), each a count 0..=16
/// of "on" pixels in a 4×4 block. Labels are 0..=9. Values are raw counts: divide by 16
/// (`Normalize::scalar(0.0, 16.0)`) to get `[0, 1]`, as the examples do.
pub fn digits_full() -> Result<TensorDataset> {
    parse_csv(
        DIGITS_CSV_GZ,
        &CsvOptions::default(),
        "digits.csv.gz (bundled)",
    )
}

/// The digits set split into `(train, test)`: 1,438 and 359 samples.
///
/// The split is fixed and stratified: for each class `c`, its rows (in file order) are shuffled
/// with the generator `rng::generator(DIGITS_SPLIT_SEED, c)`, the first `round(0.2 · count)` go
/// to the test set, the rest to the training set; each split then keeps file order. So every
/// class is 20% test (±0.5 sample), and the split is the same on every machine and run.
///
/// | class | 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | total |
/// |---|---|---|---|---|---|---|---|---|---|---|---|
/// | rows | 178 | 182 | 177 | 183 | 181 | 182 | 181 | 179 | 174 | 180 | 1797 |
/// | test | 36 | 36 | 35 | 37 | 36 | 36 | 36 | 36 | 35 | 36 | 359 |
/// | train | 142 | 146 | 142 | 146 | 145 | 146 | 145 | 143 | 139 | 144 | 1438 |
pub fn digits() -> Result<(TensorDataset, TensorDataset)> {
    let all = digits_full()?;
    let (train, test) = stratified_split(all.labels(), 0.2, DIGITS_SPLIT_SEED);
    Ok((all.select(&train)?, all.select(&test)?))
}

/// Indices of a stratified split: per class, `round(fraction · count)` shuffled rows to the
/// second set. Both sets are sorted.
fn stratified_split(labels: &[i64], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut classes: Vec<i64> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for &c in &classes {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == c).collect();
        rng::shuffle(&mut rows, &mut rng::generator(seed, c as u64));
        let k = (fraction * rows.len() as f64).round() as usize;
        second.extend_from_slice(&rows[..k]);
        first.extend_from_slice(&rows[k..]);
    }
    first.sort_unstable();
    second.sort_unstable();
    (first, second)
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
    let mut g = Generator::new(seed);
    let mut points = Vec::with_capacity(n_samples);
    let arc = |i: usize, n: usize| {
        if n > 1 {
            std::f64::consts::PI * i as f64 / (n - 1) as f64
        } else {
            0.0
        }
    };
    for i in 0..n_out {
        let t = arc(i, n_out);
        points.push(([t.cos(), t.sin()], 0));
    }
    for i in 0..n_in {
        let t = arc(i, n_in);
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
    let mut g = Generator::new(seed);
    let mut points = Vec::with_capacity(n_per_class.saturating_mul(n_classes));
    for k in 0..n_classes {
        for i in 0..n_per_class {
            let r = if n_per_class > 1 {
                i as f64 / (n_per_class - 1) as f64
            } else {
                0.0
            };
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
    let mut g = Generator::new(seed);
    let centres: Vec<Vec<f64>> = (0..centers)
        .map(|_| {
            (0..n_features)
                .map(|_| -10.0 + 20.0 * g.next_f64())
                .collect()
        })
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
    rng::shuffle(&mut rows, &mut g);
    let labels = rows.iter().map(|r| r.1).collect();
    let features = rows.into_iter().flat_map(|r| r.0).collect();
    TensorDataset::new(features, [n_features], labels)
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
    g: &mut Generator,
) -> Result<TensorDataset> {
    if noise > 0.0 {
        for (p, _) in &mut points {
            p[0] += f64::from(noise) * normal(g);
            p[1] += f64::from(noise) * normal(g);
        }
    }
    rng::shuffle(&mut points, g);
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
    use crate::Dataset;

    fn class_counts(labels: &[i64], k: usize) -> Vec<usize> {
        let mut c = vec![0; k];
        for &l in labels {
            c[l as usize] += 1;
        }
        c
    }

    #[test]
    fn digits_has_the_documented_shape_and_range() {
        let d = digits_full().unwrap();
        assert_eq!(d.len(), DIGITS_ROWS);
        assert_eq!(d.sample_shape().dims(), &[64]);
        assert!(d
            .features()
            .iter()
            .all(|&v| (0.0..=16.0).contains(&v) && v.fract() == 0.0));
        assert!(d.labels().iter().all(|l| (0..=9).contains(l)));
        assert_eq!(
            class_counts(d.labels(), 10),
            vec![178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
        );
    }

    #[test]
    fn digits_split_is_the_documented_one() {
        let (train, test) = digits().unwrap();
        assert_eq!((train.len(), test.len()), (DIGITS_TRAIN, DIGITS_TEST));
        assert_eq!(
            class_counts(test.labels(), 10),
            vec![36, 36, 35, 37, 36, 36, 36, 36, 35, 36]
        );
        assert_eq!(
            class_counts(train.labels(), 10),
            vec![142, 146, 142, 146, 145, 146, 145, 143, 139, 144]
        );
        // Disjoint and complete: every row of the full set is in exactly one split.
        let all = digits_full().unwrap();
        let key = |f: &[f32], l: i64| format!("{f:?}{l}");
        let mut full: Vec<String> = (0..all.len())
            .map(|i| key(all.feature(i).unwrap(), all.labels()[i]))
            .collect();
        let mut parts: Vec<String> = (0..train.len())
            .map(|i| key(train.feature(i).unwrap(), train.labels()[i]))
            .chain((0..test.len()).map(|i| key(test.feature(i).unwrap(), test.labels()[i])))
            .collect();
        full.sort();
        parts.sort();
        assert_eq!(full, parts);
        // Same split every time.
        assert_eq!(digits().unwrap().1, test);
    }

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
