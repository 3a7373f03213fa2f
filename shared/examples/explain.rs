//! Print every op of a scenario's first stage with its time and energy on the
//! resolved device: `cargo run -p jouleprint-shared --example explain -- SCENARIO.json`.

use shared::plan::plan;
use shared::resolve::{architecture, resolve_device};
use shared::step::step_cost;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: explain SCENARIO.json")?;
    let s = shared::estimate::parse_scenario(&std::fs::read_to_string(path)?)?;
    let arch = architecture(&s)?;
    let dev = resolve_device(&s, &[])?;
    let mut pl = plan(
        &arch,
        &s.stages[0].workload,
        s.software,
        "stages[0].workload",
    )?;
    let host = s.host.unwrap_or_default();
    // a stage with a parallel strategy: one device's share, as the estimate computes it
    if let Some(par) = &s.stages[0].parallelism {
        let hw = s.stages[0].hardware.as_ref().unwrap_or(&s.hardware);
        let w = &s.stages[0].workload;
        let st =
            shared::schedule::Strategy::given(par, hw.count, w.batch, "stages[0].parallelism")?;
        let ss = shared::schedule::stage_step(&arch, w, s.software, "stages[0]", &st, &dev, &host)?;
        println!(
            "stage step ({}): {:.4} s, of which bubble {:.4} s, exposed communication {:.4} s; {:.3} J",
            st.describe(),
            ss.seconds,
            ss.bubble_seconds,
            ss.comm_seconds,
            ss.joules
        );
        for n in &ss.notes {
            println!("  {n}");
        }
        let m = &ss.memory;
        println!(
            "memory per device: weights {:.2} GB, gradients {:.2} GB, optimizer {:.2} GB, activations {:.2} GB, KV cache {:.2} GB",
            m.weights / 1e9,
            m.gradients / 1e9,
            m.optimizer / 1e9,
            m.activations / 1e9,
            m.kv_cache / 1e9
        );
        println!("one micro-batch on one device:");
        pl = ss.plan;
    }
    let cost = step_cost(&pl, &dev, s.software, &host);
    println!(
        "step: {:.4} s, {:.3} J, {:.0} W avg",
        cost.seconds,
        cost.joules,
        cost.joules / cost.seconds
    );
    println!(
        "counted FLOPs {:.4e}, bytes {:.4e}, kernels {:.0}, params {:.4e}",
        pl.counted_flops(),
        pl.bytes(),
        pl.kernels(),
        pl.params
    );
    let mut by_kind = std::collections::BTreeMap::new();
    pl.for_each_op(&mut |op, n| {
        let key = format!("{:?}/{:?}", op.kind, op.pass);
        let (cpu, gpu, dy) = shared::step::op_timing(op, &dev, s.software, pl.element_bytes);
        let e = by_kind.entry(key).or_insert([0.0; 6]);
        e[0] += op.flops * n;
        e[1] += op.bytes * n;
        e[2] += op.kernels * n;
        e[3] += cpu * n;
        e[4] += gpu * n;
        e[5] += dy * n;
    });
    for (k, v) in by_kind {
        println!(
            "{k:<24} flops {:.3e} bytes {:.3e} kernels {:>6.0} cpu {:>8.2} ms gpu {:>8.2} ms dyn {:.3} J",
            v[0], v[1], v[2], v[3] * 1e3, v[4] * 1e3, v[5]
        );
    }
    for (name, kind, bound, j) in cost.ops.iter().take(25) {
        println!("{name:<40} {kind:?} {bound} {j:.4} J");
    }
    Ok(())
}
