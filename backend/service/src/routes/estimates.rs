//! `POST /api/estimates` and `GET /api/estimates/{id}`: scenarios stored under a
//! short id, with the values they were estimated with pinned (`resolved`), so a
//! shared link keeps showing the numbers its author saw.

use super::estimate::{read_scenario, EstimateError};
use super::{error_response, store_error_response};
use crate::state::AppState;
use crate::store::{estimates as store, rfc3339};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use shared::api::{Scenario, StoredEstimate};

fn urls(req: &HttpRequest, id: &str) -> (String, String) {
    let ci = req.connection_info();
    let base = format!("{}://{}", ci.scheme(), ci.host());
    (
        format!("{base}/api/estimates/{id}"),
        format!("{base}/?estimate={id}"),
    )
}

/// Store a scenario for sharing; its resolved values are pinned first.
#[utoipa::path(post, path = "/api/estimates", operation_id = "create_shared_estimate", tag = "estimates",
    request_body(content = Scenario, content_type = "application/json", description = "A scenario (docs/scenario.md)"),
    responses(
        (status = 201, description = "Stored; `Location` is its URL", body = StoredEstimate),
        (status = 400, description = "`invalid_json`", body = super::ErrorBody),
        (status = 413, description = "`body_too_large`", body = super::ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = super::ErrorBody),
        (status = 422, description = "`invalid_scenario`", body = super::ErrorBody),
        (status = 503, description = "Database unavailable", body = super::ErrorBody),
    ))]
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, EstimateError> {
    let mut scenario = read_scenario(&req, payload, state.max_body).await?;
    if scenario.resolved.is_none() {
        let snap = crate::state::snapshot(&state).await?;
        let est = shared::estimate::estimate(&scenario, &snap.profiles)
            .map_err(EstimateError::Scenario)?;
        scenario.resolved = Some(est.resolved);
    }
    let value = serde_json::to_value(&scenario).map_err(|_| EstimateError::Serialize)?;
    let (id, created_at) = store::insert(&state.pool, &value).await?;
    let (url, page_url) = urls(&req, &id);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, url.clone()))
        .json(StoredEstimate {
            id,
            url,
            page_url,
            created_at: rfc3339(created_at),
            scenario: value,
            estimate: None,
        }))
}

/// A stored scenario and its estimate.
#[utoipa::path(get, path = "/api/estimates/{id}", operation_id = "get_shared_estimate", tag = "estimates",
    params(("id" = String, Path, description = "Short id from POST /api/estimates")),
    responses(
        (status = 200, description = "The stored scenario", body = StoredEstimate),
        (status = 404, description = "`not_found`", body = super::ErrorBody),
        (status = 503, description = "Database unavailable", body = super::ErrorBody),
    ))]
pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> HttpResponse {
    let not_found = || {
        error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            "no stored estimate has this id",
        )
    };
    if !store::is_valid_id(&id) {
        return not_found();
    }
    match store::get(&state.pool, &id).await {
        Ok(Some((scenario, created_at))) => {
            let estimate = serde_json::from_value(scenario.clone())
                .ok()
                .and_then(|s| shared::estimate::estimate(&s, &[]).ok());
            let (url, page_url) = urls(&req, &id);
            HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
                .json(StoredEstimate {
                    id: id.into_inner(),
                    url,
                    page_url,
                    created_at: rfc3339(created_at),
                    scenario,
                    estimate,
                })
        }
        Ok(None) => not_found(),
        Err(e) => store_error_response(&e),
    }
}
