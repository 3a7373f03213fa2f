//! The op-level breakdown every model source produces.

use crate::units::MathMode;
use serde::{Deserialize, Serialize};

crate::named_enum! {
    /// What an op does, which sets how it is timed.
    pub enum OpKind {
        /// Dense matrix multiplication (Linear, Gemm, MatMul, batched).
        Matmul = "matmul",
        /// Convolution (cuDNN).
        Conv = "conv",
        /// Fused attention (both batched products and the softmax in one kernel).
        Attention = "attention",
        /// Element-wise and normalisation ops, reductions, copies, casts, gathers: memory-bound.
        Elementwise = "elementwise",
        /// Shape-only ops: no kernel, no traffic (Reshape, Shape, views).
        Shape = "shape",
    }
}

crate::named_enum! {
    /// How a matmul or convolution enters the FLOP count.
    pub enum Pass {
        Forward = "forward",
        Backward = "backward",
        Optimizer = "optimizer",
    }
}

/// One op (usually one GPU kernel), repeated `count` times in a step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Op {
    pub name: String,
    pub kind: OpKind,
    pub pass: Pass,
    /// Times the op runs in one step (layers x tokens generated, ...).
    #[serde(default = "one")]
    pub count: f64,
    /// Matmul/convolution FLOPs per instance, 2 per multiply-add.
    #[serde(default)]
    pub flops: f64,
    /// Other arithmetic per instance (element-wise, norms); not in the counted FLOPs.
    #[serde(default)]
    pub other_flops: f64,
    /// Bytes read plus written in device memory per instance.
    #[serde(default)]
    pub bytes: f64,
    /// Parameters this op owns (counted once, not per instance).
    #[serde(default)]
    pub params: f64,
    /// GPU kernels per instance.
    #[serde(default = "one")]
    pub kernels: f64,
    /// Matrix shape (m, n, k) of one product, for size-dependent efficiency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mnk: Option<[f64; 3]>,
    /// Arithmetic of the matrix units; `None` for memory-bound ops, except a
    /// layout transpose that exists only for this math's tensor-core kernels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub math: Option<MathMode>,
    /// Launched from Python (forward, optimizer) rather than from the autograd engine.
    #[serde(default = "yes")]
    pub from_python: bool,
    /// What the host does for one instance in eager PyTorch: launch its kernels
    /// (the default), or work measured as a whole.
    #[serde(default, skip_serializing_if = "HostWork::is_kernels")]
    pub host: HostWork,
}

/// The host (CPU) work of an op in eager PyTorch (`docs/energy-model.md`, "Host overhead").
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostWork {
    /// Its kernels, each at the per-kernel host cost of its pass.
    #[default]
    Kernels,
    /// One token of Hugging Face `generate`'s loop outside the model (its
    /// kernels' dispatch included).
    TokenLoop,
    /// A share of a foreach/fused optimizer step over this many parameter tensors.
    OptimizerTensors(f64),
    /// Dispatched within another op's measured host work (the loop's own kernels).
    Included,
}

impl HostWork {
    pub fn is_kernels(&self) -> bool {
        *self == HostWork::Kernels
    }
}

fn one() -> f64 {
    1.0
}
fn yes() -> bool {
    true
}

impl Op {
    pub fn total_flops(&self) -> f64 {
        self.flops * self.count
    }
    pub fn total_bytes(&self) -> f64 {
        self.bytes * self.count
    }
}

/// A forward pass over one batch as imported from a file (ONNX) or built from an
/// architecture: the per-node breakdown. Train and inference steps are derived from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ForwardGraph {
    /// Where it came from (`onnx:resnet50.onnx`), for the reader.
    pub source: String,
    /// The batch the graph's shapes were bound with; estimates scale per sample.
    pub batch: u64,
    /// Total parameters (initializers).
    pub params: f64,
    /// Forward ops at `batch`, in fp32 (`bytes` counts 4-byte elements); the
    /// estimator rescales element sizes to the workload's precision.
    pub nodes: Vec<GraphNode>,
    /// Ops the importer does not know, by name, counted as zero.
    #[serde(default)]
    pub unsupported_ops: Vec<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
}

/// One node of an imported graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GraphNode {
    pub name: String,
    /// The source op type (`Conv`, `MatMul`).
    pub op_type: String,
    pub kind: OpKind,
    /// Matmul/convolution FLOPs (2 per multiply-add).
    #[serde(default)]
    pub flops: f64,
    #[serde(default)]
    pub other_flops: f64,
    /// Elements read plus written (multiply by the element size for bytes).
    #[serde(default)]
    pub elements: f64,
    #[serde(default)]
    pub params: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mnk: Option<[f64; 3]>,
}
