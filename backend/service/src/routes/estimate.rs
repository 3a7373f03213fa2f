//! `POST /api/estimate`: a scenario in, the estimate out, with the server's
//! measured device profiles (the same numbers as the CLI given the same profiles).

use super::body::{parse_json, read_text, BodyError};
use super::store_error_response;
use crate::state::AppState;
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use shared::api::{Estimate, Scenario};
use shared::InputErrors;

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
        }
    }
}

/// Parse a scenario body (content type, size, syntax, fields). Text that is
/// not JSON is `400 invalid_json`, with where it breaks in `errors[]` (the
/// field paths the CLI prints for the same text).
pub async fn read_scenario(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
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

/// Estimate a scenario (format: docs/scenario.md).
#[utoipa::path(post, path = "/api/estimate", operation_id = "estimate", tag = "estimates",
    request_body(content = Scenario, content_type = "application/json",
        description = "A scenario (docs/scenario.md), e.g. {\"version\":1,\"model\":{\"preset\":\"gpt2\"},...}"),
    responses(
        (status = 200, description = "The estimate, with its what-ifs (docs/scenario.md)", body = Estimate),
        (status = 400, description = "`invalid_json` (where the text breaks in `errors[]`)", body = super::ErrorBody),
        (status = 413, description = "`body_too_large`", body = super::ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = super::ErrorBody),
        (status = 422, description = "`invalid_scenario` (every problem in `errors[]`, the first in `field`) or `invalid_text`", body = super::ErrorBody),
        (status = 503, description = "Database unavailable (measured profiles cannot be read)", body = super::ErrorBody),
    ))]
pub async fn estimate(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, EstimateError> {
    let scenario = read_scenario(&req, payload, state.max_body).await?;
    let snap = crate::state::snapshot(&state).await?;
    let est =
        shared::estimate::estimate(&scenario, &snap.profiles).map_err(EstimateError::Scenario)?;
    let body = serde_json::to_vec(&est).map_err(|_| EstimateError::Serialize)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}
