//! Reading a JSON request body at the edge: content type, size limit, syntax,
//! and text Postgres cannot store (NUL characters).

use super::{error_response, field_error};
use crate::state::BodyLimits;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("send the body as JSON, with Content-Type: application/json")]
    ContentType,
    #[error("the body is larger than the limit of {0} bytes")]
    TooLarge(usize),
    #[error("the body could not be read")]
    Read,
    #[error("the body did not arrive within {0} ms")]
    Timeout(u128),
    #[error("the body is not valid JSON: {0}")]
    Syntax(String),
    #[error("text must not contain NUL characters")]
    Nul(String),
}

impl BodyError {
    pub fn response(&self) -> HttpResponse {
        let msg = self.to_string();
        match self {
            BodyError::ContentType => error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                msg,
            ),
            BodyError::TooLarge(_) => {
                error_response(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", msg)
            }
            BodyError::Read => error_response(StatusCode::BAD_REQUEST, "unreadable_body", msg),
            BodyError::Timeout(_) => {
                let mut r = error_response(StatusCode::REQUEST_TIMEOUT, "body_timeout", msg);
                // The rest of the body is not read: the connection cannot be reused.
                r.headers_mut().insert(
                    header::CONNECTION,
                    header::HeaderValue::from_static("close"),
                );
                r
            }
            BodyError::Syntax(_) => error_response(StatusCode::BAD_REQUEST, "invalid_json", msg),
            BodyError::Nul(path) => field_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_text",
                path.clone(),
                msg,
            ),
        }
    }
}

fn is_json(req: &HttpRequest) -> bool {
    match req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    {
        None => false,
        Some(ct) => {
            let essence = ct
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        }
    }
}

/// The body as text and as a JSON value, within the limits.
pub async fn read_json(
    req: &HttpRequest,
    payload: web::Payload,
    limit: BodyLimits,
) -> Result<(String, Value), BodyError> {
    let text = read_text(req, payload, limit).await?;
    let value = parse_json(&text)?;
    Ok((text, value))
}

/// The body as UTF-8 text, sent as JSON, within `limit.max` bytes and
/// `limit.timeout` (a body trickled in slowly holds a connection).
pub async fn read_text(
    req: &HttpRequest,
    payload: web::Payload,
    limit: BodyLimits,
) -> Result<String, BodyError> {
    tokio::time::timeout(limit.timeout, read_text_within(req, payload, limit.max))
        .await
        .unwrap_or(Err(BodyError::Timeout(limit.timeout.as_millis())))
}

async fn read_text_within(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<String, BodyError> {
    if !is_json(req) {
        return Err(BodyError::ContentType);
    }
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        if len > limit {
            return Err(BodyError::TooLarge(limit));
        }
    }
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| BodyError::Read)?;
        if buf.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf.to_vec()).map_err(|_| BodyError::Syntax("not UTF-8".into()))
}

/// JSON text as a value, refusing text Postgres cannot store.
pub fn parse_json(text: &str) -> Result<Value, BodyError> {
    let value: Value = serde_json::from_str(text).map_err(|e| BodyError::Syntax(e.to_string()))?;
    if let Some(path) = nul_path(&value, "") {
        return Err(BodyError::Nul(path));
    }
    Ok(value)
}

/// The path of the first string (or key) holding a NUL character.
fn nul_path(v: &Value, at: &str) -> Option<String> {
    let here = || {
        if at.is_empty() {
            ".".to_string()
        } else {
            at.to_string()
        }
    };
    match v {
        Value::String(s) if s.contains('\0') => Some(here()),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_path(x, &format!("{at}[{i}]"))),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            let p = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            if k.contains('\0') {
                Some(p)
            } else {
                nul_path(x, &p)
            }
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nul_in_nested_strings() {
        let v: Value = serde_json::json!({"a": [1, {"b": "x\u{0}y"}]});
        assert_eq!(nul_path(&v, "").as_deref(), Some("a[1].b"));
        assert_eq!(nul_path(&serde_json::json!({"a": "ok"}), ""), None);
    }
}
