//! Client of `POST /api/calibrations` (and of `POST /api/runs`, for
//! `jouleprint measure`): sends a body with a bearer token. Submissions are
//! idempotent by `run_id`, so transient failures (connection, 503) are retried
//! with the same body, and a `429` after the `Retry-After` the service asks
//! for (when it is at most [`MAX_RETRY_AFTER_S`]). A refusal (`422
//! implausible_profile`, any other 4xx) is final: sending the same body again
//! cannot change the answer.

use serde::de::DeserializeOwned;
use serde::Serialize;
use shared::api::{ErrorBody, SubmitResponse};
use shared::calibration::CalibrationRecord;
use std::time::Duration;

/// The longest `Retry-After` a client waits for before giving up (the
/// service's write budget refills one request every 3 s by default).
pub const MAX_RETRY_AFTER_S: u64 = 60;

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the record has no run_id")]
    NoRunId,
    #[error("could not reach {url}: {error}")]
    Unreachable { url: String, error: String },
    /// The run is out of reach for its device (`implausible_profile`,
    /// `implausible_run`): final, the same run will always be refused.
    #[error("the service refused the run as implausible: {message}")]
    Implausible {
        code: String,
        field: Option<String>,
        message: String,
    },
    #[error("the service asks to wait {retry_after_s} s before submitting again (rate limit); submit later")]
    RateLimited { retry_after_s: u64 },
    #[error("the service refused the record ({status}): {body}")]
    Refused { status: u16, body: String },
    #[error("unexpected answer from the service: {0}")]
    BadAnswer(String),
}

/// The endpoint for a base URL (`https://host` or `https://host/api/calibrations`).
pub fn endpoint(base: &str) -> String {
    endpoint_for(base, "/api/calibrations")
}

/// `base` with `path` (`/api/runs`) unless it already ends with it.
pub fn endpoint_for(base: &str, path: &str) -> String {
    let b = base.trim_end_matches('/');
    if b.ends_with(path) {
        b.to_string()
    } else {
        format!("{b}{path}")
    }
}

/// Submit `rec` to `base` with `token`, retrying transient failures `retries` times.
pub fn submit(
    base: &str,
    token: &str,
    rec: &CalibrationRecord,
    retries: u32,
) -> Result<SubmitResponse, SubmitError> {
    if rec.run_id.is_none() {
        return Err(SubmitError::NoRunId);
    }
    post(&endpoint(base), token, rec, retries)
}

/// What to do after one attempt's answer.
#[derive(Debug, PartialEq)]
enum Next {
    /// Try again after this long.
    Retry(Duration),
    Stop,
}

/// Whether an answer of `status` with `Retry-After: retry_after` is retried
/// (`attempt` counts from 1): a 503 after 0.5 s x attempt, a 429 after
/// `Retry-After` when that is at most [`MAX_RETRY_AFTER_S`]; nothing else.
fn next(status: u16, retry_after: Option<u64>, attempt: u32) -> Next {
    match status {
        503 => Next::Retry(Duration::from_millis(500 * u64::from(attempt))),
        429 => match retry_after.unwrap_or(1) {
            s if s <= MAX_RETRY_AFTER_S => Next::Retry(Duration::from_secs(s.max(1))),
            _ => Next::Stop,
        },
        _ => Next::Stop,
    }
}

/// The error of a final answer.
fn refusal(status: u16, retry_after: Option<u64>, body: String) -> SubmitError {
    if status == 429 {
        return SubmitError::RateLimited {
            retry_after_s: retry_after.unwrap_or(1),
        };
    }
    match serde_json::from_str::<ErrorBody>(&body) {
        Ok(e) if status == 422 && e.code.starts_with("implausible_") => SubmitError::Implausible {
            code: e.code,
            field: e.field,
            message: e.message,
        },
        _ => SubmitError::Refused { status, body },
    }
}

/// POST `body` as JSON to `url` with `token`; transient failures are retried
/// `retries` times (see [`SubmitError`] for which).
pub fn post<B: Serialize, T: DeserializeOwned>(
    url: &str,
    token: &str,
    body: &B,
    retries: u32,
) -> Result<T, SubmitError> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("jouleprint/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SubmitError::Unreachable {
            url: url.to_string(),
            error: e.to_string(),
        })?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let r = client.post(url).bearer_auth(token).json(body).send();
        let (failure, wait) = match r {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                let text = resp.text().unwrap_or_default();
                if (200..300).contains(&status) {
                    return serde_json::from_str(&text)
                        .map_err(|e| SubmitError::BadAnswer(format!("{e}: {text}")));
                }
                match next(status, retry_after, attempt) {
                    Next::Stop => return Err(refusal(status, retry_after, text)),
                    Next::Retry(d) => (refusal(status, retry_after, text), d),
                }
            }
            Err(e) => (
                SubmitError::Unreachable {
                    url: url.to_string(),
                    error: e.to_string(),
                },
                Duration::from_millis(500 * u64::from(attempt)),
            ),
        };
        if attempt > retries {
            return Err(failure);
        }
        std::thread::sleep(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_answers_are_retried() {
        assert_eq!(next(503, None, 2), Next::Retry(Duration::from_millis(1000)));
        assert_eq!(next(429, Some(7), 1), Next::Retry(Duration::from_secs(7)));
        assert_eq!(next(429, Some(0), 1), Next::Retry(Duration::from_secs(1)));
        assert_eq!(next(429, None, 1), Next::Retry(Duration::from_secs(1)));
        assert_eq!(next(429, Some(MAX_RETRY_AFTER_S + 1), 1), Next::Stop);
        for s in [400, 401, 409, 413, 422, 500] {
            assert_eq!(next(s, Some(1), 1), Next::Stop, "{s}");
        }
    }

    #[test]
    fn an_implausible_run_is_a_final_refusal_with_its_field() {
        let body = r#"{"code":"implausible_profile","message":"profile.mem_gbs: too fast","field":"profile.mem_gbs"}"#;
        match refusal(422, None, body.into()) {
            SubmitError::Implausible { code, field, .. } => {
                assert_eq!(code, "implausible_profile");
                assert_eq!(field.as_deref(), Some("profile.mem_gbs"));
            }
            other => panic!("{other:?}"),
        }
        let body = r#"{"code":"invalid_record","message":"x","field":"run_id"}"#;
        assert!(matches!(
            refusal(422, None, body.into()),
            SubmitError::Refused { status: 422, .. }
        ));
        assert!(matches!(
            refusal(429, Some(90), String::new()),
            SubmitError::RateLimited { retry_after_s: 90 }
        ));
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            endpoint_for("http://h:1/", "/api/runs"),
            "http://h:1/api/runs"
        );
        assert_eq!(
            endpoint_for("http://h:1/api/runs", "/api/runs"),
            "http://h:1/api/runs"
        );
    }
}
