//! `GET /api/accuracy?device=ID&software=CLASS` (`shared::api::AccuracyReport`).
//!
//! Read through `serde_json::Value`, whose parser the page has already, into
//! the few fields the page shows: a derived deserializer of the whole report
//! costs the wasm about 4 KB gzipped. The tests read a serialized
//! `AccuracyReport`, so a renamed field fails them.

use serde_json::Value;
use shared::scenario::SoftwareClass;

/// The fields of `shared::api::AccuracyReport` the page shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Catalog id.
    pub device: String,
    pub device_name: String,
    pub software: Option<String>,
    /// `overall.runs`: runs scored.
    pub runs: i64,
    /// `overall.accuracy.median_abs_energy_error`; absent until the quorum.
    pub median_energy_error: Option<f64>,
    pub not_scored: i64,
    /// The overall figures in plain words (the server's).
    pub summary: String,
    pub runs_url: String,
}

/// `device` is a catalog id: it and the class names are URL-safe as they are.
pub fn url(device: &str, software: SoftwareClass) -> String {
    format!(
        "{}/accuracy?device={device}&software={software}",
        super::API
    )
}

/// What a missing or mistyped field says (one message: the page shows none of it).
pub const NOT_A_REPORT: &str = "not the accuracy report of the API";

pub fn parse(v: &Value) -> Result<Report, &'static str> {
    let text = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(NOT_A_REPORT)
    };
    let int = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64).ok_or(NOT_A_REPORT);
    let overall = v.get("overall").ok_or(NOT_A_REPORT)?;
    Ok(Report {
        device: text("device")?,
        device_name: text("device_name")?,
        software: v
            .get("software")
            .and_then(Value::as_str)
            .map(str::to_string),
        runs: int(overall, "runs")?,
        median_energy_error: overall
            .get("accuracy")
            .and_then(|a| a.get("median_abs_energy_error"))
            .and_then(Value::as_f64),
        not_scored: int(v, "not_scored")?,
        summary: text("summary")?,
        runs_url: text("runs_url")?,
    })
}

pub async fn fetch(device: &str, software: SoftwareClass) -> Result<Report, String> {
    let r = gloo_net::http::Request::get(&url(device, software))
        .send()
        .await
        .map_err(|e| format!("no backend ({e})"))?;
    if !r.ok() {
        return Err(format!("the backend answered {}", r.status()));
    }
    let v: Value = r.json().await.map_err(|e| format!("not JSON ({e})"))?;
    parse(&v).map_err(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::api::{AccuracyFigures, AccuracyGroup, AccuracyReport};

    #[test]
    fn the_query() {
        assert_eq!(
            url("h100-sxm", SoftwareClass::PytorchEager),
            "/api/accuracy?device=h100-sxm&software=pytorch-eager"
        );
    }

    /// The API's own type, serialized as the server sends it.
    #[test]
    fn the_apis_report() {
        let group = |acc: Option<AccuracyFigures>| AccuracyGroup {
            software: Some("compiled".into()),
            phase: None,
            runs: 4,
            tokens: 2,
            runs_energy_inside: 3,
            runs_time_inside: 1,
            met: acc.is_some(),
            accuracy: acc,
        };
        let mut r = AccuracyReport {
            device: "h100-sxm".into(),
            device_name: "NVIDIA H100 SXM5 80GB".into(),
            software: Some("compiled".into()),
            estimator_version: "v".into(),
            min_tokens: 2,
            overall: group(Some(AccuracyFigures {
                median_abs_energy_error: 0.125,
                worst_abs_energy_error: 0.3,
                median_abs_time_error: 0.1,
                worst_abs_time_error: 0.2,
                share_energy_inside: 0.75,
                share_time_inside: 0.25,
            })),
            groups: vec![],
            not_scored: 1,
            summary: "words".into(),
            runs_url: "/api/runs?device=h100-sxm&software=compiled".into(),
        };
        let read = |r: &AccuracyReport| {
            parse(&serde_json::to_value(r).unwrap_or_else(|e| panic!("{e}")))
                .unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(
            read(&r),
            Report {
                device: "h100-sxm".into(),
                device_name: "NVIDIA H100 SXM5 80GB".into(),
                software: Some("compiled".into()),
                runs: 4,
                median_energy_error: Some(0.125),
                not_scored: 1,
                summary: "words".into(),
                runs_url: "/api/runs?device=h100-sxm&software=compiled".into(),
            }
        );
        r.overall = group(None);
        r.software = None;
        let got = read(&r);
        assert_eq!((got.median_energy_error, got.software), (None, None));
        assert_eq!(
            parse(&serde_json::json!({"device": "x"})).map(|r| r.runs),
            Err(NOT_A_REPORT)
        );
    }
}
