//! `GET /api/health`: the process is up, and whether the database answers.

use super::store_error_response;
use crate::state::AppState;
use crate::store::StoreError;
use actix_web::{web, HttpResponse};
use shared::api::Health;

/// Liveness and database reachability.
#[utoipa::path(get, path = "/api/health", operation_id = "health", tag = "health",
    responses(
        (status = 200, description = "Up, and the database answers", body = Health),
        (status = 503, description = "The database does not answer (`database_unavailable`)", body = super::ErrorBody),
    ))]
pub async fn health(state: web::Data<AppState>) -> HttpResponse {
    match sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&state.pool)
        .await
        .map_err(StoreError::from)
    {
        Ok(_) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(Health {
                status: "ok".into(),
                database: "ok".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                estimator_version: shared::ESTIMATOR_VERSION.into(),
            }),
        Err(e) => store_error_response(&StoreError::Unavailable(match e {
            StoreError::Unavailable(c) | StoreError::Internal(c) => c,
        })),
    }
}
