//! What every handler shares ([`AppState`]): the database pool, the limits of
//! request bodies and links, the rate limits, the public address, and the
//! device snapshot (the catalog merged with measured profiles, as
//! `shared::api` views), cached and reloaded on every change of a profile.

use crate::limits::{Public, RateLimits};
use crate::store::cache::{Cached, Got};
use crate::store::calibrations;
use crate::store::profiles::{self, coefficients, MeasuredProfile, Quorum};
use crate::store::{rfc3339, StoreError};
use actix_web::web;
use shared::api::{
    DeviceList, DeviceView, ProfileOrigin, Quorum as QuorumView, RunCounts, ValueInfo, ValueSource,
};
use shared::catalog::CATALOG;
use shared::device::{DeviceProfile, DeviceSpec};
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

/// How much of a request body is read, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub max: usize,
    pub timeout: Duration,
}

/// What a stored link may be, and how long it lives.
#[derive(Debug, Clone, Copy)]
pub struct LinkPolicy {
    /// Largest gzip-compressed canonical scenario, bytes.
    pub max_gzip: usize,
    pub expiry_days: Option<u32>,
}

/// What every handler shares.
pub struct AppState {
    pub pool: PgPool,
    /// Device list and measured profiles, reloaded on every change.
    pub devices: Cached<Snapshot>,
    pub body: BodyLimits,
    pub quorum: Quorum,
    pub links: LinkPolicy,
    pub public: Public,
    /// None when rate limits are off.
    pub limits: Option<RateLimits>,
    /// `host:port` the server listens on: the base of links when a request names no host.
    pub bound: String,
}

/// What the device endpoints and estimates read, cached (see `store::cache`).
pub struct Snapshot {
    pub measured: BTreeMap<String, MeasuredProfile>,
    pub counts: BTreeMap<String, (i64, i64)>,
    /// Measured profiles in use, as `shared::estimate::estimate` takes them.
    pub profiles: Vec<DeviceProfile>,
    pub views: Vec<DeviceView>,
    /// `GET /api/devices`, serialized once.
    pub list_json: web::Bytes,
    /// Its entity tag (a hash of the body).
    pub etag: String,
}

/// The built-in profile of every catalog device, computed once.
pub fn builtin_profiles() -> &'static [DeviceProfile] {
    static B: OnceLock<Vec<DeviceProfile>> = OnceLock::new();
    B.get_or_init(|| {
        CATALOG
            .iter()
            .map(shared::calibration::builtin_profile)
            .collect()
    })
}

/// A catalog device with the profile it uses: its measured profile when that
/// meets the quorum (or a version asked for by number), else the built-in
/// one, by the core's one rule.
pub fn view(
    spec: &DeviceSpec,
    measured: Option<&MeasuredProfile>,
    counts: (i64, i64),
    quorum: Quorum,
    asked_version: bool,
) -> DeviceView {
    let datasheet = coefficients(&spec.datasheet_profile());
    let used = measured.and_then(|m| {
        if asked_version {
            m.profile.as_ref()
        } else {
            m.in_use(quorum)
        }
    });
    let measured_profiles: Vec<DeviceProfile> = used.cloned().into_iter().collect();
    let profile = shared::resolve::device_profile(spec.id, &measured_profiles)
        .unwrap_or_else(|| shared::calibration::builtin_profile(spec));
    let origin = if measured_profiles.first() == Some(&profile) {
        ProfileOrigin::Measured
    } else {
        ProfileOrigin::Builtin
    };
    let in_use = measured.filter(|_| origin == ProfileOrigin::Measured);
    let values = coefficients(&profile)
        .into_iter()
        .map(|(k, v)| {
            let same = datasheet
                .get(&k)
                .is_some_and(|d| (d - v).abs() <= 1e-9 * d.abs().max(1e-12));
            let m = in_use.filter(|_| !same);
            let screen = m.and_then(|m| m.screen.get(&k));
            (
                k.clone(),
                ValueInfo {
                    value: v,
                    source: if same {
                        ValueSource::Datasheet
                    } else {
                        ValueSource::Measured
                    },
                    spread: m.and_then(|m| m.spread.get(&k).copied()),
                    mad: screen.map(|s| s.mad),
                    outliers: screen.map(|s| s.outliers),
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
        measured_version: in_use.map(|m| m.version),
        measured_at: in_use.map(|m| rfc3339(m.created_at)),
        runs: RunCounts {
            accepted: counts.0,
            flagged: counts.1,
            in_profile: in_use.map(|m| i64::from(m.run_count)).unwrap_or(0),
            quarantined: measured.map(|m| i64::from(m.quarantined_runs)),
        },
        values,
        quorum: measured.map(|m| {
            let runs = i64::from(m.eligible_runs);
            let tokens = i64::from(m.token_count);
            QuorumView {
                runs,
                tokens,
                min_runs: quorum.min_runs,
                min_tokens: quorum.min_tokens,
                met: m.profile.is_some() && runs >= quorum.min_runs && tokens >= quorum.min_tokens,
            }
        }),
    }
}

async fn load(pool: &sqlx::PgPool, quorum: Quorum) -> Result<Snapshot, StoreError> {
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
                quorum,
                false,
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
        profiles: measured
            .values()
            .filter_map(|m| m.in_use(quorum).cloned())
            .collect(),
        measured,
        counts,
        views,
        list_json: web::Bytes::from(list_json),
    })
}

/// The cached snapshot, loaded when stale; through an outage the last good
/// one (marked stale), or 503 at once for a short while after a failed load.
pub async fn snapshot(state: &AppState) -> Result<Got<Snapshot>, StoreError> {
    state
        .devices
        .get_or_load(
            || load(&state.pool, state.quorum),
            || StoreError::Unavailable(sqlx::Error::PoolTimedOut),
        )
        .await
}
