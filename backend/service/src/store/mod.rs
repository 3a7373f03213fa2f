//! Postgres access: one module per table group, plain `sqlx::query` with binds
//! (checked at run time, so building needs no database).

pub mod cache;
pub mod calibrations;
pub mod estimates;
pub mod profiles;
pub mod quarantine;
pub mod runs;
pub mod tokens;

use crate::config::{ConfigError, Settings};
use sqlx::postgres::{PgPool, PgPoolOptions};

/// The schema, embedded in the binary and applied at start.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Why a database call failed: the database could not be reached (the caller
/// answers 503 and may retry), or something else went wrong (500).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    #[error("database error")]
    Internal(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if is_unavailable(&e) {
            StoreError::Unavailable(e)
        } else {
            StoreError::Internal(e)
        }
    }
}

/// Connection failures, pool timeouts and the server going away.
fn is_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(d) => {
            let code = d.code();
            let code = code.as_deref().unwrap_or("");
            // 08: connection exception; 57: operator intervention (shutdown,
            // terminated); 53: insufficient resources; 55000: database not
            // accepting connections; 3D000: database does not exist.
            code.starts_with("08")
                || code.starts_with("57")
                || code.starts_with("53")
                || code == "55000"
                || code == "3D000"
        }
        _ => false,
    }
}

/// A pool that connects on first use (the server starts even when the database
/// is briefly away, and recovers by itself when it comes back).
pub fn pool(settings: &Settings) -> Result<PgPool, ConfigError> {
    let opts = settings.connect_options()?;
    Ok(PgPoolOptions::new()
        .max_connections(settings.db_max_connections)
        .acquire_timeout(settings.db_acquire_timeout())
        .connect_lazy_with(opts))
}

/// A stored time as the API writes it (`shared::api`): RFC 3339, UTC, with
/// the fraction of a second only when there is one (as chrono's serde writes it).
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A `status` column read back (the tables' check constraints allow only the
/// names of [`shared::api::RunStatus`]).
pub fn run_status(s: &str) -> Result<shared::api::RunStatus, sqlx::Error> {
    shared::api::RunStatus::parse(s)
        .ok_or_else(|| sqlx::Error::Decode(format!("run status `{s}`").into()))
}

/// SHA-256 of a typed record's canonical JSON: serialised with its fields in
/// declaration order and numbers in their shortest round-trip form, so a
/// resend with other number spellings (JSONB keeps `1e+16` as
/// 10000000000000000) hashes the same.
pub fn canonical_hash<T: serde::Serialize>(rec: &T) -> Vec<u8> {
    let bytes = serde_json::to_vec(rec).unwrap_or_default();
    <sha2::Sha256 as sha2::Digest>::digest(&bytes).to_vec()
}

/// For a run id already stored (`select` reads the `record` and `status` of
/// one run id, `$1`, from an append-only run table): its status, and whether
/// its record is `rec` as typed (a replay) or another one (a conflict).
pub async fn stored_run<T>(
    pool: &PgPool,
    select: &'static str,
    run_id: uuid::Uuid,
    rec: &T,
) -> Result<(shared::api::RunStatus, bool), sqlx::Error>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    use sqlx::Row;
    let row = sqlx::query(select).bind(run_id).fetch_one(pool).await?;
    let stored: sqlx::types::Json<serde_json::Value> = row.try_get("record")?;
    let status = run_status(&row.try_get::<String, _>("status")?)?;
    let same = serde_json::from_value::<T>(stored.0)
        .ok()
        .map(|r| canonical_hash(&r))
        == Some(canonical_hash(rec));
    Ok((status, same))
}

/// Apply the embedded migrations.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}
