//! `POST /api/estimate`: a scenario in, the estimate out, with the server's
//! measured device profiles (the same numbers as the CLI given the same
//! profiles). It writes nothing, so it works without the database: then with
//! the built-in profiles, and a warning saying so.

use super::body::{parse_json, read_text, BodyError};
use super::store_error_response;
use crate::state::{AppState, BodyLimits};
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use shared::api::{EstimateAnswer, Scenario};
use shared::{InputError, InputErrors};

/// The warning of an estimate made without the server's measured profiles.
pub const NO_MEASURED: &str = "measured profiles are unavailable (the database cannot be reached): the built-in device profiles were used";

#[derive(Debug, thiserror::Error)]
pub enum EstimateError {
    #[error(transparent)]
    Body(#[from] BodyError),
    /// The body is not JSON: where the text breaks, as the core reads it.
    #[error("{0}")]
    Syntax(InputErrors),
    /// The scenario does not parse, or cannot be estimated: the client's fault.
    #[error("{0}")]
    Scenario(InputErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the estimate could not be serialized")]
    Serialize,
    /// The scenario's numbers overflow together: the answer would hold a
    /// number that is not finite.
    #[error("{0}")]
    NonFinite(InputErrors),
}

impl ResponseError for EstimateError {
    fn status_code(&self) -> StatusCode {
        self.error_response().status()
    }
    fn error_response(&self) -> HttpResponse {
        match self {
            EstimateError::Body(b) => b.response(),
            EstimateError::Syntax(e) => {
                super::input_errors_with(StatusCode::BAD_REQUEST, "invalid_json", e)
            }
            EstimateError::Scenario(e) => super::input_errors("invalid_scenario", e),
            EstimateError::Store(e) => store_error_response(e),
            EstimateError::Serialize => super::internal_error(),
            EstimateError::NonFinite(e) => super::input_errors("invalid_scenario", e),
        }
    }
}

/// Parse a scenario body (content type, size, syntax, fields). Text that is
/// not JSON is `400 invalid_json`, with where it breaks in `errors[]` (the
/// field paths the CLI prints for the same text).
pub async fn read_scenario(
    req: &HttpRequest,
    payload: web::Payload,
    limit: BodyLimits,
) -> Result<Scenario, EstimateError> {
    let text = read_text(req, payload, limit).await?;
    if let Err(e) = parse_json(&text) {
        return Err(match (&e, shared::estimate::parse_scenario(&text)) {
            (BodyError::Syntax(_), Err(errors)) => EstimateError::Syntax(errors),
            _ => EstimateError::Body(e),
        });
    }
    shared::estimate::parse_scenario(&text).map_err(EstimateError::Scenario)
}

/// Refuse an answer holding a number that is not finite, naming where.
pub fn finite<T: serde::Serialize>(what: &str, v: &T) -> Result<(), EstimateError> {
    match super::finite::non_finite_path(v) {
        None => Ok(()),
        Some(path) => Err(EstimateError::NonFinite(InputErrors(vec![InputError::new(
            format!("{what}.{path}"),
            "is not a finite number: the scenario's numbers overflow together (FLOPs, steps, devices, pinned rates); make them smaller",
        )]))),
    }
}

/// Estimate a scenario (format: docs/scenario.md).
#[utoipa::path(post, path = "/api/estimate", operation_id = "estimate", tag = "estimates",
    request_body(content = Scenario, content_type = "application/json",
        description = "A scenario (docs/scenario.md), e.g. {\"version\":1,\"model\":{\"preset\":\"gpt2\"},...}"),
    responses(
        (status = 200, description = "The estimate, with its what-ifs (docs/scenario.md), and whether its pinned profiles are this server's", body = EstimateAnswer),
        (status = 400, description = "`invalid_json` (where the text breaks in `errors[]`)", body = super::ErrorBody),
        (status = 408, description = "`body_timeout`", body = super::ErrorBody),
        (status = 413, description = "`body_too_large`", body = super::ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = super::ErrorBody),
        (status = 422, description = "`invalid_scenario` (every problem in `errors[]`, the first in `field`; `estimate.*` when the numbers overflow) or `invalid_text`", body = super::ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = super::ErrorBody),
    ))]
pub async fn estimate(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, EstimateError> {
    let scenario = read_scenario(&req, payload, state.body).await?;
    let snap = crate::state::snapshot(&state).await.ok();
    let measured = snap
        .as_ref()
        .map(|g| g.value.profiles.as_slice())
        .unwrap_or(&[]);
    let mut est =
        shared::estimate::estimate(&scenario, measured).map_err(EstimateError::Scenario)?;
    if snap.is_none() {
        est.warnings.push(NO_MEASURED.into());
    }
    let profile_verified =
        super::verify::profile_verified(&state, snap.as_ref().map(|g| g.value.as_ref()), &scenario)
            .await;
    let answer = EstimateAnswer {
        estimate: est,
        profile_verified,
    };
    finite("estimate", &answer)?;
    let body = serde_json::to_vec(&answer).map_err(|_| EstimateError::Serialize)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}
