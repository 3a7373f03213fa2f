//! Temporary guard of the core restructuring (issue 9): every number of the
//! estimates stored before it (`guard/before-restructure.json`: both examples,
//! the scenarios of the validation sets, `validate` on the H100 cases) is
//! reproduced to 1e-9 relative. A model change replaces the stored file and
//! states each change in its commit.

use serde_json::Value;

fn leaves(v: &Value, path: String, out: &mut Vec<(String, f64)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if [
                    "resolved",
                    "warnings",
                    "method",
                    "estimator_version",
                    "what_ifs",
                ]
                .contains(&k.as_str())
                {
                    continue;
                }
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                leaves(x, format!("{path}[{i}]"), out);
            }
        }
        Value::Number(n) => out.push((path, n.as_f64().unwrap_or(f64::NAN))),
        _ => {}
    }
}

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for part in path.split('.') {
        let (key, idx) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            cur = cur.get(key)?;
        }
        for n in idx.split(['[', ']']).filter(|x| !x.is_empty()) {
            cur = cur.get(n.parse::<usize>().ok()?)?;
        }
    }
    Some(cur)
}

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// `UPDATE_GUARD="why"` rewrites the stored numbers from today's estimator
/// (after a deliberate model change) and appends the reason to the file's note.
fn update_requested() -> Option<String> {
    std::env::var("UPDATE_GUARD").ok().filter(|w| !w.trim().is_empty())
}

fn rewrite(why: &str) {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/guard/before-restructure.json");
    let mut g: Value =
        serde_json::from_str(&std::fs::read_to_string(file).expect("read")).expect("guard file");
    for c in g["cases"].as_array_mut().expect("cases") {
        let s = shared::estimate::parse_scenario(&c["scenario"].to_string()).expect("scenario");
        let now = serde_json::to_value(shared::estimate::estimate_core(&s, &[]).expect("estimate"))
            .expect("json");
        let mut want = vec![];
        leaves(&c["expect"], String::new(), &mut want);
        for (path, _) in want {
            let x = lookup(&now, &path).and_then(Value::as_f64).expect("path still there");
            // the stored expectations are flat: {"stages[0].energy_kwh.low": ...}
            c["expect"][&path] = serde_json::json!(x);
        }
    }
    let report = shared::validate::evaluate(shared::validate::fit::reference_cases(), &[]);
    g["validate"] = serde_json::to_value(&report).expect("json");
    let note = format!(
        "{} Then: {why} ({}).",
        g["note"].as_str().unwrap_or(""),
        shared::ESTIMATOR_VERSION
    );
    g["note"] = Value::String(note);
    std::fs::write(file, serde_json::to_string(&g).expect("json")).expect("write");
}

#[test]
fn every_stored_number_is_reproduced() {
    if let Some(why) = update_requested() {
        rewrite(&why);
        return;
    }
    let text = include_str!("guard/before-restructure.json");
    let g: Value = serde_json::from_str(text).expect("guard file");
    let cases = g["cases"].as_array().expect("cases");
    assert!(cases.len() > 100, "{}", cases.len());
    let mut checked = 0;
    let mut bad = vec![];
    for c in cases {
        let name = c["name"].as_str().unwrap_or("?");
        let s = shared::estimate::parse_scenario(&c["scenario"].to_string())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let e = shared::estimate::estimate_core(&s, &[]).unwrap_or_else(|e| panic!("{name}: {e}"));
        let now = serde_json::to_value(&e).expect("estimate serialises");
        let mut want = vec![];
        leaves(&c["expect"], String::new(), &mut want);
        for (path, v) in want {
            let got = lookup(&now, &path).and_then(Value::as_f64);
            match got {
                Some(x) if close(x, v) => checked += 1,
                other => bad.push(format!("{name}: {path}: {other:?} vs stored {v}")),
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} differences:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert!(checked > 4000, "{checked}");
}

#[test]
fn validate_on_the_h100_cases_is_reproduced() {
    if update_requested().is_some() {
        return;
    }
    let text = include_str!("guard/before-restructure.json");
    let g: Value = serde_json::from_str(text).expect("guard file");
    let report = shared::validate::evaluate(shared::validate::fit::reference_cases(), &[]);
    let now = serde_json::to_value(&report).expect("report serialises");
    let mut want = vec![];
    leaves(&g["validate"], String::new(), &mut want);
    assert!(want.len() > 20);
    for (path, v) in want {
        let got = lookup(&now, &path).and_then(Value::as_f64);
        assert!(
            got.is_some_and(|x| close(x, v)),
            "{path}: {got:?} vs stored {v}"
        );
    }
}
