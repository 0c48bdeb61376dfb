//! Dataset file readers: MNIST-format [IDX](idx) (raw or gzip), [CIFAR-10](cifar) binary batches
//! and [CSV](csv) of numbers with a label column.
//!
//! Every reader treats its input as untrusted: it checks each size a header declares against the
//! real length of the input *before* allocating for it (a forged header cannot make it allocate
//! gigabytes), checks every count that must agree, and returns an [`Error`] naming the file, the
//! record or line, and what was expected. None of them panics on any input (the `fuzz/` targets
//! exercise that).
//!
//! Compressed input is inflated as a stream and never past a limit: a gzip file inflates at most
//! [`DEFAULT_MAX_DECOMPRESSED_BYTES`] (1 GiB) unless the caller raises it
//! ([`CsvOptions::max_decompressed_bytes`]), so a small "zip bomb" fails with an error after
//! allocating at most the limit, instead of exhausting memory. An IDX header may declare at most
//! [`DEFAULT_MAX_IDX_BYTES`] (1 GiB) of data unless the caller raises it
//! ([`parse_idx_with_limit`], [`read_idx_with_limit`]); the largest common IDX file (EMNIST
//! ByClass training images) holds 547 MB.

pub mod cifar;
pub mod csv;
pub mod idx;

pub use cifar::{cifar10, parse_cifar10, read_cifar10, CIFAR10_CLASSES, CIFAR10_RECORD_BYTES};
pub use csv::{parse_csv, read_csv, CsvOptions};
pub use idx::{
    load_mnist, mnist, mnist_from_idx, parse_idx, parse_idx_with_limit, read_idx,
    read_idx_with_limit, IdxArray, IdxData, IdxType, DEFAULT_MAX_IDX_BYTES,
};

use flate2::read::MultiGzDecoder;
use nanotorch_ndarray_core::{Error, Result};
use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

/// Whether `bytes` start with the gzip magic number `1f 8b`.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Reads a whole file, with the path in the error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::msg(format!("cannot read {}: {e}", path.display())))
}

/// The most bytes a gzip input may inflate to unless the caller raises the limit: 1 GiB.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

/// `bytes` decompressed if they are gzip (at most [`DEFAULT_MAX_DECOMPRESSED_BYTES`]), as they
/// are otherwise.
pub(crate) fn gunzip_if_needed<'a>(bytes: &'a [u8], name: &str) -> Result<Cow<'a, [u8]>> {
    gunzip_with_limit(bytes, name, DEFAULT_MAX_DECOMPRESSED_BYTES)
}

/// `bytes` decompressed if they are gzip, as they are otherwise. Inflating stops, with an error,
/// as soon as the output would pass `limit` bytes, so memory stays within the limit whatever the
/// input's compression ratio (gzip reaches about 1,000:1).
pub(crate) fn gunzip_with_limit<'a>(
    bytes: &'a [u8],
    name: &str,
    limit: u64,
) -> Result<Cow<'a, [u8]>> {
    if !is_gzip(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let out = read_limited(&mut MultiGzDecoder::new(bytes), limit)
        .map_err(|e| Error::msg(format!("{name}: corrupt gzip data: {e}")))?;
    match out {
        Some(out) => Ok(Cow::Owned(out)),
        None => Err(Error::msg(format!(
            "{name}: gzip data inflates to more than {limit} bytes, the limit for decompressed \
             input (a corrupt file or a decompression bomb; if the file is genuine, raise the \
             limit, e.g. CsvOptions::max_decompressed_bytes)"
        ))),
    }
}

/// Everything `r` yields if it is at most `limit` bytes, `None` if it is more. The buffer grows
/// geometrically but never past `limit + 1` bytes of capacity, and growth that cannot be
/// allocated is an error rather than an abort.
pub(crate) fn read_limited(r: &mut impl Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let cap = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
    let mut out: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let want = chunk.len().min(cap - out.len());
        if want == 0 {
            return Ok(None); // limit + 1 bytes read: more than the limit
        }
        let n = match r.read(&mut chunk[..want]) {
            Ok(0) => return Ok(Some(out)),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if out.capacity() - out.len() < n {
            let target = (out.capacity() * 2)
                .max(out.len() + n)
                .max(1 << 16)
                .min(cap);
            out.try_reserve_exact(target - out.len()).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::OutOfMemory,
                    format!("cannot allocate {target} bytes for the decompressed data"),
                )
            })?;
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readers::idx::tests::gzip;

    #[test]
    fn inflating_stops_at_the_limit() {
        let zeros = gzip(&vec![0u8; 1 << 20]);
        assert!(zeros.len() < 2048);
        let e = gunzip_with_limit(&zeros, "bomb.gz", 1 << 16)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("bomb.gz") && e.contains("more than 65536 bytes"),
            "{e}"
        );
        // At the limit exactly it is fine; raw bytes are never inflated or limited.
        assert_eq!(
            gunzip_with_limit(&zeros, "ok", 1 << 20).unwrap().len(),
            1 << 20
        );
        assert_eq!(
            gunzip_with_limit(b"raw", "raw", 0).unwrap().as_ref(),
            b"raw"
        );
    }

    #[test]
    fn read_limited_never_holds_more_than_the_limit() {
        let data = vec![7u8; 300_000];
        let out = read_limited(&mut &data[..], 300_000).unwrap().unwrap();
        assert_eq!(out, data);
        assert!(out.capacity() <= 300_001);
        assert!(read_limited(&mut &data[..], 299_999).unwrap().is_none());
        assert!(read_limited(&mut &data[..0], 0)
            .unwrap()
            .unwrap()
            .is_empty());
    }
}
