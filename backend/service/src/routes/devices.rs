//! `GET /api/devices`, `/api/devices/{id}`, `/api/devices/{id}/calibrations`:
//! the catalog merged with measured profiles.

use super::{error_response, store_error_response};
use crate::routes::calibrations::{authenticate, SubmitError};
use crate::state::{snapshot, view, AppState};
use crate::store::cache::Got;
use crate::store::{calibrations, profiles, StoreError};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use shared::api::{DeviceList, DeviceView, RunList};
use shared::catalog;
use shared::device::DeviceSpec;
use utoipa::IntoParams;

#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("no such device; GET /api/devices lists them")]
    UnknownDevice,
    #[error("this device has no measured profile of that version")]
    UnknownVersion,
    #[error("limit must be between 1 and 500")]
    BadLimit,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bearer token was sent and is not valid.
    #[error(transparent)]
    Auth(SubmitError),
}

impl actix_web::ResponseError for DeviceError {
    fn status_code(&self) -> StatusCode {
        self.error_response().status()
    }
    fn error_response(&self) -> HttpResponse {
        let msg = self.to_string();
        match self {
            DeviceError::UnknownDevice => {
                error_response(StatusCode::NOT_FOUND, "unknown_device", msg)
            }
            DeviceError::UnknownVersion => {
                error_response(StatusCode::NOT_FOUND, "unknown_version", msg)
            }
            DeviceError::BadLimit => {
                super::field_error(StatusCode::BAD_REQUEST, "invalid_query", "limit", msg)
            }
            DeviceError::Store(e) => store_error_response(e),
            DeviceError::Auth(e) => actix_web::ResponseError::error_response(e),
        }
    }
}

fn find_device(id: &str) -> Result<&'static DeviceSpec, DeviceError> {
    catalog::find(id).ok_or(DeviceError::UnknownDevice)
}

/// `X-Snapshot-Age` (seconds since the list was read from the database) and,
/// when the database could not be read, `X-Snapshot-Stale: true`.
fn age_headers<T>(r: &mut actix_web::HttpResponseBuilder, g: &Got<T>) {
    r.insert_header(("X-Snapshot-Age", g.age.as_secs().to_string()));
    if g.stale {
        r.insert_header(("X-Snapshot-Stale", "true"));
    }
}

/// The catalog with the profile each device uses now.
#[utoipa::path(get, path = "/api/devices", operation_id = "list_devices", tag = "devices",
    responses(
        (status = 200, description = "Every catalog device (with an `ETag`; `X-Snapshot-Age`, and `X-Snapshot-Stale: true` while the database cannot be read)", body = DeviceList),
        (status = 304, description = "Unchanged since the `If-None-Match` tag"),
        (status = 503, description = "Database unavailable", body = super::ErrorBody),
    ))]
pub async fn list(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, DeviceError> {
    let g = snapshot(&state).await?;
    let s = &g.value;
    let unchanged = req
        .headers()
        .get(actix_web::http::header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == s.etag || t.trim() == "*"));
    let mut r = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    r.insert_header(("Cache-Control", "no-cache"))
        .insert_header(("ETag", s.etag.clone()));
    age_headers(&mut r, &g);
    Ok(if unchanged {
        r.finish()
    } else {
        r.content_type("application/json").body(s.list_json.clone())
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VersionQuery {
    /// A measured-profile version number (`measured_version`): the profile as it was then.
    pub version: Option<i32>,
}

/// One device: catalog values, the profile in use (or a pinned version), run counts.
#[utoipa::path(get, path = "/api/devices/{id}", operation_id = "get_device", tag = "devices",
    params(("id" = String, Path, description = "Catalog id (`h100-sxm`) or NVML name"), VersionQuery),
    responses(
        (status = 200, description = "The device", body = DeviceView),
        (status = 404, description = "`unknown_device` or `unknown_version`", body = super::ErrorBody),
        (status = 503, description = "Database unavailable", body = super::ErrorBody),
    ))]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: super::Query<VersionQuery>,
) -> Result<HttpResponse, DeviceError> {
    let spec = find_device(&id)?;
    let g = snapshot(&state).await?;
    let snap = &g.value;
    let counts = snap.counts.get(spec.id).copied().unwrap_or((0, 0));
    let v = match q.version {
        None => view(
            spec,
            snap.measured.get(spec.id),
            counts,
            state.quorum,
            false,
        ),
        Some(version) => {
            let m = profiles::get_version(&state.pool, spec.id, version)
                .await?
                .filter(|m| m.profile.is_some())
                .ok_or(DeviceError::UnknownVersion)?;
            view(spec, Some(&m), counts, state.quorum, true)
        }
    };
    let mut r = HttpResponse::Ok();
    age_headers(&mut r, &g);
    Ok(r.json(v))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    /// How many runs, newest first (1-500, default 50).
    pub limit: Option<i64>,
}

/// A device's calibration runs, newest first, accepted and flagged. Host,
/// GPU UUID and driver are shown only to the token that submitted the run
/// (send it as `Authorization: Bearer`); everyone else gets `redacted: true`.
#[utoipa::path(get, path = "/api/devices/{id}/calibrations", operation_id = "list_device_calibrations", tag = "devices",
    params(("id" = String, Path, description = "Catalog id or NVML name"), RunsQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The runs", body = RunList),
        (status = 400, description = "`invalid_query`", body = super::ErrorBody),
        (status = 401, description = "A token was sent and is not valid (`invalid_token`, `revoked_token`)", body = super::ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = super::ErrorBody),
        (status = 404, description = "`unknown_device`", body = super::ErrorBody),
        (status = 503, description = "Database unavailable", body = super::ErrorBody),
    ))]
pub async fn calibrations(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
    q: super::Query<RunsQuery>,
) -> Result<HttpResponse, DeviceError> {
    let spec = find_device(&id)?;
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(DeviceError::BadLimit);
    }
    let viewer = match authenticate(&req, &state).await {
        Ok(t) => Some(t),
        Err(SubmitError::MissingToken) => None,
        Err(SubmitError::Store(e)) => return Err(DeviceError::Store(e)),
        Err(e) => return Err(DeviceError::Auth(e)),
    };
    let runs = calibrations::list(&state.pool, spec.id, limit).await?;
    Ok(HttpResponse::Ok()
        // The answer depends on the token: never from a shared cache.
        .insert_header(("Cache-Control", "private, no-store"))
        .json(RunList {
            device: spec.id.into(),
            runs: runs.into_iter().map(|r| r.into_api(viewer)).collect(),
        }))
}
