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
    /// Host (CPU) costs of eager PyTorch on your machine, replacing the
    /// measured defaults (`docs/energy-model.md`, "Host overhead").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostCosts>,
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
        /// Training as run at scale (Megatron-LM, DeepSpeed, NeMo): fused
        /// kernels, FlashAttention, fused optimizer, overlapped communication.
        Megatron = "megatron",
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
    /// Convolutional models in eager PyTorch: tensors kept channels-last
    /// (`memory_format=torch.channels_last`), so cuDNN's tensor-core
    /// convolutions need no NCHW/NHWC transposes. Default false (NCHW, as
    /// torchvision builds them); no effect on models without convolutions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels_last: Option<bool>,
    /// How a transformer computes attention: `fused` (the default: one
    /// FlashAttention-style kernel, as PyTorch's SDPA and the fused software
    /// classes run it) or `math` (batched products and element-wise kernels
    /// over the whole score matrix, as Hugging Face's "eager" attention and
    /// code written before SDPA do). No effect on models without attention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attention: Option<AttentionImpl>,
}

crate::named_enum! {
    /// How attention is computed (`Workload::attention`).
    pub enum AttentionImpl {
        Fused = "fused",
        Math = "math",
    }
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
    /// This stage's devices, when not the scenario's (`hardware`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<Hardware>,
    /// This stage's software, when not the scenario's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<SoftwareClass>,
    /// How the stage's devices share the work (training); absent: data parallel,
    /// with a strategy chosen for memory when the model does not fit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<Parallelism>,
    /// A deployment served by a continuous-batching engine (vLLM, TGI,
    /// TensorRT-LLM): concurrency from the load, replicas, provisioned capacity.
    /// Absent: static batches of `workload.batch` (Hugging Face `generate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<Serving>,
    /// Share of a multi-node training campaign's device time spent in
    /// productive steps (0-1]; the rest (failures and restarts, checkpoints,
    /// evaluation, stalls) runs at idle-plus-floor power. Absent: the fitted
    /// default (`tuning::CAMPAIGN_GOODPUT`); ignored within one node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<f64>,
}

/// How a continuous-batching engine serves a deployment stage. The workload's
/// `prompt` and `new_tokens` are the mean lengths; `batch` is the engine's
/// maximum of concurrent sequences per replica (vLLM's `max_num_seqs`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Serving {
    /// Replicas kept up (each `parallelism.tensor` devices); absent: as many as the peak load needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u64>,
    /// Peak-to-mean ratio of the daily load; replicas are sized for the peak (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_to_mean: Option<f64>,
    /// Replicas stay up for the whole period and draw idle power between
    /// requests (default true); false: they scale to zero when idle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_on: Option<bool>,
    /// Share of device memory the engine may use, weights and KV cache (vLLM's
    /// `gpu_memory_utilization`, default 0.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_fraction: Option<f64>,
    /// A benchmark at full load: every replica always runs its maximum of
    /// sequences (a request rate of infinity); the stage's amount is then its
    /// steps of generation (`steps`) or its requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saturated: Option<bool>,
    /// How the engine's host work (scheduling, input preparation, output
    /// processing, the HTTP server) meets the GPU's (default `overlapped`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<Engine>,
    /// Host milliseconds per running sequence per engine step that the GPU
    /// waits for; replaces the engine's whole host time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ms_per_sequence: Option<f64>,
}

crate::named_enum! {
    /// The generation of a serving engine, as far as its host work goes.
    #[derive(Default)]
    pub enum Engine {
        /// Host work overlapped with the GPU's (vLLM 0.6 and later with
        /// asynchronous output processing and multi-step scheduling,
        /// TensorRT-LLM's C++ runtime): the GPU does not wait.
        #[default]
        Overlapped = "overlapped",
        /// vLLM up to 0.5: the scheduler, input preparation and output
        /// processing run between GPU steps: a fixed part per step and a part
        /// per running sequence.
        Vllm05 = "vllm-0.5",
    }
}

impl Stage {
    /// The stage's hardware: its own, else the scenario's.
    pub fn hardware<'a>(&'a self, s: &'a Scenario) -> &'a Hardware {
        self.hardware.as_ref().unwrap_or(&s.hardware)
    }
    /// The stage's software: its own, else the scenario's.
    pub fn software(&self, s: &Scenario) -> SoftwareClass {
        self.software.unwrap_or(s.software)
    }
}

crate::named_enum! {
    /// Activations kept for the backward pass.
    #[derive(Default)]
    pub enum Recompute {
        /// Every activation autograd needs is kept.
        #[default]
        None = "none",
        /// Megatron's selective recomputation: the attention core is recomputed.
        Selective = "selective",
        /// Only each layer's input is kept; the forward runs again in the backward.
        Full = "full",
    }
}

crate::named_enum! {
    /// A module Megatron-Core's selective recomputation runs again in the
    /// backward instead of keeping its output (`--recompute-modules`).
    pub enum RecomputeModule {
        /// The attention core (Megatron's default selective recomputation).
        CoreAttn = "core_attn",
        /// Every norm: the inputs of the matmuls after a norm are not kept.
        Layernorm = "layernorm",
        /// Multi-head latent attention's up-projections: the latents are kept
        /// instead of the queries, keys and values.
        MlaUpProj = "mla_up_proj",
        /// A mixture of experts' activation function (SwiGLU): its input is
        /// kept, its output is not.
        MoeAct = "moe_act",
    }
}

/// How a training stage's devices share the work. Degrees multiply to the
/// device count: data = count / (tensor x pipeline x context).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parallelism {
    /// Tensor parallelism (Megatron): each layer's matmuls and heads split over
    /// this many devices, within a node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor: Option<u64>,
    /// Pipeline parallelism: the layers split into this many stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<u64>,
    /// Context parallelism: each sequence split over this many devices (ring attention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<u64>,
    /// Expert parallelism: a mixture of experts' routed experts split over this
    /// many of the data-parallel devices, tokens exchanged by all-to-all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expert: Option<u64>,
    /// Expert parallelism's all-to-all hidden behind another micro-batch's
    /// compute (DeepSeek's DualPipe, Megatron-Core's
    /// `overlap_moe_expert_parallel_comm`); default off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_expert_comm: Option<bool>,
    /// Megatron's sequence parallelism: norms and dropout split with the tensor degree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_parallel: Option<bool>,
    /// ZeRO stage over the data-parallel devices: 0 (DDP), 1 (optimizer state),
    /// 2 (+ gradients), 3 (+ weights: FSDP full sharding).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zero: Option<u8>,
    /// Micro-batches per step of each data-parallel replica (pipeline schedule,
    /// gradient accumulation); the workload's batch is split into them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub micro_batches: Option<u64>,
    /// Virtual pipeline stages per device (interleaved 1F1B).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interleave: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recompute: Option<Recompute>,
    /// With `recompute: selective` and `software: megatron`, the modules
    /// recomputed (Megatron-Core's `--recompute-modules`); default the
    /// attention core.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recompute_modules: Vec<RecomputeModule>,
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

/// Host microseconds of eager PyTorch; each absent one keeps the measured default.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostCosts {
    /// Per kernel launched from Python (forward, casts): dispatch, module Python and the launch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub us_per_kernel: Option<f64>,
    /// Per kernel the autograd engine launches (backward).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub us_per_backward_kernel: Option<f64>,
    /// Per generated token, Hugging Face `generate`'s loop outside the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub us_per_token_loop: Option<f64>,
    /// Per parameter tensor of a foreach/fused optimizer step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub us_per_optimizer_tensor: Option<f64>,
}

/// The values an estimate was computed with, each with its version or source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Resolved {
    pub estimator_version: String,
    pub device: DeviceProfile,
    pub grid: GridValue,
    /// Profiles of the devices stages use beside `device` (`stages[].hardware`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stage_devices: Vec<DeviceProfile>,
    /// The headline numbers `estimator_version` computed from these values, so
    /// a newer estimator can show them beside its own. Absent in older links.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<Headline>,
}

/// An estimate's headline numbers (expected values), pinned in `resolved`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Headline {
    /// Energy at the wall over the whole lifecycle.
    pub energy_kwh: f64,
    pub co2e_kg: f64,
    pub device_hours: f64,
    pub wall_hours: f64,
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
