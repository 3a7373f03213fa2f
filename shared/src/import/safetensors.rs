//! `*.safetensors` headers: the exact parameter count by dtype.
//!
//! A safetensors file is an 8-byte little-endian header length `n`, `n` bytes of
//! JSON (`{"name": {"dtype", "shape", "data_offsets"}, "__metadata__": {...}}`),
//! then the tensor data. Only the header is read: the caller may pass the whole
//! file or just its first `8 + n` bytes together with the file's total size.

use crate::InputError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Headers longer than this are refused (the format's own reference limit).
pub const MAX_HEADER: u64 = 100 * 1000 * 1000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SafetensorsSummary {
    pub tensors: u64,
    /// Total elements of all tensors.
    pub params: u64,
    /// Elements by dtype (`BF16`, `F32`...).
    pub params_by_dtype: BTreeMap<String, u64>,
    /// Bytes of tensor data the header describes.
    pub data_bytes: u64,
    /// The header's `__metadata__` (string to string), if any.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn bad(msg: impl Into<String>) -> InputError {
    InputError::new("model.file", msg)
}

/// Bits per element, `None` for an unknown dtype.
fn dtype_bits(d: &str) -> Option<u64> {
    Some(match d {
        "BOOL" | "U8" | "I8" | "F8_E4M3" | "F8_E5M2" | "F8_E8M0" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" => 64,
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        _ => return None,
    })
}

/// The header's length from the first 8 bytes, checked against the file's size.
pub fn header_len(prefix: &[u8], file_size: u64) -> Result<u64, InputError> {
    let Some(first) = prefix.get(..8) else {
        return Err(bad(
            "not a safetensors file: shorter than its 8-byte header length",
        ));
    };
    let n = u64::from_le_bytes(first.try_into().map_err(|_| bad("truncated"))?);
    if n > MAX_HEADER {
        return Err(bad(format!(
            "safetensors header claims {n} bytes, above the {MAX_HEADER}-byte limit (corrupt file?)"
        )));
    }
    if n.checked_add(8).is_none_or(|end| end > file_size) {
        return Err(bad(format!(
            "safetensors header claims {n} bytes but the file has only {file_size}"
        )));
    }
    Ok(n)
}

#[derive(Deserialize)]
struct Entry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// Parses the header of a safetensors file. `bytes` holds the file or at least its
/// first `8 + header length` bytes; `file_size` is the whole file's size.
pub fn parse_header(bytes: &[u8], file_size: u64) -> Result<SafetensorsSummary, InputError> {
    let n = header_len(bytes, file_size)?;
    let end = 8 + n as usize;
    let json = bytes.get(8..end).ok_or_else(|| {
        bad(format!(
            "safetensors header truncated: {n} bytes announced, {} read",
            bytes.len().saturating_sub(8)
        ))
    })?;
    let map: BTreeMap<String, serde_json::Value> = serde_json::from_slice(json).map_err(|e| {
        bad(format!(
            "safetensors header is not a JSON object of tensors: {e}"
        ))
    })?;
    let data_len = file_size - 8 - n;
    let mut s = SafetensorsSummary {
        tensors: 0,
        params: 0,
        params_by_dtype: BTreeMap::new(),
        data_bytes: 0,
        metadata: BTreeMap::new(),
        warnings: Vec::new(),
    };
    for (name, v) in map {
        if name == "__metadata__" {
            if let Some(o) = v.as_object() {
                for (k, v) in o {
                    if let Some(v) = v.as_str() {
                        s.metadata.insert(k.clone(), v.to_string());
                    }
                }
            }
            continue;
        }
        let e: Entry =
            serde_json::from_value(v).map_err(|e| bad(format!("tensor `{name}`: {e}")))?;
        let count = e
            .shape
            .iter()
            .try_fold(1u64, |a, &d| a.checked_mul(d))
            .ok_or_else(|| bad(format!("tensor `{name}`: shape {:?} overflows", e.shape)))?;
        let [b, en] = e.data_offsets;
        if b > en || en > data_len {
            return Err(bad(format!(
                "tensor `{name}`: data offsets [{b}, {en}] outside the {data_len} data bytes"
            )));
        }
        match dtype_bits(&e.dtype) {
            Some(bits) => {
                let want = count.checked_mul(bits).map(|b| b.div_ceil(8));
                if want != Some(en - b) {
                    s.warnings.push(format!(
                        "tensor `{name}`: {} bytes for {count} {} elements",
                        en - b,
                        e.dtype
                    ));
                }
            }
            None => s
                .warnings
                .push(format!("tensor `{name}`: unknown dtype {}", e.dtype)),
        }
        s.tensors += 1;
        s.params = s
            .params
            .checked_add(count)
            .ok_or_else(|| bad("parameter count overflows"))?;
        *s.params_by_dtype.entry(e.dtype).or_insert(0) += count;
        s.data_bytes = s.data_bytes.saturating_add(en - b);
    }
    // The format's data is covered once (the reference loader refuses holes and
    // overlaps): the bytes must add up; a hole is most often a tensor lost to a
    // duplicated name. (A hole offset by an overlap of the same size passes.)
    if s.data_bytes != data_len {
        return Err(bad(format!(
            "the tensors hold {} of the {data_len} data bytes (a name listed twice? overlaps?)",
            s.data_bytes
        )));
    }
    Ok(s)
}

/// A config's parameter count against a header's: the relative difference and a
/// line for the reader; no difference when the header holds no parameters (an
/// empty header, or only `__metadata__`), which the line says instead of a NaN.
pub fn cross_check(config_params: f64, header: &SafetensorsSummary) -> (Option<f64>, String) {
    let h = header.params as f64;
    if header.params == 0 {
        return (
            None,
            format!(
                "config gives {:.4}B parameters; the safetensors header lists no tensors, so there is nothing to compare (pass the shards that hold the weights)",
                config_params / 1e9
            ),
        );
    }
    let diff = (config_params - h) / h;
    let line = format!(
        "config gives {:.4}B parameters, the safetensors header {:.4}B ({:+.2}%){}",
        config_params / 1e9,
        h / 1e9,
        diff * 100.0,
        if diff.abs() > 0.01 {
            ": the config may not describe these weights (sharded checkpoint, tied or extra tensors?)"
        } else {
            ""
        }
    );
    (Some(diff), line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: usize) -> Vec<u8> {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(header.as_bytes());
        v.resize(v.len() + data, 0);
        v
    }

    #[test]
    fn counts_by_dtype() {
        let h = r#"{"a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},"b":{"dtype":"F32","shape":[4],"data_offsets":[12,28]},"__metadata__":{"format":"pt"}}"#;
        let f = file(h, 28);
        let s = parse_header(&f, f.len() as u64).unwrap();
        assert_eq!(s.params, 10);
        assert_eq!(s.params_by_dtype["BF16"], 6);
        assert_eq!(s.metadata["format"], "pt");
        assert!(s.warnings.is_empty());
    }

    #[test]
    fn refuses_lies() {
        let mut f = 100_000_000_000u64.to_le_bytes().to_vec();
        f.extend_from_slice(b"{}");
        assert!(parse_header(&f, f.len() as u64).is_err());
        let mut f = 50u64.to_le_bytes().to_vec();
        f.extend_from_slice(b"{}");
        assert!(parse_header(&f, f.len() as u64).is_err());
        assert!(parse_header(&[1, 2, 3], 3).is_err());
        let h = r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,2],"data_offsets":[0,4]}}"#;
        let f = file(h, 4);
        assert!(parse_header(&f, f.len() as u64).is_err());
        let h = r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,400]}}"#;
        let f = file(h, 16);
        assert!(parse_header(&f, f.len() as u64).is_err());
    }

    /// JSON keeps the last of two equal keys, so a duplicated tensor name
    /// drops a tensor and its bytes belong to none: the tensors' bytes must add
    /// up to the data's (the reference loader wants them covered once), which
    /// also refuses overlaps and trailing bytes. Zero-sized tensors sit anywhere.
    #[test]
    fn data_must_be_covered_once() {
        let ok = r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"F32","shape":[0],"data_offsets":[8,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#;
        let f = file(ok, 16);
        assert_eq!(
            parse_header(&f, 16 + 8 + ok.len() as u64).unwrap().params,
            4
        );
        for (h, data, want) in [
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#,
                16,
                "hold 8 of the 16 ",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                12,
                "hold 16 of the 12 ",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
                12,
                "hold 8 of the 12 ",
            ),
        ] {
            let f = file(h, data);
            let e = parse_header(&f, f.len() as u64).expect_err(h);
            assert!(e.message.contains(want), "{}", e.message);
        }
    }
}
