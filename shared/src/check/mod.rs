//! Pipeline stage 1, the check: every bound of a scenario in one place, the
//! pinned `resolved` values included, with all problems reported at once.
//! The CLI, the API and the page refuse the same scenarios with the same field
//! paths because they all call this (through `estimate`).
//!
//! What needs the model or the catalog (an unknown preset or device, a
//! sequence past a model's learned positions) is refused later, by `resolve`
//! and `plan`, also with the field's path.

mod parse;

pub use parse::{checked, parse_scenario, parse_typed, whole_floats_as_integers};

use crate::device::DeviceProfile;
use crate::error::{InputError, InputErrors};
use crate::model::graph::ForwardGraph;
use crate::scenario::{
    GridValue, Headline, ModelSource, Phase, Recompute, Scenario, Stage, StageKind,
    SCENARIO_VERSION,
};

/// The bounds, public so that front ends can show them beside their fields.
pub mod bounds {
    /// Lifecycle stages in one scenario.
    pub const MAX_STAGES: usize = 32;
    /// Devices working together.
    pub const MAX_DEVICES: u64 = 100_000;
    /// Samples per device per step.
    pub const MAX_BATCH: u64 = 1_000_000;
    /// Sequence lengths, prompt and generated tokens, image side.
    pub const MAX_LENGTH: u64 = 10_000_000;
    /// Steps, samples, tokens, requests per day, days, epochs: a quintillion is a typo.
    pub const MAX_AMOUNT: f64 = 1e18;
    /// Whole runs of a stage.
    pub const MAX_RUNS: f64 = 1e6;
    pub const PUE: (f64, f64) = (1.0, 3.0);
    /// gCO2e/kWh: no grid emits more than about 1,200.
    pub const MAX_GRID: f64 = 2000.0;
    pub const MAX_HOST_WATTS: f64 = 5000.0;
    /// Parameters of a model (100 trillion).
    pub const MAX_PARAMS: f64 = 1e14;
    /// Counted FLOPs of one step or one sample.
    pub const MAX_FLOPS: f64 = 1e24;
    /// Names, labels, ids.
    pub const MAX_NAME: usize = 200;
    /// Sources and details of pinned values.
    pub const MAX_TEXT: usize = 2000;
    /// Nodes of an imported graph (a Llama-70B ONNX graph has about 10k).
    pub const MAX_GRAPH_NODES: usize = 200_000;
    /// Bytes of a pasted config.json once re-serialised.
    pub const MAX_HF_CONFIG_BYTES: usize = 1_000_000;
}
use bounds::*;

/// Check a scenario; all problems at once, each naming its field and the fix.
pub fn check(s: &Scenario) -> Result<(), InputErrors> {
    let mut c = Checker::default();
    if s.version != SCENARIO_VERSION {
        c.push(
            "version",
            format!("must be {SCENARIO_VERSION}; this estimator reads version {SCENARIO_VERSION} scenarios"),
        );
    }
    c.text_opt("name", s.name.as_deref(), MAX_NAME);
    model(&mut c, &s.model);
    if s.stages.is_empty() {
        c.push("stages", "must hold at least one stage");
    }
    if s.stages.len() > MAX_STAGES {
        c.push(
            "stages",
            format!(
                "must hold at most {MAX_STAGES} stages; merge stages that run the same workload"
            ),
        );
    }
    for (i, st) in s.stages.iter().enumerate().take(MAX_STAGES) {
        stage(&mut c, &format!("stages[{i}]"), st);
    }
    c.text("hardware.device", &s.hardware.device, MAX_NAME);
    if s.hardware.count == 0 || s.hardware.count > MAX_DEVICES {
        c.push(
            "hardware.count",
            format!(
                "must be a whole number from 1 to {}",
                thousands(MAX_DEVICES)
            ),
        );
    }
    let inf = &s.infrastructure;
    c.range(
        "infrastructure.pue",
        inf.pue,
        PUE.0,
        PUE.1,
        "a PUE is between 1.0 (no overhead) and 3.0",
    );
    c.text_opt("infrastructure.region", inf.region.as_deref(), MAX_NAME);
    if let Some(g) = inf.grid_gco2e_per_kwh {
        c.range(
            "infrastructure.grid_gco2e_per_kwh",
            g,
            0.0,
            MAX_GRID,
            "a grid intensity is between 0 and 2000 gCO2e/kWh; check the unit",
        );
    }
    if let Some(h) = inf.host_watts_per_device {
        c.range(
            "infrastructure.host_watts_per_device",
            h,
            0.0,
            MAX_HOST_WATTS,
            "host power is between 0 and 5000 W per device",
        );
    }
    if let Some(h) = &s.host {
        for (k, v) in [
            ("us_per_kernel", h.us_per_kernel),
            ("us_per_backward_kernel", h.us_per_backward_kernel),
            ("us_per_token_loop", h.us_per_token_loop),
            ("us_per_optimizer_tensor", h.us_per_optimizer_tensor),
        ] {
            if let Some(v) = v {
                c.non_negative(&format!("host.{k}"), v, 1e6);
            }
        }
    }
    if let Some(r) = &s.resolved {
        c.text("resolved.estimator_version", &r.estimator_version, MAX_NAME);
        check_profile(&mut c, "resolved.device", &r.device);
        for (i, p) in r.stage_devices.iter().enumerate().take(MAX_STAGES) {
            check_profile(&mut c, &format!("resolved.stage_devices[{i}]"), p);
        }
        check_grid(&mut c, "resolved.grid", &r.grid);
        if let Some(h) = &r.headline {
            check_headline(&mut c, "resolved.headline", h);
        }
    }
    c.finish()
}

fn model(c: &mut Checker, m: &ModelSource) {
    let given = [
        m.preset.is_some(),
        m.hf_config.is_some(),
        m.flops_per_step.is_some() || m.flops_per_sample.is_some(),
        m.graph.is_some(),
        m.file.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if given != 1 {
        c.push(
            "model",
            "give exactly one of: preset, hf_config, flops_per_step or flops_per_sample (with params), graph",
        );
        return;
    }
    c.text_opt("model.preset", m.preset.as_deref(), MAX_NAME);
    if m.file.is_some() {
        c.push(
            "model.file",
            "a file path is read by the CLI only; import it first (jouleprint inspect) or use the CLI",
        );
    }
    if let Some(cfg) = &m.hf_config {
        if !cfg.is_object() {
            c.push(
                "model.hf_config",
                "must be a JSON object: the contents of a config.json",
            );
        } else if serde_json::to_string(cfg).map_or(true, |t| t.len() > MAX_HF_CONFIG_BYTES) {
            c.push(
                "model.hf_config",
                "must be at most 1 MB; a config.json is a few kB (drop large label maps)",
            );
        }
    }
    if let Some(g) = &m.graph {
        graph(c, g);
    }
    if m.flops_per_step.is_some() || m.flops_per_sample.is_some() {
        if m.flops_per_step.is_some() && m.flops_per_sample.is_some() {
            c.push("model", "give flops_per_step or flops_per_sample, not both");
        }
        match m.params {
            None => c.push(
                "model.params",
                "is required with flops_per_step or flops_per_sample",
            ),
            Some(p) => c.positive("model.params", p, MAX_PARAMS),
        }
        if let Some(f) = m.flops_per_step {
            c.positive("model.flops_per_step", f, MAX_FLOPS);
        }
        if let Some(f) = m.flops_per_sample {
            c.positive("model.flops_per_sample", f, MAX_FLOPS);
        }
    }
}

fn graph(c: &mut Checker, g: &ForwardGraph) {
    if g.batch == 0 || g.batch > MAX_BATCH {
        c.push(
            "model.graph.batch",
            format!("must be a whole number from 1 to {}", thousands(MAX_BATCH)),
        );
    }
    c.text("model.graph.source", &g.source, MAX_TEXT);
    c.non_negative("model.graph.params", g.params, MAX_PARAMS);
    if g.nodes.len() > MAX_GRAPH_NODES {
        c.push(
            "model.graph.nodes",
            format!(
                "must hold at most {} nodes",
                thousands(MAX_GRAPH_NODES as u64)
            ),
        );
        return;
    }
    for (i, n) in g.nodes.iter().enumerate() {
        let f = |k: &str| format!("model.graph.nodes[{i}].{k}");
        c.text(&f("name"), &n.name, MAX_TEXT);
        c.text(&f("op_type"), &n.op_type, MAX_NAME);
        c.non_negative(&f("flops"), n.flops, MAX_FLOPS);
        c.finite(&f("other_flops"), n.other_flops, MAX_FLOPS);
        c.non_negative(&f("elements"), n.elements, MAX_FLOPS);
        c.non_negative(&f("params"), n.params, MAX_PARAMS);
        if let Some(mnk) = n.mnk {
            for (d, v) in ["m", "n", "k"].iter().zip(mnk) {
                c.non_negative(&format!("{}[{d}]", f("mnk")), v, MAX_FLOPS);
            }
        }
        if c.errors.len() > 20 {
            return;
        }
    }
    for (i, s) in g.unsupported_ops.iter().enumerate() {
        c.text(&format!("model.graph.unsupported_ops[{i}]"), s, MAX_NAME);
    }
    for (i, s) in g.warnings.iter().enumerate() {
        c.text(&format!("model.graph.warnings[{i}]"), s, MAX_TEXT);
    }
}

fn stage(c: &mut Checker, at: &str, st: &Stage) {
    let f = |k: &str| format!("{at}.{k}");
    c.text_opt(&f("name"), st.name.as_deref(), MAX_NAME);
    let w = &st.workload;
    if w.batch == 0 || w.batch > MAX_BATCH {
        c.push(
            f("workload.batch"),
            format!(
                "must be a whole number from 1 to {} samples per device",
                thousands(MAX_BATCH)
            ),
        );
    }
    for (name, v) in [
        ("seq", w.seq),
        ("prompt", w.prompt),
        ("new_tokens", w.new_tokens),
        ("image_size", w.image_size),
    ] {
        if let Some(n) = v {
            if n == 0 || n > MAX_LENGTH {
                c.push(
                    f(&format!("workload.{name}")),
                    format!("must be a whole number from 1 to {}", thousands(MAX_LENGTH)),
                );
            }
        }
    }
    if let Some(sv) = &st.serving {
        if st.kind != StageKind::Deployment || w.phase != Phase::Decode {
            c.push(
                f("serving"),
                "a continuous-batching engine serves a deployment stage of phase decode",
            );
        }
        if let Some(r) = sv.replicas {
            if r == 0 || r > MAX_DEVICES {
                c.push(
                    f("serving.replicas"),
                    "must be a whole number from 1 to 100,000",
                );
            }
        }
        if let Some(p) = sv.peak_to_mean {
            c.range(
                &f("serving.peak_to_mean"),
                p,
                1.0,
                100.0,
                "the daily peak over the mean load",
            );
        }
        if let Some(m) = sv.memory_fraction {
            c.range(
                &f("serving.memory_fraction"),
                m,
                0.05,
                1.0,
                "the share of device memory the engine may use",
            );
        }
        if let Some(h) = sv.host_ms_per_sequence {
            c.range(
                &f("serving.host_ms_per_sequence"),
                h,
                0.0,
                100.0,
                "host milliseconds per running sequence per engine step",
            );
        }
    }
    if let Some(p) = &st.parallelism {
        for (k, v) in [
            ("tensor", p.tensor),
            ("pipeline", p.pipeline),
            ("context", p.context),
            ("expert", p.expert),
            ("micro_batches", p.micro_batches),
            ("interleave", p.interleave),
        ] {
            if let Some(v) = v {
                if v == 0 || v > MAX_DEVICES {
                    c.push(
                        f(&format!("parallelism.{k}")),
                        "must be a whole number from 1 to 100,000",
                    );
                }
            }
        }
        if p.zero.is_some_and(|z| z > 3) {
            c.push(f("parallelism.zero"), "must be 0, 1, 2 or 3");
        }
    }
    if let Some(hw) = &st.hardware {
        c.text(&f("hardware.device"), &hw.device, MAX_NAME);
        if hw.count == 0 || hw.count > MAX_DEVICES {
            c.push(
                f("hardware.count"),
                format!(
                    "must be a whole number from 1 to {}",
                    thousands(MAX_DEVICES)
                ),
            );
        }
    }
    if st.kind == StageKind::Deployment && w.phase == Phase::Train {
        c.push(
            f("workload.phase"),
            "a deployment stage serves requests: use inference, prefill or decode",
        );
    }
    if !st.runs.is_finite() || !(1.0..=MAX_RUNS).contains(&st.runs) {
        c.push(f("runs"), "must be a number from 1 to 1,000,000");
    }
    if let Some(g) = st.goodput {
        if !(g.is_finite() && (0.05..=1.0).contains(&g)) {
            c.push(
                f("goodput"),
                "must be a share from 0.05 to 1 (1: every device-hour is a productive step; leave it out for the default)",
            );
        } else if w.phase != Phase::Train {
            c.push(
                f("goodput"),
                "applies to training stages only: remove it, or set workload.phase to train",
            );
        }
    }
    let given = [
        st.steps.is_some(),
        st.samples.is_some(),
        st.tokens.is_some(),
        st.requests_per_day.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if given != 1 {
        c.push(
            f("steps"),
            "give exactly one of: steps; samples or tokens (with epochs); requests_per_day (with days)",
        );
    }
    for (name, v) in [
        ("steps", st.steps),
        ("samples", st.samples),
        ("tokens", st.tokens),
        ("epochs", st.epochs),
        ("requests_per_day", st.requests_per_day),
        ("days", st.days),
    ] {
        if let Some(v) = v {
            c.positive(&f(name), v, MAX_AMOUNT);
        }
    }
    if st.requests_per_day.is_some() && st.days.is_none() {
        c.push(f("days"), "is required with requests_per_day");
    }
}

/// A pinned device profile: every coefficient finite and physically possible.
fn check_profile(c: &mut Checker, at: &str, p: &DeviceProfile) {
    let f = |k: &str| format!("{at}.{k}");
    c.text(&f("id"), &p.id, MAX_NAME);
    c.text(&f("name"), &p.name, MAX_NAME);
    c.text(&f("source.kind"), &p.source.kind, MAX_NAME);
    c.text(&f("source.detail"), &p.source.detail, MAX_TEXT);
    c.text(&f("source.version"), &p.source.version, MAX_NAME);
    if !matches!(p.source.kind.as_str(), "datasheet" | "measured") {
        c.push(f("source.kind"), "must be `datasheet` or `measured`");
    }
    c.positive(&f("memory_gb"), p.memory_gb, 1e5);
    c.positive(&f("power_limit_w"), p.power_limit_w, 1e5);
    c.non_negative(&f("idle_w"), p.idle_w, p.power_limit_w.max(0.0));
    c.non_negative(
        &f("active_floor_w"),
        p.active_floor_w,
        p.power_limit_w.max(0.0),
    );
    if p.gemm_tflops.is_empty() {
        c.push(f("gemm_tflops"), "must give at least one math mode");
    }
    for (m, v) in &p.gemm_tflops {
        c.positive(&format!("{}.{}", f("gemm_tflops"), m.as_str()), *v, 1e6);
    }
    for (m, v) in &p.pj_per_flop {
        c.positive(&format!("{}.{}", f("pj_per_flop"), m.as_str()), *v, 1e6);
    }
    c.non_negative(&f("gemm_latency_us"), p.gemm_latency_us, 1e6);
    c.positive(&f("mem_gbs"), p.mem_gbs, 1e6);
    c.positive(&f("pj_per_byte"), p.pj_per_byte, 1e6);
    c.non_negative(&f("kernel_latency_us"), p.kernel_latency_us, 1e6);
    c.non_negative(&f("uncertainty"), p.uncertainty, 10.0);
    if let Some(k) = &p.kernels {
        if let Some(n) = k.sm_count {
            if !(1..=10_000).contains(&n) {
                c.push(
                    f("kernels.sm_count"),
                    "must be a whole number from 1 to 10,000 (the device's streaming multiprocessors), or remove it",
                );
            }
        }
        for (i, t) in k.tiles.iter().enumerate() {
            if t.iter().any(|x| !(1..=4096).contains(x)) {
                c.push(
                    format!("{}[{i}]", f("kernels.tiles")),
                    "a tile is [rows, columns], each from 1 to 4096",
                );
            }
        }
        for (name, v) in [
            ("attention", k.attention),
            ("attention_fused", k.attention_fused),
        ] {
            for (i, x) in v.iter().enumerate() {
                if !(x.is_finite() && *x > 0.0 && *x <= 1.0) {
                    c.push(
                        format!("{}[{i}]", f(&format!("kernels.{name}"))),
                        "must be a fraction of the large-GEMM rate above 0 and at most 1",
                    );
                }
            }
        }
    }
    if let Some(l) = &p.links {
        if !(1..=100_000).contains(&l.domain) {
            c.push(
                f("links.domain"),
                "must be a whole number of devices from 1 to 100,000",
            );
        }
        c.positive(&f("links.intra_gbs"), l.intra_gbs, 1e5);
        c.positive(&f("links.network_gbs"), l.network_gbs, 1e5);
    }
}

/// Pinned headline numbers: shown beside today's, so finite and not negative.
fn check_headline(c: &mut Checker, at: &str, h: &Headline) {
    for (k, v) in [
        ("energy_kwh", h.energy_kwh),
        ("co2e_kg", h.co2e_kg),
        ("device_hours", h.device_hours),
        ("wall_hours", h.wall_hours),
    ] {
        if !v.is_finite() || v < 0.0 {
            c.push(
                format!("{at}.{k}"),
                "must be a finite number of at least 0, or remove `headline` (it only records the numbers the link showed)",
            );
        }
    }
}

fn check_grid(c: &mut Checker, at: &str, g: &GridValue) {
    let f = |k: &str| format!("{at}.{k}");
    c.range(
        &f("gco2e_per_kwh"),
        g.gco2e_per_kwh,
        0.0,
        MAX_GRID,
        "a grid intensity is between 0 and 2000 gCO2e/kWh",
    );
    c.text(&f("region"), &g.region, MAX_NAME);
    c.text(&f("source"), &g.source, MAX_TEXT);
    if let Some(y) = g.year {
        if !(1990..=2100).contains(&y) {
            c.push(f("year"), "must be a year from 1990 to 2100");
        }
    }
}

/// `1000000` as `1,000,000`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[derive(Default)]
struct Checker {
    errors: Vec<InputError>,
}

impl Checker {
    fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(InputError::new(field, message));
    }
    fn finish(self) -> Result<(), InputErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(InputErrors(self.errors))
        }
    }
    fn text(&mut self, field: &str, v: &str, max: usize) {
        let n = v.chars().count();
        if n > max {
            self.push(
                field,
                format!("must be at most {max} characters (it has {n})"),
            );
        }
    }
    fn text_opt(&mut self, field: &str, v: Option<&str>, max: usize) {
        if let Some(v) = v {
            self.text(field, v, max);
        }
    }
    fn range(&mut self, field: &str, v: f64, lo: f64, hi: f64, why: &str) {
        if !v.is_finite() || v < lo || v > hi {
            self.push(field, format!("must be between {lo} and {hi}: {why}"));
        }
    }
    fn finite(&mut self, field: &str, v: f64, max_abs: f64) {
        if !v.is_finite() || v.abs() > max_abs {
            self.push(
                field,
                format!("must be a finite number of at most {max_abs:e} in size"),
            );
        }
    }
    fn positive(&mut self, field: &str, v: f64, max: f64) {
        if !v.is_finite() || v <= 0.0 || v > max {
            self.push(
                field,
                format!("must be a number above 0 and at most {}", plain(max)),
            );
        }
    }
    fn non_negative(&mut self, field: &str, v: f64, max: f64) {
        if !v.is_finite() || v < 0.0 || v > max {
            self.push(field, format!("must be a number from 0 to {}", plain(max)));
        }
    }
}

/// A bound in words people read: `1e18`, `2000`, `1000000`.
fn plain(v: f64) -> String {
    if v >= 1e7 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Parallelism knobs a stage gives that change nothing in its estimate: each
/// is said as a warning naming its field (refusing them would break links
/// made while they were silently dropped).
pub fn ignored_knobs(i: usize, st: &Stage) -> Vec<String> {
    let Some(p) = &st.parallelism else {
        return vec![];
    };
    let w = &st.workload;
    let f = |k: &str| format!("stages[{i}].parallelism.{k}");
    let more = |v: Option<u64>| v.is_some_and(|v| v > 1);
    let mut out = vec![];
    if w.phase != Phase::Train {
        match p.zero {
            Some(1 | 2) => out.push(format!(
                "{} is ignored: ZeRO-1 and -2 shard optimizer state and gradients, which a stage that does not train has none of (remove it)",
                f("zero")
            )),
            Some(3) => out.push(format!(
                "{}: ZeRO-3 shards the weights in the memory check, but the all-gathers that would fetch them for each layer are not modelled outside training (shard them with parallelism.tensor or pipeline instead)",
                f("zero")
            )),
            _ => {}
        }
        if p.recompute.is_some_and(|r| r != Recompute::None) {
            out.push(format!(
                "{} is ignored: recomputation re-runs forwards for a backward pass, which only training has (remove it)",
                f("recompute")
            ));
        }
        if !p.recompute_modules.is_empty() {
            out.push(format!(
                "{} is ignored: recomputation re-runs forwards for a backward pass, which only training has (remove it)",
                f("recompute_modules")
            ));
        }
    }
    if more(p.interleave) && !more(p.pipeline) {
        out.push(format!(
            "{} is ignored: it interleaves pipeline stages (set parallelism.pipeline above 1, or remove it)",
            f("interleave")
        ));
    }
    if p.overlap_expert_comm == Some(true) && !more(p.expert) {
        out.push(format!(
            "{} is ignored: it hides expert parallelism's all-to-all (set parallelism.expert above 1, or remove it)",
            f("overlap_expert_comm")
        ));
    }
    if st.serving.is_some() {
        for (k, v) in [
            ("pipeline", p.pipeline),
            ("context", p.context),
            ("expert", p.expert),
            ("micro_batches", p.micro_batches),
        ] {
            if more(v) {
                out.push(format!(
                    "{} is ignored: the serving engine's replicas are tensor-parallel only (docs/energy-model.md, \"Serving\"); remove it, or remove `serving` to estimate plain batches",
                    f(k)
                ));
            }
        }
    }
    out
}
