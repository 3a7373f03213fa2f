//! `measured_runs` and `measured_run_errors`: users' measured jobs, append-only
//! and idempotent by run UUID, and the estimator's error on each, one row per
//! estimator version (computed when stored, and again, as a new row, the first
//! time a run is read under a version that has none).

use super::{rfc3339, run_status, stored_run, StoreError};
use chrono::{DateTime, Utc};
use shared::api::{CaseAccuracy, MeasuredRunView, RunStatus, RunSubmission};
use shared::units::Range;
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

/// Runs whose errors are computed for a new estimator version in one read
/// (the rest on the next reads): about a millisecond each.
pub const REFRESH_BATCH: i64 = 2000;

/// A validated run, ready to store.
pub struct NewMeasuredRun<'a> {
    pub run_id: Uuid,
    pub device_id: &'a str,
    pub device_name: &'a str,
    pub token_id: i64,
    pub run: &'a RunSubmission,
    pub status: RunStatus,
    pub flags: Vec<String>,
    pub measured_at: Option<DateTime<Utc>>,
    /// The estimator's error on it now.
    pub errors: &'a CaseAccuracy,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Inserted {
    Created {
        status: RunStatus,
    },
    /// The same run, sent again: nothing written.
    Replayed {
        status: RunStatus,
    },
    /// The run id exists with a different run.
    Conflict,
}

/// Store a run and its errors under the current estimator version, in one transaction.
pub async fn insert(pool: &PgPool, r: NewMeasuredRun<'_>) -> Result<Inserted, StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO devices (id, name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING")
        .bind(r.device_id)
        .bind(r.device_name)
        .execute(&mut *tx)
        .await?;
    let c = &r.run.case;
    let pk: Option<i64> = sqlx::query_scalar(
        "INSERT INTO measured_runs (run_id, device_id, token_id, name, nvml_name, software, phase, \
         precision, joules_per_step, seconds_per_step, steps, window_s, status, flags, record, measured_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) \
         ON CONFLICT (run_id) DO NOTHING RETURNING id",
    )
    .bind(r.run_id)
    .bind(r.device_id)
    .bind(r.token_id)
    .bind(&c.name)
    .bind(&c.device)
    .bind(&c.framework)
    .bind(c.phase.as_str())
    .bind(c.precision.as_str())
    .bind(c.measured.joules_per_step)
    .bind(c.measured.seconds_per_step)
    .bind(i64::try_from(r.run.steps).unwrap_or(i64::MAX))
    .bind(r.run.window_s)
    .bind(r.status.as_str())
    .bind(&r.flags)
    .bind(sqlx::types::Json(r.run))
    .bind(r.measured_at)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(pk) = pk else {
        tx.rollback().await?;
        let (st, same) = stored_run(
            pool,
            "SELECT record, status FROM measured_runs WHERE run_id = $1",
            r.run_id,
            r.run,
        )
        .await?;
        return Ok(if same {
            Inserted::Replayed { status: st }
        } else {
            Inserted::Conflict
        });
    };
    insert_errors(&mut tx, pk, &Ok(r.errors.clone())).await?;
    tx.commit().await?;
    Ok(Inserted::Created { status: r.status })
}

/// One row of `measured_run_errors` for the current estimator version
/// (nothing when another process wrote it first).
async fn insert_errors(
    tx: &mut Transaction<'_, Postgres>,
    run_pk: i64,
    errors: &Result<CaseAccuracy, String>,
) -> Result<(), StoreError> {
    let (a, problem) = match errors {
        Ok(a) => (Some(a), None),
        Err(p) => (None, Some(p.as_str())),
    };
    let j = a.map(|a| a.estimated_joules_per_step);
    let t = a.map(|a| a.estimated_seconds_per_step);
    sqlx::query(
        "INSERT INTO measured_run_errors (run_pk, estimator_version, profile_version, \
         estimated_joules_low, estimated_joules, estimated_joules_high, \
         estimated_seconds_low, estimated_seconds, estimated_seconds_high, flops_per_step, \
         energy_error, time_error, energy_inside, time_inside, problem) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (run_pk, estimator_version) DO NOTHING",
    )
    .bind(run_pk)
    .bind(a.map_or(shared::ESTIMATOR_VERSION, |a| a.estimator_version.as_str()))
    .bind(a.map(|a| a.profile_version.as_str()))
    .bind(j.map(|r| r.low))
    .bind(j.map(|r| r.expected))
    .bind(j.map(|r| r.high))
    .bind(t.map(|r| r.low))
    .bind(t.map(|r| r.expected))
    .bind(t.map(|r| r.high))
    .bind(a.map(|a| a.flops_per_step))
    .bind(a.map(|a| a.energy_error))
    .bind(a.map(|a| a.time_error))
    .bind(a.map(|a| a.energy_inside))
    .bind(a.map(|a| a.time_inside))
    .bind(problem)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The estimator's error on a stored run, as the current version computes it
/// (the built-in device profiles: the estimator as released).
pub fn compute(run: &RunSubmission) -> Result<CaseAccuracy, String> {
    shared::validate::accuracy::case_accuracy(&run.case, &[]).map_err(|e| e.to_string())
}

/// Compute the errors of a device's runs that have none under the current
/// estimator version (after an upgrade), at most [`REFRESH_BATCH`] of them.
/// Returns how many were computed.
pub async fn refresh(pool: &PgPool, device_id: &str) -> Result<usize, StoreError> {
    let rows = sqlx::query(
        "SELECT r.id, r.record FROM measured_runs r WHERE r.device_id = $1 AND NOT EXISTS \
         (SELECT 1 FROM measured_run_errors e WHERE e.run_pk = r.id AND e.estimator_version = $2) \
         ORDER BY r.id DESC LIMIT $3",
    )
    .bind(device_id)
    .bind(shared::ESTIMATOR_VERSION)
    .bind(REFRESH_BATCH)
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin().await?;
    for r in &rows {
        let pk: i64 = r.try_get("id")?;
        let record: sqlx::types::Json<serde_json::Value> = r.try_get("record")?;
        let errors = serde_json::from_value::<RunSubmission>(record.0)
            .map_err(|e| format!("the stored run does not read: {e}"))
            .and_then(|run| compute(&run));
        insert_errors(&mut tx, pk, &errors).await?;
    }
    tx.commit().await?;
    Ok(rows.len())
}

/// Whether the newest quarantine event of the run, or of its token, is a quarantine.
const QUARANTINED: &str = "(EXISTS (SELECT 1 FROM (SELECT action FROM quarantine_events q \
        WHERE q.measured_run_id = r.run_id ORDER BY q.id DESC LIMIT 1) last WHERE last.action = 'quarantine') \
    OR EXISTS (SELECT 1 FROM (SELECT action FROM quarantine_events q WHERE q.token_id = r.token_id \
        ORDER BY q.id DESC LIMIT 1) last WHERE last.action = 'quarantine'))";

const ERROR_COLUMNS: &str = "e.estimator_version, e.profile_version, e.estimated_joules_low, \
    e.estimated_joules, e.estimated_joules_high, e.estimated_seconds_low, e.estimated_seconds, \
    e.estimated_seconds_high, e.flops_per_step, e.energy_error, e.time_error, e.energy_inside, \
    e.time_inside, e.problem";

/// The errors of a row (joined under the current version): `None` when there
/// is no row yet, `Some(Err(problem))` when the estimator cannot evaluate it.
fn errors_of(
    r: &sqlx::postgres::PgRow,
) -> Result<Option<Result<CaseAccuracy, String>>, sqlx::Error> {
    let Some(version) = r.try_get::<Option<String>, _>("estimator_version")? else {
        return Ok(None);
    };
    if let Some(p) = r.try_get::<Option<String>, _>("problem")? {
        return Ok(Some(Err(p)));
    }
    let f = |k: &str| -> Result<f64, sqlx::Error> {
        Ok(r.try_get::<Option<f64>, _>(k)?.unwrap_or(f64::NAN))
    };
    let b = |k: &str| -> Result<bool, sqlx::Error> {
        Ok(r.try_get::<Option<bool>, _>(k)?.unwrap_or(false))
    };
    Ok(Some(Ok(CaseAccuracy {
        estimator_version: version,
        profile_version: r
            .try_get::<Option<String>, _>("profile_version")?
            .unwrap_or_default(),
        estimated_joules_per_step: Range {
            low: f("estimated_joules_low")?,
            expected: f("estimated_joules")?,
            high: f("estimated_joules_high")?,
        },
        estimated_seconds_per_step: Range {
            low: f("estimated_seconds_low")?,
            expected: f("estimated_seconds")?,
            high: f("estimated_seconds_high")?,
        },
        flops_per_step: f("flops_per_step")?,
        energy_error: f("energy_error")?,
        time_error: f("time_error")?,
        energy_inside: b("energy_inside")?,
        time_inside: b("time_inside")?,
    })))
}

/// A run as listed.
#[derive(Debug, Clone)]
pub struct RunRow {
    pub run_id: Uuid,
    pub token_id: Option<i64>,
    pub status: RunStatus,
    pub flags: Vec<String>,
    pub quarantined: bool,
    pub run: RunSubmission,
    pub measured_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub errors: Option<Result<CaseAccuracy, String>>,
}

impl RunRow {
    /// The run as the API lists it to `viewer`: the environment only for the
    /// token that submitted it.
    pub fn into_api(self, viewer: Option<i64>) -> MeasuredRunView {
        let mine = viewer.is_some() && viewer == self.token_id;
        let (errors, problem) = match self.errors {
            Some(Ok(a)) => (Some(a), None),
            Some(Err(p)) => (None, Some(p)),
            None => (None, None),
        };
        MeasuredRunView {
            run_id: self.run_id.to_string(),
            status: self.status,
            flags: self.flags,
            quarantined: self.quarantined,
            case: self.run.case,
            steps: self.run.steps,
            window_s: self.run.window_s,
            environment: mine.then_some(self.run.environment),
            redacted: !mine,
            measured_at: self.measured_at.map(rfc3339),
            received_at: rfc3339(self.received_at),
            errors,
            problem,
        }
    }
}

/// A device's runs (of one software class, when given), newest first, with
/// their errors under the current estimator version.
pub async fn list(
    pool: &PgPool,
    device_id: &str,
    software: Option<&str>,
    limit: i64,
) -> Result<Vec<RunRow>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT r.run_id, r.token_id, r.status, r.flags, r.record, r.measured_at, r.received_at, \
         {QUARANTINED} AS quarantined, {ERROR_COLUMNS} \
         FROM measured_runs r LEFT JOIN measured_run_errors e \
           ON e.run_pk = r.id AND e.estimator_version = $2 \
         WHERE r.device_id = $1 AND ($3::text IS NULL OR r.software = $3) \
         ORDER BY r.id DESC LIMIT $4"
    )))
    .bind(device_id)
    .bind(shared::ESTIMATOR_VERSION)
    .bind(software)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let record: sqlx::types::Json<serde_json::Value> = r.try_get("record")?;
        let run: RunSubmission = match serde_json::from_value(record.0) {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "a stored measured run does not read; left out of the list");
                continue;
            }
        };
        out.push(RunRow {
            run_id: r.try_get("run_id")?,
            token_id: r.try_get("token_id")?,
            status: run_status(&r.try_get::<String, _>("status")?)?,
            flags: r.try_get("flags")?,
            quarantined: r.try_get("quarantined")?,
            run,
            measured_at: r.try_get("measured_at")?,
            received_at: r.try_get("received_at")?,
            errors: errors_of(r)?,
        });
    }
    Ok(out)
}

/// A run as the accuracy table reads it.
#[derive(Debug, Clone)]
pub struct ScoredRun {
    pub token_id: Option<i64>,
    pub software: String,
    pub phase: String,
    /// Accepted and not quarantined.
    pub eligible: bool,
    pub errors: Option<Result<CaseAccuracy, String>>,
}

/// Every run of a device (of one software class, when given), with its
/// errors under the current estimator version.
pub async fn scored(
    pool: &PgPool,
    device_id: &str,
    software: Option<&str>,
) -> Result<Vec<ScoredRun>, StoreError> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT r.token_id, r.software, r.phase, \
         (r.status = 'accepted' AND NOT {QUARANTINED}) AS eligible, {ERROR_COLUMNS} \
         FROM measured_runs r LEFT JOIN measured_run_errors e \
           ON e.run_pk = r.id AND e.estimator_version = $2 \
         WHERE r.device_id = $1 AND ($3::text IS NULL OR r.software = $3)"
    )))
    .bind(device_id)
    .bind(shared::ESTIMATOR_VERSION)
    .bind(software)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ScoredRun {
                token_id: r.try_get("token_id")?,
                software: r.try_get("software")?,
                phase: r.try_get("phase")?,
                eligible: r.try_get("eligible")?,
                errors: errors_of(r)?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}
