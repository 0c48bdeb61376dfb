//! Checkpoints in the safetensors format, the file format PyTorch users share weights in:
//!
//! ```text
//! [8 bytes: header length N, little-endian u64][N bytes: JSON header][raw little-endian data]
//! header: {"fc1.weight": {"dtype": "F32", "shape": [256, 784], "data_offsets": [begin, end]}, …}
//! ```
//!
//! Parsing and writing go through the `safetensors` crate, the format's reference
//! implementation: it checks that the tensors' byte ranges are contiguous and complete (sorted by
//! offset, each starts where the previous one ends, from 0 to the end of the file: no overlap,
//! no gap, no trailing byte) and that each range is exactly shape × element size. Before it runs,
//! [`header::scan`] adds what it does not check: duplicate names, rank at most [`MAX_RANK`],
//! dtypes nanotorch reads, and errors that name the tensor.
//!
//! Memory: the header is read as a stream and every byte range is checked against the real data
//! before any tensor is allocated, so a load needs at most the file itself, the parsed header (a
//! few times the header's size) and the tensors (at most twice the data's size, for F32 read as
//! f64, plus a fixed cost per tensor entry). A hostile file cannot make the loader allocate more
//! than a small constant times its own size; `tests/hostile_checkpoint.rs` measures it.
//!
//! Writes go through [`write_atomically`].

mod atomic;
mod header;

pub use atomic::write_atomically;

use crate::StateDict;
use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, DType, Error, Float, Result};
use safetensors::{Dtype, SafeTensorError, SafeTensors, View};
use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

/// Headers longer than this are refused (the reference implementation's limit, 100 MB).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// The largest rank a checkpoint tensor may have. PyTorch models stay far below it; a header that
/// declares more axes is refused rather than allocated.
pub const MAX_RANK: usize = 64;

fn err(path: &str, msg: impl std::fmt::Display) -> Error {
    Error::msg(format!("safetensors {path}: {msg}"))
}

/// Writes `state` to `path` with `write_atomically`: a crash or kill mid-save leaves the old
/// file (or none), never half a checkpoint; a symlink is written through to its target; an
/// existing file keeps its permission bits.
pub fn save_safetensors<E: Float, B: Backend>(
    state: &StateDict<E, B>,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let bytes = to_safetensors_bytes(state)?;
    write_atomically(path, |w| w.write_all(&bytes))
        .map_err(|e| Error::msg(format!("save_safetensors: {e}")))
}

/// One tensor's values, as the `safetensors` serializer takes them.
struct Raw<E> {
    dtype: Dtype,
    shape: Vec<usize>,
    values: Vec<E>,
}

impl<E: Float> View for &Raw<E> {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        // Every target nanotorch builds for is little-endian, as the format is.
        Cow::Borrowed(bytemuck::cast_slice(&self.values))
    }
    fn data_len(&self) -> usize {
        std::mem::size_of_val(self.values.as_slice())
    }
}

/// The safetensors encoding of `state` (names sorted, data packed in that order, the header
/// padded with spaces so the data starts 8-byte aligned, as the reference writer does).
pub fn to_safetensors_bytes<E: Float, B: Backend>(state: &StateDict<E, B>) -> Result<Vec<u8>> {
    let dtype = match E::DTYPE {
        DType::F32 => Dtype::F32,
        DType::F64 => Dtype::F64,
        other => {
            return Err(Error::msg(format!(
                "to_safetensors_bytes: element type {} is not a float type",
                other.name()
            )))
        }
    };
    let raws = state
        .iter()
        .map(|(name, tensor)| {
            Ok((
                name,
                Raw {
                    dtype,
                    shape: tensor.dims().to_vec(),
                    values: tensor.to_vec()?,
                },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(raws.iter().map(|(name, raw)| (*name, raw)), None)
        .map_err(|e| Error::msg(format!("to_safetensors_bytes: {}", describe(e))))
}

/// Reads a checkpoint into tensors of `E` on `backend`.
///
/// F32 and F64 entries convert to `E` (F64 into f32 rounds to nearest, as PyTorch's `.float()`).
/// I64 entries (PyTorch saves BatchNorm's `num_batches_tracked` counter as one) convert only if
/// every value is exactly representable in `E` (|v| ≤ 2^53 for f64, fewer for f32); otherwise
/// the load fails, naming the tensor and the value. Any other dtype is an error.
///
/// The file's length is checked against the header length it declares before the file is read
/// into memory; every other limit is [`parse_safetensors`]'s.
pub fn load_safetensors<E: Float, B: Backend>(
    path: impl AsRef<Path>,
    backend: &B,
) -> Result<StateDict<E, B>> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let bytes = read_checked(path).map_err(|e| err(&shown, e))?;
    parse_safetensors(&bytes, &shown, backend)
}

/// The whole file, after its first 8 bytes were checked against its length.
fn read_checked(path: &Path) -> std::result::Result<Vec<u8>, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read: {e}"))?
        .len();
    let mut prefix = [0u8; 8];
    if len >= 8 {
        file.read_exact(&mut prefix)
            .map_err(|e| format!("cannot read: {e}"))?;
    }
    check_header_length(len, &prefix)?;
    let size = usize::try_from(len).map_err(|_| format!("{len} bytes cannot be addressed"))?;
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(size)
        .map_err(|_| format!("cannot allocate {len} bytes to read the file"))?;
    bytes.extend_from_slice(&prefix);
    // One byte past the length seen, so a file that grows while being read is noticed.
    file.take(len - 8 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 != len {
        return Err(format!(
            "the file changed size while being read ({len} bytes, then {})",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// The header length the first 8 bytes declare, checked against the file's length `len`.
fn check_header_length(len: u64, prefix: &[u8; 8]) -> std::result::Result<usize, String> {
    if len < 8 {
        return Err(format!(
            "file is {len} bytes, too short for the 8-byte header length"
        ));
    }
    let header_len = u64::from_le_bytes(*prefix);
    if header_len > MAX_HEADER_BYTES {
        return Err(format!(
            "header length {header_len} exceeds the {MAX_HEADER_BYTES}-byte limit"
        ));
    }
    if header_len > len - 8 {
        return Err(format!(
            "header length {header_len} exceeds the {} bytes after it",
            len - 8
        ));
    }
    Ok(header_len as usize) // ≤ MAX_HEADER_BYTES
}

/// Parses safetensors bytes (`name` is used in error messages), with the conversions of
/// [`load_safetensors`]. Refused with an error naming the tensor: overlapping, gapped or
/// out-of-range byte ranges, trailing bytes, a name given twice, a rank above `MAX_RANK` (64),
/// a header above `MAX_HEADER_BYTES` (100 MB), a dtype other than F32, F64 and I64, a shape
/// whose size disagrees with its byte range, and an I64 value with no exact float value.
pub fn parse_safetensors<E: Float, B: Backend>(
    bytes: &[u8],
    name: &str,
    backend: &B,
) -> Result<StateDict<E, B>> {
    let mut prefix = [0u8; 8];
    if let Some(p) = bytes.get(..8) {
        prefix.copy_from_slice(p);
    }
    let header_len = check_header_length(bytes.len() as u64, &prefix).map_err(|m| err(name, m))?;
    let (header_bytes, data) = bytes[8..].split_at(header_len);
    header::scan(header_bytes, data.len()).map_err(|m| err(name, m))?;
    let parsed = SafeTensors::deserialize(bytes).map_err(|e| err(name, describe(e)))?;
    let mut state = StateDict::new();
    for (key, view) in parsed.iter() {
        let values = decode::<E>(view.dtype(), view.data())
            .map_err(|m| err(name, format!("tensor `{key}`: {m}")))?;
        state.insert(
            key.to_string(),
            Tensor::from_vec(values, view.shape().to_vec(), backend)?,
        );
    }
    Ok(state)
}

/// The crate's error in words (after [`header::scan`], only layout errors remain).
fn describe(e: SafeTensorError) -> String {
    match e {
        SafeTensorError::InvalidOffset(tensor) => format!(
            "tensor `{tensor}`: its data_offsets do not start where the previous tensor's data \
             ends (sorted by offset, tensors must cover the data from byte 0 without overlap or \
             gap)"
        ),
        SafeTensorError::MetadataIncompleteBuffer => {
            "bytes after the last tensor's data belong to no tensor (trailing bytes)".into()
        }
        SafeTensorError::HeaderTooLarge => {
            format!("the header would exceed the {MAX_HEADER_BYTES}-byte limit")
        }
        SafeTensorError::InvalidHeaderDeserialization(e) => {
            format!("header is not valid JSON for safetensors: {e}")
        }
        SafeTensorError::InvalidHeader(e) => format!("header is not UTF-8 text: {e}"),
        other => format!("invalid file: {other}"),
    }
}

/// `bytes` (little-endian elements of `dtype`) converted to `E`, as [`load_safetensors`] says.
fn decode<E: Float>(dtype: Dtype, bytes: &[u8]) -> std::result::Result<Vec<E>, String> {
    let size = header::supported_size(dtype)
        .ok_or_else(|| format!("dtype {dtype} is not supported (F32, F64 and I64 are)"))?;
    let n = bytes.len() / size;
    let mut out = Vec::new();
    out.try_reserve_exact(n)
        .map_err(|_| format!("cannot allocate {n} values"))?;
    for (i, chunk) in bytes.chunks_exact(size).enumerate() {
        let mut raw = [0u8; 8];
        raw[..size].copy_from_slice(chunk);
        let v = match dtype {
            Dtype::F32 => f64::from(f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]])),
            Dtype::F64 => f64::from_le_bytes(raw),
            _ => {
                let v = i64::from_le_bytes(raw);
                let exact =
                    v.unsigned_abs() <= 1 << 53 && E::from_f64(v as f64).to_f64() == v as f64;
                if !exact {
                    return Err(format!(
                        "I64 value {v} (element {i}) has no exact {} value; I64 entries are read \
                         into float tensors only when every value converts exactly",
                        E::DTYPE.name()
                    ));
                }
                v as f64
            }
        };
        out.push(E::from_f64(v));
    }
    Ok(out)
}
