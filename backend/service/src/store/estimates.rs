//! `shared_estimates`: scenarios stored under a short id.

use super::StoreError;
use chrono::{DateTime, Utc};
use rand::Rng;
use sqlx::{PgPool, Row};

const ALPHABET: &[u8] = b"0123456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ";
/// Short ids: 10 characters of a 58-letter alphabet (about 58 bits).
pub const ID_LEN: usize = 10;

fn new_id() -> String {
    let mut rng = rand::rng();
    (0..ID_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Whether `s` could be a short id (checked before any query).
pub fn is_valid_id(s: &str) -> bool {
    s.len() == ID_LEN && s.bytes().all(|b| ALPHABET.contains(&b))
}

/// A scenario to store, with what was computed from it.
pub struct NewLink<'a> {
    /// The canonical scenario (`resolved` pinned).
    pub scenario: &'a serde_json::Value,
    /// SHA-256 of its canonical JSON: the same scenario gets the same link.
    pub hash: &'a [u8],
    pub estimate: &'a serde_json::Value,
    pub estimator_version: &'a str,
    pub profile_verified: bool,
}

/// A stored link.
#[derive(Debug, Clone)]
pub struct Link {
    pub id: String,
    pub scenario: serde_json::Value,
    pub created_at: DateTime<Utc>,
    /// The last time this scenario was stored (expiry counts from it).
    pub refreshed_at: DateTime<Utc>,
    pub estimate: Option<serde_json::Value>,
    pub estimator_version: Option<String>,
    pub profile_verified: Option<bool>,
}

const COLUMNS: &str =
    "id, scenario, created_at, refreshed_at, estimate, estimator_version, profile_verified";

fn from_row(r: &sqlx::postgres::PgRow) -> Result<Link, sqlx::Error> {
    let scenario: sqlx::types::Json<serde_json::Value> = r.try_get("scenario")?;
    let estimate: Option<sqlx::types::Json<serde_json::Value>> = r.try_get("estimate")?;
    Ok(Link {
        id: r.try_get("id")?,
        scenario: scenario.0,
        created_at: r.try_get("created_at")?,
        refreshed_at: r.try_get("refreshed_at")?,
        estimate: estimate.map(|e| e.0),
        estimator_version: r.try_get("estimator_version")?,
        profile_verified: r.try_get("profile_verified")?,
    })
}

/// Store a scenario, or find the link it already has (then its expiry starts
/// again). Returns the link as stored.
pub async fn insert(pool: &PgPool, new: &NewLink<'_>) -> Result<Link, StoreError> {
    loop {
        let id = new_id();
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO shared_estimates (id, scenario, scenario_hash, estimate, estimator_version, profile_verified) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (scenario_hash) DO UPDATE SET refreshed_at = now() \
             RETURNING {COLUMNS}"
        )))
        .bind(&id)
        .bind(sqlx::types::Json(new.scenario))
        .bind(new.hash)
        .bind(sqlx::types::Json(new.estimate))
        .bind(new.estimator_version)
        .bind(new.profile_verified)
        .fetch_one(pool)
        .await;
        match row {
            Ok(r) => return Ok(from_row(&r)?),
            // The random id is taken (about one in 2^58): draw another.
            Err(sqlx::Error::Database(d)) if d.constraint() == Some("shared_estimates_pkey") => {}
            Err(e) => return Err(e.into()),
        }
    }
}

pub async fn get(pool: &PgPool, id: &str) -> Result<Option<Link>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM shared_estimates WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Keep an estimate computed for a link by another estimator version than the
/// stored one (or for a link stored before estimates were).
pub async fn update_estimate(
    pool: &PgPool,
    id: &str,
    estimate: &serde_json::Value,
    estimator_version: &str,
    profile_verified: bool,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE shared_estimates SET estimate = $2, estimator_version = $3, profile_verified = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(sqlx::types::Json(estimate))
    .bind(estimator_version)
    .bind(profile_verified)
    .execute(pool)
    .await?;
    Ok(())
}

/// Delete links not stored again for `days` days; returns how many.
pub async fn purge_expired(pool: &PgPool, days: u32) -> Result<u64, StoreError> {
    let r = sqlx::query(
        "DELETE FROM shared_estimates WHERE refreshed_at < now() - make_interval(days => $1)",
    )
    .bind(days as i32)
    .execute(pool)
    .await?;
    Ok(r.rows_affected())
}
