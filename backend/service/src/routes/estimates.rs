//! `POST /api/estimates` and `GET /api/estimates/{id}`: scenarios stored under a
//! short id, with the values they were estimated with pinned (`resolved`), so a
//! shared link keeps showing the numbers its author saw.
//!
//! A link is the canonical scenario (the typed scenario as the core reads it,
//! serialised): the same scenario gets the same id (by its SHA-256), its
//! gzip-compressed size is bounded, and its estimate is computed once, when
//! stored, and answered from the row while the estimator version is the same.

use super::estimate::{finite, read_scenario, EstimateError};
use super::{error_response, field_error, store_error_response};
use crate::state::AppState;
use crate::store::{estimates as store, rfc3339};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use shared::api::{Estimate, EstimateSource, Scenario, StoredEstimate};
use std::io::Write;

fn urls(req: &HttpRequest, state: &AppState, id: &str) -> (String, String) {
    let base = state
        .public
        .base_url(req.peer_addr(), req.headers(), &state.bound);
    (
        format!("{base}/api/estimates/{id}"),
        format!("{base}/?estimate={id}"),
    )
}

/// Size of `bytes` compressed with gzip (default level).
pub fn gzip_size(bytes: &[u8]) -> usize {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    match enc.write_all(bytes).and_then(|_| enc.finish()) {
        Ok(out) => out.len(),
        Err(_) => usize::MAX,
    }
}

fn too_large(size: usize, max: usize) -> HttpResponse {
    field_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "link_too_large",
        "scenario",
        format!(
            "a stored scenario may be at most {max} bytes gzip-compressed; this one is {size}. \
             An imported graph of a 70B model fits: drop pasted text, or estimate without storing (POST /api/estimate)"
        ),
    )
}

/// Store a scenario for sharing; its resolved values are pinned first.
#[utoipa::path(post, path = "/api/estimates", operation_id = "create_shared_estimate", tag = "estimates",
    request_body(content = Scenario, content_type = "application/json", description = "A scenario (docs/scenario.md)"),
    responses(
        (status = 201, description = "Stored; `Location` is its URL", body = StoredEstimate),
        (status = 200, description = "The same scenario was stored before: its link", body = StoredEstimate),
        (status = 400, description = "`invalid_json`", body = super::ErrorBody),
        (status = 408, description = "`body_timeout`", body = super::ErrorBody),
        (status = 413, description = "`body_too_large`, or `link_too_large` (over `max_link_gzip_bytes` compressed)", body = super::ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = super::ErrorBody),
        (status = 422, description = "`invalid_scenario`", body = super::ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = super::ErrorBody),
        (status = 503, description = "Database unavailable", body = super::ErrorBody),
    ))]
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, EstimateError> {
    let mut scenario = read_scenario(&req, payload, state.body).await?;
    // Refuse what cannot be stored before estimating it (its pinned values add a few kB).
    let max = state.links.max_gzip;
    let submitted = serde_json::to_vec(&scenario).map_err(|_| EstimateError::Serialize)?;
    let size = gzip_size(&submitted);
    if size > max {
        return Ok(too_large(size, max));
    }
    let snap = crate::state::snapshot(&state).await?;
    let profile_verified = match scenario.resolved {
        None => {
            let est = shared::estimate::estimate(&scenario, &snap.value.profiles)
                .map_err(EstimateError::Scenario)?;
            scenario.resolved = Some(est.resolved);
            true
        }
        Some(_) => super::verify::profile_verified(&state, Some(&snap.value), &scenario).await,
    };
    // What GET answers: the estimate of the pinned scenario.
    let estimate = shared::estimate::estimate(&scenario, &[]).map_err(EstimateError::Scenario)?;
    finite("estimate", &estimate)?;
    let canonical = serde_json::to_vec(&scenario).map_err(|_| EstimateError::Serialize)?;
    let size = gzip_size(&canonical);
    if size > max {
        return Ok(too_large(size, max));
    }
    let hash = <sha2::Sha256 as sha2::Digest>::digest(&canonical).to_vec();
    let value: serde_json::Value =
        serde_json::from_slice(&canonical).map_err(|_| EstimateError::Serialize)?;
    let estimate_json = serde_json::to_value(&estimate).map_err(|_| EstimateError::Serialize)?;
    let link = store::insert(
        &state.pool,
        &store::NewLink {
            scenario: &value,
            hash: &hash,
            estimate: &estimate_json,
            estimator_version: shared::ESTIMATOR_VERSION,
            profile_verified,
        },
    )
    .await?;
    let (url, page_url) = urls(&req, &state, &link.id);
    // A link stored before: its row, and 200 (nothing new was created).
    let created = link.created_at == link.refreshed_at;
    let mut r = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(r.insert_header((header::LOCATION, url.clone()))
        .json(StoredEstimate {
            id: link.id,
            url,
            page_url,
            created_at: rfc3339(link.created_at),
            scenario: link.scenario,
            estimate: None,
            estimate_source: None,
            profile_verified: link.profile_verified.unwrap_or(profile_verified),
        }))
}

/// A stored scenario and its estimate.
#[utoipa::path(get, path = "/api/estimates/{id}", operation_id = "get_shared_estimate", tag = "estimates",
    params(("id" = String, Path, description = "Short id from POST /api/estimates")),
    responses(
        (status = 200, description = "The stored scenario, with its estimate (`estimate_source`: `stored` or `recomputed`)", body = StoredEstimate),
        (status = 404, description = "`not_found`", body = super::ErrorBody),
        (status = 410, description = "`link_expired` (only with `link_expiry_days`)", body = super::ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = super::ErrorBody),
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
    let link = match store::get(&state.pool, &id).await {
        Ok(Some(l)) => l,
        Ok(None) => return not_found(),
        Err(e) => return store_error_response(&e),
    };
    if let Some(days) = state.links.expiry_days {
        if chrono::Utc::now() - link.refreshed_at > chrono::Duration::days(i64::from(days)) {
            return error_response(
                StatusCode::GONE,
                "link_expired",
                format!("this link expired: links not stored again for {days} days are removed"),
            );
        }
    }
    let stored = link
        .estimate
        .as_ref()
        .filter(|_| link.estimator_version.as_deref() == Some(shared::ESTIMATOR_VERSION))
        .and_then(|e| serde_json::from_value::<Estimate>(e.clone()).ok());
    let typed: Option<Scenario> = serde_json::from_value(link.scenario.clone()).ok();
    let (estimate, source) = match stored {
        Some(e) => (Some(e), EstimateSource::Stored),
        None => (
            typed
                .as_ref()
                .and_then(|s| shared::estimate::estimate(s, &[]).ok())
                .filter(|e| super::finite::non_finite_path(e).is_none()),
            EstimateSource::Recomputed,
        ),
    };
    let profile_verified = match (link.profile_verified, &typed) {
        (Some(v), _) => v,
        (None, Some(s)) => super::verify::profile_verified(&state, None, s).await,
        (None, None) => false,
    };
    if source == EstimateSource::Recomputed {
        if let Some(v) = estimate.as_ref().and_then(|e| serde_json::to_value(e).ok()) {
            // Kept for the next reader; a failure only costs a recomputation.
            let _ = store::update_estimate(
                &state.pool,
                &link.id,
                &v,
                shared::ESTIMATOR_VERSION,
                profile_verified,
            )
            .await;
        }
    }
    let (url, page_url) = urls(&req, &state, &link.id);
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        // A shared cache keys the answer by these too (gzip or not, CORS origin).
        .insert_header((header::VARY, "Accept-Encoding, Origin"))
        .json(StoredEstimate {
            id: link.id,
            url,
            page_url,
            created_at: rfc3339(link.created_at),
            scenario: link.scenario,
            estimate_source: estimate.as_ref().map(|_| source),
            estimate,
            profile_verified,
        })
}
