//! The scenario: one versioned JSON document that describes a whole estimate.
//! Used unchanged by the CLI, the HTTP API and share links (see `docs/scenario.md`).

use crate::device::DeviceProfile;
use crate::model::graph::ForwardGraph;
use crate::units::Precision;
use serde::{Deserialize, Serialize};

pub const SCENARIO_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub model: ModelSource,
    /// One workload per lifecycle stage.
    pub stages: Vec<Stage>,
    pub hardware: Hardware,
    #[serde(default)]
    pub software: SoftwareClass,
    #[serde(default)]
    pub infrastructure: Infrastructure,
    /// The values the estimate was computed with. When present they are used as
    /// they are (a share link recomputes to the same numbers); when absent the
    /// current catalog values are resolved and returned in the estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Resolved>,
}

/// Exactly one of the sources must be given.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ModelSource {
    /// A preset id, e.g. `resnet50`, `llama-2-7b` (`jouleprint presets`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    /// A Hugging Face `config.json`, taken as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub hf_config: Option<serde_json::Value>,
    /// Counted (matmul/convolution) FLOPs of one training or inference step of the whole batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flops_per_step: Option<f64>,
    /// Counted forward FLOPs of one sample.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flops_per_sample: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<f64>,
    /// An imported forward graph (ONNX import): the per-node breakdown itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph: Option<ForwardGraph>,
    /// CLI only: a path to an ONNX or config.json file, replaced by `graph` or
    /// `hf_config` before the scenario is estimated or shared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

crate::named_enum! {
    pub enum Phase {
        Train = "train",
        Inference = "inference",
        Prefill = "prefill",
        Decode = "decode",
    }
}

crate::named_enum! {
    pub enum Optimizer {
        Sgd = "sgd",
        SgdMomentum = "sgd-momentum",
        Adamw = "adamw",
        Adam = "adam",
    }
}

crate::named_enum! {
    #[derive(Default)]
    pub enum SoftwareClass {
        /// Modules called from Python, no compilation, no CUDA graphs.
        #[default]
        PytorchEager = "pytorch-eager",
        /// torch.compile / XLA / TensorRT-like fused kernels.
        Compiled = "compiled",
        /// A batching inference server with CUDA graphs.
        Serving = "serving",
    }
}

/// One step of work on each device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub phase: Phase,
    pub precision: Precision,
    /// Samples (sequences, images) per device per step.
    pub batch: u64,
    /// Sequence length (train, inference, prefill of transformers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Prompt tokens (decode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<u64>,
    /// Generated tokens (decode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<Optimizer>,
    /// Image side for vision models (default 224).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<u64>,
}

crate::named_enum! {
    pub enum StageKind {
        /// Hyper-parameter search, ablations, failed runs.
        Development = "development",
        FinalTraining = "final_training",
        Evaluation = "evaluation",
        Deployment = "deployment",
    }
}

/// A lifecycle stage: a workload and how much of it. Give `steps`, or
/// `samples`/`tokens` with `epochs` (training, evaluation), or
/// `requests_per_day` with `days` (deployment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Stage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub kind: StageKind,
    pub workload: Workload,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<f64>,
    /// Whole runs of this stage, hyper-parameter trials included (default 1).
    #[serde(default = "one")]
    pub runs: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_day: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<f64>,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Hardware {
    /// A catalog id (`h100-sxm`) or an NVML name (`NVIDIA H100 80GB HBM3`).
    pub device: String,
    /// Devices working together (data parallel); default 1.
    #[serde(default = "one_u")]
    pub count: u64,
}

fn one_u() -> u64 {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Infrastructure {
    /// Power usage effectiveness of the data centre (>= 1).
    #[serde(default = "default_pue")]
    pub pue: f64,
    /// A region code from the grid table (`FR`, `US`, `aws:us-east-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// An explicit grid intensity, gCO2e per kWh (overrides `region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid_gco2e_per_kwh: Option<f64>,
    /// Power of the host beyond the accelerators, per accelerator, in W. Default: the device's system default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_watts_per_device: Option<f64>,
    /// Include the devices' embodied emissions, amortised over their service life.
    #[serde(default)]
    pub embodied: bool,
}

fn default_pue() -> f64 {
    1.2
}

impl Default for Infrastructure {
    fn default() -> Self {
        Infrastructure {
            pue: default_pue(),
            region: None,
            grid_gco2e_per_kwh: None,
            host_watts_per_device: None,
            embodied: false,
        }
    }
}

/// The values an estimate was computed with, each with its version or source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Resolved {
    pub estimator_version: String,
    pub device: DeviceProfile,
    pub grid: GridValue,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GridValue {
    pub gco2e_per_kwh: f64,
    /// The region code, or `custom`.
    pub region: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub year: Option<u32>,
}
