//! The HTTP API's contract: the type of every request and response body under
//! `/api` (`docs/api.md`). The service serialises these, the page deserialises
//! them, and the OpenAPI document is generated from them (feature `openapi`).
//! They are not database rows: the service's store maps its rows into them.
//!
//! Times are RFC 3339 text (`2026-11-27T21:00:00Z`) and run ids UUID text, so
//! the page needs neither a date nor a UUID library.

use crate::device::DeviceProfile;
use crate::error::InputError;
use crate::units::MathMode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// `POST /api/calibrations` takes a calibration record.
pub use crate::calibration::CalibrationRecord;
/// `POST /api/estimate` answers an estimate.
pub use crate::report::Estimate;
/// `POST /api/estimate` and `POST /api/estimates` take a scenario.
pub use crate::scenario::Scenario;

crate::named_enum! {
    /// Where the profile a device uses now comes from.
    pub enum ProfileOrigin {
        /// The median of calibration runs stored by the service.
        Measured = "measured",
        /// The built-in profile (`jouleprint devices`).
        Builtin = "builtin",
    }
}

crate::named_enum! {
    /// Where one coefficient of a profile comes from.
    pub enum ValueSource {
        /// Derived from vendor figures (the built-in value).
        Datasheet = "datasheet",
        /// From calibration runs.
        Measured = "measured",
    }
}

crate::named_enum! {
    /// What the service did with a calibration run.
    pub enum RunStatus {
        /// Used in the device's measured profile.
        Accepted = "accepted",
        /// Stored, not used (the runner flagged throttling, other processes, ...).
        Flagged = "flagged",
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// Stable, machine-readable: `invalid_json`, `invalid_scenario`, `unauthorized`, `database_unavailable`, ...
    pub code: String,
    /// For people; may change.
    pub message: String,
    /// The input field at fault (a JSON path), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Every problem of the input, each with its field path (a scenario's check reports all at once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<InputError>,
}

/// `GET /api/health`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// `ok`: the database answered.
    pub database: String,
    /// The service's version.
    pub version: String,
    /// `shared::ESTIMATOR_VERSION`: bumped whenever the numbers change.
    pub estimator_version: String,
}

/// One coefficient of the profile in use, and where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ValueInfo {
    pub value: f64,
    pub source: ValueSource,
    /// Relative spread, (max - min) / median, over the runs of the measured
    /// profile that passed the outlier screen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<f64>,
    /// Scaled median absolute deviation (1.4826 x MAD) over the median, over
    /// the runs the profile is the median of (before the screen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mad: Option<f64>,
    /// Runs whose value lies more than 3.5 scaled MADs from the median: left
    /// out of this coefficient's median (and of `spread`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outliers: Option<u32>,
}

/// Calibration runs stored for a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunCounts {
    /// Accepted runs stored for this device (all time).
    pub accepted: i64,
    /// Flagged runs stored, not used.
    pub flagged: i64,
    /// Runs the current measured profile is the median of: the newest
    /// accepted run of each token (one vote per token, at most 20).
    pub in_profile: i64,
    /// Accepted runs an operator quarantined (`jouleprint admin quarantine`):
    /// kept, not used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantined: Option<i64>,
}

/// What a measured profile needs before it replaces the built-in one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Quorum {
    /// Accepted runs that are not quarantined.
    pub runs: i64,
    /// Distinct tokens among them.
    pub tokens: i64,
    /// Runs needed (`profile_min_runs`).
    pub min_runs: i64,
    /// Tokens needed (`profile_min_tokens`).
    pub min_tokens: i64,
    /// Both met: the measured profile is in use.
    pub met: bool,
}

/// `GET /api/devices/{id}`: a catalog device and the profile estimates use now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceView {
    /// Catalog id, used in URLs and scenarios (`h100-sxm`).
    pub id: String,
    pub name: String,
    pub vendor: String,
    /// Names NVML reports for this device; calibration records are matched by them.
    pub nvml_names: Vec<String>,
    pub memory_gb: f64,
    pub mem_bw_gbs: f64,
    pub tdp_w: f64,
    /// Datasheet dense peak TFLOP/s per math mode.
    pub dense_tflops: BTreeMap<MathMode, f64>,
    /// The profile estimates use now.
    pub profile: DeviceProfile,
    pub profile_origin: ProfileOrigin,
    /// The version a scenario pins (`profile.source.version`).
    pub profile_version: String,
    /// The service's measured-profile version number, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_version: Option<i32>,
    /// When this measured profile was made (RFC 3339): the time the service
    /// accepted its newest run. Absent for a built-in profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub measured_at: Option<String>,
    pub runs: RunCounts,
    /// Each numeric coefficient by path (`idle_w`, `gemm_tflops.bf16`).
    pub values: BTreeMap<String, ValueInfo>,
    /// Where the device stands against the quorum, once it has accepted runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<Quorum>,
}

impl DeviceView {
    /// Whether the profile in use was measured by calibration runs.
    pub fn is_measured(&self) -> bool {
        self.profile_origin == ProfileOrigin::Measured
    }
}

/// `GET /api/devices`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceList {
    pub devices: Vec<DeviceView>,
}

/// One calibration run as `GET /api/devices/{id}/calibrations` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunSummary {
    /// The runner's UUID (text).
    pub run_id: String,
    pub status: RunStatus,
    /// Why the run was flagged (empty when accepted).
    pub flags: Vec<String>,
    pub host: Option<String>,
    /// The device's name as NVML reported it.
    pub nvml_name: String,
    pub device_uuid: Option<String>,
    pub driver: Option<String>,
    /// Enforced power limit during the run, W.
    pub power_limit_w: f64,
    pub tool_version: Option<String>,
    pub temperature_before_c: Option<f64>,
    pub temperature_after_c: Option<f64>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub started_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub finished_at: Option<String>,
    /// When the service stored it.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub received_at: String,
    /// Timed loops in the record.
    pub measurements: i64,
    /// The profile derived from this run alone.
    pub profile: DeviceProfile,
    /// True when `host`, `device_uuid` and `driver` are left out: they are
    /// shown only to the token that submitted the run.
    #[serde(default)]
    pub redacted: bool,
}

impl RunSummary {
    /// When the run was made: its end, else its start, else when it was received.
    pub fn made_at(&self) -> &str {
        self.finished_at
            .as_deref()
            .or(self.started_at.as_deref())
            .unwrap_or(&self.received_at)
    }
}

/// `GET /api/devices/{id}/calibrations`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunList {
    /// Catalog id of the device.
    pub device: String,
    pub runs: Vec<RunSummary>,
}

/// `POST /api/calibrations`: what the service did with the record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmitResponse {
    /// The record's `run_id` (a UUID).
    pub run_id: String,
    /// Catalog id of the device.
    pub device: String,
    pub status: RunStatus,
    /// Why a run was flagged.
    #[serde(default)]
    pub flags: Vec<String>,
    /// True when this run id had been submitted before with the same record: nothing was written.
    #[serde(default)]
    pub replayed: bool,
    /// The device's new measured-profile version, when this submission made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_version: Option<i32>,
    /// Whether that version is in use: false until the device has enough
    /// runs from enough tokens (`DeviceView::quorum`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_in_use: Option<bool>,
}

/// `POST /api/estimate`: the estimate, and whether its pinned profiles are the server's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EstimateAnswer {
    #[serde(flatten)]
    pub estimate: Estimate,
    /// False when a pinned `measured:...` profile (`resolved.device`,
    /// `resolved.stage_devices`) is not one this server made under that label
    /// (or the server could not check): show it as "not verified".
    #[serde(default)]
    pub profile_verified: bool,
}

crate::named_enum! {
    /// Where the estimate of a stored scenario comes from.
    pub enum EstimateSource {
        /// Computed when the link was stored, by this estimator version.
        Stored = "stored",
        /// Computed now: the link was stored by another estimator version.
        Recomputed = "recomputed",
    }
}

/// `POST /api/estimates` and `GET /api/estimates/{id}`: a scenario stored for sharing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StoredEstimate {
    /// Short id (10 characters).
    pub id: String,
    /// This resource's absolute URL.
    pub url: String,
    /// The page showing it: `/?estimate={id}`.
    pub page_url: String,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
    /// The scenario as stored, `resolved` filled in (a `Scenario`; kept as
    /// stored, so a link made by an older version still opens).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub scenario: serde_json::Value,
    /// The estimate of the stored scenario (absent if it cannot be computed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<Estimate>,
    /// Whether `estimate` is the one stored with the link or computed now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_source: Option<EstimateSource>,
    /// As in [`EstimateAnswer`]: false when a pinned measured profile is not
    /// one this server made under its label.
    #[serde(default)]
    pub profile_verified: bool,
}

/// The estimator's error on one measured run.
pub use crate::validate::accuracy::{AccuracyFigures, CaseAccuracy};
/// `POST /api/runs` takes a validation case (`docs/scenario.md`, "Validation cases").
pub use crate::validate::Case;

/// Where and with what a run was measured. Shown only to the token that
/// submitted the run (like a calibration's host details).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunEnvironment {
    /// NVIDIA driver version, from NVML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// The CUDA version the driver supports, from NVML (`12.4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda: Option<String>,
    /// Framework versions the user gave (`torch` -> `2.4.0`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub frameworks: BTreeMap<String, String>,
    /// Enforced power limit during the run, W.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_limit_w: Option<f64>,
    /// `counter` (NVML's energy counter), `sampled_power` (integrated power
    /// samples) or `fake` (the test meter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_source: Option<String>,
    /// How often the energy counter advanced, s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter_update_period_s: Option<f64>,
    /// `jouleprint <version>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_version: Option<String>,
}

/// `POST /api/runs`: one measured run of a real job (`jouleprint measure --submit`).
/// Never the command line: the case's `name` is the user's choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunSubmission {
    /// A UUID chosen by the client: a submission is idempotent by it.
    pub run_id: String,
    /// The workload and what was measured per step, as a validation case;
    /// `device` is the NVML name.
    pub case: Case,
    /// Steps inside the measurement window(s).
    pub steps: u64,
    /// Seconds inside the window(s): `steps x case.measured.seconds_per_step`.
    pub window_s: f64,
    #[serde(default)]
    pub environment: RunEnvironment,
    /// Why the client thinks the run should not be scored (`other_processes:1`,
    /// `whole_command`, `throttle:hw_slowdown`): stored, not used.
    #[serde(default)]
    pub flags: Vec<String>,
    /// When the window closed (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub measured_at: Option<String>,
}

/// `POST /api/runs`: what the service did with a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunReceipt {
    pub run_id: String,
    /// Catalog id of the device.
    pub device: String,
    /// `accepted`: scored in the accuracy table; `flagged`: stored, not scored.
    pub status: RunStatus,
    #[serde(default)]
    pub flags: Vec<String>,
    /// True when this run id had been stored before with the same run: nothing was written.
    #[serde(default)]
    pub replayed: bool,
    /// The estimator's error on this run, by the current estimator version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<CaseAccuracy>,
}

/// One measured run, as `GET /api/runs` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeasuredRunView {
    pub run_id: String,
    pub status: RunStatus,
    pub flags: Vec<String>,
    /// An operator took it (or its token) out of the accuracy table.
    #[serde(default)]
    pub quarantined: bool,
    /// The run as a validation case (one line of `jouleprint validate`).
    pub case: Case,
    pub steps: u64,
    pub window_s: f64,
    /// Null unless the caller is the token that submitted the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<RunEnvironment>,
    /// True when `environment` is left out.
    #[serde(default)]
    pub redacted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub measured_at: Option<String>,
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub received_at: String,
    /// The estimator's error on it, by the current estimator version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<CaseAccuracy>,
    /// Why the current estimator cannot evaluate it (then `errors` is absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// `GET /api/runs?device=ID`: newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeasuredRunList {
    /// Catalog id of the device.
    pub device: String,
    /// The estimator version of every `errors`.
    pub estimator_version: String,
    pub runs: Vec<MeasuredRunView>,
}

/// The accuracy of one set of runs (a device, or one software class and phase of it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccuracyGroup {
    /// The software class (`pytorch-eager`, ...); absent for all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
    /// The phase (`train`, `inference`, `prefill`, `decode`); absent for all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<crate::scenario::Phase>,
    /// Runs scored: accepted, not quarantined, evaluated by this estimator version.
    pub runs: i64,
    /// Distinct tokens (contributors) among them.
    pub tokens: i64,
    /// Runs (not contributors) whose measured energy lay inside the printed range.
    pub runs_energy_inside: i64,
    pub runs_time_inside: i64,
    /// `tokens >= min_tokens`: the figures are given.
    pub met: bool,
    /// One vote per token (each token's runs collapsed to their median first);
    /// absent until `met`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<AccuracyFigures>,
}

/// `GET /api/accuracy?device=ID[&software=CLASS]`: how right the estimate was
/// on the runs users measured on this device, by the current estimator version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccuracyReport {
    /// Catalog id of the device.
    pub device: String,
    pub device_name: String,
    /// The software class asked for; absent: all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
    pub estimator_version: String,
    /// Tokens needed before figures are given (`profile_min_tokens`).
    pub min_tokens: i64,
    /// Every run of the device (of `software`, when asked).
    pub overall: AccuracyGroup,
    /// Per software class and phase, most runs first.
    pub groups: Vec<AccuracyGroup>,
    /// Runs stored and not scored: flagged, quarantined, or that this
    /// estimator version cannot evaluate.
    pub not_scored: i64,
    /// The overall figures in plain words, for the page.
    pub summary: String,
    /// The runs behind the figures (`GET /api/runs?device=...`).
    pub runs_url: String,
}
