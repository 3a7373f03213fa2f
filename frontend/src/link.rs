//! Share links: the whole scenario in the URL fragment, versioned and compressed.
//!
//! Format: `#s=<version>.<base64url(zlib(scenario JSON))>`. The fragment never
//! reaches a server. zlib's adler32 checksum catches tampering; the version
//! prefix lets a later format read (or politely refuse) an older one. Short
//! links from the backend are `#e=<id>`. Pure: no web APIs, tested natively.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use shared::scenario::{Scenario, SCENARIO_VERSION};
use shared::InputErrors;
use std::fmt;

/// The version of the link encoding (not of the scenario format, which is inside).
pub const LINK_VERSION: u32 = 1;
/// The largest scenario a link may inflate to (an imported graph fits easily).
pub const MAX_INFLATED: usize = 8 << 20;

/// What a URL fragment asks for.
// Made once per page load or link: its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Fragment {
    /// No fragment: the example estimate.
    Empty,
    /// A full scenario link (decoded, or why not).
    Scenario(Result<Scenario, LinkError>),
    /// A short link id to fetch from `GET /api/estimates/{id}`.
    Short(String),
}

/// Why a link could not be read. `Display` is the banner text.
#[derive(Debug, Clone, PartialEq)]
pub enum LinkError {
    /// No `<version>.` prefix, or a fragment this page does not know.
    Unrecognised,
    /// Made by a newer version of jouleprint than this page.
    NewerVersion(u32),
    /// An old link format this page no longer reads.
    OlderVersion(u32),
    /// Cut short or altered: base64, zlib or checksum failure.
    Damaged(String),
    /// The scenario inside is refused by the core: every problem, each naming its field.
    InvalidScenario(InputErrors),
    /// The scenario's own format version is not one this page reads.
    ScenarioVersion(u32),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::Unrecognised => write!(f, "This link is not a jouleprint estimate link (it has no version prefix)."),
            LinkError::NewerVersion(v) => write!(f, "This link was made by a newer version of jouleprint (link format {v}; this page reads format {LINK_VERSION}). Reload the page or ask for a new link."),
            LinkError::OlderVersion(v) => write!(f, "This link uses an old format ({v}) that this page no longer reads (it reads format {LINK_VERSION}). Ask for a new link."),
            LinkError::Damaged(why) => write!(f, "This link is truncated or damaged ({why}). Check that it was copied whole."),
            LinkError::InvalidScenario(why) => write!(f, "The scenario in this link is not valid: {why}"),
            LinkError::ScenarioVersion(v) => write!(f, "The scenario in this link has format version {v}; this page reads version {SCENARIO_VERSION}."),
        }
    }
}

/// Encode a scenario as the fragment's payload: `1.<base64url>`.
pub fn encode(s: &Scenario) -> String {
    // Serialising our own types cannot fail (no maps with non-string keys).
    let json = serde_json::to_vec(s).unwrap_or_default();
    let z = miniz_oxide::deflate::compress_to_vec_zlib(&json, 9);
    format!("{LINK_VERSION}.{}", URL_SAFE_NO_PAD.encode(z))
}

/// The whole fragment, with the `#`: `#s=1.<base64url>`.
pub fn fragment(s: &Scenario) -> String {
    format!("#s={}", encode(s))
}

/// Decode a payload made by [`encode`].
pub fn decode(payload: &str) -> Result<Scenario, LinkError> {
    let payload = payload.trim();
    let (ver, body) = payload.split_once('.').ok_or(LinkError::Unrecognised)?;
    let ver: u32 = ver.parse().map_err(|_| LinkError::Unrecognised)?;
    if ver > LINK_VERSION {
        return Err(LinkError::NewerVersion(ver));
    }
    if ver < LINK_VERSION {
        return Err(LinkError::OlderVersion(ver));
    }
    let z = URL_SAFE_NO_PAD
        .decode(body.trim_end_matches('='))
        .map_err(|_| LinkError::Damaged("it holds characters a link cannot have".into()))?;
    // the reason in words; the decoder's own (symbols, offsets) means nothing to a reader
    let json =
        miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&z, MAX_INFLATED).map_err(|e| {
            LinkError::Damaged(
                if e.status == miniz_oxide::inflate::TINFLStatus::HasMoreOutput {
                    "it unpacks to more than 8 MiB".into()
                } else {
                    "its content was cut short or altered".into()
                },
            )
        })?;
    let text = std::str::from_utf8(&json)
        .map_err(|_| LinkError::Damaged("its content is not text".into()))?;
    // Check the scenario version first, so an older scenario says so rather than naming a field.
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
        if let Some(sv) = v.get("version").and_then(|x| x.as_u64()) {
            if sv != u64::from(SCENARIO_VERSION) {
                return Err(LinkError::ScenarioVersion(
                    sv.min(u64::from(u32::MAX)) as u32
                ));
            }
        }
    }
    shared::estimate::parse_scenario(text).map_err(LinkError::InvalidScenario)
}

/// Read a URL fragment (with or without the leading `#`).
pub fn parse_fragment(hash: &str) -> Fragment {
    let h = hash.trim().trim_start_matches('#');
    if h.is_empty() {
        return Fragment::Empty;
    }
    if let Some(p) = h.strip_prefix("s=") {
        return Fragment::Scenario(decode(p));
    }
    if let Some(id) = h.strip_prefix("e=") {
        let ok = !id.is_empty()
            && id.len() <= 64
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        return if ok {
            Fragment::Short(id.to_string())
        } else {
            Fragment::Scenario(Err(LinkError::Damaged(
                "the short link id is malformed".into(),
            )))
        };
    }
    Fragment::Scenario(Err(LinkError::Unrecognised))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::example_scenario;

    #[test]
    fn round_trip_example() {
        let s = example_scenario();
        let p = encode(&s);
        assert!(p.starts_with("1."));
        assert_eq!(decode(&p), Ok(s.clone()));
        assert_eq!(parse_fragment(&fragment(&s)), Fragment::Scenario(Ok(s)));
    }

    #[test]
    fn truncated_and_tampered_links_are_damaged() {
        let p = encode(&example_scenario());
        let cut = &p[..p.len() - 7];
        assert!(
            matches!(decode(cut), Err(LinkError::Damaged(_))),
            "{:?}",
            decode(cut)
        );
        // Flip one character in the middle of the payload.
        let mut b: Vec<char> = p.chars().collect();
        let i = b.len() / 2;
        b[i] = if b[i] == 'A' { 'B' } else { 'A' };
        let t: String = b.into_iter().collect();
        assert!(matches!(decode(&t), Err(LinkError::Damaged(_))));
        assert!(matches!(decode("1.!!!"), Err(LinkError::Damaged(_))));
        // in words, without the decoder's internals (issue 17, item 6)
        for bad in [cut.to_string(), t, "1.!!!".into(), "1.QUJD9".into()] {
            let text = decode(&bad).expect_err("damaged").to_string();
            assert!(text.contains("truncated or damaged"), "{text}");
            for w in [
                "Invalid",
                "symbol",
                "offset",
                "base64",
                "decompress",
                "UTF-8",
            ] {
                assert!(!text.contains(w), "`{w}` in {text}");
            }
        }
    }

    #[test]
    fn versions() {
        let p = encode(&example_scenario());
        let body = p.split_once('.').map(|x| x.1).unwrap_or_default();
        assert_eq!(
            decode(&format!("2.{body}")),
            Err(LinkError::NewerVersion(2))
        );
        assert_eq!(
            decode(&format!("0.{body}")),
            Err(LinkError::OlderVersion(0))
        );
        assert_eq!(decode(body), Err(LinkError::Unrecognised));
        assert_eq!(decode("x.abc"), Err(LinkError::Unrecognised));
        // A scenario of another format version inside a valid link.
        let mut v = serde_json::to_value(example_scenario()).unwrap_or_default();
        v["version"] = serde_json::json!(0);
        let z = miniz_oxide::deflate::compress_to_vec_zlib(v.to_string().as_bytes(), 6);
        let old = format!("1.{}", URL_SAFE_NO_PAD.encode(z));
        assert_eq!(decode(&old), Err(LinkError::ScenarioVersion(0)));
    }

    #[test]
    fn invalid_scenario_names_the_field() {
        let z = miniz_oxide::deflate::compress_to_vec_zlib(br#"{"version":1,"model":{},"stages":[{"kind":"deployment"}],"hardware":{"device":"h100-sxm"}}"#, 6);
        let p = format!("1.{}", URL_SAFE_NO_PAD.encode(z));
        match decode(&p) {
            Err(LinkError::InvalidScenario(m)) => {
                assert!(m.iter().all(|e| e.field.starts_with("stages[0]")), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// A payload holding any text, as a link made elsewhere would.
    fn payload_of(text: &str) -> String {
        let z = miniz_oxide::deflate::compress_to_vec_zlib(text.as_bytes(), 6);
        format!("{LINK_VERSION}.{}", URL_SAFE_NO_PAD.encode(z))
    }

    /// The table of bad scenarios (bounds, pinned values, types, syntax): each
    /// is refused by the link loader with the same field paths as the CLI and
    /// the API, and the banner shows every field with the core's message.
    /// Reads the page's table and, when present, the core's.
    #[test]
    fn bad_scenarios_are_refused_with_their_fields() {
        let page = include_str!("../tests/data/bad-scenarios.jsonl");
        let core = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/tests/data/bad-scenarios.jsonl"
        ))
        .unwrap_or_default();
        let mut n = 0;
        for line in page.lines().chain(core.lines()) {
            if line.trim().is_empty() {
                continue;
            }
            let case: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let name = case["name"].as_str().unwrap_or_default();
            let text = match &case["scenario"] {
                serde_json::Value::String(t) => t.clone(),
                v => v.to_string(),
            };
            let mut want: Vec<String> = case["fields"]
                .as_array()
                .unwrap_or_else(|| panic!("{name}: no fields"))
                .iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect();
            let err = decode(&payload_of(&text)).expect_err(name);
            let mut got: Vec<String> = match &err {
                LinkError::InvalidScenario(e) => {
                    let banner = err.to_string();
                    for e in e {
                        assert!(
                            banner.contains(&format!("{}: {}", e.field, e.message)),
                            "{name}: {banner}"
                        );
                    }
                    e.iter().map(|e| e.field.clone()).collect()
                }
                LinkError::ScenarioVersion(_) => vec!["version".into()],
                other => panic!("{name}: {other:?}"),
            };
            got.sort();
            got.dedup();
            want.sort();
            assert_eq!(got, want, "{name}");
            n += 1;
        }
        assert!(n >= 6, "{n} cases");
    }

    #[test]
    fn fragments() {
        assert_eq!(parse_fragment(""), Fragment::Empty);
        assert_eq!(parse_fragment("#"), Fragment::Empty);
        assert_eq!(
            parse_fragment("#e=abc_12"),
            Fragment::Short("abc_12".into())
        );
        assert!(matches!(
            parse_fragment("#e=a/b"),
            Fragment::Scenario(Err(_))
        ));
        assert!(matches!(
            parse_fragment("#zzz"),
            Fragment::Scenario(Err(LinkError::Unrecognised))
        ));
        for e in [
            LinkError::Unrecognised,
            LinkError::NewerVersion(9),
            LinkError::OlderVersion(0),
            LinkError::Damaged("x".into()),
        ] {
            assert!(e.to_string().len() > 20);
        }
    }

    mod prop {
        use super::super::*;
        use crate::defaults::example_scenario;
        use proptest::prelude::*;

        /// Numbers as people type them: an integer mantissa and a few decimals.
        fn typed() -> impl Strategy<Value = f64> {
            (1u32..10_000_000, 0u32..6).prop_map(|(m, k)| f64::from(m) / 10f64.powi(k as i32))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            #[test]
            fn any_scenario_round_trips(pue in 1.0f64..3.0, batch in 1u64..4096, epochs in typed(),
                                        runs in typed().prop_map(|r| r.clamp(1.0, shared::check::bounds::MAX_RUNS)), grid in proptest::option::of(typed().prop_map(|g| g.min(shared::check::bounds::MAX_GRID))),
                                        name in proptest::option::of("[ -~\\u{e9}\\u{4e2d}]{0,40}"),
                                        count in 1u64..1024) {
                let mut s = example_scenario();
                // Through a decimal string, as a form would produce it.
                s.infrastructure.pue = format!("{pue:.3}").parse().unwrap_or(1.2);
                s.infrastructure.grid_gco2e_per_kwh = grid;
                s.name = name;
                s.hardware.count = count;
                for st in &mut s.stages {
                    st.workload.batch = batch;
                    st.runs = runs;
                    if st.epochs.is_some() { st.epochs = Some(epochs); }
                }
                prop_assert_eq!(decode(&encode(&s)), Ok(s));
            }

            #[test]
            fn arbitrary_fragments_never_panic(h in ".{0,300}") {
                let _ = parse_fragment(&h);
                let _ = decode(&h);
            }

            #[test]
            fn corrupted_payloads_are_errors_not_panics(cut in 0usize..400, flip in 0usize..400, c in "[A-Za-z0-9_-]") {
                let p = encode(&example_scenario());
                let cut = cut.min(p.len());
                let _ = decode(&p[..cut]);
                let mut b: Vec<char> = p.chars().collect();
                let i = flip % b.len();
                b[i] = c.chars().next().unwrap_or('A');
                let t: String = b.into_iter().collect();
                // Either refused, or (a change in an informational header bit) the same scenario.
                match decode(&t) {
                    Err(_) => {}
                    Ok(s2) => prop_assert_eq!(s2, example_scenario()),
                }
            }
        }
    }
}
