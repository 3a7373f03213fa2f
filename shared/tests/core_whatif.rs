//! What-ifs in the core: closed forms and the default parameters it chooses.

use shared::estimate::{estimate, parse_scenario};
use shared::what_if::{self, Kind, Params};

const GPT2: &str = include_str!("../../examples/gpt2-lifecycle.json");
const LLAMA70: &str = include_str!("../../examples/llama-2-70b-lifecycle.json");

fn with_pue(json: &str, pue: f64) -> shared::scenario::Scenario {
    let mut s = parse_scenario(json).expect("example parses");
    s.infrastructure.pue = pue;
    s
}

#[test]
fn every_estimate_carries_every_what_if() {
    let e = estimate(&with_pue(GPT2, 1.5), &[]).expect("estimate");
    let ids: Vec<&str> = e.what_ifs.iter().map(|w| w.id.as_str()).collect();
    let want: Vec<&str> = Kind::ALL.iter().map(|k| k.id()).collect();
    assert_eq!(ids, want);
    for w in &e.what_ifs {
        assert!(w.applies || !w.reason.is_empty(), "{w:?}");
        if w.applies {
            assert!(w.energy_kwh.is_some() && w.saving.is_some(), "{w:?}");
        }
    }
}

#[test]
fn pue_what_if_scales_wall_energy_by_the_pue_ratio() {
    // Wall energy is (accelerators + host) x PUE; nothing else depends on it.
    let s = with_pue(GPT2, 1.5);
    let e = estimate(&s, &[]).expect("estimate");
    let w = e.what_ifs.iter().find(|w| w.id == "pue").expect("pue row");
    assert!(w.applies, "{w:?}");
    let got = w.energy_kwh.expect("energy").expected;
    let want = e.energy_kwh.expected * 1.1 / 1.5;
    assert!((got / want - 1.0).abs() < 1e-12, "{got} vs {want}");
    let saving = w.saving.expect("saving");
    assert!(
        (saving.energy - (1.0 - 1.1 / 1.5)).abs() < 1e-12,
        "{saving:?}"
    );
    // CO2e scales the same way (operational only, no embodied share here)
    assert!(
        (saving.co2e - (1.0 - 1.1 / 1.5)).abs() < 1e-12,
        "{saving:?}"
    );
}

#[test]
fn a_pue_already_better_does_not_apply() {
    let s = with_pue(GPT2, 1.05);
    let e = estimate(&s, &[]).expect("estimate");
    let w = e.what_ifs.iter().find(|w| w.id == "pue").expect("pue row");
    assert!(!w.applies);
    assert!(w.reason.contains("already"), "{}", w.reason);
}

#[test]
fn distillation_offers_only_smaller_models() {
    let s = parse_scenario(LLAMA70).expect("example");
    let e = estimate(&s, &[]).expect("estimate");
    let p = Params::defaults(&s, &e);
    // the largest preset under 90% of Llama-2-70B's parameters that takes its stages
    assert_eq!(p.distill_to, "llama-2-13b");
    for st in what_if::students(&s, &e) {
        assert!(st.params() < 0.9 * e.params, "{} is not smaller", st.id);
        assert!(!st.is_vision(), "{} is a vision model", st.id);
    }
    let w = e.what_ifs.iter().find(|w| w.id == "distill").expect("row");
    assert!(w.applies && w.saving.expect("saving").energy > 0.0, "{w:?}");

    // GPT-2 small serves decode: no smaller causal LM among the presets
    let s = parse_scenario(GPT2).expect("example");
    let e = estimate(&s, &[]).expect("estimate");
    let w = e.what_ifs.iter().find(|w| w.id == "distill").expect("row");
    assert!(!w.applies, "{w:?}");
}

/// A student is offered only where it costs less: of ViT-B/16's smaller
/// presets, largest first, each one passed over costs at least the ViT's own
/// energy. A stage counted in tokens keeps its images when the student takes
/// over: 197 tokens per ViT-B/16 image ((224 / 16)^2 patches and the class
/// token), one per image for a CNN.
#[test]
fn a_vision_student_costs_less_and_keeps_the_images() {
    let vit = |amount: &str| {
        parse_scenario(&format!(
            r#"{{"version":1,"model":{{"preset":"vit_b_16"}},"stages":[{{"kind":"final_training","workload":{{"phase":"train","precision":"bf16-amp","batch":256,"optimizer":"sgd"}},{amount}}}],"hardware":{{"device":"a100-sxm-80gb","count":8}}}}"#
        ))
        .expect("scenario")
    };
    let by_samples = vit(r#""samples":1000000"#);
    let by_tokens = vit(r#""tokens":197000000"#);
    let e = estimate(&by_samples, &[]).expect("estimate");
    let p = Params::defaults(&by_samples, &e);
    let students: Vec<_> = what_if::students(&by_samples, &e).collect();
    let chosen = students
        .iter()
        .position(|s| s.id == p.distill_to)
        .expect("a student is chosen");
    for st in &students[..chosen] {
        let params = Params {
            distill_to: st.id.to_string(),
            ..p.clone()
        };
        let (t, _) = what_if::apply(Kind::Distill, &params, &by_samples, &[]).expect("applies");
        let cost = estimate(&t, &[]).expect("estimate").energy_kwh.expected;
        assert!(cost >= e.energy_kwh.expected, "{} was passed over", st.id);
    }
    let row = |s: &shared::scenario::Scenario| {
        estimate(s, &[])
            .expect("estimate")
            .what_ifs
            .into_iter()
            .find(|w| w.id == "distill")
            .expect("row")
    };
    let (a, b) = (row(&by_samples), row(&by_tokens));
    assert!(a.applies && a.saving.expect("saving").energy > 0.0, "{a:?}");
    let (ea, eb) = (
        a.energy_kwh.expect("energy").expected,
        b.energy_kwh.expect("energy").expected,
    );
    assert!((ea / eb - 1.0).abs() < 1e-9, "{ea} vs {eb}");
}

#[test]
fn pruning_a_gpt2_preset_narrows_its_mlp() {
    // GPT-2's config leaves n_inner unset: the width is 4 x n_embd = 3072
    let s = parse_scenario(GPT2).expect("example");
    let p = Params {
        sparsity: 0.5,
        ..Params::default()
    };
    let (t, _) = what_if::apply(Kind::Pruning, &p, &s, &[]).expect("applies");
    let cfg = t.model.hf_config.expect("config");
    assert_eq!(cfg["n_inner"], 1536);
}
