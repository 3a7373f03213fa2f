//! Reading a scenario from JSON with errors in plain words: every field path
//! (`stages[0].workload.batch`), what is wrong and the fix, all problems of a
//! document at once (the check's problems included), never serde's wording.

use super::check;
use crate::error::{InputError, InputErrors};
use crate::scenario::Scenario;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// How many type errors one document reports before giving up.
const MAX_ERRORS: usize = 25;

/// Parse scenario JSON: syntax errors, unknown fields and wrong types name the
/// field by its path; a document that parses is also checked (`crate::check`),
/// so every problem is reported at once.
pub fn parse_scenario(json: &str) -> Result<Scenario, InputErrors> {
    let (s, errors) = parse_typed::<Scenario>(json, "scenario")?;
    checked(s, errors)
}

/// A scenario read by [`parse_typed`] (and prepared, e.g. a `model.file`
/// replaced by the model), checked, with the type errors of the reading.
pub fn checked(s: Scenario, mut errors: Vec<InputError>) -> Result<Scenario, InputErrors> {
    if let Err(e) = check(&s) {
        for e in e.0 {
            // a placeholder put in for a reported type error can trip a bound: keep the first report
            if !errors.iter().any(|x| x.field == e.field) {
                errors.push(e);
            }
        }
    }
    if errors.is_empty() {
        Ok(s)
    } else {
        Err(InputErrors(errors))
    }
}

/// Deserialize a JSON document into `T`, collecting type errors: each wrong
/// value is reported, replaced by a placeholder (or removed, for an unknown
/// field) and the document deserialized again. Returns `T` with the
/// placeholders and the errors; `Err` when the document cannot be read at all
/// (syntax, not an object, a required field missing).
pub fn parse_typed<T: DeserializeOwned>(
    json: &str,
    what: &str,
) -> Result<(T, Vec<InputError>), InputErrors> {
    let mut v: Value = match serde_json::from_str(json) {
        Ok(v) => v,
        Err(e) => {
            // where in the document the text broke, from the text itself (a
            // typed re-read of the stream would compile every deserializer a
            // second time: a third of the page's WebAssembly)
            let end = if e.is_eof() {
                json.len()
            } else {
                byte_offset(json, e.line(), e.column())
            };
            let at = path_before(json, end);
            let field = if at.is_empty() { what.to_string() } else { at };
            return Err(InputError::new(
                field,
                format!(
                    "not valid JSON: {} (line {}, column {}). See docs/scenario.md for the format",
                    syntax_words(&e),
                    e.line(),
                    e.column()
                ),
            )
            .into());
        }
    };
    if !v.is_object() {
        return Err(InputError::new(
            what,
            format!(
                "must be a JSON object {{...}}, not {}. See docs/scenario.md for the format",
                kind_of(&v)
            ),
        )
        .into());
    }
    let mut errors: Vec<InputError> = vec![];
    loop {
        let de = v.clone();
        match serde_path_to_error::deserialize::<_, T>(de) {
            Ok(t) => return Ok((t, errors)),
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner().to_string();
                // 8.0 and 8e0 are the JSON number 8: read them where a whole number is expected
                if let Some(n) = whole_number(&inner) {
                    let here = path.trim_end_matches(".?").to_string();
                    if apply_fix(&mut v, &here, Fix::Replace(n)) {
                        continue;
                    }
                }
                let (field, message, fix) = explain(&path, &inner);
                let repeated = errors.iter().any(|x| x.field == field);
                if !repeated {
                    errors.push(InputError::new(field.clone(), message));
                }
                let fixed =
                    !repeated && errors.len() < MAX_ERRORS && apply_fix(&mut v, &field, fix);
                if !fixed {
                    return Err(InputErrors(errors));
                }
            }
        }
    }
}

/// Rewrites every whole-valued float up to 2^53 (`7e5`, `8.0`) as the integer
/// it is, so typed readers that expect an integer accept it like
/// `parse_typed` does; fields of float type read either form the same.
pub fn whole_floats_as_integers(v: &mut Value) {
    match v {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(x) = n.as_f64() {
                if x.fract() == 0.0 && x.abs() <= 9_007_199_254_740_992.0 {
                    *v = if x >= 0.0 {
                        Value::from(x as u64)
                    } else {
                        Value::from(x as i64)
                    };
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(whole_floats_as_integers),
        Value::Object(o) => o.values_mut().for_each(whole_floats_as_integers),
        _ => {}
    }
}

/// The integer a whole-valued float stands for, where serde expected an
/// integer type (`invalid type: floating point `8.0`, expected u64`) and the
/// value fits it exactly (up to 2^53, where every integer is a float).
fn whole_number(inner: &str) -> Option<Value> {
    let rest = inner.strip_prefix("invalid type: floating point `")?;
    let (num, expected) = rest.split_once("`, expected ")?;
    let x: f64 = num.parse().ok()?;
    if !x.is_finite() || x.fract() != 0.0 || x.abs() > 9_007_199_254_740_992.0 {
        return None;
    }
    match expected.trim() {
        "u64" | "u32" | "u16" | "u8" | "usize" if x >= 0.0 => {
            let n = x as u64;
            let max = match expected.trim() {
                "u8" => u64::from(u8::MAX),
                "u16" => u64::from(u16::MAX),
                "u32" => u64::from(u32::MAX),
                _ => u64::MAX,
            };
            (n <= max).then(|| Value::from(n))
        }
        "i64" => Some(Value::from(x as i64)),
        "i32" => i32::try_from(x as i64).ok().map(Value::from),
        _ => None,
    }
}

/// What to do to the document to read on past an error.
enum Fix {
    Remove,
    Replace(Value),
    None,
}

/// The field path, the message in plain words, and how to continue.
fn explain(path: &str, inner: &str) -> (String, String, Fix) {
    let root = path.is_empty() || path == "." || path == "?";
    let at = |f: &str| {
        if root {
            f.to_string()
        } else {
            format!("{path}.{f}")
        }
    };
    let here = if root {
        "scenario".to_string()
    } else {
        path.trim_end_matches(".?").to_string()
    };
    if let Some(rest) = inner.strip_prefix("missing field `") {
        let f = rest.split('`').next().unwrap_or("");
        return (
            at(f),
            "is required. See docs/scenario.md for the fields".into(),
            Fix::None,
        );
    }
    if let Some(rest) = inner.strip_prefix("unknown field `") {
        let f = rest.split('`').next().unwrap_or("");
        let known = backticked(rest.split_once("expected").map_or("", |x| x.1));
        // serde_path_to_error's path already ends at the unknown key
        let field = if path.ends_with(f) { here } else { at(f) };
        let message = if known.is_empty() {
            "is not a field here; remove it".to_string()
        } else {
            format!("is not a field here; the fields are: {}", known.join(", "))
        };
        return (field, message, Fix::Remove);
    }
    if let Some(rest) = inner.strip_prefix("unknown variant `") {
        let got = rest.split('`').next().unwrap_or("");
        let known = backticked(rest.split_once("expected").map_or("", |x| x.1));
        let fix = known
            .first()
            .map_or(Fix::None, |k| Fix::Replace(Value::String(k.clone())));
        return (
            here,
            format!("`{got}` is not one of: {}", known.join(", ")),
            fix,
        );
    }
    if inner.starts_with("invalid type") || inner.starts_with("invalid value") {
        let found = found_words(inner);
        let expected = inner.split_once(", expected ").map_or("", |x| x.1);
        let (want, placeholder) = expected_words(expected);
        return (here, format!("must be {want} (it is {found})"), placeholder);
    }
    if inner.starts_with("invalid length") {
        return (here, "has the wrong number of items".into(), Fix::None);
    }
    (here, format!("{inner}. See docs/scenario.md"), Fix::None)
}

/// `expected u64` and friends in words, with a placeholder that type-checks.
fn expected_words(expected: &str) -> (String, Fix) {
    let e = expected.trim();
    if ["u64", "u32", "u16", "u8", "usize"].contains(&e) {
        return (
            "a whole number, 0 or more".into(),
            Fix::Replace(Value::from(1u64)),
        );
    }
    if ["i64", "i32"].contains(&e) {
        return ("a whole number".into(), Fix::Replace(Value::from(1i64)));
    }
    if e == "f64" || e == "f32" {
        return ("a number".into(), Fix::Replace(Value::from(1.0)));
    }
    if e.contains("a string") || e.contains("string") {
        return (
            "text in double quotes".into(),
            Fix::Replace(Value::String(String::new())),
        );
    }
    if e.contains("a boolean") {
        return ("true or false".into(), Fix::Replace(Value::Bool(false)));
    }
    if e.contains("sequence") {
        return ("a JSON array [...]".into(), Fix::None);
    }
    if e.starts_with("struct") || e.contains("map") {
        return ("a JSON object {...}".into(), Fix::None);
    }
    if let Some(v) = e.strip_prefix("variant identifier") {
        let _ = v;
        return (
            "one of the names listed in docs/scenario.md".into(),
            Fix::None,
        );
    }
    ("of another kind; see docs/scenario.md".into(), Fix::None)
}

/// `invalid type: integer `-8`, expected ...` -> `-8`; `string "abc"` -> `"abc"`.
fn found_words(inner: &str) -> String {
    let body = inner
        .split_once(": ")
        .map_or(inner, |x| x.1)
        .split(", expected")
        .next()
        .unwrap_or("")
        .trim();
    for prefix in ["integer ", "floating point ", "string "] {
        if let Some(v) = body.strip_prefix(prefix) {
            return v.trim_matches('`').to_string();
        }
    }
    match body {
        "map" => "an object".into(),
        "sequence" => "an array".into(),
        "null" => "null".into(),
        b if b.starts_with("boolean") => b.trim_start_matches("boolean ").trim_matches('`').into(),
        b => b.into(),
    }
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, x)| x.to_string())
        .collect()
}

/// The byte offset of serde_json's one-based line and (byte) column.
fn byte_offset(json: &str, line: usize, column: usize) -> usize {
    let start: usize = json
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (start + column.saturating_sub(1)).min(json.len())
}

/// The path (`stages[0].workload.batch`) of the key or element the text
/// before byte `end` is inside: the objects and arrays still open there, each
/// object's current key (none after a comma, until the next key) and each
/// array's index. Empty at the top level.
fn path_before(json: &str, end: usize) -> String {
    enum Open {
        Object(Option<String>),
        Array(usize),
    }
    let b = json.as_bytes();
    let end = end.min(b.len());
    let mut open: Vec<Open> = vec![];
    let mut i = 0;
    while i < end {
        match b[i] {
            b'{' => open.push(Open::Object(None)),
            b'[' => open.push(Open::Array(0)),
            b'}' | b']' => {
                open.pop();
            }
            b',' => match open.last_mut() {
                Some(Open::Object(key)) => *key = None,
                Some(Open::Array(n)) => *n += 1,
                None => {}
            },
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                let j = j.min(b.len());
                // a string where an object waits for a key is the key
                if let Some(Open::Object(key @ None)) = open.last_mut() {
                    *key = Some(json.get(i + 1..j).unwrap_or_default().to_string());
                }
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
    let mut path = String::new();
    for o in &open {
        match o {
            Open::Object(Some(k)) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
            }
            Open::Object(None) => break,
            Open::Array(n) => path.push_str(&format!("[{n}]")),
        }
    }
    path
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn syntax_words(e: &serde_json::Error) -> String {
    let m = e.to_string();
    let m = m.split(" at line ").next().unwrap_or(&m).to_string();
    match m.as_str() {
        "EOF while parsing a value"
        | "EOF while parsing an object"
        | "EOF while parsing a list" => {
            "the text ends too early (a value, `}` or `]` is missing)".into()
        }
        "EOF while parsing a string" => "a string is not closed with `\"`".into(),
        "trailing comma" => "a comma before `}` or `]` is not allowed".into(),
        "number out of range" => "a number is too large".into(),
        "key must be a string" => "object keys must be in double quotes".into(),
        "expected value" => {
            "a value was expected (a number, text in quotes, an object or an array)".into()
        }
        "trailing characters" => "there is more text after the scenario's closing `}`".into(),
        _ => m,
    }
}

/// Apply `fix` at `path` (`a.b[2].c`) in `v`. False when it cannot be applied.
fn apply_fix(v: &mut Value, path: &str, fix: Fix) -> bool {
    let mut segs: Vec<Seg> = vec![];
    for part in path.split('.') {
        let (name, idx) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !name.is_empty() {
            segs.push(Seg::Key(name.to_string()));
        }
        for n in idx.split(['[', ']']).filter(|x| !x.is_empty()) {
            match n.parse::<usize>() {
                Ok(i) => segs.push(Seg::Index(i)),
                Err(_) => return false,
            }
        }
    }
    let Some((last, parents)) = segs.split_last() else {
        return false;
    };
    let mut cur = v;
    for s in parents {
        cur = match (s, cur) {
            (Seg::Key(k), Value::Object(m)) => match m.get_mut(k) {
                Some(x) => x,
                None => return false,
            },
            (Seg::Index(i), Value::Array(a)) => match a.get_mut(*i) {
                Some(x) => x,
                None => return false,
            },
            _ => return false,
        };
    }
    match (last, cur, fix) {
        (Seg::Key(k), Value::Object(m), Fix::Remove) => m.remove(k).is_some(),
        (Seg::Key(k), Value::Object(m), Fix::Replace(x)) => match m.get_mut(k) {
            Some(slot) => {
                *slot = x;
                true
            }
            None => false,
        },
        (Seg::Index(i), Value::Array(a), Fix::Replace(x)) => match a.get_mut(*i) {
            Some(slot) => {
                *slot = x;
                true
            }
            None => false,
        },
        _ => false,
    }
}

enum Seg {
    Key(String),
    Index(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(json: &str) -> Vec<InputError> {
        match parse_scenario(json) {
            Ok(_) => panic!("accepted: {json}"),
            Err(e) => e.0,
        }
    }

    const OK: &str = r#"{"version":1,"model":{"preset":"gpt2"},"stages":[{"kind":"final_training","workload":{"phase":"train","precision":"bf16-amp","batch":8,"seq":1024},"steps":10}],"hardware":{"device":"h100-sxm"}}"#;

    #[test]
    fn the_valid_document_parses() {
        assert!(parse_scenario(OK).is_ok());
    }

    /// 8.0 and 8e0 are the JSON number 8 (RFC 8259 has one number type): a
    /// whole number written with a decimal point or an exponent reads as the
    /// integer; 8.5, -8.0 and 2^64 stay errors naming the field.
    #[test]
    fn whole_numbers_written_as_floats_are_those_integers() {
        let want = parse_scenario(OK).unwrap();
        for spelling in ["8.0", "8e0", "0.8e1"] {
            let s = parse_scenario(&OK.replace(r#""batch":8"#, &format!(r#""batch":{spelling}"#)))
                .unwrap_or_else(|e| panic!("{spelling}: {e}"));
            assert_eq!(s, want, "{spelling}");
        }
        for bad in ["8.5", "-8.0", "18446744073709551616.0", "1e300"] {
            let e = errs(&OK.replace(r#""batch":8"#, &format!(r#""batch":{bad}"#)));
            assert_eq!(e[0].field, "stages[0].workload.batch", "{bad}: {e:?}");
        }
    }

    /// The record readers' pass: whole floats up to 2^53 become integers,
    /// anywhere in the document; fractions, larger values and integers stay.
    #[test]
    fn whole_floats_become_integers_everywhere() {
        let mut v: Value = serde_json::from_str(
            r#"{"a":7e5,"b":[8.0,-3.0,2.5],"c":{"d":1e300,"e":12,"f":9007199254740992.0}}"#,
        )
        .unwrap();
        whole_floats_as_integers(&mut v);
        assert_eq!(v["a"].as_u64(), Some(700_000));
        assert_eq!(v["b"][0].as_u64(), Some(8));
        assert_eq!(v["b"][1].as_i64(), Some(-3));
        assert!(v["b"][2].is_f64() && v["c"]["d"].is_f64());
        assert_eq!(v["c"]["e"].as_u64(), Some(12));
        assert_eq!(v["c"]["f"].as_u64(), Some(1 << 53));
    }

    #[test]
    fn every_problem_at_once_in_plain_words() {
        let j = OK
            .replace(r#""batch":8"#, r#""batch":-8"#)
            .replace(r#""steps":10"#, r#""steps":10,"colour":"red""#)
            .replace(
                r#""hardware":{"device":"h100-sxm"}"#,
                r#""hardware":{"device":"h100-sxm"},"infrastructure":{"pue":-1}"#,
            )
            .replace(r#""precision":"bf16-amp""#, r#""precision":"bf17""#);
        let e = errs(&j);
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "stages[0].workload.batch",
            "stages[0].colour",
            "stages[0].workload.precision",
            "infrastructure.pue",
        ] {
            assert!(fields.contains(&f), "{f} missing in {e:?}");
        }
        for x in &e {
            let text = x.to_string();
            assert!(!text.contains('?'), "`?` in `{x}`");
            for word in text.split(|c: char| !c.is_alphanumeric() && c != '_') {
                assert!(
                    !["u64", "struct", "expected"].contains(&word),
                    "`{word}` in `{x}`"
                );
            }
        }
    }

    #[test]
    fn not_an_object_and_syntax() {
        let e = errs("[]");
        assert_eq!(e[0].field, "scenario");
        assert!(e[0].message.contains("must be a JSON object"), "{}", e[0]);
        let e = errs(r#"{"version": 1,"#);
        assert!(e[0].message.contains("ends too early"), "{}", e[0]);
        let e = errs("");
        assert!(e[0].message.contains("ends too early"), "{}", e[0]);
    }

    /// A syntax error names the key or element it broke in, read from the
    /// text (worked by hand: the open objects and arrays at the error).
    #[test]
    fn a_syntax_error_names_where_it_broke() {
        let field = |j: &str| errs(j)[0].field.clone();
        // `8x` is not a number: inside stages[0].workload.batch
        assert_eq!(
            field(r#"{"version":1,"stages":[{"kind":"final_training","workload":{"batch":8x}}]}"#),
            "stages[0].workload.batch"
        );
        // the second stage, after a first one that closed
        assert_eq!(
            field(r#"{"stages":[{"steps":1},{"workload":{"seq":[1,2,}]}}]}"#),
            "stages[1].workload.seq[2]"
        );
        // a trailing comma in an object: no key yet, so the object itself
        assert_eq!(
            field("{\"hardware\": {\"device\": \"h100-sxm\",\n}}"),
            "hardware"
        );
        // a brace inside a string is text, and an escaped quote does not end it
        assert_eq!(
            field(r#"{"name":"a {[\" b","model":{"preset":}}"#),
            "model.preset"
        );
        // at the top level: the document
        assert_eq!(field(r#"{"version": 1,"#), "scenario");
        assert_eq!(field("{,}"), "scenario");
    }

    #[test]
    fn missing_field_is_named() {
        let e = errs(&OK.replace(r#""hardware":{"device":"h100-sxm"}"#, r#""hardware":{}"#));
        assert_eq!(e[0].field, "hardware.device");
        assert!(e[0].message.contains("is required"));
    }
}
