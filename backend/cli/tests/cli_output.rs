//! What a newcomer reads from the command line (issue 17): every problem of a
//! scenario on its own line, help for every option, numbers with thousands
//! separators and one way of writing parameters, published validation cases.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn jouleprint(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jouleprint"))
        .args(args)
        .output()
        .expect("run jouleprint")
}

fn with_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jouleprint"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run jouleprint");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn root(p: &str) -> String {
    format!("{}/../../{p}", env!("CARGO_MANIFEST_DIR"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("jp-cli-output-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// `field: message` of every problem line (two spaces in, after the header).
fn problems(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .map(|l| {
            let (f, m) = l.split_once(": ").expect("field: message");
            (f.to_string(), m.to_string())
        })
        .collect()
}

fn no_parser_words(s: &str) {
    assert!(!s.contains('?'), "`?` in {s}");
    for w in s.split(|c: char| !c.is_alphanumeric() && c != '_') {
        assert!(
            !["u64", "f64", "struct", "expected", "EOF"].contains(&w),
            "`{w}` in {s}"
        );
    }
}

const GPT2: &str = r#"{"version":1,"model":{"preset":"gpt2"},"stages":[{"kind":"final_training","workload":{"phase":"train","precision":"bf16-amp","batch":8,"seq":1024,"optimizer":"adamw"},"tokens":1000000}],"hardware":{"device":"h100-sxm"},"infrastructure":{"pue":1.2}}"#;

#[test]
fn every_problem_of_a_scenario_on_its_own_line() {
    // the issue's case: a negative PUE and negative tokens, and a negative batch
    let bad = GPT2
        .replace(r#""pue":1.2"#, r#""pue":-1"#)
        .replace(r#""tokens":1000000"#, r#""tokens":-5"#)
        .replace(r#""batch":8"#, r#""batch":-8"#);
    let path = tmp("three.json");
    std::fs::write(&path, &bad).expect("write");
    let out = jouleprint(&["estimate", path.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    let first = err.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("error: {} has 3 problems:", path.display()),
        "{err}"
    );
    let p = problems(&err);
    let fields: Vec<&str> = p.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(p.len(), 3, "{err}");
    for f in [
        "stages[0].workload.batch",
        "stages[0].tokens",
        "infrastructure.pue",
    ] {
        assert!(fields.contains(&f), "{f} missing: {err}");
    }
    for (_, m) in &p {
        no_parser_words(m);
    }
    assert_eq!(err.lines().count(), 4, "a header and one line each: {err}");
}

#[test]
fn standard_input_is_named_and_syntax_is_in_words() {
    for (input, field, words) in [
        ("[]", "scenario", "must be a JSON object"),
        ("", "scenario", "ends too early"),
        (
            r#"{"version": 1, "stages": [{"kind": "#,
            "stages[0].kind",
            "ends too early",
        ),
    ] {
        let out = with_stdin(&["estimate", "-"], input);
        assert_eq!(out.status.code(), Some(2), "{input}");
        let err = text(&out.stderr);
        assert!(
            err.starts_with("error: standard input has 1 problem:\n"),
            "{input}: {err}"
        );
        assert!(!err.contains("-:"), "{input}: {err}");
        let p = problems(&err);
        assert_eq!(p.len(), 1, "{input}: {err}");
        assert_eq!(p[0].0, field, "{input}: {err}");
        assert!(p[0].1.contains(words), "{input}: {err}");
        no_parser_words(&p[0].1);
    }
    // and a good scenario through standard input is estimated
    let out = with_stdin(&["estimate", "--json", "-"], GPT2);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn a_model_file_that_cannot_be_read_is_one_problem_among_the_others() {
    let bad = GPT2
        .replace(r#""preset":"gpt2""#, r#""file":"no-such-model.onnx""#)
        .replace(r#""pue":1.2"#, r#""pue":9"#);
    let path = tmp("file.json");
    std::fs::write(&path, &bad).expect("write");
    let out = jouleprint(&["estimate", path.to_str().expect("path")]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    let fields: Vec<String> = problems(&err).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["model.file", "infrastructure.pue"], "{err}");
}

/// `inspect --dim NAME=N` binds an ONNX input's symbolic dimension by name: a
/// name the graph lacks, or `--dim` on a file without such dimensions, is an
/// error naming the fix, never silently ignored.
#[test]
fn inspect_refuses_a_dim_it_cannot_bind() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/tests/fixtures");
    let onnx = format!("{fixtures}/gpt2.onnx");
    let ok = jouleprint(&["inspect", "--dim", "batch=2", &onnx]);
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let out = jouleprint(&["inspect", "--dim", "btach=2", &onnx]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("`btach`") && err.contains("batch"), "{err}");
    let cfg = tmp("config.json");
    std::fs::write(
        &cfg,
        r#"{"model_type":"gpt2","n_layer":2,"n_embd":64,"n_head":2,"n_positions":128,"vocab_size":100}"#,
    )
    .expect("write");
    let cfg = cfg.to_str().expect("path");
    assert!(jouleprint(&["inspect", cfg]).status.success());
    let out = jouleprint(&["inspect", "--dim", "seq=5", cfg]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("--dim") && err.contains("config.json"),
        "{err}"
    );
}

/// Every option of the commands a newcomer runs first says what it does.
#[test]
fn help_describes_every_option() {
    for cmd in ["estimate", "validate", "devices", "inspect"] {
        let out = jouleprint(&[cmd, "--help"]);
        assert!(out.status.success(), "{cmd}");
        let help = text(&out.stdout);
        let options: Vec<&str> = help
            .lines()
            .filter(|l| l.trim_start().starts_with("--") || l.trim_start().starts_with("-h"))
            .collect();
        assert!(!options.is_empty(), "{cmd}: {help}");
        for l in options {
            // `--flag <VALUE>  Description`: some words after the option itself
            let t = l.trim_start();
            let described = t
                .split_once("  ")
                .is_some_and(|(_, d)| d.split_whitespace().count() >= 2);
            assert!(described, "{cmd}: `{t}` has no description:\n{help}");
        }
    }
    let help = text(&jouleprint(&["validate", "--help"]).stdout);
    assert!(help.contains("--json") && help.contains("--calibration"));
}

/// `1234567` as `1,234,567`, written here independently of the CLI.
fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut parts = vec![];
    let mut end = s.len();
    while end > 3 {
        parts.push(&s[end - 3..end]);
        end -= 3;
    }
    parts.push(&s[..end]);
    parts.reverse();
    parts.join(",")
}

#[test]
fn summary_numbers_are_grouped_and_parameters_read_as_in_presets() {
    let example = root("examples/llama-2-70b-lifecycle.json");
    let json = jouleprint(&["estimate", "--json", &example]);
    assert!(json.status.success(), "{}", text(&json.stderr));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let out = jouleprint(&["estimate", &example]);
    assert!(out.status.success());
    let summary = text(&out.stdout);

    // parameters: the way `presets` lists Llama-2-70B
    let presets = text(&jouleprint(&["presets"]).stdout);
    let line = presets
        .lines()
        .find(|l| l.starts_with("llama-2-70b "))
        .expect("llama-2-70b in presets");
    assert!(line.trim_end().ends_with("69.0 B"), "{line}");
    assert!(
        summary.starts_with("Model: 69.0 B parameters (69.0 B active)"),
        "{summary}"
    );

    // whole step counts in full, grouped, without `.0`
    for st in v["stages"].as_array().expect("stages") {
        let steps = st["steps"].as_f64().expect("steps");
        let name = st["name"].as_str().expect("name");
        let row = summary
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name}: {summary}"));
        let cell = row[name.len()..].split_whitespace().next().unwrap_or("");
        if steps.fract() == 0.0 {
            assert_eq!(cell, grouped(steps as u64), "{row}");
        }
        assert!(!cell.ends_with(".0"), "{row}");
    }

    // the total: three significant digits with thousands separators
    let total = v["energy_kwh"]["expected"].as_f64().expect("energy");
    assert!(
        total > 1e5,
        "the example is large enough to need separators"
    );
    let line = summary
        .lines()
        .find(|l| l.starts_with("Total energy at the wall: "))
        .expect("total line");
    let shown = line["Total energy at the wall: ".len()..]
        .split(' ')
        .next()
        .unwrap_or("");
    let digits: Vec<&str> = shown.split(',').collect();
    assert!(
        digits.len() >= 2
            && digits[0].len() <= 3
            && digits[1..].iter().all(|d| d.len() == 3)
            && digits.iter().all(|d| d.chars().all(|c| c.is_ascii_digit())),
        "not grouped by thousands: {line}"
    );
    let n: f64 = shown.replace(',', "").parse().expect("a number");
    assert!((n / total - 1.0).abs() < 0.005, "{line} vs {total}");
    // no long runs of digits anywhere in the summary (integer parts: a
    // fraction such as 0.00142 is written as it is)
    for word in summary.split_whitespace() {
        let int_part = word.split('.').next().unwrap_or("");
        for w in int_part.split(|c: char| !c.is_ascii_digit()) {
            assert!(
                w.len() <= 4,
                "`{w}` in `{word}` has no separators: {summary}"
            );
        }
    }
}

#[test]
fn devices_and_estimate_name_a_profile_the_same_way() {
    let devices = text(&jouleprint(&["devices"]).stdout);
    let h100 = devices
        .lines()
        .find(|l| l.starts_with("h100-sxm "))
        .expect("h100-sxm");
    // the built-in H100 profile is the reference calibration
    let json = jouleprint(&["devices", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    let p = list
        .as_array()
        .expect("array")
        .iter()
        .find(|d| d["id"] == "h100-sxm")
        .expect("h100 profile");
    let kind = p["source"]["kind"].as_str().expect("kind");
    let version = p["source"]["version"].as_str().expect("version");
    let short = version.strip_prefix(&format!("{kind}:")).unwrap_or(version);
    let label = format!("{kind} ({short})");
    assert!(h100.trim_end().ends_with(&label), "{h100} vs {label}");
    let out = jouleprint(&["estimate", &root("examples/gpt2-lifecycle.json")]);
    let summary = text(&out.stdout);
    assert!(
        summary.contains(&format!("[{label}]")),
        "{label} not in {summary}"
    );
    assert!(!label.contains(&format!("{kind}:")), "{label}");
}

/// One device, one stage: the published values are the estimate's own
/// expected value x 2 (ratio 0.5) and x 1 (ratio 1), worked out from
/// `estimate --json` of the same scenario.
#[test]
fn validate_prints_published_cases_and_group_summaries() {
    let scenario = GPT2;
    let sp = tmp("published-scenario.json");
    std::fs::write(&sp, scenario).expect("write");
    let est = jouleprint(&["estimate", "--json", sp.to_str().expect("path")]);
    assert!(est.status.success(), "{}", text(&est.stderr));
    let e: serde_json::Value = serde_json::from_slice(&est.stdout).expect("json");
    let r = &e["stages"][0]["device_hours"];
    let (low, expected, high) = (
        r["low"].as_f64().expect("low"),
        r["expected"].as_f64().expect("expected"),
        r["high"].as_f64().expect("high"),
    );
    assert!(
        high < 2.0 * expected && low <= expected,
        "the range is narrower than x2: {r}"
    );
    let case = |name: &str, group: &str, value: f64, unit: &str| {
        format!(
            r#"{{"name":"{name}","group":"{group}","scenario":{scenario},"quantity":"device_hours","stage":0,"value":{value:e},"unit":"{unit}","source":"by hand","uncertain":"none"}}"#
        )
    };
    let file = [
        case("twice", "hand", 2.0 * expected, "h"),
        case("same", "hand", expected, "h"),
        case("wrong_unit", "broken", expected, "kWh"),
    ]
    .join("\n");
    let path = tmp("published.jsonl");
    std::fs::write(&path, file).expect("write");
    let p = path.to_str().expect("path");

    let out = jouleprint(&["validate", p]);
    assert_eq!(out.status.code(), Some(1), "a case with an error exits 1");
    let t = text(&out.stdout);
    assert!(!t.contains("est J"), "no per-step table: {t}");
    let row = |name: &str| {
        t.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no row {name}: {t}"))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    let twice = row("twice");
    assert_eq!(twice[1], "device_hours");
    assert_eq!(twice[twice.len() - 2..], ["0.50", "no"], "{t}");
    let same = row("same");
    assert_eq!(same[same.len() - 2..], ["1.00", "yes"], "{t}");
    assert!(
        t.lines()
            .any(|l| l.starts_with("wrong_unit ") && l.contains("error: unit")),
        "{t}"
    );
    // the group: ratios 0.5 and 1 -> median 0.75; |ln| ln 2 and 0 -> median
    // ln 2 / 2 = 0.35, max ln 2 = 0.69; one of two inside: 50%
    let g = row("hand");
    let width = format!("{:.2}x", high / low);
    assert_eq!(
        g[1..],
        ["2", "0", "0.75", "0.35", "0.69", "50%", width.as_str()],
        "{t}"
    );
    let b = row("broken");
    assert_eq!(b[1..4], ["0", "1", "-"], "{t}");

    let out = jouleprint(&["validate", "--json", p]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one object");
    let pubs = v["published"].as_array().expect("published");
    assert_eq!(pubs.len(), 3);
    assert!((pubs[0]["ratio"].as_f64().expect("ratio") - 0.5).abs() < 1e-12);
    assert_eq!(pubs[0]["inside"], false);
    assert!((pubs[1]["ratio"].as_f64().expect("ratio") - 1.0).abs() < 1e-12);
    assert_eq!(pubs[1]["inside"], true);
    assert!(pubs[2]["error"].as_str().is_some());
    let g0 = &v["groups"][0];
    assert_eq!(g0["group"], "hand");
    assert_eq!(g0["n"], 2);
    assert!((g0["median_ratio"].as_f64().expect("median") - 0.75).abs() < 1e-12);
    assert!((g0["median_abs_log_ratio"].as_f64().expect("log") - 2f64.ln() / 2.0).abs() < 1e-12);
    assert!((g0["coverage"].as_f64().expect("coverage") - 0.5).abs() < 1e-12);
}

/// A file of per-step cases keeps its table: the header, one row per case, the summary.
#[test]
fn validate_per_step_format_is_unchanged() {
    let out = jouleprint(&["validate", &root("shared/data/h100-cases.jsonl")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 5, "{t}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "case", "est", "J", "meas", "J", "err", "est", "s", "meas", "s", "t", "err", "FLOP",
            "err", "|", "TDPxT", "30%util", "40%util"
        ]
    );
    assert!(lines[4].starts_with("summary: 3 cases, median |energy error| "));
    assert!(!t.contains("published"), "{t}");
}

/// A calibration record is read like a scenario: every problem, in words.
#[test]
fn a_bad_calibration_record_is_refused_in_words() {
    let record = std::fs::read_to_string(root("shared/data/h100-sxm-calibration.json"))
        .expect("the reference record");
    let mut v: serde_json::Value = serde_json::from_str(&record).expect("json");
    v["device"]["power_limit_mw"] = serde_json::json!(-700);
    v["device"]["sm_count"] = serde_json::json!("many");
    let path = tmp("bad-calibration.json");
    std::fs::write(&path, v.to_string()).expect("write");
    let out = jouleprint(&[
        "estimate",
        "--calibration",
        path.to_str().expect("path"),
        &root("examples/gpt2-lifecycle.json"),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with(&format!("error: {} has 2 problems:", path.display())),
        "{err}"
    );
    let fields: Vec<String> = problems(&err).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        ["device.power_limit_mw", "device.sm_count"],
        "{err}"
    );
    for (_, m) in problems(&err) {
        no_parser_words(&m);
    }
}
