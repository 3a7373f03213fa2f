//! Hostile and broken inputs: an error or a warning, never a panic, a hang or an
//! allocation sized by the file's claims. Also a bounded fuzz run (proptest) of
//! both parsers; `shared/fuzz/` has the cargo-fuzz targets for longer runs.

use proptest::prelude::*;
use shared::import::onnx::import_onnx;
use shared::import::safetensors::parse_header;
use shared::import::ImportOptions;

// A tiny protobuf writer for hand-made ONNX models.
#[path = "support/onnx_wire.rs"]
mod onnx_wire;
use onnx_wire::{bfield, varint, vfield};
fn node(op: &str, ins: &[&str], outs: &[&str]) -> Vec<u8> {
    let mut n = Vec::new();
    for i in ins {
        n.extend(bfield(1, i.as_bytes()));
    }
    for o in outs {
        n.extend(bfield(2, o.as_bytes()));
    }
    n.extend(bfield(
        3,
        format!("{op}_{}", outs.first().unwrap_or(&"")).as_bytes(),
    ));
    n.extend(bfield(4, op.as_bytes()));
    bfield(1, &n)
}
fn input(name: &str, dims: &[i64]) -> Vec<u8> {
    let mut shape = Vec::new();
    for &d in dims {
        shape.extend(bfield(1, &vfield(1, d as u64)));
    }
    let mut tt = vfield(1, 1);
    tt.extend(bfield(2, &shape));
    let mut vi = bfield(1, name.as_bytes());
    vi.extend(bfield(2, &bfield(1, &tt)));
    bfield(11, &vi)
}
fn init(name: &str, dims: &[i64]) -> Vec<u8> {
    let mut t = Vec::new();
    for &d in dims {
        t.extend(vfield(1, d as u64));
    }
    t.extend(vfield(2, 1));
    t.extend(bfield(8, name.as_bytes()));
    bfield(5, &t)
}
fn model(graph: &[Vec<u8>]) -> Vec<u8> {
    let g: Vec<u8> = graph.concat();
    let mut m = vfield(1, 8);
    m.extend(bfield(8, &vfield(2, 17)));
    m.extend(bfield(7, &g));
    m
}
fn opts() -> ImportOptions {
    ImportOptions::default()
}

#[test]
fn a_small_model_counts() {
    let m = model(&[
        input("x", &[4, 8]),
        init("w", &[8, 16]),
        node("MatMul", &["x", "w"], &["y"]),
        node("Relu", &["y"], &["z"]),
        node("FancyOp", &["z"], &["q"]),
    ]);
    let g = import_onnx(&m, &opts()).expect("imports");
    assert_eq!(g.nodes[0].flops, 2.0 * 4.0 * 8.0 * 16.0);
    assert_eq!(g.nodes[0].mnk, Some([4.0, 16.0, 8.0]));
    assert_eq!(g.params, 128.0);
    assert_eq!(g.unsupported_ops, vec!["FancyOp".to_string()]);
    assert!(g.warnings.iter().any(|w| w.contains("FancyOp")));
}

#[test]
fn cyclic_graph_is_an_error() {
    let m = model(&[
        input("x", &[4, 8]),
        node("Add", &["x", "b"], &["a"]),
        node("Relu", &["a"], &["b"]),
    ]);
    let e = import_onnx(&m, &opts()).expect_err("cycle");
    assert!(e.message.contains("cycle"), "{e}");
}

#[test]
fn overflowing_shapes_are_errors() {
    let m = model(&[
        input("x", &[1 << 40, 1 << 40]),
        node("Relu", &["x"], &["y"]),
    ]);
    assert!(import_onnx(&m, &opts()).is_err());
    let m = model(&[
        input("x", &[1 << 30, 1 << 30]),
        init("w", &[1 << 30, 1 << 30]),
        node("MatMul", &["x", "w"], &["y"]),
    ]);
    // Each shape fits in u64; the FLOPs are huge but finite.
    let g = import_onnx(&m, &opts()).expect("imports");
    assert!(g.nodes[0].flops.is_finite() && g.nodes[0].flops > 1e27);
}

#[test]
fn zero_dims_warn() {
    let m = model(&[input("x", &[0, 8]), node("Relu", &["x"], &["y"])]);
    let g = import_onnx(&m, &opts()).expect("imports");
    assert!(
        g.warnings.iter().any(|w| w.contains("zero")),
        "{:?}",
        g.warnings
    );
}

#[test]
fn lying_length_prefixes_are_errors() {
    // graph field claiming 100 GB
    let mut m = vfield(1, 8);
    m.push((7 << 3) | 2);
    varint(100_000_000_000, &mut m);
    m.extend_from_slice(&[0; 16]);
    assert!(import_onnx(&m, &opts()).is_err());
    let mut st = 100_000_000_000u64.to_le_bytes().to_vec();
    st.extend_from_slice(b"{}");
    assert!(parse_header(&st, st.len() as u64).is_err());
    assert!(import_onnx(b"", &opts()).is_err());
    assert!(import_onnx(b"{\"not\": \"onnx\"}", &opts()).is_err());
}

#[test]
fn truncations_and_bit_flips_of_a_real_fixture_never_panic() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/resnet50.onnx");
    let bytes = std::fs::read(path).expect("fixture");
    let step = (bytes.len() / 300).max(1);
    for cut in (0..bytes.len()).step_by(step) {
        let _ = import_onnx(&bytes[..cut], &opts());
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..300 {
        let mut b = bytes.clone();
        for _ in 0..4 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed as usize) % b.len();
            b[i] ^= (seed >> 32) as u8 | 1;
        }
        let _ = import_onnx(&b, &opts());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
    #[test]
    fn onnx_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = import_onnx(&bytes, &opts());
    }

    #[test]
    fn safetensors_parser_never_panics(n in any::<u64>(), body in proptest::collection::vec(any::<u8>(), 0..256), size in any::<u64>()) {
        let mut b = n.to_le_bytes().to_vec();
        b.extend(body);
        let _ = parse_header(&b, size);
    }

    #[test]
    fn structured_onnx_never_panics(dims in proptest::collection::vec(-3i64..1_000_000_000_000, 0..5),
                                    wdims in proptest::collection::vec(-3i64..1_000_000_000_000, 0..5),
                                    op in prop::sample::select(vec!["MatMul", "Gemm", "Conv", "Add", "Reshape", "Einsum", "Gather", "Concat", "Split", "Slice", "MaxPool", "Transpose", "Expand", "Attention", "ConvTranspose", "ReduceMean", "Softmax", "Squeeze", "Unsqueeze", "Range", "Where"])) {
        let m = model(&[input("x", &dims), init("w", &wdims), node(op, &["x", "w", "w"], &["y", "z"])]);
        let _ = import_onnx(&m, &opts());
    }
}
