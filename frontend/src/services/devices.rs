//! `GET /api/devices`: the measured device profiles the backend holds, read
//! as the API's own types (`shared::api`).

use crate::profiles::{MeasuredDevice, MeasuredInfo};
use shared::api::{DeviceList, RunList, RunStatus};

/// The devices whose profile in use was measured by the server's calibration
/// runs (the built-in profiles the page has already).
pub fn measured(list: DeviceList) -> Vec<MeasuredDevice> {
    list.devices
        .into_iter()
        .filter(|d| d.is_measured())
        .map(|d| MeasuredDevice {
            info: MeasuredInfo {
                runs: u64::try_from(d.runs.in_profile).ok(),
                measured_at: d.measured_at,
            },
            profile: d.profile,
        })
        .collect()
}

/// When the newest accepted run of `GET /api/devices/{id}/calibrations` was made.
pub fn latest_accepted(runs: &RunList) -> Option<String> {
    runs.runs
        .iter()
        .find(|r| r.status == RunStatus::Accepted)
        .map(|r| r.made_at().to_string())
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
    latest_accepted(&r.json::<RunList>().await.ok()?)
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
    let list: DeviceList = r
        .json()
        .await
        .map_err(|e| format!("not the device list of the API ({e})"))?;
    Ok(measured(list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A device as `GET /api/devices` lists it.
    fn view(id: &str, origin: &str, in_profile: i64, at: Option<&str>) -> serde_json::Value {
        let spec = shared::catalog::find(id).expect("a catalog device");
        let mut v = json!({
            "id": spec.id, "name": spec.name, "vendor": "NVIDIA", "nvml_names": [],
            "memory_gb": spec.memory_gb, "mem_bw_gbs": 1000.0, "tdp_w": spec.tdp_w,
            "dense_tflops": {}, "profile": shared::calibration::builtin_profile(spec),
            "profile_origin": origin, "profile_version": "v",
            "runs": {"accepted": in_profile, "flagged": 1, "in_profile": in_profile},
            "values": {},
        });
        if let Some(t) = at {
            v["measured_at"] = json!(t);
        }
        v
    }

    #[test]
    fn the_api_list_keeps_the_measured_profiles() {
        let v = json!({ "devices": [
            view("h100-sxm", "builtin", 0, None),
            view("a100-sxm-80gb", "measured", 4, Some("2026-11-27T10:00:00Z")),
        ]});
        let list: DeviceList = serde_json::from_value(v).expect("the API's shape");
        let d = measured(list);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].profile.id, "a100-sxm-80gb");
        assert_eq!(d[0].info.runs, Some(4));
        assert_eq!(
            d[0].info.measured_at.as_deref(),
            Some("2026-11-27T10:00:00Z")
        );
    }

    #[test]
    fn the_newest_accepted_run() {
        let p = shared::calibration::builtin_profile(&shared::catalog::CATALOG[0]);
        let run = |status: &str, at: &str| {
            json!({"run_id": "x", "status": status, "flags": [], "host": null, "nvml_name": "n",
                   "device_uuid": null, "driver": null, "power_limit_w": 700.0, "tool_version": null,
                   "temperature_before_c": null, "temperature_after_c": null, "started_at": null,
                   "finished_at": at, "received_at": at, "measurements": 3, "profile": p})
        };
        let runs: RunList = serde_json::from_value(json!({"device": "a100", "runs": [
            run("flagged", "2026-11-28T00:00:00Z"),
            run("accepted", "2026-11-27T10:00:00Z"),
        ]}))
        .expect("the API's shape");
        assert_eq!(
            latest_accepted(&runs).as_deref(),
            Some("2026-11-27T10:00:00Z")
        );
    }
}
