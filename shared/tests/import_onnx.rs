//! The ONNX fixtures (tools/make-fixtures.py) import within 2% of their
//! FlopCounterMode reference counts.

use shared::import::onnx::import_onnx;
use shared::import::ImportOptions;
use shared::model::graph::ForwardGraph;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn reference() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("reference.json")).expect("reference.json");
    serde_json::from_str(&text).expect("reference.json is JSON")
}

fn import(name: &str, batch: u64) -> (ForwardGraph, serde_json::Value) {
    let r = reference()[name].clone();
    let bytes = std::fs::read(fixtures().join(r["file"].as_str().expect("file"))).expect("fixture");
    let opts = ImportOptions {
        batch: Some(batch),
        seq: r["seq"].as_u64(),
        source: format!("onnx:{name}"),
        ..Default::default()
    };
    (import_onnx(&bytes, &opts).expect("imports"), r)
}

fn flops(g: &ForwardGraph) -> f64 {
    g.nodes.iter().map(|n| n.flops).sum()
}

fn check(name: &str) {
    let (g, r) = import(name, 1);
    let want = r["flops"].as_f64().expect("flops");
    let got = flops(&g);
    let err = (got - want) / want;
    let pw = r["params"].as_f64().expect("params");
    let perr = (g.params - pw) / pw;
    eprintln!(
        "{name}: flops {got:.4e} vs {want:.4e} ({:+.3}%), params {} vs {pw} ({:+.3}%), {} nodes, unsupported {:?}, warnings {:?}",
        err * 100.0,
        g.params,
        perr * 100.0,
        g.nodes.len(),
        g.unsupported_ops,
        g.warnings
    );
    assert!(err.abs() < 0.02, "{name}: FLOPs off by {:.2}%", err * 100.0);
    assert!(
        perr.abs() < 0.02,
        "{name}: params off by {:.2}%",
        perr * 100.0
    );
    assert!(
        g.unsupported_ops.is_empty(),
        "{name}: {:?}",
        g.unsupported_ops
    );
    // A symbolic batch scales the count linearly.
    if r["dynamic_shapes"].as_bool() == Some(true) {
        let (g4, _) = import(name, 4);
        let ratio = flops(&g4) / got;
        assert!((ratio - 4.0).abs() < 0.01, "{name}: batch 4 gives {ratio}x");
        assert_eq!(g4.batch, 4);
    }
}

#[test]
fn resnet50() {
    check("resnet50");
}
#[test]
fn vit_b_16() {
    check("vit_b_16");
}
#[test]
fn bert_base() {
    check("bert-base");
}
#[test]
fn gpt2() {
    check("gpt2");
}
#[test]
fn llama_small() {
    check("llama-small");
}

/// A structure-only Llama-2-7B (tools/make-fixtures.py, exported on the meta
/// device): exact parameters, FLOPs against the closed form, and fast.
#[test]
fn llama_7b_structure() {
    let (g, r) = import("llama-7b", 1);
    let t = std::time::Instant::now();
    let bytes = std::fs::read(fixtures().join("llama-7b.onnx")).expect("fixture");
    let opts = ImportOptions {
        batch: Some(1),
        seq: Some(128),
        ..Default::default()
    };
    import_onnx(&bytes, &opts).expect("imports");
    let took = t.elapsed();
    let want = r["flops"].as_f64().expect("flops");
    let err = (flops(&g) - want) / want;
    eprintln!(
        "llama-7b: {} params, flops {:.4e} vs {want:.4e} ({:+.3}%), {} nodes, {took:?}, warnings {:?}",
        g.params,
        flops(&g),
        err * 100.0,
        g.nodes.len(),
        g.warnings
    );
    assert!(err.abs() < 0.02);
    assert!((g.params - r["params"].as_f64().expect("params")).abs() < 1e3);
    assert!(g.warnings.is_empty(), "{:?}", g.warnings);
    // Debug builds are ~10x slower than the benchmark's release build.
    assert!(took.as_secs_f64() < 2.0, "{took:?}");
}

/// `--dim NAME=N` binds a symbolic input dimension by name: a name no input
/// has (a typo) is refused with the names the graph does have, instead of
/// silently leaving the dimension at its default.
#[test]
fn named_dims_bind_or_are_refused() {
    let r = reference()["gpt2"].clone();
    let bytes = std::fs::read(fixtures().join(r["file"].as_str().expect("file"))).expect("fixture");
    let with = |dims: &[(&str, u64)]| {
        import_onnx(
            &bytes,
            &ImportOptions {
                batch: Some(1),
                seq: r["seq"].as_u64(),
                dims: dims.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
                ..Default::default()
            },
        )
    };
    let base = with(&[]).expect("imports");
    let e = with(&[("typo", 5)]).expect_err("an unknown dim name is refused");
    assert_eq!(e.field, "model.file");
    assert!(e.message.contains("`typo`"), "{}", e.message);
    // The message lists the graph's own symbolic names; binding the batch
    // one (by its name) to 3 triples every node's FLOPs.
    let names = e.message.split("they have: ").nth(1).expect("names listed");
    let batch_name = names
        .trim_end_matches(')')
        .split(", ")
        .find(|n| n.to_ascii_lowercase().contains("batch"))
        .expect("gpt2's input has a named batch dimension");
    let g3 = with(&[(batch_name, 3)]).expect("a real name binds");
    let ratio = flops(&g3) / flops(&base);
    assert!((ratio - 3.0).abs() < 0.01, "batch 3 by name gives {ratio}x");
}
