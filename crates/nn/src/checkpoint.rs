//! Checkpoints in the safetensors format, the file format PyTorch users share weights in:
//!
//! ```text
//! [8 bytes: header length N, little-endian u64][N bytes: JSON header][raw little-endian data]
//! header: {"fc1.weight": {"dtype": "F32", "shape": [256, 784], "data_offsets": [begin, end]}, …}
//! ```
//!
//! The header is untrusted input: every length and offset is checked against the real file
//! before anything is allocated or read. Writes are atomic: a temporary file in the same folder,
//! flushed to disk, then renamed over the target, so a crash never leaves half a checkpoint.

use crate::StateDict;
use nanotorch_autograd::Tensor;
use nanotorch_ndarray_core::{Backend, Element, Error, Float, Result};
use serde_json::{Map, Value};
use std::io::Write;
use std::path::Path;

/// Headers larger than this are rejected (the reference implementation's limit).
const MAX_HEADER_BYTES: u64 = 100 << 20;

fn err(path: &str, msg: impl std::fmt::Display) -> Error {
    Error::msg(format!("safetensors {path}: {msg}"))
}

/// Writes `state` to `path` atomically.
pub fn save_safetensors<E: Float, B: Backend>(
    state: &StateDict<E, B>,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let bytes = to_safetensors_bytes(state)?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| err(&shown, "not a file path"))?;
    // Unique per process and per call, so concurrent saves to one path never share a temp file.
    static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let write = || -> std::io::Result<()> {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        err(&shown, format!("cannot write: {e}"))
    })
}

/// The safetensors encoding of `state` (names sorted, data packed in that order).
pub fn to_safetensors_bytes<E: Float, B: Backend>(state: &StateDict<E, B>) -> Result<Vec<u8>> {
    let dtype = match E::DTYPE.name() {
        "f32" => "F32",
        _ => "F64",
    };
    let mut header = Map::new();
    let mut data: Vec<u8> = Vec::new();
    for (name, tensor) in state {
        let values = tensor.to_vec()?;
        let begin = data.len();
        for v in values {
            data.extend_from_slice(bytemuck_bytes(&v));
        }
        let mut entry = Map::new();
        entry.insert("dtype".into(), Value::from(dtype));
        entry.insert("shape".into(), Value::from(tensor.dims().to_vec()));
        entry.insert("data_offsets".into(), Value::from(vec![begin, data.len()]));
        header.insert(name.clone(), Value::Object(entry));
    }
    let mut json =
        serde_json::to_vec(&Value::Object(header)).map_err(|e| Error::msg(e.to_string()))?;
    // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
    while (8 + json.len()) % 8 != 0 {
        json.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + json.len() + data.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&data);
    Ok(out)
}

/// The bytes of one element. Every target we build for is little-endian, as the format is.
fn bytemuck_bytes<E: Element>(v: &E) -> &[u8] {
    bytemuck::bytes_of(v)
}

/// Reads a checkpoint into tensors of `E` on `backend` (F32, F64 and I64 entries convert to `E`; PyTorch saves BatchNorm's counter as I64).
pub fn load_safetensors<E: Float, B: Backend>(
    path: impl AsRef<Path>,
    backend: &B,
) -> Result<StateDict<E, B>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path)
        .map_err(|e| err(&path.display().to_string(), format!("cannot read: {e}")))?;
    parse_safetensors(&bytes, &path.display().to_string(), backend)
}

/// Parses safetensors bytes (`name` is used in error messages).
pub fn parse_safetensors<E: Float, B: Backend>(
    bytes: &[u8],
    name: &str,
    backend: &B,
) -> Result<StateDict<E, B>> {
    if bytes.len() < 8 {
        return Err(err(
            name,
            format!(
                "file is {} bytes, too short for the 8-byte header length",
                bytes.len()
            ),
        ));
    }
    let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let available = (bytes.len() - 8) as u64;
    if header_len > MAX_HEADER_BYTES || header_len > available {
        return Err(err(name, format!("header length {header_len} exceeds the {available} bytes after it (or the 100 MB limit)")));
    }
    let header_end = 8 + header_len as usize;
    let header: Value = serde_json::from_slice(&bytes[8..header_end])
        .map_err(|e| err(name, format!("header is not valid JSON: {e}")))?;
    let Value::Object(entries) = header else {
        return Err(err(name, "header is not a JSON object"));
    };
    let data = &bytes[header_end..];
    let mut state = StateDict::new();
    for (key, entry) in &entries {
        if key == "__metadata__" {
            continue;
        }
        let tensor =
            parse_entry(entry, data).map_err(|msg| err(name, format!("tensor `{key}`: {msg}")))?;
        let (values, shape) = tensor;
        state.insert(
            key.clone(),
            Tensor::from_vec(
                values.into_iter().map(E::from_f64).collect(),
                shape,
                backend,
            )?,
        );
    }
    Ok(state)
}

/// One header entry's values (as f64) and shape, every number checked against `data`.
fn parse_entry(entry: &Value, data: &[u8]) -> std::result::Result<(Vec<f64>, Vec<usize>), String> {
    let dtype = entry
        .get("dtype")
        .and_then(Value::as_str)
        .ok_or("missing dtype")?;
    // I64 appears in PyTorch checkpoints as BatchNorm's `num_batches_tracked`; it is read as a
    // float like every other state-dict value here.
    let decode: fn(&[u8]) -> f64 = match dtype {
        "F32" => |c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64,
        "F64" => |c| f64::from_le_bytes(c.try_into().expect("8 bytes")),
        "I64" => |c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f64,
        other => {
            return Err(format!(
                "dtype {other} is not supported (F32, F64 and I64 are)"
            ))
        }
    };
    let size = if dtype == "F32" { 4 } else { 8 };
    let shape: Vec<usize> = entry
        .get("shape")
        .and_then(Value::as_array)
        .ok_or("missing shape")?
        .iter()
        .map(|d| {
            d.as_u64()
                .and_then(|d| usize::try_from(d).ok())
                .ok_or("shape entries must be non-negative integers")
        })
        .collect::<std::result::Result<_, _>>()?;
    let offsets: Vec<u64> = entry
        .get("data_offsets")
        .and_then(Value::as_array)
        .ok_or("missing data_offsets")?
        .iter()
        .map(|o| {
            o.as_u64()
                .ok_or("data_offsets must be non-negative integers")
        })
        .collect::<std::result::Result<_, _>>()?;
    let [begin, end] = offsets[..] else {
        return Err("data_offsets must have two entries".into());
    };
    if begin > end || end > data.len() as u64 {
        return Err(format!(
            "data_offsets [{begin}, {end}] point outside the {} data bytes",
            data.len()
        ));
    }
    let numel = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or("shape overflows")?;
    let expected = numel.checked_mul(size).ok_or("shape overflows")?;
    if (end - begin) as usize != expected {
        return Err(format!(
            "shape {shape:?} of {dtype} needs {expected} bytes but data_offsets span {}",
            end - begin
        ));
    }
    let raw = &data[begin as usize..end as usize];
    Ok((raw.chunks_exact(size).map(decode).collect(), shape))
}
