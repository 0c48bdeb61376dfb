//! Small fixtures shared by the unit tests.

use crate::TensorDataset;

/// `n` samples of two features, sample `i` holding `[2i, 2i + 1]` with label `i`.
pub(crate) fn toy(n: usize) -> TensorDataset {
    let features = (0..n * 2).map(|v| v as f32).collect();
    let labels = (0..n as i64).collect();
    TensorDataset::new(features, [2], labels).unwrap()
}

/// How many of `labels` fall in each class `0..k`.
pub(crate) fn class_counts(labels: &[i64], k: usize) -> Vec<usize> {
    let mut c = vec![0; k];
    for &l in labels {
        c[l as usize] += 1;
    }
    c
}
