//! The estimator end to end: reference accuracy, totals worked by hand, bad
//! input, and properties that must hold for any scenario.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use shared::estimate::{estimate_json, parse_scenario};

const GPT2_DEPLOY: &str = r#"{"version":1,"model":{"preset":"gpt2"},
  "stages":[{"kind":"deployment","workload":{"phase":"decode","precision":"bf16","batch":8,"prompt":128,"new_tokens":128},"requests_per_day":10000,"days":30}],
  "hardware":{"device":"h100-sxm","count":1},"infrastructure":{"pue":1.2,"region":"FR"}}"#;

/// The done-when of the core: every reference case within 15% of the measured
/// energy and every FLOP count within 3% of FlopCounterMode's.
#[test]
fn reference_cases_within_15_percent() {
    let report = shared::validate::evaluate(shared::validate::fit::reference_cases(), &[]);
    assert_eq!(report.cases.len(), 3);
    for c in &report.cases {
        assert!(c.error.is_none(), "{}: {:?}", c.name, c.error);
        let e = c.energy_rel_error.unwrap();
        assert!(
            e.abs() <= 0.15,
            "{}: energy off by {:.1}%",
            c.name,
            e * 100.0
        );
        let f = c.estimated_flops_per_step.unwrap() / c.measured_flops_per_step.unwrap() - 1.0;
        assert!(
            f.abs() <= 0.03,
            "{}: FLOPs off by {:.2}%",
            c.name,
            f * 100.0
        );
    }
    assert!(report.summary.max_abs_energy_error.unwrap() <= 0.15);
}

/// The naive method the README compares against misses by far more (here as a guard
/// that the comparison in the README is computed, not typed).
#[test]
fn naive_tdp_times_time_overestimates_decode() {
    let cases = shared::validate::parse_cases(shared::validate::fit::reference_cases());
    let decode = cases
        .iter()
        .flatten()
        .find(|c| c.phase == shared::scenario::Phase::Decode)
        .unwrap();
    let (tdp_t, _, _) = shared::validate::naive_estimates(decode).unwrap();
    assert!((tdp_t - 700.0 * 1.64624).abs() < 1e-6);
    assert!(tdp_t / decode.measured.joules_per_step > 3.0);
}

/// The committed constants are what the fitter finds on the reference cases.
#[test]
fn fitted_constants_are_the_fit() {
    let cases: Vec<_> = shared::validate::parse_cases(shared::validate::fit::reference_cases())
        .into_iter()
        .flatten()
        .collect();
    let all: Vec<usize> = (0..cases.len()).collect();
    let fit = shared::validate::fit::fit_cases(&cases, &all);
    let t = shared::tuning::TUNING;
    assert!(
        (fit.active_floor_fraction / t.active_floor_fraction - 1.0).abs() < 0.02,
        "{fit:?} vs {t:?}"
    );
    assert!(
        (fit.elementwise_bw_fraction / t.elementwise_bw_fraction - 1.0).abs() < 0.02,
        "{fit:?} vs {t:?}"
    );
}

/// The host scale's prior is the gpt-fast measurement, worked here from its
/// parts: published ms per token over (CPU us per token + 2 us x kernels).
#[test]
fn host_scale_prior_is_the_gpt_fast_measurement() {
    let d: serde_json::Value =
        serde_json::from_str(include_str!("../data/host-gptfast.json")).unwrap();
    let f = |k: &str| d[k].as_f64().unwrap();
    let implied = 1e3 / f("published_tokens_per_second") * 1e3
        / (f("cpu_us_per_token") + 2.0 * f("kernels_per_token"));
    assert!((implied / f("implied_host_scale") - 1.0).abs() < 1e-9);
    assert!(
        (shared::tuning::HOST_SCALE / implied - 1.0).abs() < 0.005,
        "{implied}"
    );
}

/// Kernels one decoder layer adds to a decoded token, from the plan: the count
/// at 2 layers minus the count at 1, one token apart (the prefill and the
/// output head cancel).
fn plan_kernels_per_layer(family: &str, attention: &str) -> f64 {
    let cfg = |layers: u32| match family {
        "llama" => format!(
            r#"{{"architectures":["LlamaForCausalLM"],"model_type":"llama","hidden_act":"silu","hidden_size":64,"intermediate_size":176,"num_hidden_layers":{layers},"num_attention_heads":16,"num_key_value_heads":16,"vocab_size":512,"max_position_embeddings":400,"rms_norm_eps":1e-6}}"#
        ),
        _ => format!(
            r#"{{"architectures":["GPTNeoXForCausalLM"],"model_type":"gpt_neox","hidden_act":"gelu","hidden_size":64,"intermediate_size":256,"num_hidden_layers":{layers},"num_attention_heads":16,"vocab_size":512,"max_position_embeddings":400,"rotary_pct":0.25,"use_parallel_residual":true}}"#
        ),
    };
    let kernels = |layers: u32, new: u32| {
        let json = format!(
            r#"{{"version":1,"model":{{"hf_config":{}}},"stages":[{{"kind":"deployment","workload":{{"phase":"decode","precision":"bf16","batch":1,"prompt":128,"new_tokens":{new},"attention":"{attention}"}},"requests_per_day":1,"days":1}}],"hardware":{{"device":"a100-pcie-80gb","count":1}},"software":"pytorch-eager"}}"#,
            cfg(layers)
        );
        let s = parse_scenario(&json).unwrap();
        let arch = shared::resolve::architecture(&s).unwrap();
        shared::plan::plan(&arch, &s.stages[0].workload, s.software, "w")
            .unwrap()
            .kernels()
    };
    let per_token = |layers: u32| kernels(layers, 17) - kernels(layers, 16);
    per_token(2) - per_token(1)
}

/// The plan's kernels per decoder layer against the dispatches counted in
/// transformers' own code (shared/data/host-stacks.json, `per_layer_kernels`):
/// the math path against transformers 4.30.2 (before SDPA), the fused path
/// against 5.23.0. The count ran on a CPU, where copies to the device do not
/// happen: 4.30.2's code makes one per layer in Llama (`torch.tensor(finfo.min,
/// device=...)`) and three in GPT-NeoX (its cos and sin tables, kept on the
/// CPU, and the mask value), which the plan adds.
#[test]
fn decoder_layer_kernels_match_the_counted_transformers_code() {
    let d: serde_json::Value =
        serde_json::from_str(include_str!("../data/host-stacks.json")).unwrap();
    let counted = |stack: &str, family: &str| {
        d["per_layer_kernels"]["stacks"][stack][family]["kernels_per_layer"]
            .as_f64()
            .unwrap()
    };
    for (family, copies) in [("llama", 1.0), ("gpt_neox", 3.0)] {
        let old = counted("transformers 4.30.2", family) + copies;
        let math = plan_kernels_per_layer(family, "math");
        assert!(
            (math / old - 1.0).abs() <= 0.03,
            "{family} math: {math} vs {old}"
        );
        // the fused path differs in dispatches that launch nothing (no-op
        // dropouts at eval) and in Llama's RMSNorm casts; within 15%
        let new = counted("transformers 5.23.0", family);
        let fused = plan_kernels_per_layer(family, "fused");
        assert!(
            (fused / new - 1.0).abs() <= 0.15,
            "{family} fused: {fused} vs {new}"
        );
    }
}

/// Totals from the per-step figures, worked by hand: steps = requests / batch,
/// wall energy = (accelerators + host) x PUE, emissions = energy x intensity.
#[test]
fn deployment_totals_follow_the_documented_formulas() {
    let e = estimate_json(GPT2_DEPLOY, &[]).unwrap();
    let st = &e.stages[0];
    let steps = (10000.0f64 * 30.0 / 8.0).ceil();
    assert_eq!(st.steps, steps);
    let seconds = st.seconds_per_step.expected * steps;
    let device_kwh = e.joules_per_step.expected * steps / 3.6e6;
    let host_w = shared::catalog::find("h100-sxm").unwrap().host_w_per_device
        * shared::totals::constants::HOST_LOAD.0;
    let wall = (device_kwh + host_w * seconds / 3.6e6) * 1.2;
    assert!(
        (st.energy_kwh.expected / wall - 1.0).abs() < 1e-9,
        "{} vs {wall}",
        st.energy_kwh.expected
    );
    let g = shared::grid::find("FR").unwrap().gco2e_per_kwh;
    assert!((e.co2e_kg.expected / (wall * g / 1000.0) - 1.0).abs() < 1e-9);
    assert!((st.wh_per_request.unwrap().expected / (wall * 1000.0 / 300_000.0) - 1.0).abs() < 1e-9);
    assert!(
        (st.wh_per_token.unwrap().expected / (wall * 1000.0 / (300_000.0 * 128.0)) - 1.0).abs()
            < 1e-9
    );
    assert!((e.device_hours.expected - seconds / 3600.0).abs() < 1e-9);
}

/// A training stage from samples and epochs: steps = samples x epochs / (batch x
/// replicas); ResNet-50's gradient all-reduce over 8 H100s (102 MB of fp32
/// gradients) is hidden behind its backward, so a step takes as long as on one device.
#[test]
fn training_steps_and_data_parallel_overhead() {
    let mk = |n: u64| {
        format!(
            r#"{{"version":1,"model":{{"preset":"resnet50"}},"stages":[{{"kind":"final_training","workload":{{"phase":"train","precision":"bf16-amp","batch":64,"optimizer":"sgd-momentum"}},"samples":1281167,"epochs":90,"runs":2}}],"hardware":{{"device":"h100-sxm","count":{n}}},"infrastructure":{{"region":"FR"}}}}"#
        )
    };
    let one = estimate_json(&mk(1), &[]).unwrap();
    let eight = estimate_json(&mk(8), &[]).unwrap();
    assert_eq!(
        one.stages[0].steps,
        (1281167.0f64 * 90.0 / 64.0).ceil() * 2.0
    );
    assert_eq!(
        eight.stages[0].steps,
        (1281167.0f64 * 90.0 / 512.0).ceil() * 2.0
    );
    // 25.557 M parameters x 4 bytes, ring all-reduce: 2 x 7/8 of it at the NVLS
    // bus bandwidth for ~102 MB (0.807 of 479.98 GB/s): about 0.46 ms
    let grads = 25_557_032.0 * 4.0;
    let t = shared::schedule::allreduce_seconds(grads, 8.0, 479.98, true);
    assert!(
        (t - 2.0 * 7.0 / 8.0 * grads / (479.98e9 * 0.8065)).abs() / t < 0.01,
        "{t}"
    );
    assert!(t < 0.5 * one.seconds_per_step.expected * 2.0 / 3.0);
    let ratio = eight.seconds_per_step.expected / one.seconds_per_step.expected;
    assert!((ratio - 1.0).abs() < 1e-9, "{ratio}");
}

/// A ring all-reduce's time by hand, at a size where the bus bandwidth curve
/// has a measured point: 1 GB over 8 A100s (ring curve: 228.10 GB/s).
#[test]
fn ring_all_reduce_time_for_a_given_size_and_bandwidth() {
    let t = shared::schedule::allreduce_seconds(1e9, 8.0, 231.58, false);
    let want = 2.0 * 7.0 / 8.0 * 1e9 / 228.10e9;
    assert!((t / want - 1.0).abs() < 1e-9, "{t} vs {want}");
    // one device communicates nothing
    assert_eq!(
        shared::schedule::allreduce_seconds(1e9, 1.0, 231.58, false),
        0.0
    );
}

#[test]
fn a_pinned_profile_recomputes_to_the_same_numbers() {
    let e = estimate_json(GPT2_DEPLOY, &[]).unwrap();
    let mut s = parse_scenario(GPT2_DEPLOY).unwrap();
    let mut changed = e.resolved.clone();
    s.resolved = Some(changed.clone());
    let again = shared::estimate::estimate(&s, &[]).unwrap();
    assert_eq!(again.energy_kwh, e.energy_kwh);
    // and the pinned values, not the catalog, are used
    changed.grid.gco2e_per_kwh *= 2.0;
    s.resolved = Some(changed);
    let doubled = shared::estimate::estimate(&s, &[]).unwrap();
    assert!((doubled.co2e_kg.expected / e.co2e_kg.expected - 2.0).abs() < 1e-9);
}

#[test]
fn model_that_does_not_fit_says_how_many_devices() {
    let s = r#"{"version":1,"model":{"preset":"llama-2-70b"},"stages":[{"kind":"final_training","workload":{"phase":"train","precision":"bf16-amp","batch":1,"seq":512,"optimizer":"adamw"},"tokens":2e12}],"hardware":{"device":"h100-sxm"}}"#;
    let e = estimate_json(s, &[]).unwrap();
    assert!(!e.memory.fits);
    // 69 B parameters x (4 weights + 2 bf16 copy + 4 grads + 8 Adam) bytes = 1.24 TB at least
    assert!(e.memory.required_gb > 1240.0, "{}", e.memory.required_gb);
    assert!(e.memory.devices_needed >= 18, "{}", e.memory.devices_needed);
    let w = e
        .warnings
        .iter()
        .find(|w| w.contains("GB per device"))
        .expect("a memory warning");
    assert!(
        w.contains(" on 1 device but ") && w.contains("at least"),
        "{w}"
    );
}

/// Bad input names the field and never panics.
#[test]
fn bad_input_names_the_field() {
    let cases: &[(&str, &str)] = &[
        ("{not json", "scenario"),
        (r#"{"version":1}"#, "model"),
        (
            &GPT2_DEPLOY.replace(r#""preset":"gpt2""#, r#""preset":"gpt5""#),
            "model.preset",
        ),
        (&GPT2_DEPLOY.replace("h100-sxm", "h900"), "hardware.device"),
        (
            &GPT2_DEPLOY.replace(r#""FR""#, r#""XX""#),
            "infrastructure.region",
        ),
        (
            &GPT2_DEPLOY.replace(r#""batch":8"#, r#""batch":0"#),
            "stages[0].workload.batch",
        ),
        (
            &GPT2_DEPLOY.replace(r#""batch":8"#, r#""batch":-8"#),
            "stages[0].workload.batch",
        ),
        (
            &GPT2_DEPLOY.replace(r#""pue":1.2"#, r#""pue":0.5"#),
            "infrastructure.pue",
        ),
        (
            &GPT2_DEPLOY.replace(r#""pue":1.2"#, r#""pue":NaN"#),
            "infrastructure.pue",
        ),
        (
            &GPT2_DEPLOY.replace(r#""days":30"#, r#""days":-1"#),
            "stages[0].days",
        ),
        (
            &GPT2_DEPLOY.replace(r#""days":30"#, r#""days":1e300"#),
            "stages[0].days",
        ),
        (
            &GPT2_DEPLOY.replace(r#""batch":8"#, r#""batch":2000000"#),
            "stages[0].workload.batch",
        ),
        (
            &GPT2_DEPLOY.replace(r#""prompt":128"#, r#""prompt":0"#),
            "stages[0].workload.prompt",
        ),
        (
            &GPT2_DEPLOY.replace(r#""phase":"decode","#, ""),
            "stages[0].workload",
        ),
        (
            &GPT2_DEPLOY.replace(r#""count":1"#, r#""count":1,"colour":"red""#),
            "hardware",
        ),
        (
            &GPT2_DEPLOY.replace(r#""version":1"#, r#""version":2"#),
            "version",
        ),
        (
            &GPT2_DEPLOY.replace(r#""precision":"bf16""#, r#""precision":"fp64""#),
            "stages[0].workload.precision",
        ),
    ];
    for (json, field) in cases {
        let err = estimate_json(json, &[]).expect_err(json).first();
        assert!(
            err.field.starts_with(field),
            "{json}\n-> field `{}` ({}), expected `{field}`",
            err.field,
            err.message
        );
        assert!(!err.message.is_empty());
    }
    let unknown = estimate_json(
        &GPT2_DEPLOY.replace(r#""count":1"#, r#""count":1,"colour":"red""#),
        &[],
    )
    .unwrap_err()
    .first();
    assert!(unknown.to_string().contains("colour"), "{unknown}");
}

fn scenario_json(flops: f64, steps: f64, runs: f64, pue: f64, batch: u64, n: u64) -> String {
    format!(
        r#"{{"version":1,"model":{{"flops_per_step":{flops},"params":1e8}},"stages":[{{"kind":"final_training","workload":{{"phase":"train","precision":"bf16","batch":{batch}}},"steps":{steps},"runs":{runs}}}],"hardware":{{"device":"a100-sxm-80gb","count":{n}}},"infrastructure":{{"pue":{pue},"region":"DE"}}}}"#
    )
}

fn preset_json(preset: &str, batch: u64, steps: f64, pue: f64, phase: &str) -> String {
    format!(
        r#"{{"version":1,"model":{{"preset":"{preset}"}},"stages":[{{"kind":"evaluation","workload":{{"phase":"{phase}","precision":"bf16","batch":{batch},"seq":256,"prompt":32,"new_tokens":16}},"steps":{steps}}}],"hardware":{{"device":"h100-sxm"}},"infrastructure":{{"pue":{pue}}}}}"#
    )
}

proptest! {
    #[test]
    fn energy_grows_with_flops_steps_runs_and_pue(
        flops in 1e9f64..1e16, k in 1.01f64..10.0, steps in 1.0f64..1e6, runs in 1.0f64..20.0,
        pue in 1.0f64..2.0, batch in 1u64..512, n in 1u64..64,
    ) {
        let base = estimate_json(&scenario_json(flops, steps, runs, pue, batch, n), &[]).unwrap();
        for (name, other) in [
            ("flops", scenario_json(flops * k, steps, runs, pue, batch, n)),
            ("steps", scenario_json(flops, steps * k, runs, pue, batch, n)),
            ("runs", scenario_json(flops, steps, runs * k, pue, batch, n)),
            ("pue", scenario_json(flops, steps, runs, (pue * k).min(3.0), batch, n)),
        ] {
            let e = estimate_json(&other, &[]).unwrap();
            prop_assert!(e.energy_kwh.expected >= base.energy_kwh.expected, "{name}");
        }
        for r in [base.energy_kwh, base.co2e_kg, base.joules_per_step, base.seconds_per_step] {
            prop_assert!(r.low >= 0.0 && r.low <= r.expected && r.expected <= r.high, "{r:?}");
        }
    }

    #[test]
    fn preset_estimates_are_finite_ordered_and_grow_with_steps(
        i in 0usize..19, batch in 1u64..64, steps in 1.0f64..1e5, k in 1.01f64..5.0, pue in 1.0f64..2.0, ph in 0usize..3,
    ) {
        let p = shared::model::presets::PRESETS[i].id;
        let phase = ["train", "inference", "decode"][ph];
        let Ok(base) = estimate_json(&preset_json(p, batch, steps, pue, phase), &[]) else {
            // decode of an encoder or a vision model is refused, with a field
            prop_assume!(false);
            unreachable!()
        };
        let more = estimate_json(&preset_json(p, batch, steps * k, pue, phase), &[]).unwrap();
        prop_assert!(more.energy_kwh.expected > base.energy_kwh.expected);
        for r in [base.energy_kwh, base.joules_per_step, base.seconds_per_step] {
            prop_assert!(r.expected.is_finite() && r.low > 0.0 && r.low <= r.expected && r.expected <= r.high, "{r:?}");
        }
        // never above the power limit on average
        let w = base.joules_per_step.expected / base.seconds_per_step.expected;
        prop_assert!(w <= base.resolved.device.power_limit_w * 1.001, "{w} W");
    }
}

/// A model whose training state fits one device is replicated (each device
/// runs the whole optimizer step); one that does not is sharded (ZeRO),
/// optimizer step included, and the estimate says which strategy it took.
#[test]
fn optimizer_step_is_sharded_only_when_state_must_be() {
    let mk = |preset: &str, n: u64| {
        format!(
            r#"{{"version":1,"model":{{"preset":"{preset}"}},"stages":[{{"kind":"final_training","workload":{{"phase":"train","precision":"bf16-amp","batch":1,"seq":1024,"optimizer":"adamw"}},"steps":10}}],"hardware":{{"device":"h100-sxm","count":{n}}}}}"#
        )
    };
    let per_device = |preset: &str, n: u64| {
        let e = estimate_json(&mk(preset, n), &[]).unwrap();
        (e.joules_per_step.expected / n as f64, e)
    };
    // GPT-2 fits: per-device energy grows only by the gradients' communication
    let (a, _) = per_device("gpt2", 8);
    let (b, _) = per_device("gpt2", 1);
    assert!(a / b >= 1.0 && a / b < 1.02, "{}", a / b);
    // Llama-2-13B (13 B x 18 bytes of state) does not fit an 80 GB device: ZeRO
    let (a, e8) = per_device("llama-2-13b", 8);
    let (b, _) = per_device("llama-2-13b", 1);
    assert!(a / b < 0.9, "{}", a / b);
    let strategy = e8.stages[0].strategy.clone().unwrap_or_default();
    assert!(strategy.contains("ZeRO"), "{strategy}");
    assert!(e8.memory.fits, "{:?}", e8.memory);
    assert!(e8
        .notes
        .iter()
        .any(|w| w.contains("does not fit one device")));
}

/// Model state of AMP training, by hand: fp32 weights (4 B), autocast's bf16 copies (2 B),
/// fp32 gradients (4 B) and AdamW's two fp32 moments (8 B) per parameter; the same for
/// every model source (here FLOPs only: no activations are known).
#[test]
fn amp_training_state_is_18_bytes_per_parameter() {
    let s = r#"{"version":1,"model":{"flops_per_step":1e15,"params":1e9},"stages":[{"kind":"final_training","workload":{"phase":"train","precision":"bf16-amp","batch":8,"optimizer":"adamw"},"steps":1}],"hardware":{"device":"h100-sxm"}}"#;
    let e = estimate_json(s, &[]).unwrap();
    assert!(
        (e.memory.required_gb - 18.0).abs() < 1e-9,
        "{}",
        e.memory.required_gb
    );
}

/// 8-bit training (Transformer Engine) keeps fp32 parameters and gradients
/// and caches 1-byte copies of the weights: 4 + 1 + 4 + Adam's 8 = 17 bytes
/// per parameter, not the 1 byte an 8-bit inference weight takes.
#[test]
fn fp8_training_state_is_17_bytes_per_parameter() {
    let s = r#"{"version":1,"model":{"flops_per_step":1e15,"params":1e9},"stages":[{"kind":"final_training","workload":{"phase":"train","precision":"fp8","batch":8,"optimizer":"adamw"},"steps":1}],"hardware":{"device":"h100-sxm"}}"#;
    let e = estimate_json(s, &[]).unwrap();
    assert!(
        (e.memory.required_gb - 17.0).abs() < 1e-9,
        "{}",
        e.memory.required_gb
    );
    let inf = s
        .replace(r#""phase":"train""#, r#""phase":"inference""#)
        .replace("final_training", "evaluation");
    let e = estimate_json(&inf, &[]).unwrap();
    assert!(
        (e.memory.required_gb - 1.0).abs() < 1e-9,
        "{}",
        e.memory.required_gb
    );
}

/// A precision the device lacks is a warning, never a silent fallback: fp8
/// training on a V100 (fp16 tensor cores only) says it runs fp16.
#[test]
fn a_missing_precision_is_a_warning() {
    let s = r#"{"version":1,"model":{"preset":"gpt2"},"stages":[{"kind":"final_training","workload":{"phase":"train","precision":"fp8","batch":8,"seq":512},"steps":10}],"hardware":{"device":"v100-sxm2-32gb"}}"#;
    let e = estimate_json(s, &[]).unwrap();
    assert!(
        e.warnings
            .iter()
            .any(|w| w.contains("no fp8") && w.contains("fp16")),
        "{:?}",
        e.warnings
    );
    let ok = s.replace("v100-sxm2-32gb", "h100-sxm");
    let e = estimate_json(&ok, &[]).unwrap();
    assert!(
        !e.warnings.iter().any(|w| w.contains("matrix units")),
        "{:?}",
        e.warnings
    );
}

/// Campaign goodput, worked by hand: on 16 A100s (two NVLink domains of 8) a
/// training stage at goodput g takes 1/g of the productive time, and the lost
/// time costs each device its idle plus active-floor power; within one node
/// (8 devices) nothing changes; the default is the cited 0.9.
#[test]
fn campaign_goodput_stretches_multi_node_training() {
    let mk = |n: u64, g: &str| {
        format!(
            r#"{{"version":1,"model":{{"preset":"gpt2"}},"stages":[{{"kind":"final_training","workload":{{"phase":"train","precision":"bf16-amp","batch":8,"seq":1024,"optimizer":"adamw"}},"steps":1000{g}}}],"hardware":{{"device":"a100-sxm-80gb","count":{n}}},"software":"megatron"}}"#
        )
    };
    let full = estimate_json(&mk(16, r#","goodput":1"#), &[]).unwrap();
    let half = estimate_json(&mk(16, r#","goodput":0.5"#), &[]).unwrap();
    let default = estimate_json(&mk(16, ""), &[]).unwrap();
    let (f, h) = (&full.stages[0], &half.stages[0]);
    assert_eq!(h.goodput, Some(0.5));
    assert_eq!(default.stages[0].goodput, Some(0.9));
    assert_eq!(h.seconds_per_step, f.seconds_per_step, "a step is a step");
    assert!((h.device_hours.expected / f.device_hours.expected - 2.0).abs() < 1e-9);
    assert!((h.wall_hours.expected / f.wall_hours.expected - 2.0).abs() < 1e-9);
    assert!(
        (default.stages[0].device_hours.expected / f.device_hours.expected - 1.0 / 0.9).abs()
            < 1e-9
    );
    let dev = &full.resolved.device;
    let lost_s = f.seconds_per_step.expected * 1000.0; // (1/0.5 - 1) x productive time
    let lost_kwh = lost_s * 16.0 * (dev.idle_w + dev.active_floor_w) / 3.6e6;
    assert!(
        (h.device_kwh.expected - f.device_kwh.expected - lost_kwh).abs() / lost_kwh < 1e-9,
        "{} - {} vs {lost_kwh}",
        h.device_kwh.expected,
        f.device_kwh.expected
    );
    let one_node = estimate_json(&mk(8, r#","goodput":0.5"#), &[]).unwrap();
    let one_node_full = estimate_json(&mk(8, ""), &[]).unwrap();
    assert_eq!(one_node.stages[0].goodput, None);
    assert_eq!(
        one_node.stages[0].device_hours,
        one_node_full.stages[0].device_hours
    );
    for (g, want) in [("1.5", "goodput"), ("0", "goodput")] {
        let err = estimate_json(&mk(16, &format!(r#","goodput":{g}"#)), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains(want) && err.contains("0.05 to 1"), "{err}");
    }
}

/// The naive baseline of the validation report, by hand: device-hours at
/// 40% MFU are the estimate's x (its MFU / 0.4) without the goodput, and
/// device energy is those hours at TDP.
#[test]
fn naive_baseline_is_flops_at_40_percent_of_peak_at_tdp() {
    use shared::validate::published::{naive_value, Quantity};
    let s = r#"{"version":1,"model":{"preset":"gpt2"},"stages":[{"kind":"final_training","workload":{"phase":"train","precision":"bf16-amp","batch":8,"seq":1024,"optimizer":"adamw"},"steps":1000}],"hardware":{"device":"a100-sxm-80gb","count":16},"software":"megatron"}"#;
    let e = estimate_json(s, &[]).unwrap();
    let st = &e.stages[0];
    let spec = shared::catalog::find("a100-sxm-80gb").unwrap();
    // counted FLOPs of the whole stage at 40% of the dense bf16 peak, per device
    let peak = 312e12;
    let flops_all = st.mfu.unwrap() * peak * st.device_hours.expected * 3600.0 * 0.9;
    let hours = flops_all / (peak * 0.4) / 3600.0;
    let h = naive_value(Quantity::DeviceHours, st, spec.tdp_w).unwrap();
    assert!((h / hours - 1.0).abs() < 1e-9, "{h} vs {hours}");
    let kwh = naive_value(Quantity::DeviceKwh, st, spec.tdp_w).unwrap();
    assert!((kwh / (hours * 400.0 / 1000.0) - 1.0).abs() < 1e-9);
    assert_eq!(naive_value(Quantity::EnergyKwh, st, spec.tdp_w), None);
}
