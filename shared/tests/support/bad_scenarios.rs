//! The table of bad scenarios, `shared/tests/data/bad-scenarios.jsonl`: each
//! line a `name`, a `scenario` (a JSON value, or a string holding the exact
//! text to send, which may not be JSON) and the `fields` every front end must
//! name when it refuses it. Read by the core's tests (`shared/tests`), the
//! CLI's (`backend/cli/tests`) and the API's (`backend/service/tests`), which
//! include this file by path, so the table is written once.

#![allow(dead_code)]

use serde_json::Value;

pub struct BadScenario {
    pub name: String,
    /// The document as sent: a string entry as it is, a value as compact JSON.
    pub text: String,
    /// The field paths the refusal names, sorted.
    pub fields: Vec<String>,
}

pub fn table() -> Vec<BadScenario> {
    let text = include_str!("../data/bad-scenarios.jsonl");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("bad-scenarios.jsonl line {}: {e}", i + 1));
            let mut fields: Vec<String> = v["fields"]
                .as_array()
                .unwrap_or_else(|| panic!("line {}: no fields", i + 1))
                .iter()
                .map(|f| f.as_str().expect("a field path").to_string())
                .collect();
            fields.sort();
            BadScenario {
                name: v["name"].as_str().expect("a name").to_string(),
                text: match &v["scenario"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
                fields,
            }
        })
        .collect()
}

/// The field paths of a refusal, sorted and without repeats.
pub fn sorted(fields: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut f: Vec<String> = fields.into_iter().collect();
    f.sort();
    f.dedup();
    f
}

/// A message for people: no Rust type names, no `?` (serde's unknown path).
pub fn check_words(name: &str, message: &str) {
    assert!(!message.contains('?'), "{name}: `?` in `{message}`");
    for word in message.split(|c: char| !c.is_alphanumeric() && c != '_') {
        assert!(
            !["u64", "u32", "f64", "struct"].contains(&word),
            "{name}: `{word}` in `{message}`"
        );
    }
}
