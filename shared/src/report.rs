//! What an estimate says: the output types of the pipeline, shared by the
//! CLI (`--json`), the API and the page. Field meanings and units:
//! `docs/scenario.md`.

use crate::scenario::Resolved;
use crate::units::Range;
use serde::{Deserialize, Serialize};

/// The result of estimating a scenario. Field meanings and units: `docs/scenario.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Estimate {
    pub estimator_version: String,
    /// Parameters of the model (total; for mixture-of-experts also see `active_params`).
    pub params: f64,
    pub active_params: f64,
    /// Counted matmul/convolution FLOPs of one step on one device (FlopCounterMode convention), first stage.
    pub flops_per_step: f64,
    /// Adjustments to `flops_per_step` for the arithmetic the kernels really do:
    /// plus what the count leaves out (element-wise, normalisation), minus what
    /// they skip that it includes (causal attention's masked half), so negative
    /// for a causal LM whose attention outweighs the rest.
    pub other_flops_per_step: f64,
    /// Seconds of one step of the first stage.
    pub seconds_per_step: Range,
    /// Accelerators' own energy of one step of the first stage, summed over devices, before host power and PUE.
    pub joules_per_step: Range,
    /// Energy at the wall over the whole lifecycle (accelerators + host, x PUE), kWh.
    pub energy_kwh: Range,
    /// Emissions, kgCO2e (operational, plus embodied when asked).
    pub co2e_kg: Range,
    /// Accelerators' own energy over the whole lifecycle, before host power and PUE, kWh.
    pub device_kwh: Range,
    /// Accelerator-hours over the whole lifecycle.
    pub device_hours: Range,
    /// Wall-clock hours over the whole lifecycle (stages run one after another).
    pub wall_hours: Range,
    pub stages: Vec<StageEstimate>,
    pub memory: MemoryCheck,
    /// Where one step's energy goes (top ops).
    pub top_ops: Vec<OpShare>,
    /// Whether the estimate had an op breakdown (narrow range) or only FLOPs (utilisation prior, wide range).
    pub method: String,
    pub resolved: Resolved,
    pub warnings: Vec<String>,
    /// How the estimate read the scenario where it had to choose (a parallel strategy).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Savings: the same pipeline on changed scenarios (`what_if`).
    #[serde(default)]
    pub what_ifs: Vec<WhatIfOutcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    pub device_hours: Range,
    pub wall_hours: Range,
    /// What holds most of a step's time: `compute`, `memory` or `overhead` (the host).
    pub bound: String,
    /// Tokens per second over all the stage's devices: processed (train,
    /// inference, prefill) or generated (decode).
    pub tokens_per_second: Range,
    /// Accelerators' energy per token (processed, or generated for decode), J.
    pub joules_per_token: Range,
    /// For deployments: accelerators' energy per request, J.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joules_per_request: Option<Range>,
    /// How the stage's devices share the work, when several do (or parallelism is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<String>,
    /// Training: model FLOPs per second (counted FLOPs without recomputed
    /// forwards, as PaLM defines MFU) over the device's dense peak in the math
    /// its matrix products run in (16-bit, or fp8 where the device has it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfu: Option<f64>,
    /// Multi-node training: the share of the campaign's device time in
    /// productive steps that the hours and energy assume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<f64>,
    /// A deployment under a continuous-batching engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<ServingReport>,
    /// For deployments: wall energy per request and per generated (or processed) token, Wh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wh_per_request: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wh_per_token: Option<Range>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemoryCheck {
    /// Weights, gradients, optimizer state and activations per device, GB.
    pub required_gb: f64,
    pub available_gb: f64,
    pub fits: bool,
    /// Devices needed to hold the model state if sharded (ZeRO-3-like), at this batch.
    pub devices_needed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OpShare {
    pub name: String,
    pub kind: String,
    /// `compute`, `memory` or `overhead`: what bounds the op's time.
    pub bound: String,
    pub joules: f64,
    pub fraction: f64,
}

/// One what-if: the scenario changed one way and estimated again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhatIfOutcome {
    /// Stable id (`pue`, `half-precision`, ...).
    pub id: String,
    pub label: String,
    /// The change in words, with its parameter (`PUE 1.1 instead of 1.5`).
    pub change: String,
    pub applies: bool,
    /// Why it does not apply, or what it changed.
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_kwh: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub co2e_kg: Option<Range>,
    /// Fractions of the baseline's expected values saved (negative: costs more).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saving: Option<Saving>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Saving {
    pub energy: f64,
    pub co2e: f64,
}

/// How a continuous-batching engine serves a deployment stage.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServingReport {
    pub replicas: u64,
    /// Devices per replica (tensor parallel).
    pub tensor: u64,
    /// Mean concurrent sequences per replica (Little's law at the mean load).
    pub concurrency: f64,
    /// The engine's bound per replica (its maximum, or the KV cache's when lower).
    pub max_concurrency: u64,
    /// Sequences whose KV cache fits a replica.
    pub kv_limit: u64,
    /// Time to first token and per output token, s.
    pub ttft_s: f64,
    pub tpot_s: f64,
    /// Share of the period a replica has at least one request.
    pub utilisation: f64,
    /// Accelerators' energy while serving and while idle, kWh.
    pub busy_kwh: f64,
    pub idle_kwh: f64,
}
