//! The public validation sets (`shared/data/validation/`): every line parses
//! as a case, carries its source and what is uncertain, and the estimator
//! takes every scenario (issue 14's minimum sizes hold).

use shared::validate::published::{evaluate_case, parse_case, Quantity};

/// A set's non-empty lines.
fn lines(name: &str) -> Vec<String> {
    let path = format!(
        "{}/data/validation/{name}.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn set(name: &str) -> Vec<shared::validate::published::PublishedCase> {
    lines(name)
        .iter()
        .enumerate()
        .map(|(i, l)| parse_case(l).unwrap_or_else(|e| panic!("{name} line {}: {e}", i + 1)))
        .collect()
}

/// A set's lines as raw JSON, for the tests that rework its figures by hand.
fn raw(name: &str) -> Vec<serde_json::Value> {
    lines(name)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect()
}

#[test]
fn the_sets_hold_enough_sourced_cases() {
    let single = set("single-device");
    let pre = set("pretraining");
    let serving = set("serving");
    let at_scale = set("training-at-scale");
    let held_out = set("serving-held-out");
    let fsdp = set("training-fsdp");
    let time = |q: Quantity| !q.is_energy();
    assert!(single.iter().filter(|c| time(c.quantity)).count() >= 25);
    assert!(pre.len() >= 15);
    assert!(serving.len() >= 10);
    assert!(at_scale.len() >= 20);
    assert!(held_out.len() >= 100);
    assert!(fsdp.len() >= 200);
    for c in single
        .iter()
        .chain(&pre)
        .chain(&serving)
        .chain(&at_scale)
        .chain(&held_out)
        .chain(&fsdp)
    {
        assert!(!c.source.trim().is_empty(), "{}: no source", c.name);
        assert!(!c.uncertain.trim().is_empty(), "{}: no uncertainty", c.name);
        assert!(c.value.is_finite() && c.value > 0.0, "{}", c.name);
        assert_eq!(c.unit, c.quantity.unit(), "{}", c.name);
    }
    let mut names: Vec<&str> = single
        .iter()
        .chain(&pre)
        .chain(&serving)
        .chain(&at_scale)
        .chain(&held_out)
        .chain(&fsdp)
        .map(|c| c.name.as_str())
        .collect();
    let n = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), n, "case names are unique");
}

#[test]
fn the_estimator_takes_every_case() {
    for name in [
        "single-device",
        "pretraining",
        "serving",
        "training-at-scale",
        "training-fsdp",
    ] {
        for c in set(name) {
            let r = evaluate_case(&c, &[]);
            assert!(r.error.is_none(), "{}: {:?}", c.name, r.error);
            let q = r.estimate.expect("estimate");
            assert!(
                q.low.is_finite() && q.low > 0.0 && q.low <= q.expected && q.expected <= q.high,
                "{}: {q:?}",
                c.name
            );
        }
    }
}

/// The held-out serving cases are other configurations than the ten the
/// engine's constants are fitted on: no leaderboard file is in both sets.
#[test]
fn held_out_serving_configurations_are_not_the_fitted_ones() {
    let file = |c: &shared::validate::published::PublishedCase| {
        let at = c.source.find("data/llm_text_generation/")?;
        let rest = &c.source[at..];
        Some(rest[..rest.find(".json")? + 5].to_string())
    };
    let fitted: Vec<String> = set("serving").iter().filter_map(file).collect();
    assert_eq!(fitted.len(), 20, "ten configurations, two figures each");
    let held = set("serving-held-out");
    for c in &held {
        let f = file(c).unwrap_or_else(|| panic!("{}: no leaderboard file", c.name));
        assert!(!fitted.contains(&f), "{}: {f} is fitted on", c.name);
    }
}

/// Each step time of the training-at-scale set is the published throughput
/// turned back into time, worked here: the Megatron-LM paper's equation (3),
/// F = 96 B s l h^2 (1 + s/(6h) + V/(16 l h)), value = F / (X n); Llama 3's
/// rows 6 N T / (X n).
#[test]
fn at_scale_step_times_follow_from_the_published_throughput() {
    let f64_at = |v: &serde_json::Value, what: &str| v.as_f64().unwrap_or_else(|| panic!("{what}"));
    for c in raw("training-at-scale") {
        let name = c["name"].as_str().expect("name");
        assert_eq!(c["quantity"], "seconds_per_step", "{name}");
        let x = f64_at(&c["setup"]["tflops_per_gpu"], "tflops_per_gpu") * 1e12;
        let scn = &c["scenario"];
        let n = f64_at(&scn["hardware"]["count"], "count");
        let value = f64_at(&c["value"], "value");
        if let Some(tokens) = c["setup"]["tokens_per_step"].as_f64() {
            // Llama 3's rows: 6 N T for N = 405e9, T = DP x batch/DP x 8192
            let stage = &scn["stages"][0];
            let dp = n / (8.0 * 16.0);
            let per_dp = f64_at(&stage["workload"]["batch"], "batch");
            assert_eq!(tokens, dp * per_dp * 8192.0, "{name}");
            let want = 6.0 * 405e9 * tokens / (x * n);
            assert!(
                (value - want).abs() <= 1e-9 * want,
                "{name}: {value} vs {want}"
            );
            continue;
        }
        let b = f64_at(&c["setup"]["global_batch"], "global_batch");
        let cfg = &scn["model"]["hf_config"];
        let (l, h) = (
            f64_at(&cfg["n_layer"], "n_layer"),
            f64_at(&cfg["n_embd"], "n_embd"),
        );
        let (s, v) = (2048.0, 51200.0);
        let f = 96.0 * b * s * l * h * h * (1.0 + s / (6.0 * h) + v / (16.0 * l * h));
        let want = f / (x * n);
        assert!(
            (value - want).abs() <= 1e-9 * want,
            "{name}: {value} vs {want}"
        );
        // the scenario's global batch is the published one
        let stage = &scn["stages"][0];
        let p = &stage["parallelism"];
        let model_parallel =
            p["tensor"].as_f64().unwrap_or(1.0) * p["pipeline"].as_f64().unwrap_or(1.0);
        let per_replica = f64_at(&stage["workload"]["batch"], "batch");
        assert_eq!(per_replica * n / model_parallel, b, "{name}");
    }
}

/// Each case of the FSDP set is its llm-foundry table row (kept verbatim in
/// `published`) turned into a scenario and a step time, worked here:
/// value = GlobalBatchSize (T) / Throughput (T/s); the per-GPU batch, the
/// accumulation, the sharding and the checkpointing are the row's; and the
/// estimator's parameter count equals the row's NumParams, counted by
/// llm-foundry's own code (an independent reference for the GPT-2 layout).
#[test]
fn fsdp_cases_are_their_published_rows() {
    for c in raw("training-fsdp") {
        let name = c["name"].as_str().expect("name");
        let cells: Vec<&str> = c["published"]
            .as_str()
            .expect("published")
            .split(" | ")
            .collect();
        assert_eq!(cells.len(), 20, "{name}");
        let num = |i: usize| -> f64 {
            cells[i]
                .parse()
                .unwrap_or_else(|_| panic!("{name}: {}", cells[i]))
        };
        let (seq, gpus, micro, accum, global) = (num(1), num(2), num(7), num(8), num(9));
        let (tokens_per_s, global_tokens, params) = (num(11), num(13), num(19));
        assert_eq!(global_tokens, global * seq, "{name}");
        let value = c["value"].as_f64().expect("value");
        let want = global_tokens / tokens_per_s;
        assert!(
            (value - want).abs() <= 1e-12 * want,
            "{name}: {value} vs {want}"
        );

        let scn = &c["scenario"];
        let stage = &scn["stages"][0];
        let w = &stage["workload"];
        let p = &stage["parallelism"];
        assert_eq!(scn["hardware"]["count"].as_f64(), Some(gpus), "{name}");
        assert_eq!(w["seq"].as_f64(), Some(seq), "{name}");
        let batch = w["batch"].as_f64().expect("batch");
        assert_eq!(batch * gpus, global, "{name}: global batch");
        let pieces = p["micro_batches"].as_f64().expect("micro_batches");
        assert_eq!(batch / pieces, micro, "{name}: micro-batch");
        if global == micro * accum * gpus {
            assert_eq!(pieces, accum, "{name}: accumulation");
        }
        let zero = match cells[16] {
            "FULL_SHARD" => 3.0,
            "SHARD_GRAD_OP" => 2.0,
            other => panic!("{name}: {other}"),
        };
        assert_eq!(p["zero"].as_f64(), Some(zero), "{name}");
        let recompute = if cells[17] == "True" { "full" } else { "none" };
        assert_eq!(p["recompute"], recompute, "{name}");

        let s = shared::estimate::parse_scenario(&scn.to_string()).expect("scenario");
        let e = shared::estimate::estimate(&s, &[]).expect("estimate");
        assert_eq!(e.params, params, "{name}: parameters");
    }
}

/// The committed range widths are the range fitter's output on today's model
/// (rerun `cargo run --release -p jouleprint-shared --example ranges -- --write`
/// after a model change).
#[test]
fn committed_widths_are_the_fitters_output() {
    use shared::validate::widths::{fit_widths, residuals};
    let fitted = fit_widths(&residuals(), None);
    let committed = shared::ranges::widths().expect("shared/data/uncertainty.json parses");
    for (name, f, c) in [
        ("energy", &fitted.energy, &committed.energy),
        ("time", &fitted.time, &committed.time),
    ] {
        assert_eq!(f.len(), c.len(), "{name}");
        for (cell, v) in f {
            let got = c.get(cell).copied().unwrap_or(f64::NAN);
            assert!(
                (got - v).abs() < 1e-9,
                "{name} {cell}: committed {got}, fitted {v}"
            );
        }
    }
    assert_eq!(fitted.shift.len(), committed.shift.len(), "shift");
    for (cell, v) in &fitted.shift {
        let got = committed.shift.get(cell).copied().unwrap_or(f64::NAN);
        assert!(
            (got - v).abs() < 1e-9,
            "shift {cell}: committed {got}, fitted {v}"
        );
    }
}

/// A cell centred on its residuals: eleven campaign residuals -0.35 + d, d =
/// -0.5, -0.4, ..., 0.5. The shift is their median, -0.35; the width the 0.9
/// quantile of |d| (sorted 0, 0.1, 0.1, ..., 0.5, 0.5: position 9 of 10 is
/// 0.5). Centred on 0 the same quantile of |r| would be 0.75 (the 0.85, 0.75,
/// 0.65 ... tail). Left out: -0.85 lies 0.5 from the others' median (-0.3)
/// and the others' width is 0.45, so it is outside; -0.35 is inside.
#[test]
fn a_campaign_range_sits_at_its_median_residual() {
    use shared::ranges::Cell;
    use shared::validate::widths::{fit_widths, leave_one_out, Residual};
    let res: Vec<Residual> = (0..11)
        .map(|i| Residual {
            name: format!("run{i}"),
            set: "pretraining".into(),
            cell: Cell::Campaign,
            energy: false,
            r: -0.35 + (i as f64 - 5.0) / 10.0,
        })
        .collect();
    let w = fit_widths(&res, None);
    let s = w.shift["campaign"];
    let u = w.time["campaign"];
    assert!((s + 0.35).abs() < 1e-12, "shift {s}");
    assert!((u - 0.5).abs() < 1e-12, "width {u}");
    // cells centred on the estimate get no shift
    assert_eq!(w.shift.len(), 1);
    let loo = leave_one_out(&res);
    assert!(!loo[0].inside, "r = -0.85 left out");
    assert!(loo[5].inside, "r = -0.35 left out");
    // the range a stage's totals get from them: [v e^(-s-u), v e^(-s+u)]
    let r = shared::units::Range::log_shifted(100.0, s, u);
    assert!((r.low - 100.0 * (-0.15f64).exp()).abs() < 1e-9, "{r:?}");
    assert!((r.high - 100.0 * 0.85f64.exp()).abs() < 1e-9, "{r:?}");
    assert_eq!(r.expected, 100.0);
}

/// A cell with few residuals: t(0.95, n) x their root mean square, worked by
/// hand for n = 3 (t = 2.353) and n = 4 (t = 2.132); ten or more use the
/// empirical quantile.
#[test]
fn a_small_cell_takes_the_student_t_bound() {
    use shared::validate::widths::small_sample_width;
    let w = small_sample_width(&[0.03, -0.04, 0.0]).unwrap();
    // rms = sqrt((0.0009 + 0.0016 + 0) / 3) = 0.028868
    assert!((w - 2.353 * 0.028_867_513).abs() < 1e-6, "{w}");
    let w = small_sample_width(&[0.1, 0.1, -0.1, 0.1]).unwrap();
    assert!((w - 2.132 * 0.1).abs() < 1e-9, "{w}");
    assert!(small_sample_width(&[0.1, 0.2]).is_none());
    assert!(small_sample_width(&[0.1; 10]).is_none());
}

#[test]
fn the_best_single_factor_floor_is_the_shortest_half() {
    use shared::validate::fit::best_factor_floor;
    // log ratios 0, 0.1, 0.2, 1, 2: the three closest span 0.2, so the best
    // factor centres them (ln k = -0.1) and the median deviation is 0.1;
    // centring on the median log (0.2) would leave 0.2
    let r: Vec<f64> = [0.0f64, 0.1, 0.2, 1.0, 2.0]
        .iter()
        .map(|x| x.exp())
        .collect();
    let (k, floor) = best_factor_floor(&r).expect("five ratios");
    assert!((k.ln() + 0.1).abs() < 1e-12, "k = {k}");
    assert!((floor - 0.1).abs() < 1e-12, "floor = {floor}");
    // a non-positive or non-finite ratio is not a ratio; nothing left: None
    assert!(best_factor_floor(&[0.0, -1.0, f64::NAN]).is_none());
    let (k1, f1) = best_factor_floor(&[2.0]).expect("one ratio");
    assert!((k1 - 0.5).abs() < 1e-12 && f1 == 0.0);
}
