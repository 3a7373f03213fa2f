//! Client of `POST /api/calibrations`: sends a record with a bearer token.
//! Submissions are idempotent by `run_id`, so transient failures (connection,
//! 503) are retried with the same record.

use shared::api::SubmitResponse;
use shared::calibration::CalibrationRecord;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the record has no run_id")]
    NoRunId,
    #[error("could not reach {url}: {error}")]
    Unreachable { url: String, error: String },
    #[error("the service refused the record ({status}): {body}")]
    Refused { status: u16, body: String },
    #[error("unexpected answer from the service: {0}")]
    BadAnswer(String),
}

/// The endpoint for a base URL (`https://host` or `https://host/api/calibrations`).
pub fn endpoint(base: &str) -> String {
    let b = base.trim_end_matches('/');
    if b.ends_with("/api/calibrations") {
        b.to_string()
    } else {
        format!("{b}/api/calibrations")
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
    let url = endpoint(base);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .user_agent(concat!("jouleprint/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| SubmitError::Unreachable {
            url: url.clone(),
            error: e.to_string(),
        })?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let r = client.post(&url).bearer_auth(token).json(rec).send();
        let transient = match r {
            Ok(resp) => {
                let status = resp.status();
                let body = resp.text().unwrap_or_default();
                if status.is_success() {
                    return serde_json::from_str(&body)
                        .map_err(|e| SubmitError::BadAnswer(format!("{e}: {body}")));
                }
                if status.as_u16() != 503 {
                    return Err(SubmitError::Refused {
                        status: status.as_u16(),
                        body,
                    });
                }
                SubmitError::Refused {
                    status: status.as_u16(),
                    body,
                }
            }
            Err(e) => SubmitError::Unreachable {
                url: url.clone(),
                error: e.to_string(),
            },
        };
        if attempt > retries {
            return Err(transient);
        }
        std::thread::sleep(Duration::from_millis(500 * attempt as u64));
    }
}
