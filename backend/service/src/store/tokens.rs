//! `api_tokens`: create, list, revoke, authenticate.

use super::StoreError;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Row};

#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Store a new token for `name`; returns its id and the token (shown once).
pub async fn create(pool: &PgPool, name: &str) -> Result<(i64, String), StoreError> {
    let token = crate::token::generate();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO api_tokens (name, token_hash) VALUES ($1, $2) RETURNING id",
    )
    .bind(name)
    .bind(crate::token::hash(&token))
    .fetch_one(pool)
    .await?;
    Ok((id, token))
}

pub async fn list(pool: &PgPool) -> Result<Vec<TokenInfo>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, name, created_at, last_used_at, revoked_at FROM api_tokens ORDER BY id",
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(TokenInfo {
                id: r.try_get("id")?,
                name: r.try_get("name")?,
                created_at: r.try_get("created_at")?,
                last_used_at: r.try_get("last_used_at")?,
                revoked_at: r.try_get("revoked_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

/// Revoke the token with this id, or every token with this name. Returns how many were revoked.
pub async fn revoke(pool: &PgPool, id_or_name: &str) -> Result<u64, StoreError> {
    let r =
        match id_or_name.parse::<i64>() {
            Ok(id) => {
                sqlx::query(
                    "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .execute(pool)
                .await?
            }
            Err(_) => sqlx::query(
                "UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL",
            )
            .bind(id_or_name)
            .execute(pool)
            .await?,
        };
    Ok(r.rows_affected())
}

/// What a presented token turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Valid { token_id: i64 },
    Revoked,
    Unknown,
}

/// Check a presented token and record its use, at most once an hour (a
/// write on every request would make each authenticated read a write).
pub async fn authenticate(pool: &PgPool, token: &str) -> Result<Auth, StoreError> {
    let row = sqlx::query(
        "SELECT id, revoked_at IS NOT NULL AS revoked, \
         (last_used_at IS NULL OR last_used_at < now() - interval '1 hour') AS due \
         FROM api_tokens WHERE token_hash = $1",
    )
    .bind(crate::token::hash(token))
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else {
        return Ok(Auth::Unknown);
    };
    if r.try_get::<bool, _>("revoked")? {
        return Ok(Auth::Revoked);
    }
    let token_id: i64 = r.try_get("id")?;
    if r.try_get::<bool, _>("due")? {
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = now() WHERE id = $1 \
             AND (last_used_at IS NULL OR last_used_at < now() - interval '1 hour')",
        )
        .bind(token_id)
        .execute(pool)
        .await?;
    }
    Ok(Auth::Valid { token_id })
}
