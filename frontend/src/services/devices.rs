//! `GET /api/devices`: the measured device profiles the backend holds.

use crate::profiles::{MeasuredDevice, MeasuredInfo};
use serde_json::Value;
use shared::device::DeviceProfile;

/// Read the backend's device list. Accepts a list, or `{ "devices": [...] }`;
/// each entry a profile, or an object with a `profile` and run metadata.
/// Only measured profiles are kept (datasheet ones are built in already).
pub fn parse(v: &Value) -> Result<Vec<MeasuredDevice>, String> {
    let list = v
        .as_array()
        .or_else(|| v.get("devices").and_then(Value::as_array))
        .or_else(|| v.get("profiles").and_then(Value::as_array))
        .ok_or("the device list is not a JSON array")?;
    let mut out = Vec::new();
    for item in list {
        let pv = item.get("profile").unwrap_or(item);
        let Ok(profile) = serde_json::from_value::<DeviceProfile>(pv.clone()) else {
            continue;
        };
        // `jouleprint serve` says where the profile in use comes from; a bare
        // profile says it in its source.
        let origin = item.get("profile_origin").and_then(Value::as_str);
        let measured = match origin {
            Some(o) => o == "measured",
            None => profile.source.kind == "measured",
        };
        if !measured {
            continue;
        }
        let pick = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| item.get(*k).filter(|x| !x.is_null()))
        };
        let runs = pick(&["runs", "run_count", "n_runs", "calibration_runs"]).and_then(|x| {
            x.as_u64()
                .or_else(|| x.get("in_profile").and_then(Value::as_u64))
                .or_else(|| x.as_array().map(|a| a.len() as u64))
        });
        let measured_at = pick(&[
            "measured_at",
            "last_run_at",
            "calibrated_at",
            "updated_at",
            "created_at",
        ])
        .and_then(|x| x.as_str().map(str::to_string));
        out.push(MeasuredDevice {
            profile,
            info: MeasuredInfo { runs, measured_at },
        });
    }
    Ok(out)
}

/// The date of the newest accepted run in `GET /api/devices/{id}/calibrations`.
pub fn parse_latest_run(v: &Value) -> Option<String> {
    let runs = v.get("runs").and_then(Value::as_array)?;
    let run = runs
        .iter()
        .find(|r| r.get("status").and_then(Value::as_str) == Some("accepted"))?;
    ["finished_at", "started_at", "received_at"]
        .iter()
        .find_map(|k| run.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

/// When the measured profile's newest run was made (none when the backend cannot say).
pub async fn latest_run(id: &str) -> Option<String> {
    let r = gloo_net::http::Request::get(&format!(
        "{}/devices/{id}/calibrations?limit=20",
        super::API
    ))
    .send()
    .await
    .ok()?;
    if !r.ok() {
        return None;
    }
    parse_latest_run(&r.json::<Value>().await.ok()?)
}

/// The measured profiles, each with the date of its newest run.
pub async fn fetch_with_dates() -> Result<Vec<MeasuredDevice>, String> {
    let mut list = fetch().await?;
    for m in &mut list {
        if m.info.measured_at.is_none() {
            m.info.measured_at = latest_run(&m.profile.id).await;
        }
    }
    Ok(list)
}

pub async fn fetch() -> Result<Vec<MeasuredDevice>, String> {
    let r = gloo_net::http::Request::get(&format!("{}/devices", super::API))
        .send()
        .await
        .map_err(|e| format!("no backend ({e})"))?;
    if !r.ok() {
        return Err(format!("the backend answered {}", r.status()));
    }
    let v: Value = r.json().await.map_err(|e| format!("not JSON ({e})"))?;
    parse(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(kind: &str) -> Value {
        let mut p = serde_json::to_value(shared::calibration::builtin_profile(
            &shared::catalog::CATALOG[0],
        ))
        .unwrap_or_default();
        p["source"]["kind"] = Value::from(kind);
        p
    }

    #[test]
    fn lists_and_wrappers() {
        let v = serde_json::json!([{ "profile": profile("measured"), "runs": 3, "measured_at": "2026-11-27T10:00:00Z" }, profile("datasheet"), {"junk": 1}]);
        let d = parse(&v).unwrap_or_default();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].info.runs, Some(3));
        let v = serde_json::json!({ "devices": [profile("measured")] });
        assert_eq!(parse(&v).map(|d| d.len()), Ok(1));
        assert!(parse(&serde_json::json!({"x": 1})).is_err());
        // `jouleprint serve`'s shape: profile_origin decides, runs.in_profile counts.
        let v = serde_json::json!({ "devices": [
            { "id": "h100-sxm", "profile": profile("measured"), "profile_origin": "builtin", "runs": {"accepted": 0, "flagged": 0, "in_profile": 0} },
            { "id": "a100", "profile": profile("measured"), "profile_origin": "measured", "runs": {"accepted": 4, "flagged": 1, "in_profile": 4} },
        ]});
        let d = parse(&v).unwrap_or_default();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].info.runs, Some(4));
        let runs = serde_json::json!({"device": "a100", "runs": [
            {"status": "flagged", "finished_at": "2026-11-28T00:00:00Z"},
            {"status": "accepted", "finished_at": "2026-11-27T10:00:00Z"},
        ]});
        assert_eq!(
            parse_latest_run(&runs).as_deref(),
            Some("2026-11-27T10:00:00Z")
        );
    }
}
