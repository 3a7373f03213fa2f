//! The estimation commands as a user runs them: exit codes, JSON shapes, errors.

#![allow(clippy::unwrap_used)]

#[path = "../../../shared/tests/support/bad_scenarios.rs"]
mod bad_scenarios;
use std::process::Command;

fn jouleprint(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_jouleprint"))
        .args(args)
        .output()
        .expect("run jouleprint")
}

fn root(p: &str) -> String {
    format!("{}/../../{p}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn validate_json_is_one_object_with_the_documented_fields() {
    let out = jouleprint(&["validate", "--json", &root("shared/data/h100-cases.jsonl")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let cases = v["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 3);
    for c in cases {
        for k in [
            "name",
            "estimated_joules_per_step",
            "measured_joules_per_step",
            "energy_rel_error",
            "estimated_seconds_per_step",
            "measured_seconds_per_step",
            "estimated_flops_per_step",
            "measured_flops_per_step",
        ] {
            assert!(!c[k].is_null(), "{k} missing in {c}");
        }
        let e = c["estimated_joules_per_step"].as_f64().unwrap()
            / c["measured_joules_per_step"].as_f64().unwrap()
            - 1.0;
        assert!((c["energy_rel_error"].as_f64().unwrap() - e).abs() < 1e-12);
        assert!(e.abs() < 0.15, "{c}");
    }
    for k in [
        "n",
        "median_abs_energy_error",
        "max_abs_energy_error",
        "median_abs_time_error",
    ] {
        assert!(!v["summary"][k].is_null(), "summary.{k}");
    }
    assert_eq!(v["summary"]["n"], 3);
}

#[test]
fn a_bad_case_is_reported_and_the_others_still_run() {
    let dir = std::env::temp_dir().join(format!("jp-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = std::fs::read_to_string(root("shared/data/h100-cases.jsonl")).unwrap();
    let first = good.lines().next().unwrap();
    let bad_device = first
        .replace("NVIDIA H100 80GB HBM3", "NVIDIA H900")
        .replace("resnet50_train", "bad_device");
    let text = format!("{first}\n{bad_device}\n{{\"name\": \"truncated\", \"device\"\n");
    let path = dir.join("cases.jsonl");
    std::fs::write(&path, text).unwrap();
    let out = jouleprint(&["validate", "--json", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("still one JSON object");
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    assert!(cases[0]["error"].is_null());
    assert!(
        cases[1]["error"]
            .as_str()
            .unwrap()
            .contains("hardware.device"),
        "{}",
        cases[1]
    );
    assert!(
        cases[2]["error"].as_str().unwrap().contains("line 3"),
        "{}",
        cases[2]
    );
}

#[test]
fn estimate_json_holds_the_documented_totals() {
    let out = jouleprint(&["estimate", "--json", &root("examples/gpt2-lifecycle.json")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["params"].as_f64().unwrap(), 124_439_808.0);
    for k in [
        "seconds_per_step",
        "joules_per_step",
        "energy_kwh",
        "co2e_kg",
        "device_kwh",
        "device_hours",
        "wall_hours",
    ] {
        let (l, e, h) = (
            v[k]["low"].as_f64().unwrap(),
            v[k]["expected"].as_f64().unwrap(),
            v[k]["high"].as_f64().unwrap(),
        );
        assert!(0.0 < l && l <= e && e <= h, "{k}");
    }
    assert!(
        v["flops_per_step"].as_f64().unwrap() > 0.0
            && v["device_hours"]["expected"].as_f64().unwrap() > 0.0
    );
    let stages: f64 = v["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["energy_kwh"]["expected"].as_f64().unwrap())
        .sum();
    assert!((stages / v["energy_kwh"]["expected"].as_f64().unwrap() - 1.0).abs() < 1e-9);
}

#[test]
fn estimate_errors_name_the_field_and_exit_2() {
    let dir = std::env::temp_dir().join(format!("jp-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let s = std::fs::read_to_string(root("examples/gpt2-lifecycle.json"))
        .unwrap()
        .replace("\"batch\": 32", "\"batch\": 0");
    let path = dir.join("bad.json");
    std::fs::write(&path, s).unwrap();
    let out = jouleprint(&["estimate", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("stages[2].workload.batch"), "{err}");
    let missing = jouleprint(&["estimate", "/nonexistent/scenario.json"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn a_calibration_file_replaces_the_builtin_profile() {
    let out = jouleprint(&[
        "estimate",
        "--json",
        "--calibration",
        &root("shared/data/h100-sxm-calibration.json"),
        &root("examples/gpt2-lifecycle.json"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["resolved"]["device"]["source"]["kind"], "measured");
}

#[test]
fn devices_lists_at_least_20_with_sources() {
    let out = jouleprint(&["devices", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = v.as_array().unwrap();
    assert!(list.len() >= 20);
    assert!(list
        .iter()
        .all(|d| !d["source"]["detail"].as_str().unwrap().is_empty()));
}

#[test]
fn the_bad_scenario_table_is_refused_naming_every_field() {
    let dir = std::env::temp_dir().join(format!("jp-cli-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, b) in bad_scenarios::table().iter().enumerate() {
        let path = dir.join(format!("bad-{i}.json"));
        std::fs::write(&path, &b.text).unwrap();
        let out = jouleprint(&["estimate", path.to_str().unwrap(), "--json"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", b.name);
        assert!(out.stdout.is_empty(), "{}: printed an estimate", b.name);
        for f in &b.fields {
            assert!(
                err.contains(&format!("{f}: ")),
                "{}: {f} not named in {err}",
                b.name
            );
        }
        let message = err.replace(path.to_str().unwrap(), "FILE");
        bad_scenarios::check_words(&b.name, &message);
        assert!(!err.contains("panicked"), "{}: {err}", b.name);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
