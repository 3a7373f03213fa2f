//! `import::model_from_file`: the one path from a model file to a scenario's
//! model source (the CLI's `model.file`, a file dropped on the page).

use shared::import::{model_from_file, ImportedModel};
use shared::scenario::Workload;

fn workload(batch: u64, seq: u64) -> Workload {
    serde_json::from_value(serde_json::json!({
        "phase": "inference", "precision": "bf16", "batch": batch, "seq": seq
    }))
    .expect("workload")
}

#[test]
fn an_onnx_file_imports_at_the_first_stages_batch() {
    let bytes = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/gpt2.onnx"
    ))
    .expect("fixture");
    match model_from_file("dir/gpt2.onnx", &bytes, Some(&workload(4, 64))) {
        Ok(ImportedModel::Graph(g)) => {
            assert_eq!(g.batch, 4);
            assert!(g.source.starts_with("onnx:gpt2.onnx"), "{}", g.source);
            assert!(g.unsupported_ops.is_empty());
        }
        other => panic!("{other:?}"),
    }
    let e = model_from_file("x.onnx", b"garbage", None).expect_err("garbage");
    assert_eq!(e.field, "model.file");
}

#[test]
fn a_safetensors_header_gives_parameters_and_two_flops_per_parameter_per_token() {
    // 2 x 3 bf16 tensor: 6 parameters; 10 tokens: 2 x 6 x 10 = 120 FLOPs per sample
    let h = r#"{"a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]}}"#;
    let mut f = (h.len() as u64).to_le_bytes().to_vec();
    f.extend_from_slice(h.as_bytes());
    f.resize(f.len() + 12, 0);
    match model_from_file("m.safetensors", &f, Some(&workload(1, 10))) {
        Ok(ImportedModel::Params {
            params,
            flops_per_sample,
            ..
        }) => {
            assert_eq!(params, 6.0);
            assert_eq!(flops_per_sample, 120.0);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_config_is_taken_as_it_is_and_other_bytes_are_refused() {
    match model_from_file("config.json", br#"{"model_type":"gpt2"}"#, None) {
        Ok(ImportedModel::Config(c)) => assert_eq!(c["model_type"], "gpt2"),
        other => panic!("{other:?}"),
    }
    assert!(model_from_file("config.json", b"[1]", None).is_err());
    let e = model_from_file("x.bin", b"\x00\x01", None).expect_err("unknown");
    assert!(e.message.contains("not an ONNX"), "{e}");
}
