//! Estimating a full Llama-2-70B training-plus-deployment scenario
//! (examples/llama-2-70b-lifecycle.json). Target: under 1 ms.

use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let json = include_str!("../../examples/llama-2-70b-lifecycle.json");
    let scenario = shared::estimate::parse_scenario(json).expect("example scenario parses");
    c.bench_function("estimate llama-2-70b lifecycle", |b| {
        b.iter(|| shared::estimate::estimate(black_box(&scenario), &[]).expect("estimates"))
    });
    c.bench_function("parse + estimate llama-2-70b lifecycle (JSON in)", |b| {
        b.iter(|| shared::estimate::estimate_json(black_box(json), &[]).expect("estimates"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
