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
