//! `resolved.headline`: the numbers an estimator version computed, pinned in a
//! link so a newer page can show them beside its own (issue 9, item 7).

use shared::check::check;
use shared::estimate::{estimate, parse_scenario};
use shared::scenario::Headline;

const GPT2: &str = r#"{"version":1,"model":{"preset":"gpt2"},
 "stages":[{"kind":"final_training","workload":{"phase":"train","precision":"bf16-amp","batch":8,"seq":1024,"optimizer":"adamw"},"steps":1000},
           {"kind":"deployment","workload":{"phase":"decode","precision":"bf16","batch":16,"prompt":128,"new_tokens":64},"requests_per_day":1000,"days":30}],
 "hardware":{"device":"h100-sxm","count":2},"infrastructure":{"pue":1.3,"region":"FR"}}"#;

#[test]
fn every_estimate_pins_its_headline() {
    let s = parse_scenario(GPT2).expect("scenario");
    let e = estimate(&s, &[]).expect("estimate");
    let h = e.resolved.headline.expect("headline filled by totals");
    // the headline is the sum over the stages, as the page shows it
    let stage_kwh: f64 = e.stages.iter().map(|s| s.energy_kwh.expected).sum();
    let stage_co2: f64 = e.stages.iter().map(|s| s.co2e_kg.expected).sum();
    let stage_dh: f64 = e.stages.iter().map(|s| s.device_hours.expected).sum();
    let stage_wall: f64 = e.stages.iter().map(|s| s.wall_hours.expected).sum();
    for (what, got, want) in [
        ("energy", h.energy_kwh, stage_kwh),
        ("co2e", h.co2e_kg, stage_co2),
        ("device hours", h.device_hours, stage_dh),
        ("wall hours", h.wall_hours, stage_wall),
    ] {
        assert!(
            want > 0.0 && (got - want).abs() <= 1e-9 * want,
            "{what}: {got} vs {want}"
        );
    }
    // device-hours are wall hours times the two devices
    assert!((h.device_hours - 2.0 * h.wall_hours).abs() <= 1e-9 * h.device_hours);
}

#[test]
fn a_pinned_headline_does_not_change_the_numbers() {
    let s = parse_scenario(GPT2).expect("scenario");
    let e = estimate(&s, &[]).expect("estimate");
    let mut pinned = s.clone();
    let mut r = e.resolved.clone();
    r.headline = Some(Headline {
        energy_kwh: 1.0,
        co2e_kg: 2.0,
        device_hours: 3.0,
        wall_hours: 4.0,
    });
    pinned.resolved = Some(r);
    let again = estimate(&pinned, &[]).expect("estimate");
    assert_eq!(again.energy_kwh, e.energy_kwh);
    assert_eq!(again.co2e_kg, e.co2e_kg);
    // the new estimate pins today's numbers, not the old ones
    assert_eq!(again.resolved.headline, e.resolved.headline);
}

#[test]
fn a_link_without_headline_still_reads_and_writes_none() {
    let s = parse_scenario(GPT2).expect("scenario");
    let mut r = estimate(&s, &[]).expect("estimate").resolved;
    r.headline = None;
    let mut v = serde_json::to_value(&s).expect("json");
    v["resolved"] = serde_json::to_value(&r).expect("json");
    assert!(v["resolved"].get("headline").is_none(), "absent, not null");
    let back = parse_scenario(&v.to_string()).expect("a version-1 link without headline");
    assert_eq!(back.resolved.and_then(|r| r.headline), None);
}

#[test]
fn bad_headlines_are_refused_with_their_path() {
    let s = parse_scenario(GPT2).expect("scenario");
    let mut r = estimate(&s, &[]).expect("estimate").resolved;
    r.headline = Some(Headline {
        energy_kwh: -1.0,
        co2e_kg: f64::NAN,
        device_hours: f64::INFINITY,
        wall_hours: 0.0,
    });
    let mut bad = s.clone();
    bad.resolved = Some(r);
    let errors = check(&bad).expect_err("refused");
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "resolved.headline.energy_kwh",
            "resolved.headline.co2e_kg",
            "resolved.headline.device_hours"
        ]
    );
    // and through JSON, as a link or the API reads it
    let mut v = serde_json::to_value(&s).expect("json");
    let mut rv = serde_json::to_value(estimate(&s, &[]).expect("estimate").resolved).expect("json");
    rv["headline"]["wall_hours"] = serde_json::json!(-5);
    v["resolved"] = rv;
    let e = parse_scenario(&v.to_string()).expect_err("refused");
    assert!(
        e.iter().any(|e| e.field == "resolved.headline.wall_hours"),
        "{e}"
    );
}
