//! Dataset file readers: MNIST-format [IDX](idx) (raw or gzip), [CIFAR-10](cifar) binary batches
//! and [CSV](csv) of numbers with a label column.
//!
//! Every reader treats its input as untrusted: it checks each size a header declares against the
//! real length of the input *before* allocating for it (a forged header cannot make it allocate
//! gigabytes), checks every count that must agree, and returns an [`Error`] naming the file, the
//! record or line, and what was expected. None of them panics on any input (the `fuzz/` targets
//! exercise that).

pub mod cifar;
pub mod csv;
pub mod idx;

pub use cifar::{cifar10, parse_cifar10, read_cifar10, CIFAR10_CLASSES, CIFAR10_RECORD_BYTES};
pub use csv::{parse_csv, read_csv, CsvOptions};
pub use idx::{load_mnist, mnist, mnist_from_idx, parse_idx, read_idx, IdxArray, IdxData, IdxType};

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

/// `bytes` decompressed if they are gzip, as they are otherwise.
pub(crate) fn gunzip_if_needed<'a>(bytes: &'a [u8], name: &str) -> Result<Cow<'a, [u8]>> {
    if !is_gzip(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    MultiGzDecoder::new(bytes)
        .read_to_end(&mut out)
        .map_err(|e| Error::msg(format!("{name}: corrupt gzip data: {e}")))?;
    Ok(Cow::Owned(out))
}
