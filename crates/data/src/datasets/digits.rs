//! The UCI optical-digits set, bundled in the crate so that the examples run offline.

use crate::readers::{parse_csv, CsvOptions};
use crate::seed::generator;
use crate::TensorDataset;
use nanotorch_ndarray_core::Result;
use rand::seq::SliceRandom;

/// The bundled `digits.csv.gz`: 1,797 rows of 64 pixel counts (0..=16) and a label (0..=9).
static DIGITS_CSV_GZ: &[u8] = include_bytes!("../../data/digits.csv.gz");

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
/// with the generator [`seed::generator(DIGITS_SPLIT_SEED, c)`](crate::seed::generator), the first `round(0.2 · count)` go
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
        rows.shuffle(&mut generator(seed, c as u64));
        let k = (fraction * rows.len() as f64).round() as usize;
        second.extend_from_slice(&rows[..k]);
        first.extend_from_slice(&rows[k..]);
    }
    first.sort_unstable();
    second.sort_unstable();
    (first, second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::class_counts;
    use crate::Dataset;

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
}
