//! Model import: ONNX graphs, Hugging Face config families, safetensors headers.
//!
//! Everything here takes bytes (`&[u8]`), never a path: the same code runs in the
//! CLI and in the browser (wasm32). See `docs/import.md`.

pub mod onnx;
mod proto;
pub mod safetensors;

use crate::model::graph::ForwardGraph;
use crate::scenario::{ModelSource, Workload};
use crate::InputError;
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

/// What a model file gives a scenario.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportedModel {
    /// An ONNX graph: the full op breakdown.
    Graph(ForwardGraph),
    /// A Hugging Face config.json.
    Config(serde_json::Value),
    /// A safetensors header: the exact parameter count; FLOPs approximated as
    /// 2 per parameter per token (no architecture, so no op breakdown).
    Params {
        params: f64,
        flops_per_sample: f64,
        note: String,
    },
}

impl ImportedModel {
    /// The scenario's model source.
    pub fn into_source(self) -> ModelSource {
        match self {
            ImportedModel::Graph(g) => ModelSource {
                graph: Some(g),
                ..Default::default()
            },
            ImportedModel::Config(c) => ModelSource {
                hf_config: Some(c),
                ..Default::default()
            },
            ImportedModel::Params {
                params,
                flops_per_sample,
                ..
            } => ModelSource {
                flops_per_sample: Some(flops_per_sample),
                params: Some(params),
                ..Default::default()
            },
        }
    }
}

/// Read a model file by its kind (the CLI's `model.file`, a file dropped on the
/// page). `workload` (the first stage's) binds an ONNX graph's batch and
/// sequence length and the token count of the safetensors approximation.
pub fn model_from_file(
    name: &str,
    bytes: &[u8],
    workload: Option<&Workload>,
) -> Result<ImportedModel, InputError> {
    let field = "model.file";
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let seq = workload.and_then(|w| w.seq.or(w.prompt));
    match sniff(name, bytes) {
        Some(FileKind::Onnx) => {
            let opts = ImportOptions {
                batch: workload.map(|w| w.batch),
                seq,
                dims: BTreeMap::new(),
                source: format!("onnx:{base}"),
            };
            onnx::import_onnx(bytes, &opts)
                .map(ImportedModel::Graph)
                .map_err(|e| InputError::new(field, format!("{base}: {}", e.message)))
        }
        Some(FileKind::Safetensors) => {
            let h = safetensors::parse_header(bytes, bytes.len() as u64)
                .map_err(|e| InputError::new(field, format!("{base}: {}", e.message)))?;
            let params = h.params as f64;
            let tokens = seq.unwrap_or(1).max(1) as f64;
            Ok(ImportedModel::Params {
                params,
                flops_per_sample: 2.0 * params * tokens,
                note: format!(
                    "{base}: {} tensors, {} parameters from the header; FLOPs taken as 2 per parameter per token ({tokens} tokens). Give the config.json for the exact op breakdown.",
                    h.tensors,
                    crate::units::si(params)
                ),
            })
        }
        Some(FileKind::HfConfig) => serde_json::from_slice::<serde_json::Value>(bytes)
            .ok()
            .filter(|v| v.is_object())
            .map(ImportedModel::Config)
            .ok_or_else(|| {
                InputError::new(field, format!("{base}: not a JSON object (a config.json)"))
            }),
        None => Err(InputError::new(
            field,
            format!("{base}: not an ONNX model, a safetensors file or a config.json"),
        )),
    }
}
