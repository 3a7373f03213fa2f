//! The calibration record: what a calibration run measures, with its run
//! metadata. The runner writes it, `POST /api/calibrations` accepts it, and
//! [`profile_from_record`] turns it into the coefficients of the energy model.
//! Field names of `device`, `idle` and `micro[]` follow the reference file
//! `shared/data/h100-sxm-calibration.json`, which parses as a record.
//!
//! Schema versions: 1 (the reference file and the first runner) and 2 (adds
//! the sweeps, per-loop conditions and idle before/after). Every field version 2
//! added is optional, so a version-1 record still parses and derives a profile.

use crate::device::{DeviceProfile, ProfileSource};
use crate::units::MathMode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The version the runner writes.
pub const RECORD_SCHEMA_VERSION: u32 = 2;
/// The oldest version still read.
pub const OLDEST_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CalibrationRecord {
    /// Absent in the reference file, which is version 1.
    #[serde(default = "schema_v1")]
    pub schema_version: u32,
    /// A UUID chosen by the runner; submissions are idempotent by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// RFC 3339 times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Free text kept from the reference format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub what: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_on: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<String>,
    pub device: RecordDevice,
    /// `counter` (NVML total-energy counter) or `sampled_power` (integrated samples, pre-Volta).
    #[serde(default = "counter")]
    pub energy_source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Conditions>,
    pub idle: IdleMeasurement,
    pub micro: Vec<Measurement>,
    /// Problems the runner saw (throttling, other processes): a flagged run is stored, not used.
    #[serde(default)]
    pub flags: Vec<String>,
    /// How the run was made (suite, repeats, counter period); absent in older records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
    /// What [`derived`] computed from this record when it was written.
    /// Informational: readers recompute it and never trust these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived: Option<Derived>,
}

/// Run metadata written by the calibration runner.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunInfo {
    /// `full` or `quick`.
    #[serde(default)]
    pub suite: String,
    /// Passes over the whole suite; each measurement's `spread` is over these.
    #[serde(default)]
    pub repeats: u32,
    /// Minimum length of each timed loop after warm-up, s.
    #[serde(default)]
    pub min_loop_seconds: f64,
    /// Update period of the energy counter, as measured by the runner, s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter_update_period_s: Option<f64>,
    /// `cuda` (real device) or `simulated` (the fake device of the tests).
    #[serde(default)]
    pub runner: String,
    /// Compute capability, e.g. `9.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_capability: Option<String>,
    /// Kernels the device or runner does not support, skipped.
    #[serde(default)]
    pub skipped: Vec<String>,
    /// Heat-up before the first loop, s (v2): the heaviest GEMM until power and clock settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heat_up_s: Option<f64>,
    /// Interval of the clock/power/throttle sampling during each loop, s (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_period_s: Option<f64>,
}

/// What a record yields (see [`derived`]): the profile, the notes of its
/// derivation, and the sweeps the kernel-rate model reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Derived {
    pub profile: DeviceProfile,
    /// Achieved TFLOP/s of each square GEMM over the largest square GEMM of its math mode.
    #[serde(default)]
    pub gemm_efficiency: Vec<GemmEfficiency>,
    /// Energy of one tiny kernel above idle, microjoules (from the launch loop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_energy_uj: Option<f64>,
    /// How the derivation went where it had to choose (v2): clamped or missing values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The sweeps of the full suite (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweeps: Option<Sweeps>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GemmEfficiency {
    pub name: String,
    pub dtype: String,
    pub flops_per_step: f64,
    pub tflops: f64,
    /// tflops over the largest square GEMM's of the same math mode.
    pub efficiency: f64,
}

fn schema_v1() -> u32 {
    OLDEST_SCHEMA_VERSION
}
fn counter() -> String {
    "counter".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordDevice {
    /// NVML's name, e.g. `NVIDIA H100 80GB HBM3`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Enforced power limit, milliwatts (NVML's unit, kept as in the reference).
    pub power_limit_mw: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sm_clock: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_mem_clock: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_count: Option<u32>,
    /// Device memory as NVML reports it, MiB (v2): the profile's memory for a
    /// device the catalog does not know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Conditions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_before_c: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_after_c: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_clock_before_mhz: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_clock_after_mhz: Option<u32>,
    #[serde(default)]
    pub throttle_reasons_before: Vec<String>,
    #[serde(default)]
    pub throttle_reasons_after: Vec<String>,
    /// Other compute processes seen on the GPU during the run.
    #[serde(default)]
    pub other_processes: u32,
    /// How the runner told its own process from others in NVML's list (v2),
    /// e.g. `pid 4242` or `nvml pid 812345 (own pid not listed: PID namespace)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_process: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdleMeasurement {
    /// The idle power the profile uses: the mean of `before_w` and `after_w`
    /// when both were measured (v2), else the one measurement.
    pub avg_power_w: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Idle before the first loop (cool GPU), W (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_w: Option<f64>,
    /// Idle after the last loop (warm GPU), W (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_w: Option<f64>,
}

crate::named_enum! {
    pub enum MeasurementKind {
        Gemm = "gemm",
        Memory = "memory",
        Elementwise = "elementwise",
        /// Many tiny kernels: per-kernel time and energy.
        Launch = "launch",
        /// Attention through the math path (v2): batched GEMMs and a softmax kernel.
        Attention = "attention",
        /// A kernel that keeps SMs busy without FLOPs or bytes (v2): the active floor.
        Spin = "spin",
    }
}

/// The shape of an attention loop (v2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttentionShape {
    /// Batch times heads: the batch of the batched products.
    pub batch_heads: u64,
    pub seq: u64,
    pub head_dim: u64,
    /// `forward` or `backward`.
    pub pass: String,
    /// `math`: Q K^T, softmax, P V as separate kernels (and their gradients);
    /// `fused`: one FlashAttention-style kernel.
    pub path: String,
}

/// Which SMs a spin loop kept busy (v2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Occupancy {
    /// SMs with a resident block.
    pub sms: u32,
    pub sm_count: u32,
    /// Threads resident per busy SM.
    pub threads_per_sm: u32,
}

/// Clocks, power and throttle reasons sampled during one loop (v2), over all repeats.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoopConditions {
    pub samples: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_clock_min_mhz: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_clock_median_mhz: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_min_w: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_median_w: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature_max_c: Option<f64>,
    /// Every throttle reason seen in a sample, including the normal ones (`sw_power_cap`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub throttle_reasons: Vec<String>,
}

/// One timed loop of one kernel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Measurement {
    pub name: String,
    pub kind: MeasurementKind,
    pub dtype: String,
    /// Square size, for GEMMs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// Non-square GEMM shape (m, n, k), when not square.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mnk: Option<[u64; 3]>,
    pub steps: u64,
    pub seconds: f64,
    pub joules: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avg_power_w: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flops_per_step: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes_per_step: Option<f64>,
    /// Relative spread (max-min over mean) of the repeats, when repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread: Option<f64>,
    /// True when the loop was timed on the device (CUDA events), not from the host.
    #[serde(default)]
    pub device_timed: bool,
    /// Kernels launched per step (v2): e.g. 1000 for the launch graph, 3 for
    /// an attention forward on the math path. Absent: one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernels_per_step: Option<u64>,
    /// `graph` when a step is one CUDA-graph replay (the device runs its
    /// kernels back to back), `stream` when each kernel is launched by the host (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch: Option<String>,
    /// Size of each tensor of an element-wise or copy loop, bytes (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor_bytes: Option<u64>,
    /// Sweeps over the tensors per step (v2; absent: one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<AttentionShape>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occupancy: Option<Occupancy>,
    /// Warm-up before the timed loop, s, and whether power and clock had settled (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<LoopConditions>,
    // Derived fields the reference file carries; recomputed, never trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds_per_step: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joules_per_step: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tflops: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gb_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pj_per_flop: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pj_per_byte: Option<f64>,
    /// Problems seen during this loop (clocks dropped, thermal or power-brake throttle).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
}

impl Measurement {
    pub fn avg_power(&self) -> f64 {
        self.joules / self.seconds
    }
    pub fn seconds_per_step(&self) -> f64 {
        self.seconds / self.steps as f64
    }
    pub fn flop_rate(&self) -> Option<f64> {
        self.flops_per_step
            .map(|f| f * self.steps as f64 / self.seconds)
    }
    pub fn byte_rate(&self) -> Option<f64> {
        self.bytes_per_step
            .map(|b| b * self.steps as f64 / self.seconds)
    }
    /// The six derived columns a loop may carry, as its raw seconds, joules,
    /// steps, FLOPs and bytes give them: (name, value, formula). The runner
    /// writes them from here and a record's are checked against them.
    pub fn derived_columns(&self) -> [(&'static str, Option<f64>, &'static str); 6] {
        let steps = self.steps as f64;
        let flops = self.flops_per_step.map(|f| f * steps);
        let bytes = self.bytes_per_step.map(|b| b * steps);
        [
            (
                "seconds_per_step",
                Some(self.seconds_per_step()),
                "seconds / steps",
            ),
            (
                "joules_per_step",
                Some(self.joules / steps),
                "joules / steps",
            ),
            (
                "tflops",
                self.flop_rate().map(|r| r / 1e12),
                "flops_per_step x steps / seconds / 1e12",
            ),
            (
                "gb_per_s",
                self.byte_rate().map(|r| r / 1e9),
                "bytes_per_step x steps / seconds / 1e9",
            ),
            (
                "pj_per_flop",
                flops.map(|f| self.joules / f * 1e12),
                "joules / (flops_per_step x steps) x 1e12",
            ),
            (
                "pj_per_byte",
                bytes.map(|b| self.joules / b * 1e12),
                "joules / (bytes_per_step x steps) x 1e12",
            ),
        ]
    }
    /// The derived columns as the loop gives them, in `derived_columns`' order.
    fn given_columns(&self) -> [Option<f64>; 6] {
        [
            self.seconds_per_step,
            self.joules_per_step,
            self.tflops,
            self.gb_per_s,
            self.pj_per_flop,
            self.pj_per_byte,
        ]
    }
    /// Sets the derived columns from the raw figures (finite ones only).
    pub fn fill_derived_columns(&mut self) {
        let [a, b, c, d, e, f] = self
            .derived_columns()
            .map(|(_, v, _)| v.filter(|v| v.is_finite()));
        self.seconds_per_step = a;
        self.joules_per_step = b;
        self.tflops = c;
        self.gb_per_s = d;
        self.pj_per_flop = e;
        self.pj_per_byte = f;
    }
    /// (m, n, k) of a GEMM, square or not.
    pub fn gemm_shape(&self) -> Option<[u64; 3]> {
        if self.kind != MeasurementKind::Gemm {
            return None;
        }
        self.mnk.or(self.n.map(|n| [n, n, n]))
    }
    fn is_square_gemm(&self) -> bool {
        self.gemm_shape().is_some_and(|[m, n, k]| m == n && n == k)
    }
}

/// Why a record cannot be used; each names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordError {
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
}

fn bad(field: impl Into<String>, problem: impl Into<String>) -> RecordError {
    RecordError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

impl CalibrationRecord {
    /// Units, ranges, finite numbers, known precisions, consistent joules/seconds/power.
    pub fn validate(&self) -> Result<(), RecordError> {
        if !(OLDEST_SCHEMA_VERSION..=RECORD_SCHEMA_VERSION).contains(&self.schema_version) {
            return Err(bad(
                "schema_version",
                format!(
                    "must be {OLDEST_SCHEMA_VERSION} to {RECORD_SCHEMA_VERSION}, got {} (a newer runner? update jouleprint)",
                    self.schema_version
                ),
            ));
        }
        if self.device.name.trim().is_empty() {
            return Err(bad("device.name", "must not be empty"));
        }
        let limit_w = self.device.power_limit_mw as f64 / 1000.0;
        if !(10.0..=5000.0).contains(&limit_w) {
            return Err(bad(
                "device.power_limit_mw",
                "must be between 10000 and 5000000 (milliwatts)",
            ));
        }
        let idle = self.idle.avg_power_w;
        if !idle.is_finite() || idle <= 0.0 || idle > limit_w {
            return Err(bad(
                "idle.avg_power_w",
                "must be a finite number of watts above 0 and at most the power limit",
            ));
        }
        for (name, v) in [
            ("idle.before_w", self.idle.before_w),
            ("idle.after_w", self.idle.after_w),
        ] {
            if let Some(v) = v {
                if !v.is_finite() || v <= 0.0 || v > limit_w {
                    return Err(bad(
                        name,
                        "must be a finite number of watts above 0 and at most the power limit",
                    ));
                }
            }
        }
        if self.micro.is_empty() {
            return Err(bad("micro", "must hold at least one measurement"));
        }
        for (i, m) in self.micro.iter().enumerate() {
            validate_measurement(i, m, limit_w)?;
        }
        Ok(())
    }
}

fn validate_measurement(i: usize, m: &Measurement, limit_w: f64) -> Result<(), RecordError> {
    let f = |name: &str| format!("micro[{i}].{name}");
    if MathMode::parse(&m.dtype).is_none() {
        return Err(bad(
            f("dtype"),
            "must be one of fp32, tf32, fp16, bf16, fp8, int8",
        ));
    }
    for (name, v) in [("seconds", m.seconds), ("joules", m.joules)] {
        if !v.is_finite() || v <= 0.0 {
            return Err(bad(f(name), "must be a finite number above 0"));
        }
    }
    if m.steps == 0 {
        return Err(bad(f("steps"), "must be at least 1"));
    }
    for (name, v) in [
        ("flops_per_step", m.flops_per_step),
        ("bytes_per_step", m.bytes_per_step),
    ] {
        if let Some(v) = v {
            if !v.is_finite() || v <= 0.0 {
                return Err(bad(f(name), "must be a finite number above 0"));
            }
        }
    }
    for (name, v) in [
        ("kernels_per_step", m.kernels_per_step),
        ("passes", m.passes),
        ("tensor_bytes", m.tensor_bytes),
    ] {
        if v == Some(0) {
            return Err(bad(f(name), "must be at least 1 when given"));
        }
    }
    let p = m.avg_power();
    if p > 1.5 * limit_w {
        return Err(bad(
            f("joules"),
            format!("implies {p:.0} W, above 1.5x the power limit ({limit_w:.0} W)"),
        ));
    }
    if let Some(ap) = m.avg_power_w {
        if !ap.is_finite() || (ap - p).abs() > 0.05 * p.max(1.0) {
            return Err(bad(
                f("avg_power_w"),
                format!("{ap:.1} W disagrees with joules/seconds = {p:.1} W"),
            ));
        }
    }
    check_derived(i, m)?;
    match m.kind {
        MeasurementKind::Gemm | MeasurementKind::Attention if m.flops_per_step.is_none() => {
            return Err(bad(f("flops_per_step"), "required for a gemm or attention"))
        }
        MeasurementKind::Memory | MeasurementKind::Elementwise if m.bytes_per_step.is_none() => {
            return Err(bad(
                f("bytes_per_step"),
                "required for a memory or elementwise kernel",
            ))
        }
        MeasurementKind::Attention => {
            let Some(a) = &m.attention else {
                return Err(bad(
                    f("attention"),
                    "required for an attention loop (batch_heads, seq, head_dim, pass, path)",
                ));
            };
            if a.batch_heads == 0 || a.seq == 0 || a.head_dim == 0 {
                return Err(bad(
                    f("attention"),
                    "batch_heads, seq and head_dim must be at least 1",
                ));
            }
            if !matches!(a.pass.as_str(), "forward" | "backward") {
                return Err(bad(f("attention.pass"), "must be forward or backward"));
            }
        }
        MeasurementKind::Spin => {
            if let Some(o) = &m.occupancy {
                if o.sms == 0 || o.sm_count == 0 || o.sms > o.sm_count {
                    return Err(bad(
                        f("occupancy"),
                        "sms must be between 1 and sm_count (and sm_count at least 1)",
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// The derived per-loop figures a record may carry (the runner writes them,
/// histories show them) must be what its raw seconds, joules, steps, FLOPs
/// and bytes give, within 1% for rounding: the profile is recomputed from the
/// raw figures, but a stored record must not say otherwise.
fn check_derived(i: usize, m: &Measurement) -> Result<(), RecordError> {
    let fields = m.derived_columns().into_iter().zip(m.given_columns());
    for ((name, want, formula), given) in fields {
        let Some(given) = given else { continue };
        let field = format!("micro[{i}].{name}");
        let Some(want) = want else {
            return Err(bad(
                field,
                format!("cannot be checked without its raw figures ({formula}): remove it"),
            ));
        };
        if !given.is_finite() || (given - want).abs() > 0.01 * want.abs() {
            return Err(bad(
                field,
                format!("{given:.4e} disagrees with {formula} = {want:.4e}: send the runner's value or remove it"),
            ));
        }
    }
    Ok(())
}

/// The one way a record becomes a device profile: validated, then derived
/// against the catalog's datasheet profile of its device (modes the run did
/// not measure keep theirs), or against the record alone for a device the
/// catalog does not know. Reads schema versions 1 and 2.
pub fn profile_from_record(rec: &CalibrationRecord) -> Result<DeviceProfile, RecordError> {
    derive_with_notes(rec, &base_profile(rec)).map(|(p, _)| p)
}

/// Everything a record yields: the profile ([`profile_from_record`]), the notes
/// of its derivation, the per-size GEMM efficiency, the energy of an empty
/// kernel and the sweeps. The runner stores this in the record's `derived`.
pub fn derived(rec: &CalibrationRecord) -> Result<Derived, RecordError> {
    let (profile, notes) = derive_with_notes(rec, &base_profile(rec))?;
    let gemm_efficiency = gemm_efficiency(rec);
    let launch_energy_uj = launch_loop(rec).map(|m| {
        let kernels = m.steps as f64 * m.kernels_per_step.unwrap_or(1) as f64;
        (m.joules - rec.idle.avg_power_w * m.seconds).max(0.0) / kernels * 1e6
    });
    let sweeps = sweeps(rec, &profile);
    Ok(Derived {
        profile,
        gemm_efficiency,
        launch_energy_uj,
        notes,
        sweeps: (!sweeps.is_empty()).then_some(sweeps),
    })
}

/// The catalog's datasheet profile of the record's device, or one built from
/// the record alone (a device the catalog does not know: no datasheet values
/// for the modes the run did not measure).
pub fn base_profile(rec: &CalibrationRecord) -> DeviceProfile {
    if let Some(spec) = crate::catalog::find(&rec.device.name) {
        return spec.datasheet_profile();
    }
    let id: String = rec
        .device
        .name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    use crate::catalog::datasheet_assumptions::{GEMM_LATENCY_US, KERNEL_LATENCY_US};
    DeviceProfile {
        id,
        name: rec.device.name.clone(),
        source: ProfileSource {
            kind: "measured".into(),
            detail: "device not in the catalog".into(),
            version: "measured".into(),
        },
        memory_gb: rec
            .device
            .memory_mib
            .map(|m| m as f64 * 1048576.0 / 1e9)
            .unwrap_or(0.0),
        power_limit_w: rec.device.power_limit_mw as f64 / 1000.0,
        idle_w: rec.idle.avg_power_w,
        active_floor_w: 0.0,
        gemm_tflops: BTreeMap::new(),
        gemm_latency_us: GEMM_LATENCY_US,
        pj_per_flop: BTreeMap::new(),
        mem_gbs: 0.0,
        pj_per_byte: 0.0,
        kernel_latency_us: KERNEL_LATENCY_US,
        uncertainty: 0.08,
        kernels: None,
        links: None,
    }
}

/// Turn a record into energy-model coefficients against `base`
/// (`docs/energy-model.md`, "Measured profiles"). Kept for callers that
/// choose their own base; [`profile_from_record`] is the usual entry.
pub fn derive_profile(
    rec: &CalibrationRecord,
    base: &DeviceProfile,
) -> Result<DeviceProfile, RecordError> {
    derive_with_notes(rec, base).map(|(p, _)| p)
}

/// GEMMs of at least this many FLOPs (a 2048 cube) enter the latency fit:
/// smaller ones are bound by memory or launch, not by the math units.
const LATENCY_FIT_MIN_FLOPS: f64 = 2.0 * 2048.0 * 2048.0 * 2048.0 * 0.99;

/// [`derive_profile`] with notes on what it had to clamp or keep from `base`.
///
/// - idle: the idle measurement (mean of before and after in v2 records).
/// - active floor: the model's fitted fraction of the power limit (docs/energy-model.md).
/// - per math mode, from the largest *square* GEMM of that mode (the reference's
///   shape family; the largest GEMM of any shape when there is no square one):
///   achieved TFLOP/s = its FLOP rate, marginal pJ/FLOP = (P - idle - floor) / rate.
/// - GEMM latency: t_step = F / R + t0 fitted by least squares (relative
///   residuals) over the square GEMMs of 2048 and up of the anchor mode (bf16,
///   else fp16, else any); the intercept t0, clamped at 0 with a note.
/// - pJ/byte and GB/s: the element-wise loop over the largest tensors (the
///   reference's bf16 multiply-add over 2 GiB tensors), else the copy.
/// - kernel latency: the device-bound launch loop (a CUDA graph of empty
///   kernels) per kernel; a host-driven launch loop (version-1 records)
///   measured the host, so `base` keeps it.
pub fn derive_with_notes(
    rec: &CalibrationRecord,
    base: &DeviceProfile,
) -> Result<(DeviceProfile, Vec<String>), RecordError> {
    rec.validate()?;
    let mut notes = Vec::new();
    let idle = rec.idle.avg_power_w;
    let anchors = gemm_anchors(rec);
    let anchor = anchors
        .get(&MathMode::Bf16)
        .or_else(|| anchors.get(&MathMode::Fp16))
        .or_else(|| anchors.values().next())
        .copied()
        .ok_or_else(|| bad("micro", "needs at least one gemm measurement"))?;

    // Active floor: the power above idle of SMs kept busy at full occupancy,
    // beyond the energy of their FLOPs and bytes. The model's constants were
    // fitted with it as a fraction of the power limit, so that fraction is
    // used; a v2 record's spin loop measures it (`sweeps`) for a refit.
    let floor =
        crate::tuning::TUNING.active_floor_fraction * rec.device.power_limit_mw as f64 / 1000.0;

    let mut gemm_tflops = BTreeMap::new();
    let mut pj_per_flop = BTreeMap::new();
    for (mode, m) in &anchors {
        let rate = m.flop_rate().unwrap_or(0.0);
        if rate <= 0.0 {
            continue;
        }
        if !m.is_square_gemm() {
            notes.push(format!(
                "{}: no square GEMM measured; its rate comes from {}",
                mode.as_str(),
                m.name
            ));
        }
        gemm_tflops.insert(*mode, rate / 1e12);
        let pj = (m.avg_power() - idle - floor) / rate * 1e12;
        if pj < 0.01 {
            notes.push(format!(
                "{}: marginal energy {pj:.3} pJ/FLOP (loop power {:.0} W below idle + floor); clamped to 0.01",
                m.name,
                m.avg_power()
            ));
        }
        pj_per_flop.insert(*mode, pj.max(0.01));
    }

    let gemm_latency_us = gemm_latency(rec, anchor, base, &mut notes);

    let (mem_gbs, pj_per_byte) = match bandwidth_loop(rec)
        .and_then(|m| m.byte_rate().map(|r| (m, r)))
    {
        Some((m, r)) => {
            let pj = (m.avg_power() - idle - floor) / r * 1e12;
            if pj < 0.01 {
                notes.push(format!(
                    "{}: marginal energy {pj:.2} pJ/byte; clamped to 0.01",
                    m.name
                ));
            }
            if m.dtype != "bf16" {
                notes.push(format!(
                    "{}: the model's constants were fitted against a bf16 element-wise loop, this one is {}",
                    m.name, m.dtype
                ));
            }
            (r / 1e9, pj.max(0.01))
        }
        None => {
            notes.push(
                "no memory or element-wise loop: bandwidth and pJ/byte kept from the base profile"
                    .into(),
            );
            (base.mem_gbs, base.pj_per_byte)
        }
    };

    let kernel_latency_us = match launch_loop(rec) {
        Some(m) if m.launch.as_deref() == Some("graph") && m.device_timed => {
            m.seconds / (m.steps as f64 * m.kernels_per_step.unwrap_or(1) as f64) * 1e6
        }
        Some(m) => {
            notes.push(format!(
                "{}: a host-driven launch loop measures the host's launch rate, not the device: kernel latency kept from the base profile ({} us)",
                m.name, base.kernel_latency_us
            ));
            base.kernel_latency_us
        }
        None => base.kernel_latency_us,
    };

    let run = rec.run_id.clone().unwrap_or_else(|| {
        format!(
            "{} {}",
            rec.device.name,
            rec.measured_on.clone().unwrap_or_default()
        )
    });
    let profile = DeviceProfile {
        id: base.id.clone(),
        name: base.name.clone(),
        source: ProfileSource {
            kind: "measured".into(),
            detail: format!(
                "calibration run {run} ({} measurements, NVML energy {})",
                rec.micro.len(),
                rec.energy_source
            ),
            version: format!("measured:{run}"),
        },
        memory_gb: if base.memory_gb > 0.0 {
            base.memory_gb
        } else {
            rec.device
                .memory_mib
                .map(|m| m as f64 * 1048576.0 / 1e9)
                .unwrap_or(0.0)
        },
        power_limit_w: rec.device.power_limit_mw as f64 / 1000.0,
        idle_w: idle,
        active_floor_w: floor,
        gemm_tflops: merge(&base.gemm_tflops, gemm_tflops),
        gemm_latency_us,
        pj_per_flop: merge(&base.pj_per_flop, pj_per_flop),
        mem_gbs,
        pj_per_byte,
        kernel_latency_us,
        uncertainty: 0.08,
        // the architecture's kernel rates, with the SM count the run reports
        kernels: base.kernels.clone().map(|mut k| {
            if let Some(n) = rec.device.sm_count.filter(|n| *n > 0) {
                k.sm_count = Some(n);
            }
            k
        }),
        links: base.links,
    };
    Ok((profile, notes))
}

/// The anchor GEMM of each math mode: its largest square GEMM, else its largest GEMM.
fn gemm_anchors(rec: &CalibrationRecord) -> BTreeMap<MathMode, &Measurement> {
    let mut out: BTreeMap<MathMode, &Measurement> = BTreeMap::new();
    let key = |m: &Measurement| (m.is_square_gemm(), m.flops_per_step.unwrap_or(0.0));
    for m in rec.micro.iter().filter(|m| m.kind == MeasurementKind::Gemm) {
        let Some(mode) = MathMode::parse(&m.dtype) else {
            continue;
        };
        let better = out.get(&mode).is_none_or(|cur| {
            let (a, b) = (key(m), key(cur));
            a.0 && !b.0 || (a.0 == b.0 && a.1 > b.1)
        });
        if better {
            out.insert(mode, m);
        }
    }
    out
}

/// GEMM latency: intercept of t = F / R + t0 over the anchor mode's square GEMMs
/// of 2048 and up, least squares on relative residuals (every loop's time has
/// about the same relative error). Other shape families (transformer, skinny)
/// have other efficiencies and stay out of the fit.
fn gemm_latency(
    rec: &CalibrationRecord,
    anchor: &Measurement,
    base: &DeviceProfile,
    notes: &mut Vec<String>,
) -> f64 {
    let pts: Vec<(f64, f64)> = rec
        .micro
        .iter()
        .filter(|m| {
            m.is_square_gemm()
                && m.dtype == anchor.dtype
                && m.flops_per_step.unwrap_or(0.0) >= LATENCY_FIT_MIN_FLOPS
        })
        .filter_map(|m| Some((m.flops_per_step?, m.seconds_per_step())))
        .collect();
    let distinct = {
        let mut f: Vec<f64> = pts.iter().map(|p| p.0).collect();
        f.sort_by(f64::total_cmp);
        f.dedup();
        f.len()
    };
    if distinct < 2 {
        notes.push(format!(
            "GEMM latency needs square {} GEMMs of two sizes from 2048 up; kept from the base profile ({} us)",
            anchor.dtype, base.gemm_latency_us
        ));
        return base.gemm_latency_us;
    }
    // Weighted least squares of t = a F + b with weights 1 / t^2.
    let (mut sw, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(x, y) in &pts {
        let w = 1.0 / (y * y);
        sw += w;
        sx += w * x;
        sy += w * y;
        sxx += w * x * x;
        sxy += w * x * y;
    }
    let det = sw * sxx - sx * sx;
    let t0_us = if det.abs() > 0.0 {
        (sxx * sy - sx * sxy) / det * 1e6
    } else {
        f64::NAN
    };
    if !t0_us.is_finite() {
        notes.push("GEMM latency fit is degenerate; kept from the base profile".into());
        return base.gemm_latency_us;
    }
    if t0_us < 0.0 {
        notes.push(format!(
            "GEMM latency fit over the square {} GEMMs gave {t0_us:.2} us (the larger ones ran slower per FLOP); clamped to 0",
            anchor.dtype
        ));
        return 0.0;
    }
    t0_us
}

/// The loop bandwidth and pJ/byte come from: the element-wise loop over the
/// largest tensors (bf16 first, the reference's type), else the largest copy.
fn bandwidth_loop(rec: &CalibrationRecord) -> Option<&Measurement> {
    let size = |m: &Measurement| {
        m.tensor_bytes
            .map(|b| b as f64)
            .or(m.bytes_per_step.map(|b| b / m.passes.unwrap_or(1) as f64))
            .unwrap_or(0.0)
    };
    let pick = |kind: MeasurementKind| {
        rec.micro
            .iter()
            .filter(|m| m.kind == kind && m.bytes_per_step.is_some())
            .max_by(|a, b| {
                (a.dtype == "bf16", size(a))
                    .partial_cmp(&(b.dtype == "bf16", size(b)))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
    };
    pick(MeasurementKind::Elementwise).or_else(|| pick(MeasurementKind::Memory))
}

/// The launch loop kernel latency comes from: a graph loop first.
fn launch_loop(rec: &CalibrationRecord) -> Option<&Measurement> {
    let launches = || {
        rec.micro
            .iter()
            .filter(|m| m.kind == MeasurementKind::Launch)
    };
    launches()
        .find(|m| m.launch.as_deref() == Some("graph"))
        .or_else(|| launches().next())
}

/// Achieved TFLOP/s of each square GEMM over the largest square GEMM of its mode.
fn gemm_efficiency(rec: &CalibrationRecord) -> Vec<GemmEfficiency> {
    let anchors = gemm_anchors(rec);
    rec.micro
        .iter()
        .filter(|m| m.is_square_gemm())
        .filter_map(|m| {
            let rate = m.flop_rate()?;
            let top = anchors.get(&MathMode::parse(&m.dtype)?)?.flop_rate()?;
            Some(GemmEfficiency {
                name: m.name.clone(),
                dtype: m.dtype.clone(),
                flops_per_step: m.flops_per_step.unwrap_or(0.0),
                tflops: rate / 1e12,
                efficiency: rate / top,
            })
        })
        .collect()
}

/// The sweeps of a full v2 run, as the kernel-rate model reads them: every
/// GEMM shape, attention by sequence and head dimension, element-wise
/// bandwidth by tensor size, and the active floor by occupancy.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sweeps {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gemm: Vec<GemmPoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attention: Vec<AttentionPoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elementwise: Vec<ElementwisePoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub occupancy: Vec<OccupancyPoint>,
    /// Power above idle of the full-occupancy spin loop, W: the active floor, measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_floor_measured_w: Option<f64>,
    /// Host time per kernel of the stream launch loop (one host thread, Rust), us.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_launch_us: Option<f64>,
}

impl Sweeps {
    pub fn is_empty(&self) -> bool {
        self == &Sweeps::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GemmPoint {
    pub dtype: String,
    pub m: u64,
    pub n: u64,
    pub k: u64,
    pub seconds_per_step: f64,
    pub tflops: f64,
    /// tflops over the profile's large-GEMM rate of the mode.
    pub efficiency: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttentionPoint {
    pub dtype: String,
    pub pass: String,
    pub path: String,
    pub batch_heads: u64,
    pub seq: u64,
    pub head_dim: u64,
    pub seconds_per_step: f64,
    /// Achieved TFLOP/s on the FLOPs the kernels ran.
    pub tflops: f64,
    /// tflops over the profile's large-GEMM rate of the mode.
    pub efficiency: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ElementwisePoint {
    pub dtype: String,
    pub tensor_bytes: u64,
    pub gb_per_s: f64,
    /// gb_per_s over the profile's streaming bandwidth.
    pub fraction: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OccupancyPoint {
    pub sms: u32,
    pub sm_count: u32,
    pub threads_per_sm: u32,
    /// Loop power minus idle, W.
    pub above_idle_w: f64,
}

/// The sweeps of `rec` against its `profile` (empty for a version-1 record).
pub fn sweeps(rec: &CalibrationRecord, profile: &DeviceProfile) -> Sweeps {
    let idle = rec.idle.avg_power_w;
    let rate = |dtype: &str| {
        MathMode::parse(dtype)
            .and_then(|m| profile.gemm_tflops.get(&m))
            .copied()
            .unwrap_or(0.0)
    };
    let eff = |t: f64, dtype: &str| {
        let r = rate(dtype);
        if r > 0.0 {
            t / r
        } else {
            0.0
        }
    };
    let mut s = Sweeps::default();
    for m in &rec.micro {
        match m.kind {
            MeasurementKind::Gemm => {
                if let (Some([a, b, c]), Some(r)) = (m.gemm_shape(), m.flop_rate()) {
                    s.gemm.push(GemmPoint {
                        dtype: m.dtype.clone(),
                        m: a,
                        n: b,
                        k: c,
                        seconds_per_step: m.seconds_per_step(),
                        tflops: r / 1e12,
                        efficiency: eff(r / 1e12, &m.dtype),
                    });
                }
            }
            MeasurementKind::Attention => {
                if let (Some(a), Some(r)) = (&m.attention, m.flop_rate()) {
                    s.attention.push(AttentionPoint {
                        dtype: m.dtype.clone(),
                        pass: a.pass.clone(),
                        path: a.path.clone(),
                        batch_heads: a.batch_heads,
                        seq: a.seq,
                        head_dim: a.head_dim,
                        seconds_per_step: m.seconds_per_step(),
                        tflops: r / 1e12,
                        efficiency: eff(r / 1e12, &m.dtype),
                    });
                }
            }
            MeasurementKind::Elementwise => {
                if let (Some(t), Some(r)) = (m.tensor_bytes, m.byte_rate()) {
                    s.elementwise.push(ElementwisePoint {
                        dtype: m.dtype.clone(),
                        tensor_bytes: t,
                        gb_per_s: r / 1e9,
                        fraction: if profile.mem_gbs > 0.0 {
                            r / 1e9 / profile.mem_gbs
                        } else {
                            0.0
                        },
                    });
                }
            }
            MeasurementKind::Spin => {
                let above = m.avg_power() - idle;
                if let Some(o) = &m.occupancy {
                    s.occupancy.push(OccupancyPoint {
                        sms: o.sms,
                        sm_count: o.sm_count,
                        threads_per_sm: o.threads_per_sm,
                        above_idle_w: above,
                    });
                }
            }
            MeasurementKind::Launch if m.launch.as_deref() == Some("stream") => {
                s.host_launch_us = Some(
                    m.seconds / (m.steps as f64 * m.kernels_per_step.unwrap_or(1) as f64) * 1e6,
                );
            }
            _ => {}
        }
    }
    s.elementwise.sort_by_key(|p| p.tensor_bytes);
    s.occupancy.sort_by_key(|p| (p.sms, p.threads_per_sm));
    // The floor: every SM busy with as many threads as it holds.
    s.active_floor_measured_w = s
        .occupancy
        .iter()
        .filter(|p| p.sms == p.sm_count)
        .max_by_key(|p| p.threads_per_sm)
        .map(|p| p.above_idle_w);
    s
}

/// Measured values replace datasheet-derived ones; modes the run did not measure keep theirs.
fn merge(
    base: &BTreeMap<MathMode, f64>,
    measured: BTreeMap<MathMode, f64>,
) -> BTreeMap<MathMode, f64> {
    let mut out = base.clone();
    out.extend(measured);
    out
}

/// The reference calibration of an H100 SXM, built in (see `shared/data/PROVENANCE.md`).
pub const H100_REFERENCE_CALIBRATION: &str = include_str!("../data/h100-sxm-calibration.json");

/// The H100 SXM profile derived from the reference calibration
/// ([`reference_h100_profile`]), stored: the page then needs no calibration
/// record reader (about 80 KB of its WebAssembly). A test keeps it equal to
/// the derivation (`UPDATE_PROFILE=1` rewrites it).
pub const H100_REFERENCE_PROFILE: &str = include_str!("../data/h100-sxm-profile.json");

/// The H100 SXM profile derived from the reference calibration record.
pub fn reference_h100_profile(spec: &crate::device::DeviceSpec) -> Option<DeviceProfile> {
    let rec = serde_json::from_str::<CalibrationRecord>(H100_REFERENCE_CALIBRATION).ok()?;
    let mut p = derive_profile(&rec, &spec.datasheet_profile()).ok()?;
    p.source.detail = format!(
        "reference calibration of 2026-11-27 (shared/data/h100-sxm-calibration.json): {}",
        p.source.detail
    );
    p.source.version = "measured:reference-2026-11-27".into();
    Some(p)
}

/// The built-in profile of a device: the measured one where the project ships a
/// calibration (H100 SXM), else the datasheet one.
pub fn builtin_profile(spec: &crate::device::DeviceSpec) -> DeviceProfile {
    if spec.id == "h100-sxm" {
        if let Ok(p) = serde_json::from_str::<DeviceProfile>(H100_REFERENCE_PROFILE) {
            return p;
        }
    }
    spec.datasheet_profile()
}
