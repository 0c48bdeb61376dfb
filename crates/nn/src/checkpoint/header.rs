//! The checks on a safetensors header that the `safetensors` crate does not make, run before it
//! parses the header.
//!
//! The crate validates the layout (every tensor's bytes follow the previous one's from offset 0,
//! no overlap, no gap, no trailing byte, shape × dtype = span), but it reads the header into a
//! hash map, so a name given twice silently keeps the last entry; it accepts any rank and every
//! dtype; and its errors do not say which tensor is wrong. This pass walks the header once, as a
//! stream (one entry in memory at a time, plus the set of names seen), and reports the first
//! problem with the tensor's name.

use super::MAX_RANK;
use safetensors::tensor::TensorInfo;
use safetensors::Dtype;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// Checks `header` (the JSON text) against `data_len`, the number of bytes after it.
pub(super) fn scan(header: &[u8], data_len: usize) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_slice(header);
    (&mut de)
        .deserialize_map(HeaderVisitor { data_len })
        .and_then(|()| de.end())
        .map_err(|e| {
            if e.is_data() {
                format!("bad header: {e}")
            } else {
                format!("header is not valid JSON: {e}")
            }
        })
}

/// The element size in bytes of each dtype nanotorch reads.
pub(super) fn supported_size(dtype: Dtype) -> Option<usize> {
    match dtype {
        Dtype::F32 => Some(4),
        Dtype::F64 | Dtype::I64 => Some(8),
        _ => None,
    }
}

struct HeaderVisitor {
    data_len: usize,
}

impl<'de> Visitor<'de> for HeaderVisitor {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a safetensors header: a JSON object mapping tensor names to entries")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(name) = map.next_key::<String>()? {
            if seen.contains(&name) {
                return Err(de::Error::custom(format!(
                    "tensor name `{name}` appears twice in the header (each name must map to \
                     one tensor; a reader would silently keep only one of them)"
                )));
            }
            if name == "__metadata__" {
                // The crate checks its form (a map of strings); nothing here depends on it.
                map.next_value::<IgnoredAny>()?;
            } else {
                let info: TensorInfo = map
                    .next_value()
                    .map_err(|e| de::Error::custom(format!("tensor `{name}`: {e}")))?;
                check_entry(&name, &info, self.data_len).map_err(de::Error::custom)?;
            }
            seen.insert(name);
        }
        Ok(())
    }
}

/// Checks one entry on its own: rank, dtype, offsets within the data, and span = shape × size.
fn check_entry(name: &str, info: &TensorInfo, data_len: usize) -> Result<(), String> {
    let rank = info.shape.len();
    if rank > MAX_RANK {
        return Err(format!(
            "tensor `{name}`: shape has {rank} axes, more than the {MAX_RANK} nanotorch supports"
        ));
    }
    let dtype = info.dtype;
    let size = supported_size(dtype).ok_or_else(|| {
        format!(
            "tensor `{name}`: dtype {dtype} is not supported (F32, F64 and I64 are; convert \
             the tensor before saving, e.g. `.float()` in PyTorch)"
        )
    })?;
    let (begin, end) = info.data_offsets;
    if begin > end || end > data_len {
        return Err(format!(
            "tensor `{name}`: data_offsets [{begin}, {end}] point outside the {data_len} data \
             bytes (or end before they begin)"
        ));
    }
    let expected = info
        .shape
        .iter()
        .try_fold(size, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            format!(
                "tensor `{name}`: shape {:?} has more elements than can be addressed",
                info.shape
            )
        })?;
    if end - begin != expected {
        return Err(format!(
            "tensor `{name}`: shape {:?} of {dtype} needs {expected} bytes but data_offsets \
             span {}",
            info.shape,
            end - begin
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_first_problem_with_the_tensor_name() {
        let ok =
            br#"{"__metadata__":{"a":"b"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
        scan(ok, 8).unwrap();
        let dup = br#"{"w":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}"#;
        let e = scan(dup, 4).unwrap_err();
        assert!(e.contains("`w` appears twice"), "{e}");
        let bf16 = br#"{"w":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#;
        let e = scan(bf16, 4).unwrap_err();
        assert!(
            e.contains("`w`") && e.contains("BF16 is not supported"),
            "{e}"
        );
        let e = scan(br#"[1, 2]"#, 0).unwrap_err();
        assert!(e.contains("JSON object"), "{e}");
        let e = scan(
            br#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#,
            4,
        )
        .unwrap_err();
        assert!(e.contains("`w`"), "{e}");
    }
}
