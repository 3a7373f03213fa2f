//! Model import: ONNX graphs, Hugging Face config families, safetensors headers.
//!
//! Everything here takes bytes (`&[u8]`), never a path: the same code runs in the
//! CLI and in the browser (wasm32). See `docs/import.md`.

pub mod hf_extra;
pub mod onnx;
mod proto;
pub mod safetensors;

use std::collections::BTreeMap;

/// How symbolic dimensions of an imported graph are bound.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportOptions {
    /// The batch (axis 0 of the inputs, or a dim named like `batch`); default 1.
    pub batch: Option<u64>,
    /// The sequence length (axis 1 of integer inputs, or a dim named like `seq`); default 128.
    pub seq: Option<u64>,
    /// Any symbolic dimension by its name in the file (`--dim height=512`).
    pub dims: BTreeMap<String, u64>,
    /// Where the bytes came from (`onnx:resnet50.onnx`), for the reader.
    pub source: String,
}

/// What a model file is, from its name and first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Onnx,
    HfConfig,
    Safetensors,
}

/// Guesses a file's kind from its name, then its content.
pub fn sniff(name: &str, bytes: &[u8]) -> Option<FileKind> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".onnx") {
        return Some(FileKind::Onnx);
    }
    if lower.ends_with(".safetensors") {
        return Some(FileKind::Safetensors);
    }
    if lower.ends_with(".json") {
        return Some(FileKind::HfConfig);
    }
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        return Some(FileKind::HfConfig);
    }
    if bytes.len() >= 9 && bytes[8] == b'{' {
        return Some(FileKind::Safetensors);
    }
    // ModelProto starts with ir_version (field 1, varint): key 0x08.
    if bytes.first() == Some(&0x08) {
        return Some(FileKind::Onnx);
    }
    None
}
