//! CIFAR-10 binary batches (`data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`).
//!
//! A batch file is a run of 3,073-byte records: one label byte (0–9), then a 32×32 image as
//! 1,024 red, 1,024 green and 1,024 blue bytes, each plane row-major. The reader checks that the
//! file is a whole number of records and every label is a class before converting anything.

use super::read_file;
use crate::TensorDataset;
use nanotorch_ndarray_core::{Error, Result};
use std::path::Path;

/// Bytes per record: 1 label + 3 × 32 × 32 pixels.
pub const CIFAR10_RECORD_BYTES: usize = 1 + 3 * 32 * 32;

/// The class names, by label.
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Parses one CIFAR-10 binary batch held in memory. Samples are `[3, 32, 32]` with pixels scaled
/// to `[0, 1]`; `name` appears in error messages.
pub fn parse_cifar10(bytes: &[u8], name: &str) -> Result<TensorDataset> {
    let mut features = Vec::new();
    let mut labels = Vec::new();
    append(bytes, name, &mut features, &mut labels)?;
    TensorDataset::new(features, [3, 32, 32], labels)
}

fn append(bytes: &[u8], name: &str, features: &mut Vec<f32>, labels: &mut Vec<i64>) -> Result<()> {
    if bytes.is_empty() {
        return Err(Error::msg(format!(
            "{name}: empty file, expected CIFAR-10 records"
        )));
    }
    let (n, rest) = (
        bytes.len() / CIFAR10_RECORD_BYTES,
        bytes.len() % CIFAR10_RECORD_BYTES,
    );
    if rest != 0 {
        return Err(Error::msg(format!(
            "{name}: {} bytes is not a whole number of {CIFAR10_RECORD_BYTES}-byte CIFAR-10 \
             records ({n} records and {rest} bytes over; truncated file?)",
            bytes.len()
        )));
    }
    let records = bytes.chunks_exact(CIFAR10_RECORD_BYTES);
    if let Some((i, r)) = records.clone().enumerate().find(|(_, r)| r[0] > 9) {
        return Err(Error::msg(format!(
            "{name}: record {i} (byte offset {}) has label {}, expected 0..=9",
            i * CIFAR10_RECORD_BYTES,
            r[0]
        )));
    }
    // The sizes are now those of real records.
    features.reserve(n * (CIFAR10_RECORD_BYTES - 1));
    labels.reserve(n);
    for r in records {
        labels.push(i64::from(r[0]));
        features.extend(r[1..].iter().map(|&p| f32::from(p) / 255.0));
    }
    Ok(())
}

/// Reads CIFAR-10 batch files and concatenates them, in the order given.
pub fn read_cifar10<P: AsRef<Path>>(paths: &[P]) -> Result<TensorDataset> {
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for p in paths {
        let p = p.as_ref();
        append(
            &read_file(p)?,
            &p.display().to_string(),
            &mut features,
            &mut labels,
        )?;
    }
    TensorDataset::new(features, [3, 32, 32], labels)
}

/// The CIFAR-10 training set (`data_batch_1.bin` … `data_batch_5.bin`, 50,000 images) or test
/// set (`test_batch.bin`, 10,000) from the folder of the extracted binary version
/// (`cifar-10-batches-bin`).
pub fn cifar10(dir: impl AsRef<Path>, train: bool) -> Result<TensorDataset> {
    let dir = dir.as_ref();
    let names: Vec<String> = if train {
        (1..=5).map(|i| format!("data_batch_{i}.bin")).collect()
    } else {
        vec!["test_batch.bin".to_string()]
    };
    let paths: Vec<_> = names.iter().map(|n| dir.join(n)).collect();
    if let Some(missing) = paths.iter().find(|p| !p.is_file()) {
        return Err(Error::msg(format!(
            "CIFAR-10: {} not found (expected the extracted binary version's files {} in {})",
            missing.display(),
            names.join(", "),
            dir.display()
        )));
    }
    read_cifar10(&paths)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dataset;

    fn record(label: u8, fill: u8) -> Vec<u8> {
        let mut r = vec![label];
        r.extend(std::iter::repeat_n(fill, CIFAR10_RECORD_BYTES - 1));
        r
    }

    #[test]
    fn parses_records() {
        let mut bytes = record(3, 255);
        bytes.extend(record(9, 0));
        bytes[1 + 1024] = 51; // first green pixel of record 0
        let d = parse_cifar10(&bytes, "b.bin").unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.labels(), &[3, 9]);
        assert_eq!(d.sample_shape().dims(), &[3, 32, 32]);
        let s = d.get(0).unwrap();
        assert_eq!((s.features[0], s.features[1024]), (1.0, 0.2));
    }

    #[test]
    fn rejects_truncated_empty_and_bad_labels() {
        let mut bytes = record(1, 0);
        bytes.extend(record(2, 0));
        bytes.pop();
        let e = parse_cifar10(&bytes, "b.bin").unwrap_err().to_string();
        assert!(
            e.contains("b.bin") && e.contains("1 records and 3072 bytes over"),
            "{e}"
        );
        assert!(parse_cifar10(&[], "b.bin").is_err());
        let mut bad = record(1, 0);
        bad.extend(record(10, 0));
        let e = parse_cifar10(&bad, "b.bin").unwrap_err().to_string();
        assert!(e.contains("record 1") && e.contains("label 10"), "{e}");
    }

    #[test]
    fn reads_a_directory() {
        let dir = std::env::temp_dir().join(format!("nanotorch-cifar-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("test_batch.bin"), record(4, 1)).unwrap();
        assert_eq!(cifar10(&dir, false).unwrap().labels(), &[4]);
        let e = cifar10(&dir, true).unwrap_err().to_string();
        assert!(e.contains("data_batch_1.bin"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
