//! Whether the measured profiles a scenario pins are this server's: a
//! `measured:...` label is checked against the profile the server made under
//! it (a stored version `measured:<device>:v<N>` that met the quorum, a
//! stored run `measured:<run uuid>`, or a built-in reference calibration),
//! coefficient for coefficient. Anything else under a measured label (a
//! forged label, real numbers under another label, a version the server never
//! used) is "not verified"; the page says so. Datasheet profiles are not
//! measured claims and pass.

use crate::state::{builtin_profiles, AppState, Snapshot};
use crate::store::profiles;
use shared::device::DeviceProfile;
use shared::scenario::Scenario;
use sqlx::Row;

fn is_measured_claim(p: &DeviceProfile) -> bool {
    p.source.kind == "measured" || p.source.version.starts_with("measured")
}

/// Every pinned profile of `s` is what this server made under its label (true
/// when nothing is pinned: the server resolves it itself). False when the
/// database is needed and cannot be read.
pub async fn profile_verified(state: &AppState, snap: Option<&Snapshot>, s: &Scenario) -> bool {
    let Some(r) = &s.resolved else {
        return true;
    };
    for p in std::iter::once(&r.device).chain(r.stage_devices.iter()) {
        if is_measured_claim(p) && !verified(state, snap, p).await {
            return false;
        }
    }
    true
}

async fn verified(state: &AppState, snap: Option<&Snapshot>, p: &DeviceProfile) -> bool {
    if builtin_profiles().iter().any(|b| b == p) {
        return true;
    }
    let label = p.source.version.as_str();
    if let Some((device, version)) = profiles::parse_label(label) {
        if let Some(m) = snap.and_then(|s| s.measured.get(device)) {
            if m.version == version {
                return m.in_use(state.quorum) == Some(p);
            }
        }
        return match profiles::get_version(&state.pool, device, version).await {
            Ok(Some(m)) => m.in_use(state.quorum) == Some(p),
            _ => false,
        };
    }
    // A single run's profile (a calibration file given to the CLI, then shared).
    let Some(run) = label
        .strip_prefix("measured:")
        .and_then(|r| uuid::Uuid::parse_str(r).ok())
    else {
        return false;
    };
    let row = sqlx::query(
        "SELECT profile FROM calibration_runs WHERE run_id = $1 AND status = 'accepted'",
    )
    .bind(run)
    .fetch_optional(&state.pool)
    .await;
    match row {
        Ok(Some(r)) => r
            .try_get::<sqlx::types::Json<DeviceProfile>, _>("profile")
            .is_ok_and(|stored| stored.0 == *p),
        _ => false,
    }
}
