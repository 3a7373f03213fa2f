//! The HTTP API under `/api`, one module per resource, composed in [`configure`].
//! Bodies are the types of `shared::api`. Every error is an [`ErrorBody`]
//! `{"code": "snake_case", "message": "..."}` (plus `field` when one input field
//! is at fault, and `errors[]` for a scenario); internal error text is logged, never sent.

pub mod body;
pub mod calibrations;
pub mod devices;
pub mod estimate;
pub mod estimates;
pub mod finite;
pub mod health;
pub mod middleware;
pub mod openapi;
pub mod runs;
pub mod verify;

use crate::store::StoreError;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
pub use shared::api::ErrorBody;

pub fn error_response(status: StatusCode, code: &str, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        code: code.into(),
        message: message.into(),
        field: None,
        errors: vec![],
    })
}

pub fn field_error(
    status: StatusCode,
    code: &str,
    field: impl Into<String>,
    message: impl Into<String>,
) -> HttpResponse {
    HttpResponse::build(status).json(ErrorBody {
        code: code.into(),
        message: message.into(),
        field: Some(field.into()),
        errors: vec![],
    })
}

/// 422 with every problem of an input (`errors[]`), the first in `field`.
pub fn input_errors(code: &str, e: &shared::InputErrors) -> HttpResponse {
    input_errors_with(StatusCode::UNPROCESSABLE_ENTITY, code, e)
}

/// Every problem of an input (`errors[]`), the first in `field`, with `status`.
pub fn input_errors_with(status: StatusCode, code: &str, e: &shared::InputErrors) -> HttpResponse {
    let first = e.first();
    HttpResponse::build(status).json(ErrorBody {
        code: code.into(),
        message: e.to_string(),
        field: Some(first.field),
        errors: e.0.clone(),
    })
}

/// 503 or 500 for a database failure; the cause goes to the log only.
pub fn store_error_response(e: &StoreError) -> HttpResponse {
    match e {
        StoreError::Unavailable(cause) => {
            tracing::warn!(error = %cause, "database unavailable");
            let mut r = error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "database_unavailable",
                "the database is unavailable; retry shortly",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            r
        }
        StoreError::Internal(cause) => {
            tracing::error!(error = ?cause, "database error");
            internal_error()
        }
    }
}

pub fn internal_error() -> HttpResponse {
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "something went wrong on our side; it has been logged",
    )
}

async fn api_not_found(req: HttpRequest) -> HttpResponse {
    error_response(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no API endpoint at {}; see /api/openapi.json", req.path()),
    )
}

async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{} is not allowed here; see /api/openapi.json",
            req.method()
        ),
    )
}

fn query_error(err: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let msg = format!("bad query string: {err}");
    actix_web::error::InternalError::from_response(
        err,
        error_response(StatusCode::BAD_REQUEST, "invalid_query", msg),
    )
    .into()
}

fn path_error(err: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    actix_web::error::InternalError::from_response(
        err,
        error_response(StatusCode::NOT_FOUND, "not_found", "no such resource"),
    )
    .into()
}

/// Mount the API under `/api`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use actix_web::web::{get, post, resource};
    let na = || web::to(method_not_allowed);
    cfg.service(
        web::scope("/api")
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .service(
                resource("/health")
                    .route(get().to(health::health))
                    .default_service(na()),
            )
            .service(
                resource("/devices")
                    .route(get().to(devices::list))
                    .default_service(na()),
            )
            .service(
                resource("/devices/{id}")
                    .route(get().to(devices::get))
                    .default_service(na()),
            )
            .service(
                resource("/devices/{id}/calibrations")
                    .route(get().to(devices::calibrations))
                    .default_service(na()),
            )
            .service(
                resource("/calibrations")
                    .route(post().to(calibrations::submit))
                    .default_service(na()),
            )
            .service(
                resource("/runs")
                    .route(get().to(runs::list))
                    .route(post().to(runs::submit))
                    .default_service(na()),
            )
            .service(
                resource("/accuracy")
                    .route(get().to(runs::accuracy))
                    .default_service(na()),
            )
            .service(
                resource("/estimate")
                    .route(post().to(estimate::estimate))
                    .default_service(na()),
            )
            .service(
                resource("/estimates")
                    .route(post().to(estimates::create))
                    .default_service(na()),
            )
            .service(
                resource("/estimates/{id}")
                    .route(get().to(estimates::get))
                    .default_service(na()),
            )
            .service(
                resource("/openapi.json")
                    .route(get().to(openapi::document))
                    .default_service(na()),
            )
            .default_service(web::to(api_not_found)),
    );
}
