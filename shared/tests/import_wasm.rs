//! The ONNX import in the browser build (wasm32), under wasm-bindgen-test:
//!
//!     CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//!       cargo test -p jouleprint-shared --target wasm32-unknown-unknown --test import_wasm
//!
//! Natively this file compiles to nothing.
#![cfg(target_arch = "wasm32")]

use shared::import::onnx::import_onnx;
use shared::import::safetensors::parse_header;
use shared::import::ImportOptions;
use wasm_bindgen_test::wasm_bindgen_test;

const RESNET: &[u8] = include_bytes!("fixtures/resnet50.onnx");
const GPT2: &[u8] = include_bytes!("fixtures/gpt2.onnx");

#[wasm_bindgen_test]
fn resnet50_imports_in_wasm() {
    let g = import_onnx(RESNET, &ImportOptions::default()).expect("imports");
    let flops: f64 = g.nodes.iter().map(|n| n.flops).sum();
    assert!(
        (flops - 8_178_368_512.0).abs() / 8_178_368_512.0 < 0.02,
        "{flops}"
    );
    assert!(g.unsupported_ops.is_empty());
}

#[wasm_bindgen_test]
fn gpt2_imports_in_wasm_with_bound_dims() {
    let opts = ImportOptions {
        batch: Some(2),
        seq: Some(128),
        ..Default::default()
    };
    let g = import_onnx(GPT2, &opts).expect("imports");
    let flops: f64 = g.nodes.iter().map(|n| n.flops).sum();
    assert!(
        (flops - 2.0 * 32_228_179_968.0).abs() / (2.0 * 32_228_179_968.0) < 0.02,
        "{flops}"
    );
}

#[wasm_bindgen_test]
fn hostile_inputs_in_wasm() {
    assert!(import_onnx(&RESNET[..RESNET.len() / 2], &ImportOptions::default()).is_err());
    let mut st = 100_000_000_000u64.to_le_bytes().to_vec();
    st.extend_from_slice(b"{}");
    assert!(parse_header(&st, st.len() as u64).is_err());
}
