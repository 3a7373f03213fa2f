//! ONNX import speed and memory (docs/import.md).
//!
//! - `onnx/resnet50-inline`: ResNet-50 with its ~100 MB of weights inline. The file
//!   is `target/fixtures/resnet50-inline.onnx` from `tools/make-fixtures.py
//!   --inline-resnet` (or `JOULEPRINT_RESNET_INLINE`); without it the bench makes an
//!   equivalent one from the structure-only fixture by inlining zero weights.
//! - `onnx/llama-7b-structure`: the structure-only Llama-2-7B fixture.
//!
//! Peak memory is the process's maximum resident size (VmHWM, Linux) during one
//! read + import, above the resident size before it, relative to the file's size.

use criterion::{black_box, criterion_group, Criterion};
use shared::import::onnx::import_onnx;
use shared::import::ImportOptions;
use std::path::PathBuf;

/// A field of /proc/self/status in bytes (Linux), 0 elsewhere.
fn proc_status(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// --- a minimal protobuf rewriter to inline zero weights ---------------------

fn varint(b: &[u8], p: &mut usize) -> u64 {
    let mut v = 0u64;
    for i in 0..10 {
        let x = b[*p];
        *p += 1;
        v |= u64::from(x & 0x7f) << (7 * i);
        if x & 0x80 == 0 {
            break;
        }
    }
    v
}
fn put_varint(mut v: u64, o: &mut Vec<u8>) {
    loop {
        let x = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            o.push(x);
            return;
        }
        o.push(x | 0x80);
    }
}
/// Fields of a message: (field, wire type, raw value bytes or varint).
fn fields(b: &[u8]) -> Vec<(u64, u64, Vec<u8>, u64)> {
    let mut p = 0;
    let mut out = Vec::new();
    while p < b.len() {
        let key = varint(b, &mut p);
        let (f, w) = (key >> 3, key & 7);
        match w {
            0 => {
                let v = varint(b, &mut p);
                out.push((f, w, Vec::new(), v));
            }
            1 => {
                out.push((f, w, b[p..p + 8].to_vec(), 0));
                p += 8;
            }
            2 => {
                let n = varint(b, &mut p) as usize;
                out.push((f, w, b[p..p + n].to_vec(), 0));
                p += n;
            }
            5 => {
                out.push((f, w, b[p..p + 4].to_vec(), 0));
                p += 4;
            }
            _ => panic!("wire type {w}"),
        }
    }
    out
}
fn emit(fs: &[(u64, u64, Vec<u8>, u64)]) -> Vec<u8> {
    let mut o = Vec::new();
    for (f, w, bytes, v) in fs {
        put_varint((f << 3) | w, &mut o);
        match w {
            0 => put_varint(*v, &mut o),
            2 => {
                put_varint(bytes.len() as u64, &mut o);
                o.extend_from_slice(bytes);
            }
            _ => o.extend_from_slice(bytes),
        }
    }
    o
}
fn inline_tensor(t: &[u8]) -> Vec<u8> {
    let mut fs = fields(t);
    let external = fs.iter().any(|f| f.0 == 14 && f.3 == 1);
    if !external {
        return t.to_vec();
    }
    let n: u64 = fs.iter().filter(|f| f.0 == 1).map(|f| f.3.max(1)).product();
    let dtype = fs.iter().find(|f| f.0 == 2).map_or(1, |f| f.3);
    let size = match dtype {
        10 | 16 => 2,
        11 | 7 => 8,
        2 | 3 | 9 => 1,
        _ => 4,
    };
    fs.retain(|f| f.0 != 13 && f.0 != 14);
    fs.push((9, 2, vec![0u8; (n * size) as usize], 0));
    emit(&fs)
}
fn inline_weights(model: &[u8]) -> Vec<u8> {
    let fs: Vec<_> = fields(model)
        .into_iter()
        .map(|(f, w, b, v)| {
            if f == 7 {
                let g: Vec<_> = fields(&b)
                    .into_iter()
                    .map(|(f, w, b, v)| {
                        if f == 5 {
                            (f, w, inline_tensor(&b), v)
                        } else {
                            (f, w, b, v)
                        }
                    })
                    .collect();
                (f, w, emit(&g), v)
            } else {
                (f, w, b, v)
            }
        })
        .collect();
    emit(&fs)
}

fn resnet_inline() -> (PathBuf, bool) {
    if let Ok(p) = std::env::var("JOULEPRINT_RESNET_INLINE") {
        return (PathBuf::from(p), true);
    }
    let made = root().join("../target/fixtures/resnet50-inline.onnx");
    if made.exists() {
        return (made, true);
    }
    let out = std::env::temp_dir().join("jouleprint-resnet50-inline.onnx");
    if !out.exists() {
        let small = std::fs::read(root().join("tests/fixtures/resnet50.onnx")).expect("fixture");
        std::fs::write(&out, inline_weights(&small)).expect("write inline resnet");
    }
    (out, false)
}

fn opts() -> ImportOptions {
    ImportOptions {
        batch: Some(1),
        seq: Some(128),
        ..Default::default()
    }
}

fn bench(c: &mut Criterion) {
    let (path, from_script) = resnet_inline();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    // Peak resident memory of one read + import, above what the process held
    // before (the peak is reset through /proc/self/clear_refs first).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let base = proc_status("VmRSS:");
    let t = std::time::Instant::now();
    {
        let bytes = std::fs::read(&path).expect("read");
        let g = import_onnx(&bytes, &opts()).expect("imports");
        black_box(g);
    }
    let once = t.elapsed();
    let peak = proc_status("VmHWM:");
    eprintln!(
        "resnet50-inline ({}, {size} bytes): first read+import {once:?}; peak RSS {peak} bytes, {} above the {base} before = {:.3}x the file",
        if from_script { "from make-fixtures.py" } else { "zero weights inlined by the bench" },
        peak.saturating_sub(base),
        peak.saturating_sub(base) as f64 / size.max(1) as f64
    );
    let mut g = c.benchmark_group("onnx");
    g.sample_size(20);
    g.bench_function("resnet50-inline read+import", |b| {
        b.iter(|| {
            let bytes = std::fs::read(&path).expect("read");
            black_box(import_onnx(&bytes, &opts()).expect("imports"))
        })
    });
    let bytes = std::fs::read(&path).expect("read");
    g.bench_function("resnet50-inline import (in memory)", |b| {
        b.iter(|| black_box(import_onnx(black_box(&bytes), &opts()).expect("imports")))
    });
    let seven = root().join("tests/fixtures/llama-7b.onnx");
    if let Ok(bytes) = std::fs::read(&seven) {
        g.bench_function("llama-7b-structure import", |b| {
            b.iter(|| black_box(import_onnx(black_box(&bytes), &opts()).expect("imports")))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
