//! `calibration_runs` and `calibration_measurements`: append-only, idempotent by run UUID.

use super::{profiles, rfc3339, run_status, stored_run, StoreError};
use chrono::{DateTime, Utc};
use shared::api::RunStatus;
use shared::calibration::CalibrationRecord;
use shared::device::DeviceProfile;
use sqlx::{PgPool, Row};
use std::collections::BTreeMap;
use uuid::Uuid;

/// A validated run, ready to store.
pub struct NewRun<'a> {
    pub run_id: Uuid,
    pub device_id: &'a str,
    pub device_name: &'a str,
    pub token_id: Option<i64>,
    pub record: &'a CalibrationRecord,
    /// The record as received (stored as is).
    pub record_json: &'a serde_json::Value,
    pub profile: &'a DeviceProfile,
    pub status: RunStatus,
    pub flags: Vec<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Inserted {
    Created {
        status: RunStatus,
        profile_version: Option<i32>,
    },
    /// The same run, sent again: nothing written.
    Replayed { status: RunStatus },
    /// The run id exists with a different record.
    Conflict,
}

fn shape(m: &shared::calibration::Measurement) -> Option<String> {
    match (m.mnk, m.n) {
        (Some([a, b, c]), _) => Some(format!("{a}x{b}x{c}")),
        (None, Some(n)) => Some(format!("{n}x{n}x{n}")),
        _ => None,
    }
}

/// Store a run and its measurements in one transaction; when it is accepted,
/// recompute the device's profile in the same transaction.
pub async fn insert(pool: &PgPool, run: NewRun<'_>) -> Result<Inserted, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO devices (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
        .bind(run.device_id)
        .bind(run.device_name)
        .execute(&mut *tx)
        .await?;
    let rec = run.record;
    let cond = rec.conditions.clone().unwrap_or_default();
    let pk: Option<i64> = sqlx::query_scalar(
        "INSERT INTO calibration_runs (run_id, device_id, token_id, host, nvml_name, device_uuid, driver, \
         power_limit_mw, max_sm_clock_mhz, max_mem_clock_mhz, temperature_before_c, temperature_after_c, \
         tool_version, started_at, finished_at, status, flags, record, profile) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
         ON CONFLICT (run_id) DO NOTHING RETURNING id",
    )
    .bind(run.run_id)
    .bind(run.device_id)
    .bind(run.token_id)
    .bind(rec.host.as_deref())
    .bind(&rec.device.name)
    .bind(rec.device.uuid.as_deref())
    .bind(rec.device.driver.as_deref())
    .bind(i64::try_from(rec.device.power_limit_mw).unwrap_or(i64::MAX))
    .bind(rec.device.max_sm_clock.map(|c| c as i32))
    .bind(rec.device.max_mem_clock.map(|c| c as i32))
    .bind(cond.temperature_before_c)
    .bind(cond.temperature_after_c)
    .bind(rec.tool_version.as_deref())
    .bind(run.started_at)
    .bind(run.finished_at)
    .bind(run.status.as_str())
    .bind(&run.flags)
    .bind(sqlx::types::Json(run.record_json))
    .bind(sqlx::types::Json(run.profile))
    .fetch_optional(&mut *tx)
    .await?;

    let Some(pk) = pk else {
        tx.rollback().await?;
        let (status, same) = stored_run(
            pool,
            "SELECT record, status FROM calibration_runs WHERE run_id = $1",
            run.run_id,
            rec,
        )
        .await?;
        return Ok(if same {
            Inserted::Replayed { status }
        } else {
            Inserted::Conflict
        });
    };

    let n = rec.micro.len();
    let (mut idx, mut name, mut kind, mut prec, mut shp) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut steps, mut secs, mut joules, mut flops, mut bytes) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (i, m) in rec.micro.iter().enumerate() {
        idx.push(i as i32);
        name.push(m.name.clone());
        kind.push(m.kind.as_str().to_string());
        prec.push(m.dtype.clone());
        shp.push(shape(m));
        steps.push(i64::try_from(m.steps).unwrap_or(i64::MAX));
        secs.push(m.seconds);
        joules.push(m.joules);
        flops.push(m.flops_per_step);
        bytes.push(m.bytes_per_step);
    }
    sqlx::query(
        "INSERT INTO calibration_measurements (run_pk, idx, name, kind, precision, shape, steps, seconds, \
         joules, flops_per_step, bytes_per_step) \
         SELECT $1, * FROM UNNEST($2::int4[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[], \
         $8::float8[], $9::float8[], $10::float8[], $11::float8[])",
    )
    .bind(pk)
    .bind(&idx)
    .bind(&name)
    .bind(&kind)
    .bind(&prec)
    .bind(&shp)
    .bind(&steps)
    .bind(&secs)
    .bind(&joules)
    .bind(&flops)
    .bind(&bytes)
    .execute(&mut *tx)
    .await?;

    let mut profile_version = None;
    if run.status == RunStatus::Accepted {
        // One recomputation at a time per device. (NO KEY UPDATE: the runs'
        // foreign keys hold KEY SHARE locks on this row, which FOR UPDATE would
        // wait for, and deadlock.)
        sqlx::query("SELECT id FROM devices WHERE id = $1 FOR NO KEY UPDATE")
            .bind(run.device_id)
            .execute(&mut *tx)
            .await?;
        profile_version = Some(profiles::recompute(&mut tx, run.device_id).await?);
    }
    tx.commit().await?;
    Ok(Inserted::Created {
        status: run.status,
        profile_version,
    })
}

/// A row of `calibration_runs` as listed (see [`RunRow::into_api`]).
#[derive(Debug, Clone)]
pub struct RunRow {
    pub run_id: Uuid,
    /// The token that submitted it: it alone sees host, GPU UUID and driver.
    pub token_id: Option<i64>,
    pub status: RunStatus,
    pub flags: Vec<String>,
    pub host: Option<String>,
    pub nvml_name: String,
    pub device_uuid: Option<String>,
    pub driver: Option<String>,
    pub power_limit_w: f64,
    pub tool_version: Option<String>,
    pub temperature_before_c: Option<f64>,
    pub temperature_after_c: Option<f64>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub measurements: i64,
    /// The profile derived from this run alone.
    pub profile: DeviceProfile,
}

impl RunRow {
    /// The run as the API lists it to `viewer` (the token of an authenticated
    /// request): host, GPU UUID and driver only for the token that submitted it.
    pub fn into_api(self, viewer: Option<i64>) -> shared::api::RunSummary {
        let mine = viewer.is_some() && viewer == self.token_id;
        shared::api::RunSummary {
            run_id: self.run_id.to_string(),
            status: self.status,
            flags: self.flags,
            host: self.host.filter(|_| mine),
            nvml_name: self.nvml_name,
            device_uuid: self.device_uuid.filter(|_| mine),
            driver: self.driver.filter(|_| mine),
            redacted: !mine,
            power_limit_w: self.power_limit_w,
            tool_version: self.tool_version,
            temperature_before_c: self.temperature_before_c,
            temperature_after_c: self.temperature_after_c,
            started_at: self.started_at.map(rfc3339),
            finished_at: self.finished_at.map(rfc3339),
            received_at: rfc3339(self.received_at),
            measurements: self.measurements,
            profile: self.profile,
        }
    }
}

/// A device's runs, newest first.
pub async fn list(pool: &PgPool, device_id: &str, limit: i64) -> Result<Vec<RunRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT r.run_id, r.token_id, r.status, r.flags, r.host, r.nvml_name, r.device_uuid, r.driver, r.power_limit_mw, \
         r.tool_version, r.temperature_before_c, r.temperature_after_c, r.started_at, r.finished_at, \
         r.received_at, r.profile, \
         (SELECT count(*) FROM calibration_measurements m WHERE m.run_pk = r.id) AS measurements \
         FROM calibration_runs r WHERE r.device_id = $1 ORDER BY r.id DESC LIMIT $2",
    )
    .bind(device_id)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        // A row an older version stored with a profile that does not read
        // (a non-finite coefficient became null) is left out, not a 500.
        let profile: sqlx::types::Json<DeviceProfile> = match r.try_get("profile") {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "a stored run's profile does not read; left out of the list");
                continue;
            }
        };
        out.push(row(r, profile.0)?);
    }
    Ok(out)
}

fn row(r: &sqlx::postgres::PgRow, profile: DeviceProfile) -> Result<RunRow, StoreError> {
    (|| {
        Ok::<_, sqlx::Error>(RunRow {
            run_id: r.try_get("run_id")?,
            token_id: r.try_get("token_id")?,
            status: run_status(&r.try_get::<String, _>("status")?)?,
            flags: r.try_get("flags")?,
            host: r.try_get("host")?,
            nvml_name: r.try_get("nvml_name")?,
            device_uuid: r.try_get("device_uuid")?,
            driver: r.try_get("driver")?,
            power_limit_w: r.try_get::<i64, _>("power_limit_mw")? as f64 / 1000.0,
            tool_version: r.try_get("tool_version")?,
            temperature_before_c: r.try_get("temperature_before_c")?,
            temperature_after_c: r.try_get("temperature_after_c")?,
            started_at: r.try_get("started_at")?,
            finished_at: r.try_get("finished_at")?,
            received_at: r.try_get("received_at")?,
            measurements: r.try_get("measurements")?,
            profile,
        })
    })()
    .map_err(StoreError::from)
}

/// Accepted and flagged run counts per device.
pub async fn counts(pool: &PgPool) -> Result<BTreeMap<String, (i64, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT device_id, count(*) FILTER (WHERE status = 'accepted') AS accepted, \
         count(*) FILTER (WHERE status = 'flagged') AS flagged FROM calibration_runs GROUP BY device_id",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get::<String, _>("device_id")?,
                (r.try_get("accepted")?, r.try_get("flagged")?),
            ))
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}
