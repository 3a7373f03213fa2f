//! `quarantine_events`: an operator takes a run, or every run of a token, out
//! of the measured profiles and the accuracy table (`jouleprint admin
//! quarantine`), and may release it again. Nothing is deleted: runs stay
//! stored and listed, the events are append-only, and every affected device
//! gets a new profile version. A measured run (`POST /api/runs`) is taken out
//! by the same `--run ID`; the accuracy table reads the events when asked.

use super::{profiles, StoreError};
use chrono::{DateTime, Utc};
use sqlx::{PgPool, Row};
use uuid::Uuid;

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One calibration run or measured run, by its UUID.
    Run(Uuid),
    /// Every token with this id (digits) or name.
    Token(String),
}

impl Target {
    /// A run by its id as text (a UUID).
    pub fn run(id: &str) -> Option<Target> {
        Uuid::parse_str(id.trim()).ok().map(Target::Run)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quarantine,
    Unquarantine,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Quarantine => "quarantine",
            Action::Unquarantine => "unquarantine",
        }
    }
}

/// What an event did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Applied {
    /// Runs and tokens the event was recorded for.
    pub runs: u64,
    pub tokens: u64,
    /// Devices whose profile was recomputed, by catalog id.
    pub devices: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum QuarantineError {
    #[error("no calibration run or measured run has the id {0}")]
    UnknownRun(Uuid),
    #[error("no token has the id or name {0:?} (jouleprint token list)")]
    UnknownToken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for QuarantineError {
    fn from(e: sqlx::Error) -> Self {
        QuarantineError::Store(e.into())
    }
}

/// Record a (un)quarantine event for `target` and recompute the profiles of
/// the devices it touches.
pub async fn apply(
    pool: &PgPool,
    target: &Target,
    action: Action,
    reason: Option<&str>,
) -> Result<Applied, QuarantineError> {
    let mut done = Applied::default();
    let devices: Vec<String> = match target {
        Target::Run(run) => {
            let device: Option<String> =
                sqlx::query_scalar("SELECT device_id FROM calibration_runs WHERE run_id = $1")
                    .bind(run)
                    .fetch_optional(pool)
                    .await?;
            let column = match &device {
                Some(_) => "run_id",
                None => {
                    let measured: Option<i64> =
                        sqlx::query_scalar("SELECT id FROM measured_runs WHERE run_id = $1")
                            .bind(run)
                            .fetch_optional(pool)
                            .await?;
                    measured.ok_or(QuarantineError::UnknownRun(*run))?;
                    "measured_run_id"
                }
            };
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO quarantine_events (action, {column}, reason) VALUES ($1, $2, $3)"
            )))
            .bind(action.as_str())
            .bind(run)
            .bind(reason)
            .execute(pool)
            .await?;
            done.runs = 1;
            // A measured run is in no profile.
            device.into_iter().collect()
        }
        Target::Token(id_or_name) => {
            let ids: Vec<i64> = match id_or_name.parse::<i64>() {
                Ok(id) => {
                    sqlx::query_scalar("SELECT id FROM api_tokens WHERE id = $1")
                        .bind(id)
                        .fetch_all(pool)
                        .await?
                }
                Err(_) => {
                    sqlx::query_scalar("SELECT id FROM api_tokens WHERE name = $1")
                        .bind(id_or_name)
                        .fetch_all(pool)
                        .await?
                }
            };
            if ids.is_empty() {
                return Err(QuarantineError::UnknownToken(id_or_name.clone()));
            }
            sqlx::query(
                "INSERT INTO quarantine_events (action, token_id, reason) \
                 SELECT $1, id, $3 FROM UNNEST($2::int8[]) AS id",
            )
            .bind(action.as_str())
            .bind(&ids)
            .bind(reason)
            .execute(pool)
            .await?;
            done.tokens = ids.len() as u64;
            sqlx::query_scalar(
                "SELECT DISTINCT device_id FROM calibration_runs WHERE token_id = ANY($1) ORDER BY device_id",
            )
            .bind(&ids)
            .fetch_all(pool)
            .await?
        }
    };
    for d in &devices {
        profiles::recompute_device(pool, d).await?;
    }
    done.devices = devices;
    Ok(done)
}

/// A run or token whose newest event is a quarantine.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantined {
    /// `run <uuid>` or `token <id> (<name>)`.
    pub what: String,
    pub since: DateTime<Utc>,
    pub reason: Option<String>,
}

/// Everything quarantined now.
pub async fn list(pool: &PgPool) -> Result<Vec<Quarantined>, StoreError> {
    let rows = sqlx::query(
        "SELECT what, created_at, reason FROM ( \
           SELECT DISTINCT ON (q.run_id, q.token_id, q.measured_run_id) \
             CASE WHEN q.run_id IS NOT NULL THEN 'run ' || q.run_id::text \
                  WHEN q.measured_run_id IS NOT NULL THEN 'measured run ' || q.measured_run_id::text \
                  ELSE 'token ' || q.token_id || ' (' || t.name || ')' END AS what, \
             q.action, q.created_at, q.reason \
           FROM quarantine_events q LEFT JOIN api_tokens t ON t.id = q.token_id \
           ORDER BY q.run_id, q.token_id, q.measured_run_id, q.id DESC) last \
         WHERE action = 'quarantine' ORDER BY created_at",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Quarantined {
                what: r.try_get("what")?,
                since: r.try_get("created_at")?,
                reason: r.try_get("reason")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}
