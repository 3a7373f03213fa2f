//! Measured runs of users' own jobs (`jouleprint measure --submit`) and the
//! accuracy they show: `POST /api/runs` (bearer token; checked, stored in one
//! transaction with the estimator's error, idempotent by `run_id`),
//! `GET /api/runs?device=ID` and `GET /api/accuracy?device=ID[&software=...]`.

use super::body::{read_json, BodyError};
use super::calibrations::{
    authenticate, check_free_text, json_path, parse_time, serde_field, SubmitError,
};
use super::{error_response, field_error, store_error_response};
use crate::state::AppState;
use crate::store::runs::{self as store, Inserted, NewMeasuredRun};
use crate::store::StoreError;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use serde::Deserialize;
use shared::api::{
    AccuracyGroup, AccuracyReport, MeasuredRunList, RunReceipt, RunStatus, RunSubmission,
};
use shared::device::DeviceSpec;
use shared::scenario::{Phase, SoftwareClass};
use shared::validate::accuracy::{case_accuracy, tally, Vote, MIN_WINDOW_PERIODS, MIN_WINDOW_S};
use shared::{InputError, InputErrors};
use utoipa::IntoParams;

/// Longest name-like field (case name, device, versions, flags).
const MAX_TEXT: usize = 256;
/// Most flags, and framework versions, one run may carry.
const MAX_ITEMS: usize = 64;
/// `steps x seconds_per_step` must match `window_s` this closely.
const WINDOW_TOLERANCE: f64 = 0.01;
/// The shortest step a run may report, s: no step is shorter than a kernel
/// launch (a few microseconds).
const MIN_STEP_S: f64 = 1e-6;

/// A number for a message: plain in the usual range, else in scientific
/// notation (`1e-300`, not three hundred digits).
fn short(x: f64) -> String {
    if x == 0.0 || !x.is_finite() || (1e-4..1e9).contains(&x.abs()) {
        format!("{x}")
    } else {
        format!("{x:e}")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Missing, invalid or revoked token; or the body could not be read.
    #[error(transparent)]
    Auth(SubmitError),
    #[error(transparent)]
    Body(#[from] BodyError),
    /// A field is malformed, out of range or inconsistent.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("no catalog device has the name {0:?}; GET /api/devices lists the known names")]
    UnknownDevice(String),
    /// The workload does not pass the core's check (its messages, the case's fields).
    #[error("{0}")]
    Workload(InputErrors),
    /// Out of reach for the device (`plausible::check_run`).
    #[error("{field}: {message}")]
    Implausible { field: String, message: String },
    #[error("run {0} was already submitted with a different run")]
    Conflict(uuid::Uuid),
    #[error("no such device; GET /api/devices lists them")]
    NoSuchDevice,
    #[error("{field}: {message}")]
    Query { field: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SubmitError> for RunError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Invalid { field, message } => RunError::Invalid {
                field: format!("case.{field}"),
                message,
            },
            SubmitError::Store(s) => RunError::Store(s),
            SubmitError::Body(b) => RunError::Body(b),
            other => RunError::Auth(other),
        }
    }
}

impl ResponseError for RunError {
    fn status_code(&self) -> StatusCode {
        self.error_response().status()
    }
    fn error_response(&self) -> HttpResponse {
        let msg = self.to_string();
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        match self {
            RunError::Auth(e) => e.error_response(),
            RunError::Body(b) => b.response(),
            RunError::Invalid { field, .. } => {
                field_error(unprocessable, "invalid_run", field, msg)
            }
            RunError::UnknownDevice(_) => {
                field_error(unprocessable, "unknown_device", "case.device", msg)
            }
            RunError::Workload(e) => super::input_errors("invalid_workload", e),
            RunError::Implausible { field, .. } => {
                field_error(unprocessable, "implausible_run", field, msg)
            }
            RunError::Conflict(_) => {
                field_error(StatusCode::CONFLICT, "run_conflict", "run_id", msg)
            }
            RunError::NoSuchDevice => error_response(StatusCode::NOT_FOUND, "unknown_device", msg),
            RunError::Query { field, .. } => {
                field_error(StatusCode::BAD_REQUEST, "invalid_query", field, msg)
            }
            RunError::Store(e) => store_error_response(e),
        }
    }
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> RunError {
    RunError::Invalid {
        field: field.into(),
        message: message.into(),
    }
}

/// Parse a run, naming the field of any error; unknown fields are errors.
fn parse_run(value: serde_json::Value) -> Result<RunSubmission, RunError> {
    let mut unknown = Vec::new();
    let mut track = |p: serde_ignored::Path<'_>| unknown.push(p.to_string());
    let ignored = serde_ignored::Deserializer::new(value, &mut track);
    let run: RunSubmission = serde_path_to_error::deserialize(ignored).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        invalid(serde_field(&path, &message, "run"), message)
    })?;
    // A config.json is taken as it is (`docs/scenario.md`): its keys are not ours to know.
    if let Some(f) = unknown
        .iter()
        .find(|f| !f.starts_with("case.model.hf_config"))
    {
        return Err(invalid(json_path(f), "unknown field"));
    }
    Ok(run)
}

/// Names, versions and flags: short, and not too many.
fn check_text(run: &RunSubmission) -> Result<(), RunError> {
    let c = &run.case;
    let env = &run.environment;
    let mut fields: Vec<(String, &str)> = vec![
        ("case.name".into(), c.name.as_str()),
        ("case.device".into(), c.device.as_str()),
        ("case.framework".into(), c.framework.as_str()),
    ];
    for (k, v) in [
        ("environment.driver", &env.driver),
        ("environment.cuda", &env.cuda),
        ("environment.energy_source", &env.energy_source),
        ("environment.tool_version", &env.tool_version),
    ] {
        if let Some(v) = v {
            fields.push((k.into(), v.as_str()));
        }
    }
    for (k, v) in &env.frameworks {
        fields.push((format!("environment.frameworks.{k}"), k.as_str()));
        fields.push((format!("environment.frameworks.{k}"), v.as_str()));
    }
    for (i, f) in run.flags.iter().enumerate() {
        fields.push((format!("flags[{i}]"), f.as_str()));
    }
    for (field, v) in fields {
        if v.chars().count() > MAX_TEXT {
            return Err(invalid(field, format!("at most {MAX_TEXT} characters")));
        }
    }
    if c.name.trim().is_empty() {
        return Err(invalid(
            "case.name",
            "must not be empty: name the run (jouleprint measure --name)",
        ));
    }
    if run.flags.len() > MAX_ITEMS {
        return Err(invalid("flags", format!("at most {MAX_ITEMS} flags")));
    }
    if env.frameworks.len() > MAX_ITEMS {
        return Err(invalid(
            "environment.frameworks",
            format!("at most {MAX_ITEMS} framework versions"),
        ));
    }
    Ok(())
}

/// Steps, window and environment numbers, against each other and the device.
fn check_window(run: &RunSubmission, spec: &DeviceSpec) -> Result<(), RunError> {
    if run.steps == 0 {
        return Err(invalid(
            "steps",
            "must be at least 1 (the steps inside the window)",
        ));
    }
    // The step's time first: a window cannot be checked against a step time
    // that is not one (negative, zero, or out of any physical range).
    let s = run.case.measured.seconds_per_step;
    const STEP: &str = "case.measured.seconds_per_step";
    if !(s.is_finite() && s > 0.0) {
        return Err(invalid(
            STEP,
            format!(
                "must be a finite number above 0 (it is {}): the measured seconds per step",
                short(s)
            ),
        ));
    }
    if s < MIN_STEP_S {
        return Err(invalid(
            STEP,
            format!(
                "must be a finite number above 0 and at least {MIN_STEP_S} s (it is {}): no step is shorter than a kernel launch",
                short(s)
            ),
        ));
    }
    let w = run.window_s;
    if !(w.is_finite() && w >= MIN_WINDOW_S) {
        return Err(invalid(
            "window_s",
            format!(
                "must be at least {MIN_WINDOW_S} s (it is {}); measure more steps",
                short(w)
            ),
        ));
    }
    if s > w * (1.0 + WINDOW_TOLERANCE) {
        return Err(invalid(
            STEP,
            format!(
                "must be a finite number above 0 and at most window_s ({} s) (it is {}): the steps lie inside the window",
                short(w),
                short(s)
            ),
        ));
    }
    let product = run.steps as f64 * s;
    if !(product.is_finite() && (product - w).abs() <= WINDOW_TOLERANCE * w) {
        return Err(invalid(
            "window_s",
            format!(
                "{} s disagrees with steps x case.measured.seconds_per_step ({} s) by more than {:.0}%",
                short(w),
                short(product),
                WINDOW_TOLERANCE * 100.0
            ),
        ));
    }
    let env = &run.environment;
    if let Some(p) = env.counter_update_period_s {
        if !(p.is_finite() && p > 0.0 && w >= MIN_WINDOW_PERIODS * p) {
            return Err(invalid(
                "environment.counter_update_period_s",
                format!(
                    "the window of {w} s is shorter than {MIN_WINDOW_PERIODS} updates of a counter that updates every {p} s; measure more steps"
                ),
            ));
        }
    }
    if let Some(l) = env.power_limit_w {
        let tdp = spec.tdp_w;
        let (lo, hi) = (
            crate::plausible::MIN_LIMIT * tdp,
            crate::plausible::MAX_POWER * tdp,
        );
        if !(l.is_finite() && l >= lo && l <= hi) {
            return Err(RunError::Implausible {
                field: "environment.power_limit_w".into(),
                message: format!(
                    "a power limit of {l} W is outside {}-{}x the {} board power ({tdp:.0} W)",
                    crate::plausible::MIN_LIMIT,
                    crate::plausible::MAX_POWER,
                    spec.name
                ),
            });
        }
    }
    Ok(())
}

/// The core's errors, with the fields of the body (`case.batch`).
fn workload_errors(e: InputErrors) -> RunError {
    RunError::Workload(InputErrors(
        e.0.into_iter()
            .map(|x| InputError::new(format!("case.{}", x.field), x.message))
            .collect(),
    ))
}

/// Submit a measured run.
#[utoipa::path(post, path = "/api/runs", operation_id = "submit_run", tag = "runs",
    request_body(content = RunSubmission, content_type = "application/json",
        description = "A measured run: a validation case (workload and per-step measurement), its steps, window and environment, and a `run_id` (a UUID)"),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored (accepted or flagged), with the estimator's error on it", body = RunReceipt),
        (status = 200, description = "The same run again: nothing written (`replayed: true`)", body = RunReceipt),
        (status = 400, description = "`invalid_json`", body = super::ErrorBody),
        (status = 401, description = "`missing_token` (anonymous runs are refused), `invalid_token` or `revoked_token`", body = super::ErrorBody),
        (status = 408, description = "`body_timeout`", body = super::ErrorBody),
        (status = 409, description = "`run_conflict`: the run id was used for a different run", body = super::ErrorBody),
        (status = 413, description = "`body_too_large`", body = super::ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = super::ErrorBody),
        (status = 422, description = "`invalid_run` (a field, named in `field`), `unknown_device`, `invalid_workload` (the core's check of the workload, every problem in `errors[]`), `implausible_run` (power or FLOP rate out of reach for the device, with `field`) or `invalid_text`", body = super::ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = super::ErrorBody),
        (status = 503, description = "Database unavailable; retry with the same run id", body = super::ErrorBody),
    ))]
pub async fn submit(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RunError> {
    let token_id = authenticate(&req, &state).await?;
    let (_, mut value) = read_json(&req, payload, state.body).await?;
    // 8.0 and 8e0 are the JSON number 8, read where a whole number is expected.
    shared::check::whole_floats_as_integers(&mut value);
    check_free_text(&value).map_err(|e| match e {
        SubmitError::Invalid { field, message } => invalid(field, message),
        other => other.into(),
    })?;
    let run = parse_run(value)?;
    let run_id = uuid::Uuid::parse_str(&run.run_id)
        .map_err(|_| invalid("run_id", "must be a UUID chosen by the client"))?;
    check_text(&run)?;
    let measured_at = parse_time("measured_at", &run.measured_at).map_err(|e| match e {
        SubmitError::Invalid { field, message } => invalid(field, message),
        other => other.into(),
    })?;
    let spec = shared::catalog::find(&run.case.device)
        .ok_or_else(|| RunError::UnknownDevice(run.case.device.clone()))?;
    check_window(&run, spec)?;
    let errors = case_accuracy(&run.case, &[]).map_err(workload_errors)?;
    crate::plausible::check_run(&run.case, errors.flops_per_step, spec).map_err(|e| {
        RunError::Implausible {
            field: e.field,
            message: e.message,
        }
    })?;
    let mut flags = run.flags.clone();
    flags.sort();
    flags.dedup();
    let status = if flags.is_empty() {
        RunStatus::Accepted
    } else {
        RunStatus::Flagged
    };
    let outcome = store::insert(
        &state.pool,
        NewMeasuredRun {
            run_id,
            device_id: spec.id,
            device_name: spec.name,
            token_id,
            run: &run,
            status,
            flags: flags.clone(),
            measured_at,
            errors: &errors,
        },
    )
    .await?;
    let receipt = |status, replayed| RunReceipt {
        run_id: run_id.to_string(),
        device: spec.id.into(),
        status,
        flags: flags.clone(),
        replayed,
        errors: Some(errors.clone()),
    };
    match outcome {
        Inserted::Created { status } => Ok(HttpResponse::Created().json(receipt(status, false))),
        Inserted::Replayed { status } => Ok(HttpResponse::Ok().json(receipt(status, true))),
        Inserted::Conflict => Err(RunError::Conflict(run_id)),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    /// Catalog id (`h100-sxm`) or NVML name.
    pub device: String,
    /// One software class: `pytorch-eager`, `compiled`, `serving`, `megatron`.
    pub software: Option<String>,
    /// How many runs, newest first (1-500, default 100).
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AccuracyQuery {
    /// Catalog id (`h100-sxm`) or NVML name.
    pub device: String,
    /// One software class: `pytorch-eager`, `compiled`, `serving`, `megatron`.
    pub software: Option<String>,
}

fn device_of(id: &str) -> Result<&'static DeviceSpec, RunError> {
    shared::catalog::find(id).ok_or(RunError::NoSuchDevice)
}

fn software_of(s: Option<&str>) -> Result<Option<&'static str>, RunError> {
    s.map(|s| {
        SoftwareClass::parse(s.trim())
            .map(SoftwareClass::as_str)
            .ok_or_else(|| RunError::Query {
                field: "software".into(),
                message: format!(
                    "unknown software class {s:?}; use one of {}",
                    SoftwareClass::NAMES.join(", ")
                ),
            })
    })
    .transpose()
}

/// A device's measured runs, newest first, each as a validation case with
/// the estimator's error. Driver, CUDA and framework versions are shown only
/// to the token that submitted the run (`Authorization: Bearer`).
#[utoipa::path(get, path = "/api/runs", operation_id = "list_runs", tag = "runs",
    params(RunsQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "The runs", body = MeasuredRunList),
        (status = 400, description = "`invalid_query`", body = super::ErrorBody),
        (status = 401, description = "A token was sent and is not valid (`invalid_token`, `revoked_token`)", body = super::ErrorBody),
        (status = 404, description = "`unknown_device`", body = super::ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = super::ErrorBody),
        (status = 503, description = "Database unavailable", body = super::ErrorBody),
    ))]
pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: super::Query<RunsQuery>,
) -> Result<HttpResponse, RunError> {
    let spec = device_of(&q.device)?;
    let software = software_of(q.software.as_deref())?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(RunError::Query {
            field: "limit".into(),
            message: "limit must be between 1 and 500".into(),
        });
    }
    let viewer = match authenticate(&req, &state).await {
        Ok(t) => Some(t),
        Err(SubmitError::MissingToken) => None,
        Err(e) => return Err(e.into()),
    };
    store::refresh(&state.pool, spec.id).await?;
    let runs = store::list(&state.pool, spec.id, software, limit).await?;
    Ok(HttpResponse::Ok()
        // The answer depends on the token: never from a shared cache.
        .insert_header(("Cache-Control", "private, no-store"))
        .json(MeasuredRunList {
            device: spec.id.into(),
            estimator_version: shared::ESTIMATOR_VERSION.into(),
            runs: runs.into_iter().map(|r| r.into_api(viewer)).collect(),
        }))
}

/// A share as words: `9%`, `under 1%`.
fn pct(x: f64) -> String {
    if x < 0.01 {
        "under 1%".into()
    } else {
        format!("{:.0}%", x * 100.0)
    }
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The overall figures in plain words.
pub fn summary(device_name: &str, software: Option<&str>, g: &AccuracyGroup, min: i64) -> String {
    let on = match software {
        Some(s) => format!("the {device_name} ({s})"),
        None => format!("the {device_name}"),
    };
    match &g.accuracy {
        Some(a) => format!(
            "On {} from {} on {on}, the estimated energy was within {} of the measured at the median (the worst contributor's median: {}) and the time within {}; {} of {} inside the printed energy range.",
            plural(g.runs, "measured run", "measured runs"),
            plural(g.tokens, "contributor", "contributors"),
            pct(a.median_abs_energy_error),
            pct(a.worst_abs_energy_error),
            pct(a.median_abs_time_error),
            g.runs_energy_inside,
            plural(g.runs, "run", "runs"),
        ),
        None if g.runs == 0 => format!(
            "No measured runs on {on} yet: measure your own job with `jouleprint measure --submit` (docs/measuring.md)."
        ),
        None => format!(
            "{} from {} on {on} so far: the accuracy is shown once runs from {} have been received.",
            plural(g.runs, "measured run", "measured runs"),
            plural(g.tokens, "contributor", "contributors"),
            plural(min, "contributor", "contributors"),
        ),
    }
}

fn group(
    software: Option<String>,
    phase: Option<Phase>,
    votes: &[Vote<Option<i64>>],
    min: i64,
) -> AccuracyGroup {
    let t = tally(votes, usize::try_from(min).unwrap_or(usize::MAX));
    AccuracyGroup {
        software,
        phase,
        runs: t.runs as i64,
        tokens: t.voters as i64,
        runs_energy_inside: t.runs_energy_inside as i64,
        runs_time_inside: t.runs_time_inside as i64,
        met: t.figures.is_some(),
        accuracy: t.figures,
    }
}

/// How right the estimate was on the runs users measured on a device, by the
/// current estimator version: the number of runs, the median and worst
/// absolute energy and time error, and the share inside the printed range,
/// overall and per software class and phase. One vote per token (each
/// token's runs collapsed to their median first); no figures until
/// `profile_min_tokens` tokens contributed. Flagged and quarantined runs are
/// left out.
#[utoipa::path(get, path = "/api/accuracy", operation_id = "get_accuracy", tag = "runs",
    params(AccuracyQuery),
    responses(
        (status = 200, description = "The accuracy table of the device", body = AccuracyReport),
        (status = 400, description = "`invalid_query`", body = super::ErrorBody),
        (status = 404, description = "`unknown_device`", body = super::ErrorBody),
        (status = 429, description = "`rate_limited` (`Retry-After`)", body = super::ErrorBody),
        (status = 503, description = "Database unavailable", body = super::ErrorBody),
    ))]
pub async fn accuracy(
    state: web::Data<AppState>,
    q: super::Query<AccuracyQuery>,
) -> Result<HttpResponse, RunError> {
    let spec = device_of(&q.device)?;
    let software = software_of(q.software.as_deref())?;
    store::refresh(&state.pool, spec.id).await?;
    let rows = store::scored(&state.pool, spec.id, software).await?;
    let min = state.quorum.min_tokens;
    let mut all = vec![];
    let mut by: std::collections::BTreeMap<(String, String), Vec<Vote<Option<i64>>>> =
        Default::default();
    for r in &rows {
        let Some(Ok(a)) = r.errors.as_ref().filter(|_| r.eligible) else {
            continue;
        };
        let v = Vote::of(r.token_id, a);
        all.push(v.clone());
        by.entry((r.software.clone(), r.phase.clone()))
            .or_default()
            .push(v);
    }
    let overall = group(software.map(str::to_string), None, &all, min);
    let mut groups: Vec<AccuracyGroup> = by
        .into_iter()
        .map(|((sw, ph), votes)| group(Some(sw), Phase::parse(&ph), &votes, min))
        .collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.runs));
    let report = AccuracyReport {
        device: spec.id.into(),
        device_name: spec.name.into(),
        software: software.map(str::to_string),
        estimator_version: shared::ESTIMATOR_VERSION.into(),
        min_tokens: min,
        summary: summary(spec.name, software, &overall, min),
        not_scored: rows.len() as i64 - overall.runs,
        overall,
        groups,
        runs_url: format!(
            "/api/runs?device={}{}",
            spec.id,
            software
                .map(|s| format!("&software={s}"))
                .unwrap_or_default()
        ),
    };
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-cache"))
        .json(report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::api::AccuracyFigures;

    fn g(runs: i64, tokens: i64, inside: i64, acc: Option<AccuracyFigures>) -> AccuracyGroup {
        AccuracyGroup {
            software: None,
            phase: None,
            runs,
            tokens,
            runs_energy_inside: inside,
            runs_time_inside: inside,
            met: acc.is_some(),
            accuracy: acc,
        }
    }

    #[test]
    fn summaries_in_plain_words() {
        let a = AccuracyFigures {
            median_abs_energy_error: 0.0912,
            worst_abs_energy_error: 0.31,
            median_abs_time_error: 0.004,
            worst_abs_time_error: 0.2,
            share_energy_inside: 0.8,
            share_time_inside: 0.9,
        };
        assert_eq!(
            summary("NVIDIA H100 SXM5 80GB", None, &g(14, 3, 12, Some(a)), 2),
            "On 14 measured runs from 3 contributors on the NVIDIA H100 SXM5 80GB, the estimated energy was within 9% of the measured at the median (the worst contributor's median: 31%) and the time within under 1%; 12 of 14 runs inside the printed energy range."
        );
        assert!(summary("X", Some("compiled"), &g(0, 0, 0, None), 2)
            .starts_with("No measured runs on the X (compiled) yet"));
        assert_eq!(
            summary("X", None, &g(1, 1, 1, None), 2),
            "1 measured run from 1 contributor on the X so far: the accuracy is shown once runs from 2 contributors have been received."
        );
    }

    #[test]
    fn unknown_fields_are_named_but_a_config_is_free() {
        let v = serde_json::json!({
            "run_id": "00000000-0000-4000-8000-000000000000",
            "case": {"name": "x", "device": "h100-sxm", "model": {"hf_config": {"model_type": "gpt2", "anything": 1}},
                     "phase": "train", "precision": "bf16", "batch": 1,
                     "measured": {"joules_per_step": 1.0, "seconds_per_step": 1.0, "colour": "red"}},
            "steps": 1, "window_s": 1.0
        });
        match parse_run(v) {
            Err(RunError::Invalid { field, .. }) => assert_eq!(field, "case.measured.colour"),
            other => panic!("expected an unknown field, got {other:?}"),
        }
    }
}
