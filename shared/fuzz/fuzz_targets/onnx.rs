#![no_main]
//! Any bytes: the ONNX importer returns an error or a graph, never panics.
use libfuzzer_sys::fuzz_target;
use shared::import::{onnx::import_onnx, ImportOptions};

fuzz_target!(|data: &[u8]| {
    let opts = ImportOptions {
        batch: Some(2),
        seq: Some(16),
        ..Default::default()
    };
    let _ = import_onnx(data, &opts);
});
