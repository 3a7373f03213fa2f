//! The calibration record: what a calibration run measures, with its run
//! metadata. The runner writes it, `POST /api/calibrations` accepts it, and
//! [`derive_profile`] turns it into the coefficients of the energy model.
//! Field names of `device`, `idle` and `micro[]` follow the reference file
//! `shared/data/h100-sxm-calibration.json`, which parses as a record.

use crate::device::{DeviceProfile, ProfileSource};
use crate::units::MathMode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const RECORD_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationRecord {
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
    /// The coefficients [`derive_profile`] computed from this record when it was written.
    /// Informational: readers recompute them and never trust these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derived: Option<Derived>,
}

/// Run metadata written by the calibration runner.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
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
    /// GEMMs the device or runner does not support, skipped.
    #[serde(default)]
    pub skipped: Vec<String>,
}

/// Coefficients derived from a record (see [`derive_profile`]) plus per-size GEMM efficiency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Derived {
    pub profile: DeviceProfile,
    /// Achieved TFLOP/s of each GEMM over the largest GEMM of its math mode.
    #[serde(default)]
    pub gemm_efficiency: Vec<GemmEfficiency>,
    /// Energy of one tiny kernel above idle, microjoules (from the launch loop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_energy_uj: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GemmEfficiency {
    pub name: String,
    pub dtype: String,
    pub flops_per_step: f64,
    pub tflops: f64,
    /// tflops over the largest GEMM's of the same math mode.
    pub efficiency: f64,
}

fn schema_v1() -> u32 {
    RECORD_SCHEMA_VERSION
}
fn counter() -> String {
    "counter".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdleMeasurement {
    pub avg_power_w: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeasurementKind {
    Gemm,
    Memory,
    Elementwise,
    /// Many tiny kernels: per-kernel time and energy.
    Launch,
}

/// One timed loop of one kernel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    pub fn flop_rate(&self) -> Option<f64> {
        self.flops_per_step
            .map(|f| f * self.steps as f64 / self.seconds)
    }
    pub fn byte_rate(&self) -> Option<f64> {
        self.bytes_per_step
            .map(|b| b * self.steps as f64 / self.seconds)
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
        if self.schema_version != RECORD_SCHEMA_VERSION {
            return Err(bad(
                "schema_version",
                format!(
                    "must be {RECORD_SCHEMA_VERSION}, got {}",
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
        if self.micro.is_empty() {
            return Err(bad("micro", "must hold at least one measurement"));
        }
        for (i, m) in self.micro.iter().enumerate() {
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
            match m.kind {
                MeasurementKind::Gemm if m.flops_per_step.is_none() => {
                    return Err(bad(f("flops_per_step"), "required for a gemm"))
                }
                MeasurementKind::Memory | MeasurementKind::Elementwise
                    if m.bytes_per_step.is_none() =>
                {
                    return Err(bad(
                        f("bytes_per_step"),
                        "required for a memory or elementwise kernel",
                    ))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Turn a record into energy-model coefficients (`docs/energy-model.md`, "Measured profiles").
///
/// - idle: the idle measurement.
/// - active floor: the model's fitted fraction of the power limit (see docs/energy-model.md).
/// - marginal pJ/FLOP per math mode: (P - idle - floor) / flop rate of the largest GEMM.
/// - pJ/byte: (P - idle - floor) / byte rate of the element-wise loop (else the copy).
/// - GEMM latency: t = F / peak + t0, solved on GEMMs of 2048 and above.
pub fn derive_profile(
    rec: &CalibrationRecord,
    base: &DeviceProfile,
) -> Result<DeviceProfile, RecordError> {
    rec.validate()?;
    let idle = rec.idle.avg_power_w;
    // Largest GEMM per math mode.
    let mut largest: BTreeMap<MathMode, &Measurement> = BTreeMap::new();
    for m in rec.micro.iter().filter(|m| m.kind == MeasurementKind::Gemm) {
        let Some(mode) = MathMode::parse(&m.dtype) else {
            continue;
        };
        let f = m.flops_per_step.unwrap_or(0.0);
        if largest
            .get(&mode)
            .is_none_or(|cur| cur.flops_per_step.unwrap_or(0.0) < f)
        {
            largest.insert(mode, m);
        }
    }
    let anchor = largest
        .get(&MathMode::Bf16)
        .or_else(|| largest.get(&MathMode::Fp16))
        .or_else(|| largest.values().next())
        .copied()
        .ok_or_else(|| bad("micro", "needs at least one gemm measurement"))?;
    let anchor_rate = anchor.flop_rate().unwrap_or(1.0);

    // Active floor: the power above idle of SMs kept busy at full occupancy,
    // beyond the energy of their FLOPs and bytes. The loops of the suite cannot
    // separate it from the work (a tiny-kernel loop leaves most SMs idle), so
    // the model's fitted fraction of the power limit is used (docs/energy-model.md).
    let floor =
        crate::tuning::TUNING.active_floor_fraction * rec.device.power_limit_mw as f64 / 1000.0;

    let mut gemm_tflops = BTreeMap::new();
    let mut pj_per_flop = BTreeMap::new();
    for (mode, m) in &largest {
        let rate = m.flop_rate().unwrap_or(0.0);
        if rate <= 0.0 {
            continue;
        }
        gemm_tflops.insert(*mode, rate / 1e12);
        pj_per_flop.insert(
            *mode,
            ((m.avg_power() - idle - floor) / rate * 1e12).max(0.01),
        );
    }

    // GEMM fixed latency from large, device-bound loops of the anchor mode.
    let peak = anchor_rate;
    let lat: Vec<f64> = rec
        .micro
        .iter()
        .filter(|m| {
            m.kind == MeasurementKind::Gemm
                && m.dtype == anchor.dtype
                && m.flops_per_step.unwrap_or(0.0) >= 2.0 * 2048f64.powi(3) * 0.99
        })
        .filter(|m| !std::ptr::eq(*m, anchor))
        .map(|m| (m.seconds / m.steps as f64 - m.flops_per_step.unwrap_or(0.0) / peak) * 1e6)
        .filter(|t| *t > 0.0)
        .collect();
    let gemm_latency_us = if lat.is_empty() {
        base.gemm_latency_us
    } else {
        lat.iter().sum::<f64>() / lat.len() as f64
    };

    let bw_meas = rec
        .micro
        .iter()
        .find(|m| m.kind == MeasurementKind::Elementwise)
        .or_else(|| rec.micro.iter().find(|m| m.kind == MeasurementKind::Memory));
    let (mem_gbs, pj_per_byte) = match bw_meas.and_then(|m| m.byte_rate().map(|r| (m, r))) {
        Some((m, r)) => (
            r / 1e9,
            ((m.avg_power() - idle - floor) / r * 1e12).max(0.01),
        ),
        None => (base.mem_gbs, base.pj_per_byte),
    };
    let kernel_latency_us = rec
        .micro
        .iter()
        .find(|m| m.kind == MeasurementKind::Launch && m.device_timed)
        .map(|m| m.seconds / m.steps as f64 * 1e6)
        .unwrap_or(base.kernel_latency_us);

    let run = rec.run_id.clone().unwrap_or_else(|| {
        format!(
            "{} {}",
            rec.device.name,
            rec.measured_on.clone().unwrap_or_default()
        )
    });
    Ok(DeviceProfile {
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
        memory_gb: base.memory_gb,
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
    })
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
