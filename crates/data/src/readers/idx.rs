//! The IDX format of MNIST, Fashion-MNIST, KMNIST and EMNIST, raw or gzip-compressed.
//!
//! Layout (all integers big-endian):
//!
//! | bytes | meaning |
//! |---|---|
//! | 0–1 | `00 00` |
//! | 2 | element type: `08` u8, `09` i8, `0B` i16, `0C` i32, `0D` f32, `0E` f64 |
//! | 3 | number of dimensions `d` (≥ 1) |
//! | 4 … 4 + 4d | each dimension as a u32 |
//! | then | `∏ dims` elements, row-major |
//!
//! The reader parses the header first, computes the payload size with overflow checks, and
//! compares it with the bytes really there (for gzip: with the bytes the decompressor really
//! yields, reading at most one byte past the declared size) before it allocates anything of that
//! size. A file with fewer or more bytes than its header declares is an error, and so is a header
//! that declares more than [`DEFAULT_MAX_IDX_BYTES`] of data (or the limit the caller gives to
//! [`parse_idx_with_limit`]): without it, a small gzip file whose header declares gigabytes and
//! whose payload inflates to them would be read in full before the mismatch showed.

use super::{is_gzip, read_file, read_limited};
use crate::TensorDataset;
use flate2::read::MultiGzDecoder;
use nanotorch_ndarray_core::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The element type byte of an IDX header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxType {
    /// `0x08`: unsigned byte.
    U8,
    /// `0x09`: signed byte.
    I8,
    /// `0x0B`: 16-bit signed integer.
    I16,
    /// `0x0C`: 32-bit signed integer.
    I32,
    /// `0x0D`: 32-bit float.
    F32,
    /// `0x0E`: 64-bit float.
    F64,
}

impl IdxType {
    /// The type for a header byte, if it is one.
    pub fn from_byte(byte: u8) -> Option<Self> {
        Some(match byte {
            0x08 => IdxType::U8,
            0x09 => IdxType::I8,
            0x0B => IdxType::I16,
            0x0C => IdxType::I32,
            0x0D => IdxType::F32,
            0x0E => IdxType::F64,
            _ => return None,
        })
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            IdxType::U8 | IdxType::I8 => 1,
            IdxType::I16 => 2,
            IdxType::I32 | IdxType::F32 => 4,
            IdxType::F64 => 8,
        }
    }
}

/// The elements of an IDX file, in its own type.
#[derive(Debug, Clone, PartialEq)]
pub enum IdxData {
    /// Unsigned bytes (MNIST images and labels).
    U8(Vec<u8>),
    /// Signed bytes.
    I8(Vec<i8>),
    /// 16-bit integers.
    I16(Vec<i16>),
    /// 32-bit integers.
    I32(Vec<i32>),
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 64-bit floats.
    F64(Vec<f64>),
}

/// A parsed IDX file: its dimensions and elements.
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    /// Dimension sizes, outermost first.
    pub dims: Vec<usize>,
    /// The elements, row-major.
    pub data: IdxData,
}

impl IdxArray {
    /// The element type.
    pub fn dtype(&self) -> IdxType {
        match self.data {
            IdxData::U8(_) => IdxType::U8,
            IdxData::I8(_) => IdxType::I8,
            IdxData::I16(_) => IdxType::I16,
            IdxData::I32(_) => IdxType::I32,
            IdxData::F32(_) => IdxType::F32,
            IdxData::F64(_) => IdxType::F64,
        }
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.dims.iter().product()
    }

    /// The elements converted to f32.
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            IdxData::U8(v) => v.iter().map(|&x| f32::from(x)).collect(),
            IdxData::I8(v) => v.iter().map(|&x| f32::from(x)).collect(),
            IdxData::I16(v) => v.iter().map(|&x| f32::from(x)).collect(),
            IdxData::I32(v) => v.iter().map(|&x| x as f32).collect(),
            IdxData::F32(v) => v.clone(),
            IdxData::F64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }
}

/// The most data bytes an IDX header may declare unless the caller raises the limit: 1 GiB
/// (EMNIST ByClass, the largest common IDX file, holds 547 MB).
pub const DEFAULT_MAX_IDX_BYTES: usize = 1 << 30;

/// Reads exactly `buf.len()` bytes or says what was being read when the input ended.
fn read_exact(r: &mut impl Read, buf: &mut [u8], name: &str, what: &str) -> Result<()> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Error::msg(format!(
                "{name}: file ends inside {what} (truncated IDX header)"
            ))
        } else {
            Error::msg(format!("{name}: cannot read {what}: {e}"))
        }
    })
}

/// Parses an IDX file held in memory, gzip-compressed or not (detected from the first bytes).
/// `name` (a file name) appears in error messages. A header declaring more than
/// [`DEFAULT_MAX_IDX_BYTES`] of data is refused; [`parse_idx_with_limit`] takes another limit.
pub fn parse_idx(bytes: &[u8], name: &str) -> Result<IdxArray> {
    parse_idx_with_limit(bytes, name, DEFAULT_MAX_IDX_BYTES)
}

/// [`parse_idx`] with `max_bytes` as the most data bytes the header may declare.
pub fn parse_idx_with_limit(bytes: &[u8], name: &str, max_bytes: usize) -> Result<IdxArray> {
    if is_gzip(bytes) {
        parse_stream(&mut MultiGzDecoder::new(bytes), None, name, max_bytes)
    } else {
        parse_stream(&mut &bytes[..], Some(bytes.len()), name, max_bytes)
    }
}

/// Reads and parses an IDX file (raw or `.gz`), with the limit of [`parse_idx`].
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    read_idx_with_limit(path, DEFAULT_MAX_IDX_BYTES)
}

/// [`read_idx`] with `max_bytes` as the most data bytes the header may declare.
pub fn read_idx_with_limit(path: impl AsRef<Path>, max_bytes: usize) -> Result<IdxArray> {
    let path = path.as_ref();
    parse_idx_with_limit(&read_file(path)?, &path.display().to_string(), max_bytes)
}

/// `known_len`: the whole input's length when it is known up front (raw files).
fn parse_stream(
    r: &mut impl Read,
    known_len: Option<usize>,
    name: &str,
    max_bytes: usize,
) -> Result<IdxArray> {
    let mut magic = [0u8; 4];
    read_exact(r, &mut magic, name, "the 4-byte magic number")?;
    if magic[0] != 0 || magic[1] != 0 {
        return Err(Error::msg(format!(
            "{name}: not an IDX file: magic number {:02x} {:02x} {:02x} {:02x}, expected \
             00 00 <type> <ndims>",
            magic[0], magic[1], magic[2], magic[3]
        )));
    }
    let dtype = IdxType::from_byte(magic[2]).ok_or_else(|| {
        Error::msg(format!(
            "{name}: unknown IDX element type 0x{:02x} (expected 08 u8, 09 i8, 0B i16, 0C i32, \
             0D f32 or 0E f64)",
            magic[2]
        ))
    })?;
    let ndims = usize::from(magic[3]);
    if ndims == 0 {
        return Err(Error::msg(format!(
            "{name}: IDX header declares 0 dimensions"
        )));
    }
    let mut dims_bytes = vec![0u8; 4 * ndims]; // at most 1020 bytes
    read_exact(r, &mut dims_bytes, name, "the dimension sizes")?;
    let dims: Vec<usize> = dims_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let too_big = || {
        Error::msg(format!(
            "{name}: IDX header declares dims {dims:?}, more data than can be addressed"
        ))
    };
    let numel = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(too_big)?;
    let payload = numel.checked_mul(dtype.size()).ok_or_else(too_big)?;
    let header = 4 + 4 * ndims;

    // A raw input's real size is known: a header that disagrees with it is reported as such.
    if let Some(total) = known_len {
        let available = total - header;
        if available != payload {
            return Err(size_mismatch(name, &dims, dtype, payload, available));
        }
    }
    // A gzip input's real size shows only as it inflates: the declared size must be plausible
    // before any of it is read (and a raw file over the limit is refused just the same).
    if payload > max_bytes {
        return Err(Error::msg(format!(
            "{name}: IDX header declares dims {dims:?} of {dtype:?}, {payload} bytes of data, \
             more than the {max_bytes}-byte limit (if the file is genuine, raise the limit with \
             parse_idx_with_limit or read_idx_with_limit)"
        )));
    }
    let read_err = |e: std::io::Error| Error::msg(format!("{name}: cannot read IDX data: {e}"));
    let data = if known_len.is_some() {
        // The size is now known to be real: allocate it once.
        let mut data = Vec::with_capacity(payload);
        r.read_to_end(&mut data).map_err(read_err)?;
        data
    } else {
        // Never read (or grow the buffer) past one byte beyond what the header declares: the
        // buffer grows only as real decompressed bytes arrive, and never past the declared size.
        match read_limited(r, payload as u64).map_err(read_err)? {
            Some(data) => data,
            None => {
                return Err(size_mismatch(
                    name,
                    &dims,
                    dtype,
                    payload,
                    payload.saturating_add(1),
                ))
            }
        }
    };
    if data.len() != payload {
        return Err(size_mismatch(name, &dims, dtype, payload, data.len()));
    }
    Ok(IdxArray {
        data: decode(dtype, &data),
        dims,
    })
}

fn size_mismatch(name: &str, dims: &[usize], dtype: IdxType, payload: usize, got: usize) -> Error {
    let what = if got < payload {
        format!("only {got} bytes follow (truncated file?)")
    } else if got == payload + 1 {
        "more bytes follow".to_string()
    } else {
        format!("{got} bytes follow")
    };
    Error::msg(format!(
        "{name}: IDX header declares dims {dims:?} of {dtype:?} ({payload} bytes of data) but \
         {what}"
    ))
}

fn decode(dtype: IdxType, bytes: &[u8]) -> IdxData {
    match dtype {
        IdxType::U8 => IdxData::U8(bytes.to_vec()),
        IdxType::I8 => IdxData::I8(bytes.iter().map(|&b| b as i8).collect()),
        IdxType::I16 => IdxData::I16(
            bytes
                .chunks_exact(2)
                .map(|c| i16::from_be_bytes([c[0], c[1]]))
                .collect(),
        ),
        IdxType::I32 => IdxData::I32(
            bytes
                .chunks_exact(4)
                .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        IdxType::F32 => IdxData::F32(
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        IdxType::F64 => IdxData::F64(
            bytes
                .chunks_exact(8)
                .map(|c| f64::from_be_bytes(c.try_into().expect("chunks_exact(8)")))
                .collect(),
        ),
    }
}

/// An MNIST-style dataset from an images file (`u8`, `[n, h, w]`) and a labels file (`u8`,
/// `[n]`). Pixels are scaled to `[0, 1]` (as torchvision's `ToTensor`); samples are `[1, h, w]`.
pub fn mnist_from_idx(images: &IdxArray, labels: &IdxArray) -> Result<TensorDataset> {
    let IdxData::U8(pixels) = &images.data else {
        return Err(Error::msg(format!(
            "MNIST images must be u8, got {:?}",
            images.dtype()
        )));
    };
    let IdxData::U8(label_bytes) = &labels.data else {
        return Err(Error::msg(format!(
            "MNIST labels must be u8, got {:?}",
            labels.dtype()
        )));
    };
    let [n, h, w] = images.dims[..] else {
        return Err(Error::msg(format!(
            "MNIST images must have 3 dimensions [n, height, width], got {:?}",
            images.dims
        )));
    };
    if labels.dims.len() != 1 {
        return Err(Error::msg(format!(
            "MNIST labels must have 1 dimension [n], got {:?}",
            labels.dims
        )));
    }
    if labels.dims[0] != n {
        return Err(Error::msg(format!(
            "MNIST images and labels disagree: {n} images but {} labels",
            labels.dims[0]
        )));
    }
    let features = pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
    let labels = label_bytes.iter().map(|&l| i64::from(l)).collect();
    TensorDataset::new(features, [1, h, w], labels)
}

/// Loads an images/labels pair of IDX files (raw or `.gz`) with [`mnist_from_idx`].
pub fn load_mnist(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<TensorDataset> {
    let (ip, lp) = (images.as_ref(), labels.as_ref());
    mnist_from_idx(&read_idx(ip)?, &read_idx(lp)?)
        .map_err(|e| Error::msg(format!("{} + {}: {e}", ip.display(), lp.display())))
}

/// The MNIST training (`train = true`, 60,000 images) or test split (10,000) from a directory
/// holding the standard files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each raw or with `.gz`; the
/// `train-images.idx3-ubyte` spelling works too). Fashion-MNIST and KMNIST use the same names.
pub fn mnist(dir: impl AsRef<Path>, train: bool) -> Result<TensorDataset> {
    let dir = dir.as_ref();
    let prefix = if train { "train" } else { "t10k" };
    let images = find_file(dir, prefix, "images", 3)?;
    let labels = find_file(dir, prefix, "labels", 1)?;
    load_mnist(images, labels)
}

fn find_file(dir: &Path, prefix: &str, kind: &str, rank: usize) -> Result<PathBuf> {
    let stems = [
        format!("{prefix}-{kind}-idx{rank}-ubyte"),
        format!("{prefix}-{kind}.idx{rank}-ubyte"),
    ];
    for stem in &stems {
        for ext in ["", ".gz"] {
            let p = dir.join(format!("{stem}{ext}"));
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(Error::msg(format!(
        "no MNIST {kind} file in {}: expected {} or {}.gz (download the four IDX files of \
         MNIST into that folder)",
        dir.display(),
        stems[0],
        stems[0]
    )))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::Dataset;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;

    /// An IDX file of u8 `data` with `dims`.
    pub(crate) fn idx_u8(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 0x08, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    }

    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn err(bytes: &[u8]) -> String {
        parse_idx(bytes, "t.idx").unwrap_err().to_string()
    }

    #[test]
    fn parses_raw_and_gzip() {
        let raw = idx_u8(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        for bytes in [raw.clone(), gzip(&raw)] {
            let a = parse_idx(&bytes, "t").unwrap();
            assert_eq!(a.dims, vec![2, 3]);
            assert_eq!(a.data, IdxData::U8(vec![1, 2, 3, 4, 5, 6]));
            assert_eq!(a.to_f32()[5], 6.0);
        }
    }

    #[test]
    fn parses_wider_types_big_endian() {
        let mut f = vec![0, 0, 0x0D, 1, 0, 0, 0, 2];
        f.extend_from_slice(&1.5f32.to_be_bytes());
        f.extend_from_slice(&(-2.0f32).to_be_bytes());
        assert_eq!(
            parse_idx(&f, "t").unwrap().data,
            IdxData::F32(vec![1.5, -2.0])
        );
        let mut i = vec![0, 0, 0x0C, 1, 0, 0, 0, 1];
        i.extend_from_slice(&(-7i32).to_be_bytes());
        assert_eq!(parse_idx(&i, "t").unwrap().data, IdxData::I32(vec![-7]));
        let mut d = vec![0, 0, 0x0E, 1, 0, 0, 0, 1];
        d.extend_from_slice(&0.25f64.to_be_bytes());
        assert_eq!(parse_idx(&d, "t").unwrap().to_f32(), vec![0.25]);
        let s = vec![0, 0, 0x0B, 1, 0, 0, 0, 1, 0xff, 0xfe];
        assert_eq!(parse_idx(&s, "t").unwrap().data, IdxData::I16(vec![-2]));
        let b = vec![0, 0, 0x09, 1, 0, 0, 0, 1, 0xff];
        assert_eq!(parse_idx(&b, "t").unwrap().data, IdxData::I8(vec![-1]));
    }

    #[test]
    fn rejects_bad_headers() {
        assert!(err(&[]).contains("magic"));
        assert!(err(&[0, 0, 8]).contains("truncated"));
        let e = err(&[1, 2, 8, 1, 0, 0, 0, 0]);
        assert!(e.contains("t.idx") && e.contains("not an IDX file"), "{e}");
        assert!(err(&[0, 0, 0x07, 1, 0, 0, 0, 0]).contains("element type 0x07"));
        assert!(err(&[0, 0, 8, 0]).contains("0 dimensions"));
        assert!(err(&[0, 0, 8, 2, 0, 0, 0, 1]).contains("dimension sizes"));
    }

    #[test]
    fn truncated_and_oversized_payloads_are_errors() {
        let raw = idx_u8(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        for cut in [raw.len() - 1, 12] {
            for bytes in [raw[..cut].to_vec(), gzip(&raw[..cut])] {
                let e = err(&bytes);
                assert!(e.contains("[2, 3]") && e.contains("truncated"), "{e}");
            }
        }
        let mut long = raw.clone();
        long.push(0);
        for bytes in [long.clone(), gzip(&long)] {
            assert!(err(&bytes).contains("more bytes follow"), "{}", err(&bytes));
        }
    }

    #[test]
    fn a_forged_huge_header_fails_without_allocating() {
        // Declares 4G x 4G x 255 f64 values: overflows usize.
        let mut f = vec![0, 0, 0x0E, 3];
        for _ in 0..3 {
            f.extend_from_slice(&u32::MAX.to_be_bytes());
        }
        assert!(err(&f).contains("more data than can be addressed"));
        // Declares ~17 GB (fits in usize) but holds 3 bytes: raw, a size error; gzip, whose size
        // shows only while inflating, over the limit. Both fast.
        let forged = idx_u8(&[65_535, 65_535, 4], &[1, 2, 3]);
        assert!(err(&forged).contains("only 3 bytes follow"));
        assert!(err(&gzip(&forged)).contains("1073741824-byte limit"));
        // Within a raised limit, the same file is a size error, found as fast.
        let e = parse_idx_with_limit(&gzip(&forged), "t.idx", usize::MAX)
            .unwrap_err()
            .to_string();
        assert!(e.contains("only 3 bytes follow"), "{e}");
    }

    #[test]
    fn the_declared_size_limit_is_the_callers_to_set() {
        let raw = idx_u8(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        for bytes in [raw.clone(), gzip(&raw)] {
            assert_eq!(parse_idx_with_limit(&bytes, "t", 6).unwrap().numel(), 6);
            let e = parse_idx_with_limit(&bytes, "t.idx", 5)
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("t.idx") && e.contains("6 bytes of data") && e.contains("5-byte limit"),
                "{e}"
            );
        }
    }

    #[test]
    fn corrupt_gzip_is_an_error() {
        let mut g = gzip(&idx_u8(&[4], &[1, 2, 3, 4]));
        let n = g.len();
        g[n - 6] ^= 0xff; // CRC
        assert!(parse_idx(&g, "t").is_err());
        assert!(parse_idx(&[0x1f, 0x8b, 0, 0], "t").is_err());
    }

    #[test]
    fn mnist_pairs_images_with_labels() {
        let images = parse_idx(&idx_u8(&[2, 2, 2], &[0, 255, 0, 0, 51, 0, 0, 0]), "i").unwrap();
        let labels = parse_idx(&idx_u8(&[2], &[7, 3]), "l").unwrap();
        let d = mnist_from_idx(&images, &labels).unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d.sample_shape().dims(), &[1, 2, 2]);
        assert_eq!(d.get(0).unwrap().features, vec![0.0, 1.0, 0.0, 0.0]);
        assert_eq!(d.get(1).unwrap().features[0], 0.2);
        assert_eq!(d.labels(), &[7, 3]);

        let three = parse_idx(&idx_u8(&[3], &[1, 2, 3]), "l").unwrap();
        let e = mnist_from_idx(&images, &three).unwrap_err().to_string();
        assert!(e.contains("2 images but 3 labels"), "{e}");
        assert!(mnist_from_idx(&labels, &labels).is_err());
        assert!(mnist_from_idx(&images, &images).is_err());
    }

    #[test]
    fn mnist_directory_loading() {
        let dir = std::env::temp_dir().join(format!("nanotorch-mnist-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("t10k-images-idx3-ubyte.gz"),
            gzip(&idx_u8(&[1, 2, 2], &[1, 2, 3, 4])),
        )
        .unwrap();
        std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx_u8(&[1], &[9])).unwrap();
        let d = mnist(&dir, false).unwrap();
        assert_eq!(d.labels(), &[9]);
        let e = mnist(&dir, true).unwrap_err().to_string();
        assert!(e.contains("train-images-idx3-ubyte"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(read_idx(dir.join("missing"))
            .unwrap_err()
            .to_string()
            .contains("cannot read"));
    }
}
