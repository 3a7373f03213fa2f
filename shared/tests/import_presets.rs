//! The ONNX fixtures against the built-in presets of the same models: the
//! imported graph and the preset's expansion count the same forward FLOPs
//! (within 2%), and an imported graph estimates through the same planner.

use shared::import::onnx::import_onnx;
use shared::import::ImportOptions;
use shared::model::graph::ForwardGraph;
use shared::model::{presets, Architecture};
use shared::plan;
use shared::scenario::{Phase, SoftwareClass, Workload};
use shared::units::Precision;
use std::path::PathBuf;

fn graph(file: &str, batch: u64, seq: u64) -> ForwardGraph {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(file);
    let bytes = std::fs::read(p).expect("fixture");
    let opts = ImportOptions {
        batch: Some(batch),
        seq: Some(seq),
        ..Default::default()
    };
    import_onnx(&bytes, &opts).expect("imports")
}

fn inference(batch: u64, seq: Option<u64>) -> Workload {
    Workload {
        phase: Phase::Inference,
        precision: Precision::Fp32,
        batch,
        seq,
        prompt: None,
        new_tokens: None,
        optimizer: None,
        image_size: None,
        channels_last: None,
        attention: None,
    }
}

fn counted(arch: &Architecture, w: &Workload) -> (f64, f64) {
    let p = plan::plan(arch, w, SoftwareClass::PytorchEager, "stages[0].workload").expect("plans");
    (p.counted_flops(), p.params)
}

fn check(file: &str, preset: &str, seq: Option<u64>) {
    let g = graph(file, 2, seq.unwrap_or(128));
    let direct: f64 = g.nodes.iter().map(|n| n.flops).sum();
    let arch = presets::architecture(preset).expect("preset");
    let w = inference(2, seq);
    let (pf, pp) = counted(&arch, &w);
    let (gf, _) = counted(&Architecture::Graph(g.clone()), &w);
    let err = (direct - pf) / pf;
    eprintln!(
        "{file} vs preset {preset}: imported {direct:.5e}, preset {pf:.5e} ({:+.3}%); params {} vs {pp}; graph planned {gf:.5e}",
        err * 100.0,
        g.params
    );
    assert!(
        err.abs() < 0.02,
        "{file}: {:.2}% from the preset",
        err * 100.0
    );
    assert!(
        (g.params - pp).abs() / pp < 0.02,
        "{file}: params {} vs {pp}",
        g.params
    );
    assert!(
        (gf - direct).abs() / direct < 1e-6,
        "{file}: planned graph {gf} vs {direct}"
    );
}

#[test]
fn resnet50_matches_its_preset() {
    check("resnet50.onnx", "resnet50", None);
}
#[test]
fn vit_b_16_matches_its_preset() {
    check("vit_b_16.onnx", "vit_b_16", None);
}
#[test]
fn bert_base_matches_its_preset() {
    check("bert-base.onnx", "bert-base", Some(128));
}
#[test]
fn gpt2_matches_its_preset() {
    check("gpt2.onnx", "gpt2", Some(128));
}
#[test]
fn llama_7b_matches_its_preset() {
    check("llama-7b.onnx", "llama-2-7b", Some(128));
}
