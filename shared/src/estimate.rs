//! From a scenario to an estimate: the public entry point of the core.

use crate::device::DeviceProfile;
use crate::scenario::{Resolved, Scenario};
use crate::units::Range;
use crate::InputError;
use serde::{Deserialize, Serialize};

/// The result of estimating a scenario. Field meanings and units: `docs/scenario.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub estimator_version: String,
    /// Parameters of the model (total; for mixture-of-experts also see `active_params`).
    pub params: f64,
    pub active_params: f64,
    /// Counted matmul/convolution FLOPs of one step on one device (FlopCounterMode convention), first stage.
    pub flops_per_step: f64,
    /// Other (element-wise, normalisation) arithmetic of that step, not in `flops_per_step`.
    pub other_flops_per_step: f64,
    /// Seconds of one step of the first stage.
    pub seconds_per_step: Range,
    /// Accelerators' own energy of one step of the first stage, summed over devices, before host power and PUE.
    pub joules_per_step: Range,
    /// Energy at the wall over the whole lifecycle (accelerators + host, x PUE), kWh.
    pub energy_kwh: Range,
    /// Emissions, kgCO2e (operational, plus embodied when asked).
    pub co2e_kg: Range,
    /// Accelerator-hours over the whole lifecycle.
    pub device_hours: f64,
    /// Wall-clock hours over the whole lifecycle (stages run one after another).
    pub wall_hours: f64,
    pub stages: Vec<StageEstimate>,
    pub memory: MemoryCheck,
    /// Where one step's energy goes (top ops).
    pub top_ops: Vec<OpShare>,
    /// Whether the estimate had an op breakdown (narrow range) or only FLOPs (utilisation prior, wide range).
    pub method: String,
    pub resolved: Resolved,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageEstimate {
    pub name: String,
    pub kind: String,
    pub steps: f64,
    pub flops_per_step: f64,
    pub seconds_per_step: Range,
    pub joules_per_step: Range,
    /// Accelerators' energy, kWh, before host and PUE.
    pub device_kwh: Range,
    /// At the wall: (accelerators + host) x PUE, kWh.
    pub energy_kwh: Range,
    pub co2e_kg: Range,
    pub device_hours: f64,
    pub wall_hours: f64,
    /// For deployments: wall energy per request and per generated (or processed) token, Wh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wh_per_request: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wh_per_token: Option<Range>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryCheck {
    /// Weights, gradients, optimizer state and activations per device, GB.
    pub required_gb: f64,
    pub available_gb: f64,
    pub fits: bool,
    /// Devices needed to hold the model state if sharded (ZeRO-3-like), at this batch.
    pub devices_needed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpShare {
    pub name: String,
    pub kind: String,
    /// `compute`, `memory` or `overhead`: what bounds the op's time.
    pub bound: String,
    pub joules: f64,
    pub fraction: f64,
}

/// Estimate a scenario. `measured` holds device profiles that replace the
/// built-in ones (a calibration file, the backend's measured profiles); a
/// scenario's own `resolved` values win over both.
pub fn estimate(scenario: &Scenario, measured: &[DeviceProfile]) -> Result<Estimate, InputError> {
    crate::energy::estimate_scenario(scenario, measured)
}

/// Parse and estimate scenario JSON, with errors that name the field.
pub fn estimate_json(json: &str, measured: &[DeviceProfile]) -> Result<Estimate, InputError> {
    let s = parse_scenario(json)?;
    estimate(&s, measured)
}

/// Parse scenario JSON: syntax errors, unknown fields and wrong types name the field
/// by its path (`stages[0].workload.batch`).
pub fn parse_scenario(json: &str) -> Result<Scenario, InputError> {
    let de = &mut serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let root = path == "." || path == "?" || path.is_empty();
        // serde reports a missing field at its parent: name the field itself
        let missing = inner
            .strip_prefix("missing field `")
            .and_then(|r| r.split('`').next());
        let field = match (root, missing) {
            (true, Some(m)) => m.to_string(),
            (false, Some(m)) => format!("{path}.{m}"),
            (true, None) => "scenario".to_string(),
            (false, None) => path,
        };
        InputError::new(
            field,
            format!("{inner}. See docs/scenario.md for the format"),
        )
    })
}
