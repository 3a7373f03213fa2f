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
    actix_web::error::InternalError::from_response(
        err,
        error_response(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            "the query string does not parse",
        ),
    )
    .into()
}

/// A query string parsed as [`web::Query`] parses it, whose errors are
/// `400 invalid_query` naming the parameter in `field` (`version`, `limit`,
/// `device`) in words of our own rather than the parser's.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: serde::de::DeserializeOwned> actix_web::FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query).map_err(
            |(field, message)| {
                let r = field_error(StatusCode::BAD_REQUEST, "invalid_query", &field, &message);
                actix_web::error::InternalError::from_response(message, r).into()
            },
        ))
    }
}

/// The parser's message for a query string that does not parse as `T`.
fn query_parse<T: serde::de::DeserializeOwned>(qs: &str) -> Result<T, String> {
    web::Query::<T>::from_query(qs)
        .map(web::Query::into_inner)
        .map_err(|e| match e {
            actix_web::error::QueryPayloadError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        })
}

/// Parse a query string as `T`; an error is (parameter, message). The
/// parser names a missing, unknown or repeated parameter; a value that does
/// not parse is found as the parameter whose removal changes the error.
pub fn parse_query<T: serde::de::DeserializeOwned>(qs: &str) -> Result<T, (String, String)> {
    let err = match query_parse::<T>(qs) {
        Ok(v) => return Ok(v),
        Err(e) => e,
    };
    let quoted = |prefix: &str| {
        err.strip_prefix(prefix)
            .and_then(|rest| rest.split_once('`'))
            .map(|(key, rest)| (key.to_string(), rest.to_string()))
    };
    if let Some((k, _)) = quoted("missing field `") {
        let m = format!("the query parameter `{k}` is required");
        return Err((k, m));
    }
    if let Some((k, rest)) = quoted("unknown field `") {
        let m = match rest.split_once("expected ") {
            Some((_, known)) => format!("`{k}` is not a query parameter here; expected {known}"),
            None => format!("`{k}` is not a query parameter here; this endpoint takes none"),
        };
        return Err((k, m));
    }
    if let Some((k, _)) = quoted("duplicate field `") {
        let m = format!("the query parameter `{k}` is given more than once");
        return Err((k, m));
    }
    let what = if err.contains("too large") || err.contains("too small") {
        "is out of range".to_string()
    } else if err.contains("digit") || err.contains("integer") {
        "must be a whole number".to_string()
    } else if err.contains("float") {
        "must be a number".to_string()
    } else if let Some((_, known)) = err.split_once("expected one of ") {
        format!("must be one of {known}")
    } else if err.contains("`true` or `false`") {
        "must be true or false".to_string()
    } else {
        "has a value that is not valid here".to_string()
    };
    let segments: Vec<&str> = qs.split('&').filter(|p| !p.is_empty()).collect();
    for (i, seg) in segments.iter().enumerate() {
        let without = segments
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, p)| *p)
            .collect::<Vec<_>>()
            .join("&");
        if query_parse::<T>(&without).err().as_deref() == Some(err.as_str()) {
            continue;
        }
        let key = query_parse::<Vec<(String, String)>>(seg)
            .ok()
            .and_then(|pairs| pairs.into_iter().next())
            .map(|(k, _)| k)
            .unwrap_or_else(|| seg.split('=').next().unwrap_or(seg).to_string());
        let m = format!("the query parameter `{key}` {what}");
        return Err((key, m));
    }
    Err(("query".into(), "the query string does not parse".into()))
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

#[cfg(test)]
mod tests {
    use super::parse_query;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Q {
        device: String,
        limit: Option<i64>,
    }

    #[test]
    fn query_errors_name_the_parameter() {
        let field = |qs: &str| parse_query::<Q>(qs).expect_err(qs);
        assert_eq!(
            field("device=h100-sxm&limit=abc"),
            (
                "limit".into(),
                "the query parameter `limit` must be a whole number".into()
            )
        );
        assert_eq!(
            field("limit=5"),
            (
                "device".into(),
                "the query parameter `device` is required".into()
            )
        );
        assert_eq!(
            field("device=x&limit=99999999999999999999").0,
            "limit".to_string()
        );
        assert_eq!(
            field("device=x&colour=red"),
            (
                "colour".into(),
                "`colour` is not a query parameter here; expected `device` or `limit`".into()
            )
        );
        let q = parse_query::<Q>("device=h100-sxm&limit=7").expect("parses");
        assert_eq!((q.device.as_str(), q.limit), ("h100-sxm", Some(7)));
    }
}
