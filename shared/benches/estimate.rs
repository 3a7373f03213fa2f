//! Estimating a full Llama-2-70B training-plus-deployment scenario
//! (examples/llama-2-70b-lifecycle.json): the pipeline alone (target: under
//! 1 ms), and with its what-ifs (each a whole estimate again).

use criterion::{black_box, criterion_group, criterion_main, Criterion};

fn bench(c: &mut Criterion) {
    let json = include_str!("../../examples/llama-2-70b-lifecycle.json");
    let scenario = shared::estimate::parse_scenario(json).expect("example scenario parses");
    c.bench_function("estimate_core llama-2-70b lifecycle (no what-ifs)", |b| {
        b.iter(|| shared::estimate::estimate_core(black_box(&scenario), &[]).expect("estimates"))
    });
    c.bench_function(
        "estimate llama-2-70b lifecycle (with its 10 what-ifs)",
        |b| b.iter(|| shared::estimate::estimate(black_box(&scenario), &[]).expect("estimates")),
    );
    c.bench_function("parse + estimate llama-2-70b lifecycle (JSON in)", |b| {
        b.iter(|| shared::estimate::estimate_json(black_box(json), &[]).expect("estimates"))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
