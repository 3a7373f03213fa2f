//! Model files dropped on the page, parsed locally with `shared::import` (never uploaded).

use shared::import::{self, FileKind, ImportOptions};
use shared::scenario::Workload;

/// What a dropped file gives the model inputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Imported {
    /// An ONNX graph: the full op breakdown.
    Graph(shared::model::graph::ForwardGraph),
    /// A config.json dropped instead of pasted.
    Config(String),
    /// A safetensors header: the exact parameter count, FLOPs approximated as 2 per parameter per token.
    Params {
        params: f64,
        flops_per_sample: f64,
        note: String,
    },
}

/// Parse a file by its kind. The first stage's workload binds the graph's
/// batch and sequence length, as `jouleprint estimate` does for `model.file`.
pub fn import_bytes(
    name: &str,
    bytes: &[u8],
    first: Option<&Workload>,
) -> Result<Imported, String> {
    let seq = first.and_then(|w| w.seq.or(w.prompt));
    match import::sniff(name, bytes) {
        Some(FileKind::Onnx) => {
            let opts = ImportOptions {
                batch: first.map(|w| w.batch),
                seq,
                dims: Default::default(),
                source: format!("onnx:{name}"),
            };
            import::onnx::import_onnx(bytes, &opts)
                .map(Imported::Graph)
                .map_err(|e| format!("{name}: {}", e.message))
        }
        Some(FileKind::Safetensors) => {
            let s = import::safetensors::parse_header(bytes, bytes.len() as u64)
                .map_err(|e| format!("{name}: {}", e.message))?;
            let params = s.params as f64;
            let tokens = seq.unwrap_or(1).max(1) as f64;
            Ok(Imported::Params {
                params,
                flops_per_sample: 2.0 * params * tokens,
                note: format!(
                    "{name}: {} tensors, {} parameters from the header; FLOPs taken as 2 per parameter per token ({} tokens). Paste the config.json for the exact op breakdown.",
                    s.tensors,
                    crate::format::num(params),
                    tokens
                ),
            })
        }
        Some(FileKind::HfConfig) => std::str::from_utf8(bytes)
            .map(|t| Imported::Config(t.to_string()))
            .map_err(|_| format!("{name}: not UTF-8 text")),
        None => Err(format!(
            "{name}: not an ONNX, safetensors or config.json file"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_header() {
        let mut w = crate::defaults::train_workload();
        w.seq = Some(10);
        let h = r#"{"a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]}}"#;
        let mut f = (h.len() as u64).to_le_bytes().to_vec();
        f.extend_from_slice(h.as_bytes());
        f.resize(f.len() + 12, 0);
        match import_bytes("m.safetensors", &f, Some(&w)) {
            Ok(Imported::Params {
                params,
                flops_per_sample,
                ..
            }) => {
                assert_eq!(params, 6.0);
                assert_eq!(flops_per_sample, 120.0);
            }
            other => panic!("{other:?}"),
        }
        assert!(import_bytes("x.bin", b"\x00\x01", None).is_err());
        assert!(matches!(
            import_bytes("config.json", b"{}", None),
            Ok(Imported::Config(_))
        ));
    }

    #[test]
    fn onnx_fixture_if_present() {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/tests/fixtures/resnet50.onnx"
        );
        let Ok(bytes) = std::fs::read(p) else { return };
        match import_bytes("resnet50.onnx", &bytes, None) {
            Ok(Imported::Graph(g)) => assert!(!g.nodes.is_empty()),
            other => panic!("{other:?}"),
        }
    }
}
