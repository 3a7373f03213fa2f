//! `device_profiles`: a device's measured profile is the median of each
//! coefficient over its latest accepted runs (at most [`MAX_RUNS`]), with a new
//! version each time a run is accepted.

use super::StoreError;
use chrono::{DateTime, Utc};
use serde_json::Value;
use shared::device::{DeviceProfile, ProfileSource};
use sqlx::{PgPool, Postgres, Row, Transaction};
use std::collections::BTreeMap;

/// Runs a profile is the median of.
pub const MAX_RUNS: i64 = 20;

/// The channel every process listens on to drop its cached device list.
pub const CHANGED_CHANNEL: &str = "jouleprint_profiles_changed";

/// A row of `device_profiles`.
#[derive(Debug, Clone)]
pub struct MeasuredProfile {
    pub device_id: String,
    pub version: i32,
    pub profile: DeviceProfile,
    pub run_count: i32,
    /// Relative spread ((max - min) / median) of each coefficient, by path (`idle_w`, `gemm_tflops.bf16`).
    pub spread: BTreeMap<String, f64>,
    pub run_ids: Vec<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
}

/// The version string a scenario pins (`resolved.device.source.version`).
pub fn version_label(device_id: &str, version: i32) -> String {
    format!("measured:{device_id}:v{version}")
}

/// Numeric coefficients of a profile by path (`idle_w`, `gemm_tflops.bf16`).
pub fn coefficients(p: &DeviceProfile) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    if let Ok(Value::Object(m)) = serde_json::to_value(p) {
        for (k, v) in m {
            match v {
                Value::Number(n) => {
                    if let Some(x) = n.as_f64() {
                        out.insert(k, x);
                    }
                }
                Value::Object(inner) => {
                    for (k2, v2) in inner {
                        if let Some(x) = v2.as_f64() {
                            out.insert(format!("{k}.{k2}"), x);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// The median profile of `runs` (newest first), and each coefficient's spread.
/// Coefficients some runs lack take the median of the runs that have them.
pub fn combine(
    device_id: &str,
    version: i32,
    runs: &[DeviceProfile],
) -> Option<(DeviceProfile, BTreeMap<String, f64>)> {
    let newest = runs.first()?;
    let mut values: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for p in runs {
        for (k, v) in coefficients(p) {
            values.entry(k).or_default().push(v);
        }
    }
    let mut doc = serde_json::to_value(newest).ok()?;
    let mut spread = BTreeMap::new();
    for (k, vs) in values {
        let (min, max) = vs
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(*x), b.max(*x))
            });
        // Every list holds at least the value of the run that put the key there.
        let Some(m) = shared::stats::median(&vs) else {
            continue;
        };
        spread.insert(
            k.clone(),
            if m.abs() > 0.0 {
                (max - min) / m.abs()
            } else {
                0.0
            },
        );
        let slot = match k.split_once('.') {
            Some((a, b)) => doc.get_mut(a).and_then(|o| o.get_mut(b)),
            None => doc.get_mut(&k),
        };
        match slot {
            // counts (SMs, devices per domain) stay whole numbers
            Some(slot) if slot.is_u64() => *slot = Value::from(m.round().max(0.0) as u64),
            Some(slot) => {
                if let Some(n) = serde_json::Number::from_f64(m) {
                    *slot = Value::Number(n);
                }
            }
            None => {}
        }
    }
    let mut p: DeviceProfile = serde_json::from_value(doc).ok()?;
    p.source = ProfileSource {
        kind: "measured".into(),
        detail: format!(
            "median of {} accepted calibration run{} (jouleprint server)",
            runs.len(),
            if runs.len() == 1 { "" } else { "s" }
        ),
        version: version_label(device_id, version),
    };
    Some((p, spread))
}

fn from_row(r: &sqlx::postgres::PgRow) -> Result<MeasuredProfile, StoreError> {
    let profile: sqlx::types::Json<DeviceProfile> = r.try_get("profile")?;
    let spread: sqlx::types::Json<BTreeMap<String, f64>> = r.try_get("spread")?;
    Ok(MeasuredProfile {
        device_id: r.try_get("device_id")?,
        version: r.try_get("version")?,
        profile: profile.0,
        run_count: r.try_get("run_count")?,
        spread: spread.0,
        run_ids: r.try_get("run_ids")?,
        created_at: r.try_get("created_at")?,
    })
}

/// The current profile of every device that has one.
pub async fn current_all(pool: &PgPool) -> Result<Vec<MeasuredProfile>, StoreError> {
    let rows = sqlx::query(
        "SELECT DISTINCT ON (device_id) device_id, version, profile, run_count, spread, run_ids, created_at \
         FROM device_profiles ORDER BY device_id, version DESC",
    )
    .fetch_all(pool)
    .await?;
    rows.iter().map(from_row).collect()
}

/// One version of a device's profile.
pub async fn get_version(
    pool: &PgPool,
    device_id: &str,
    version: i32,
) -> Result<Option<MeasuredProfile>, StoreError> {
    let row = sqlx::query(
        "SELECT device_id, version, profile, run_count, spread, run_ids, created_at \
         FROM device_profiles WHERE device_id = $1 AND version = $2",
    )
    .bind(device_id)
    .bind(version)
    .fetch_optional(pool)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Recompute a device's profile from its latest accepted runs, inside the
/// transaction that accepted a run (the caller holds the device's row lock).
pub async fn recompute(
    tx: &mut Transaction<'_, Postgres>,
    device_id: &str,
) -> Result<Option<i32>, StoreError> {
    let rows = sqlx::query(
        "SELECT run_id, profile FROM calibration_runs \
         WHERE device_id = $1 AND status = 'accepted' ORDER BY id DESC LIMIT $2",
    )
    .bind(device_id)
    .bind(MAX_RUNS)
    .fetch_all(&mut **tx)
    .await?;
    let mut profiles = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    for r in &rows {
        let p: sqlx::types::Json<DeviceProfile> = r.try_get("profile")?;
        profiles.push(p.0);
        ids.push(r.try_get::<uuid::Uuid, _>("run_id")?);
    }
    let version: i32 = sqlx::query_scalar(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM device_profiles WHERE device_id = $1",
    )
    .bind(device_id)
    .fetch_one(&mut **tx)
    .await?;
    let Some((profile, spread)) = combine(device_id, version, &profiles) else {
        return Ok(None);
    };
    sqlx::query(
        "INSERT INTO device_profiles (device_id, version, profile, run_count, spread, run_ids) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(device_id)
    .bind(version)
    .bind(sqlx::types::Json(&profile))
    .bind(profiles.len() as i32)
    .bind(sqlx::types::Json(&spread))
    .bind(&ids)
    .execute(&mut **tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANGED_CHANNEL)
        .bind(device_id)
        .execute(&mut **tx)
        .await?;
    Ok(Some(version))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> DeviceProfile {
        shared::catalog::CATALOG[0].datasheet_profile()
    }

    #[test]
    fn median_of_each_coefficient() {
        let mut a = base();
        let mut b = base();
        let mut c = base();
        a.idle_w = 100.0;
        b.idle_w = 120.0;
        c.idle_w = 110.0;
        c.gemm_tflops.clear();
        let (p, spread) = combine("h100-sxm", 3, &[a.clone(), b, c]).expect("combine");
        assert_eq!(p.idle_w, 110.0);
        assert_eq!(p.source.kind, "measured");
        assert_eq!(p.source.version, "measured:h100-sxm:v3");
        assert!((spread["idle_w"] - 20.0 / 110.0).abs() < 1e-12);
        // Present in two runs only: still their median.
        assert_eq!(p.gemm_tflops, a.gemm_tflops);
        assert_eq!(spread["memory_gb"], 0.0);
    }

    #[test]
    fn even_count_takes_the_mean_of_the_middle_two() {
        let mut a = base();
        let mut b = base();
        a.idle_w = 100.0;
        b.idle_w = 130.0;
        let (p, _) = combine("h100-sxm", 1, &[a, b]).expect("combine");
        assert_eq!(p.idle_w, 115.0);
        assert!(combine("x", 1, &[]).is_none());
    }
}
