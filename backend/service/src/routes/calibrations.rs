//! `POST /api/calibrations`: a calibration record from a runner, with a bearer
//! token; validated, stored in one transaction, idempotent by `run_id`.

use super::body::{read_json, BodyError};
use super::{error_response, field_error, store_error_response};
use crate::state::AppState;
use crate::store::calibrations::{self as store, Inserted, NewRun};
use crate::store::tokens::{self, Auth};
use crate::store::StoreError;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use chrono::{DateTime, Utc};
use shared::api::{RunStatus, SubmitResponse};
use shared::calibration::{derived, profile_from_record, CalibrationRecord, RecordError};

/// Longest accepted name-like field (host, names, versions, flags...).
const MAX_TEXT: usize = 256;
/// Longest accepted free text anywhere else in a record (`what`, notes), as
/// the core bounds a scenario's sources and details.
const MAX_FREE_TEXT: usize = shared::check::bounds::MAX_TEXT;
/// Times before this year are refused (no runner existed; a clock reset).
const EARLIEST_YEAR: i32 = 2015;

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("send a token: Authorization: Bearer <token> (jouleprint token create)")]
    MissingToken,
    #[error("the token is not valid")]
    InvalidToken,
    #[error("the token was revoked")]
    RevokedToken,
    #[error(transparent)]
    Body(#[from] BodyError),
    /// The record is malformed, inconsistent or out of range: the client's fault.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("no catalog device has the NVML name {0:?}; GET /api/devices lists the known names")]
    UnknownDevice(String),
    /// The derived profile is out of reach for the device (`plausible`).
    #[error("{field}: {message}")]
    Implausible { field: String, message: String },
    #[error("run {0} was already submitted with a different record")]
    Conflict(uuid::Uuid),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ResponseError for SubmitError {
    fn status_code(&self) -> StatusCode {
        self.error_response().status()
    }
    fn error_response(&self) -> HttpResponse {
        let msg = self.to_string();
        let unauthorized = |code: &str| {
            let mut r = error_response(StatusCode::UNAUTHORIZED, code, msg.clone());
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            r
        };
        match self {
            SubmitError::MissingToken => unauthorized("missing_token"),
            SubmitError::InvalidToken => unauthorized("invalid_token"),
            SubmitError::RevokedToken => unauthorized("revoked_token"),
            SubmitError::Body(b) => b.response(),
            SubmitError::Invalid { field, message } => field_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_record",
                field.clone(),
                format!("{field}: {message}"),
            ),
            SubmitError::Implausible { field, .. } => field_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "implausible_profile",
                field.clone(),
                msg,
            ),
            SubmitError::UnknownDevice(_) => field_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_device",
                "device.name",
                msg,
            ),
            SubmitError::Conflict(_) => {
                field_error(StatusCode::CONFLICT, "run_conflict", "run_id", msg)
            }
            SubmitError::Store(e) => store_error_response(e),
        }
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> SubmitError {
    SubmitError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// The token of an `Authorization: Bearer` request, checked.
pub async fn authenticate(req: &HttpRequest, state: &AppState) -> Result<i64, SubmitError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let Some(token) = value.and_then(crate::token::from_bearer) else {
        // `Bearer` with no token is a token that is not valid, not an
        // anonymous request (another scheme, a proxy's Basic, is ignored).
        return Err(if value.is_some_and(crate::token::is_empty_bearer) {
            SubmitError::InvalidToken
        } else {
            SubmitError::MissingToken
        });
    };
    match tokens::authenticate(&state.pool, token).await? {
        Auth::Valid { token_id } => Ok(token_id),
        Auth::Revoked => Err(SubmitError::RevokedToken),
        Auth::Unknown => Err(SubmitError::InvalidToken),
    }
}

/// Parse a record, naming the field of any error; unknown fields are errors.
fn parse_record(value: serde_json::Value) -> Result<CalibrationRecord, SubmitError> {
    let mut unknown = Vec::new();
    let mut track = |p: serde_ignored::Path<'_>| unknown.push(p.to_string());
    let ignored = serde_ignored::Deserializer::new(value, &mut track);
    let rec: CalibrationRecord = serde_path_to_error::deserialize(ignored).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        invalid(serde_field(&path, &message, "record"), message)
    })?;
    if let Some(f) = unknown.first() {
        return Err(invalid(json_path(f), "unknown field"));
    }
    Ok(rec)
}

/// The field a serde error is about: its path (`micro[0].seconds`), `root`
/// for the document itself. serde_path_to_error stops at the object that
/// lacks a required field (`device` for a missing `device.power_limit_mw`):
/// the key named in serde's ``missing field `x` `` is appended.
pub(crate) fn serde_field(path: &str, message: &str, root: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
        .map(|(key, _)| key)
        .filter(|k| !k.is_empty());
    match (path, missing) {
        (".", Some(key)) => key.to_string(),
        (".", None) => root.to_string(),
        (p, Some(key)) => format!("{p}.{key}"),
        (p, None) => p.to_string(),
    }
}

/// `micro.0.extra` (serde_ignored) as `micro[0].extra` (like every other field path).
pub(crate) fn json_path(dotted: &str) -> String {
    let mut out = String::new();
    for part in dotted.split('.') {
        if !out.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) && !part.is_empty() {
            out.push_str(&format!("[{part}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

/// An RFC 3339 time, not before 2015 and at most a day ahead of this server's clock.
pub(crate) fn parse_time(
    field: &str,
    v: &Option<String>,
) -> Result<Option<DateTime<Utc>>, SubmitError> {
    let Some(s) = v.as_deref() else {
        return Ok(None);
    };
    let t = DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| invalid(field, "must be an RFC 3339 time, e.g. 2026-11-27T21:00:00Z"))?;
    if chrono::Datelike::year(&t) < EARLIEST_YEAR {
        return Err(invalid(
            field,
            format!("must not be before {EARLIEST_YEAR}; check the runner's clock"),
        ));
    }
    if t > Utc::now() + chrono::Duration::days(1) {
        return Err(invalid(
            field,
            "must not be more than a day in the future; check the runner's clock",
        ));
    }
    Ok(Some(t))
}

/// The path of the first string (or key) of `v` longer than the free-text bound.
fn long_text(v: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value;
    let path = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match v {
        Value::String(s) if s.chars().count() > MAX_FREE_TEXT => Some(at.to_string()),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .find_map(|(i, x)| long_text(x, &format!("{at}[{i}]"))),
        Value::Object(m) => m.iter().find_map(|(k, x)| {
            if k.chars().count() > MAX_TEXT {
                Some(path(k))
            } else {
                long_text(x, &path(k))
            }
        }),
        _ => None,
    }
}

fn check_text(rec: &CalibrationRecord) -> Result<(), SubmitError> {
    let mut fields: Vec<(String, &str)> = vec![("device.name".into(), rec.device.name.as_str())];
    for (name, v) in [
        ("host", &rec.host),
        ("tool_version", &rec.tool_version),
        ("framework", &rec.framework),
        ("measured_on", &rec.measured_on),
        ("device.uuid", &rec.device.uuid),
        ("device.driver", &rec.device.driver),
    ] {
        if let Some(v) = v {
            fields.push((name.into(), v.as_str()));
        }
    }
    for (i, m) in rec.micro.iter().enumerate() {
        fields.push((format!("micro[{i}].name"), m.name.as_str()));
        for (j, f) in m.flags.iter().enumerate() {
            fields.push((format!("micro[{i}].flags[{j}]"), f.as_str()));
        }
    }
    for (i, f) in rec.flags.iter().enumerate() {
        fields.push((format!("flags[{i}]"), f.as_str()));
    }
    for (field, v) in fields {
        if v.chars().count() > MAX_TEXT {
            return Err(invalid(field, format!("at most {MAX_TEXT} characters")));
        }
    }
    if rec.micro.len() > 10_000 {
        return Err(invalid("micro", "at most 10000 measurements"));
    }
    Ok(())
}

/// Every other string of the record: at most [`MAX_FREE_TEXT`] characters.
pub(crate) fn check_free_text(value: &serde_json::Value) -> Result<(), SubmitError> {
    match long_text(value, "") {
        Some(field) => Err(invalid(
            field,
            format!("at most {MAX_FREE_TEXT} characters"),
        )),
        None => Ok(()),
    }
}

/// Flags of a run: the runner's own, plus what its conditions show.
fn run_flags(rec: &CalibrationRecord) -> Vec<String> {
    let mut flags = rec.flags.clone();
    if let Some(c) = &rec.conditions {
        if c.other_processes > 0 {
            flags.push(format!("other_processes:{}", c.other_processes));
        }
        for r in &c.throttle_reasons_after {
            flags.push(format!("throttle:{r}"));
        }
    }
    for m in &rec.micro {
        for f in &m.flags {
            flags.push(format!("{}:{f}", m.name));
        }
    }
    flags.sort();
    flags.dedup();
    flags
}

/// Submit a calibration run (`shared::calibration::CalibrationRecord`).
#[utoipa::path(post, path = "/api/calibrations", operation_id = "submit_calibration", tag = "calibrations",
    request_body(content = CalibrationRecord, content_type = "application/json",
        description = "A calibration record (`shared::calibration::CalibrationRecord`) with `run_id` (a UUID)"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored (accepted or flagged)", body = SubmitResponse),
        (status = 200, description = "The same run again: nothing written (`replayed: true`)", body = SubmitResponse),
        (status = 400, description = "`invalid_json`", body = super::ErrorBody),
        (status = 401, description = "`missing_token`, `invalid_token` or `revoked_token`", body = super::ErrorBody),
        (status = 408, description = "`body_timeout`", body = super::ErrorBody),
        (status = 409, description = "`run_conflict`: the run id was used for a different record", body = super::ErrorBody),
        (status = 413, description = "`body_too_large`", body = super::ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = super::ErrorBody),
        (status = 422, description = "`invalid_record` (with `field`), `implausible_profile` (the derived profile is out of reach for the device, with `field`), `unknown_device` or `invalid_text`", body = super::ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = super::ErrorBody),
        (status = 503, description = "Database unavailable; retry with the same run id", body = super::ErrorBody),
    ))]
pub async fn submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, SubmitError> {
    let token_id = authenticate(&req, &state).await?;
    let (_, mut value) = read_json(&req, payload, state.body).await?;
    // 7e5 and 700000.0 are the JSON number 700000, read where a whole number is expected.
    shared::check::whole_floats_as_integers(&mut value);
    let mut rec = parse_record(value.clone())?;
    let run_id = rec
        .run_id
        .as_deref()
        .ok_or_else(|| invalid("run_id", "required: a UUID chosen by the runner"))?;
    let run_id = uuid::Uuid::parse_str(run_id).map_err(|_| invalid("run_id", "must be a UUID"))?;
    check_text(&rec)?;
    check_free_text(&value)?;
    rec.validate()
        .map_err(|RecordError::Invalid { field, problem }| invalid(field, problem))?;
    let started_at = parse_time("started_at", &rec.started_at)?;
    let finished_at = parse_time("finished_at", &rec.finished_at)?;
    if let (Some(s), Some(f)) = (started_at, finished_at) {
        if f < s {
            return Err(invalid("finished_at", "must not be before started_at"));
        }
    }
    if let Some(c) = &rec.conditions {
        for (name, t) in [
            ("conditions.temperature_before_c", c.temperature_before_c),
            ("conditions.temperature_after_c", c.temperature_after_c),
        ] {
            if let Some(t) = t {
                if !t.is_finite() || !(-40.0..=150.0).contains(&t) {
                    return Err(invalid(name, "must be between -40 and 150 (degrees C)"));
                }
            }
        }
    }
    let spec = shared::catalog::find(&rec.device.name)
        .ok_or_else(|| SubmitError::UnknownDevice(rec.device.name.clone()))?;
    let profile = profile_from_record(&rec)
        .map_err(|RecordError::Invalid { field, problem }| invalid(field, problem))?;
    crate::plausible::check(&rec, &profile, spec).map_err(|e| SubmitError::Implausible {
        field: e.field,
        message: e.message,
    })?;
    // A record's `derived` block is the runner's summary; the stored one is
    // the server's own, so no history shows figures its raw data do not give.
    if rec.derived.is_some() {
        let d = derived(&rec)
            .map_err(|RecordError::Invalid { field, problem }| invalid(field, problem))?;
        value["derived"] =
            serde_json::to_value(&d).map_err(|e| invalid("derived", e.to_string()))?;
        rec.derived = Some(d);
    }
    let flags = run_flags(&rec);
    let status = if flags.is_empty() {
        RunStatus::Accepted
    } else {
        RunStatus::Flagged
    };
    let outcome = store::insert(
        &state.pool,
        NewRun {
            run_id,
            device_id: spec.id,
            device_name: spec.name,
            token_id: Some(token_id),
            record: &rec,
            record_json: &value,
            profile: &profile,
            status,
            flags: flags.clone(),
            started_at,
            finished_at,
        },
    )
    .await?;
    let resp = |status: RunStatus, replayed, profile_version, profile_in_use| SubmitResponse {
        run_id: run_id.to_string(),
        device: spec.id.into(),
        status,
        flags: flags.clone(),
        replayed,
        profile_version,
        profile_in_use,
    };
    match outcome {
        Inserted::Created {
            status,
            profile_version,
        } => {
            let mut in_use = None;
            if status == RunStatus::Accepted {
                state.devices.invalidate();
                in_use = match crate::state::snapshot(&state).await {
                    Ok(s) => s
                        .value
                        .measured
                        .get(spec.id)
                        .filter(|m| Some(m.version) >= profile_version)
                        .map(|m| m.in_use(state.quorum).is_some()),
                    Err(_) => None,
                };
            }
            Ok(HttpResponse::Created().json(resp(status, false, profile_version, in_use)))
        }
        Inserted::Replayed { status } => {
            Ok(HttpResponse::Ok().json(resp(status, true, None, None)))
        }
        Inserted::Conflict => Err(SubmitError::Conflict(run_id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_record_parses_without_unknown_fields() {
        let v: serde_json::Value =
            serde_json::from_str(shared::calibration::H100_REFERENCE_CALIBRATION).expect("json");
        let rec = parse_record(v).expect("reference parses");
        assert!(rec.validate().is_ok());
    }

    #[test]
    fn a_missing_field_is_named_by_its_path() {
        assert_eq!(
            serde_field("device", "missing field `power_limit_mw`", "record"),
            "device.power_limit_mw"
        );
        assert_eq!(
            serde_field(".", "missing field `run_id`", "record"),
            "run_id"
        );
        assert_eq!(serde_field(".", "expected a map", "record"), "record");
        assert_eq!(
            serde_field("micro[0].seconds", "invalid type: string", "record"),
            "micro[0].seconds"
        );
    }

    #[test]
    fn unknown_fields_are_named() {
        let mut v: serde_json::Value =
            serde_json::from_str(shared::calibration::H100_REFERENCE_CALIBRATION).expect("json");
        v["device"]["colour"] = "red".into();
        match parse_record(v) {
            Err(SubmitError::Invalid { field, .. }) => assert_eq!(field, "device.colour"),
            other => panic!("expected an unknown field error, got {other:?}"),
        }
    }
}
