//! What every handler shares ([`AppState`]): the database pool, the body
//! limit, and the device snapshot (the catalog merged with measured profiles,
//! as `shared::api` views), cached and dropped on every accepted run.

use crate::store::cache::Cached;
use crate::store::calibrations;
use crate::store::profiles::{self, coefficients, MeasuredProfile};
use crate::store::{rfc3339, StoreError};
use actix_web::web;
use shared::api::{DeviceList, DeviceView, ProfileOrigin, RunCounts, ValueInfo, ValueSource};
use shared::catalog::CATALOG;
use shared::device::{DeviceProfile, DeviceSpec};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What every handler shares.
pub struct AppState {
    pub pool: PgPool,
    /// Device list and measured profiles, dropped on every accepted run.
    pub devices: Cached<Snapshot>,
    pub max_body: usize,
}

/// What the device endpoints and estimates read, cached (see `store::cache`).
pub struct Snapshot {
    pub measured: BTreeMap<String, MeasuredProfile>,
    pub counts: BTreeMap<String, (i64, i64)>,
    /// Measured profiles, as `shared::estimate::estimate` takes them.
    pub profiles: Vec<DeviceProfile>,
    pub views: Vec<DeviceView>,
    /// `GET /api/devices`, serialized once.
    pub list_json: web::Bytes,
    /// Its entity tag (a hash of the body).
    pub etag: String,
}

/// A catalog device with the profile it uses: its measured profile (current
/// or pinned), else the built-in one, by the core's one rule.
pub fn view(
    spec: &DeviceSpec,
    measured: Option<&MeasuredProfile>,
    counts: (i64, i64),
) -> DeviceView {
    let datasheet = coefficients(&spec.datasheet_profile());
    let measured_profiles: Vec<DeviceProfile> =
        measured.map(|m| m.profile.clone()).into_iter().collect();
    let profile = shared::resolve::device_profile(spec.id, &measured_profiles)
        .unwrap_or_else(|| shared::calibration::builtin_profile(spec));
    let origin = if measured_profiles.first() == Some(&profile) {
        ProfileOrigin::Measured
    } else {
        ProfileOrigin::Builtin
    };
    let measured = measured.filter(|_| origin == ProfileOrigin::Measured);
    let values = coefficients(&profile)
        .into_iter()
        .map(|(k, v)| {
            let same = datasheet
                .get(&k)
                .is_some_and(|d| (d - v).abs() <= 1e-9 * d.abs().max(1e-12));
            let spread = if same {
                None
            } else {
                measured.and_then(|m| m.spread.get(&k).copied())
            };
            (
                k,
                ValueInfo {
                    value: v,
                    source: if same {
                        ValueSource::Datasheet
                    } else {
                        ValueSource::Measured
                    },
                    spread,
                },
            )
        })
        .collect();
    DeviceView {
        id: spec.id.into(),
        name: spec.name.into(),
        vendor: spec.vendor.into(),
        nvml_names: spec.nvml_names.iter().map(|s| s.to_string()).collect(),
        memory_gb: spec.memory_gb,
        mem_bw_gbs: spec.mem_bw_gbs,
        tdp_w: spec.tdp_w,
        dense_tflops: spec.dense_tflops.iter().copied().collect(),
        profile_version: profile.source.version.clone(),
        profile,
        profile_origin: origin,
        measured_version: measured.map(|m| m.version),
        measured_at: measured.map(|m| rfc3339(m.created_at)),
        runs: RunCounts {
            accepted: counts.0,
            flagged: counts.1,
            in_profile: measured.map(|m| m.run_count as i64).unwrap_or(0),
        },
        values,
    }
}

async fn load(pool: &sqlx::PgPool) -> Result<Snapshot, StoreError> {
    let measured: BTreeMap<String, MeasuredProfile> = profiles::current_all(pool)
        .await?
        .into_iter()
        .map(|m| (m.device_id.clone(), m))
        .collect();
    let counts = calibrations::counts(pool).await?;
    let views: Vec<DeviceView> = CATALOG
        .iter()
        .map(|s| {
            view(
                s,
                measured.get(s.id),
                counts.get(s.id).copied().unwrap_or((0, 0)),
            )
        })
        .collect();
    let list_json = serde_json::to_vec(&DeviceList {
        devices: views.clone(),
    })
    .map_err(|e| StoreError::Internal(sqlx::Error::Decode(Box::new(e))))?;
    let digest = <sha2::Sha256 as sha2::Digest>::digest(&list_json);
    let etag = format!(
        "\"{}\"",
        digest[..12]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    Ok(Snapshot {
        etag,
        profiles: measured.values().map(|m| m.profile.clone()).collect(),
        measured,
        counts,
        views,
        list_json: web::Bytes::from(list_json),
    })
}

/// The cached snapshot, loaded when stale.
pub async fn snapshot(state: &AppState) -> Result<Arc<Snapshot>, StoreError> {
    state.devices.get_or_load(|| load(&state.pool)).await
}
