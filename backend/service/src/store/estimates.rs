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

/// Store a scenario; returns its new id and creation time.
pub async fn insert(
    pool: &PgPool,
    scenario: &serde_json::Value,
) -> Result<(String, DateTime<Utc>), StoreError> {
    loop {
        let id = new_id();
        let row = sqlx::query(
            "INSERT INTO shared_estimates (id, scenario) VALUES ($1, $2) \
             ON CONFLICT (id) DO NOTHING RETURNING created_at",
        )
        .bind(&id)
        .bind(sqlx::types::Json(scenario))
        .fetch_optional(pool)
        .await?;
        if let Some(r) = row {
            return Ok((id, r.try_get("created_at")?));
        }
    }
}

pub async fn get(
    pool: &PgPool,
    id: &str,
) -> Result<Option<(serde_json::Value, DateTime<Utc>)>, StoreError> {
    let row = sqlx::query("SELECT scenario, created_at FROM shared_estimates WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?;
    match row {
        None => Ok(None),
        Some(r) => {
            let s: sqlx::types::Json<serde_json::Value> = r.try_get("scenario")?;
            Ok(Some((s.0, r.try_get("created_at")?)))
        }
    }
}
