//! Expansion of an architecture into the ops of one step of a workload on one
//! device: the kernels an eager PyTorch / Hugging Face implementation launches,
//! with their FLOPs and the bytes they move. `docs/energy-model.md` explains
//! each rule; the FLOP count follows `torch.utils.flop_counter.FlopCounterMode`.

//!
//! Pipeline stage 3 (after check and resolve): bounds are checked before a
//! plan is made (`crate::check`), so the planners only refuse what depends on
//! the model (a decode step of an encoder, a sequence past learned positions).

mod builder;
mod graph;
mod optimizer;
pub mod parallel;
mod resnet;
pub(crate) mod transformer;

use crate::model::graph::Op;
use crate::model::Architecture;
use crate::scenario::{Phase, SoftwareClass, Workload};
use crate::units::Precision;
use crate::InputError;

/// A sequence of ops run `repeat` times. `synced` sequences start each
/// repetition with the host waiting for the device (a `.item()` per step).
#[derive(Debug, Clone, PartialEq)]
pub struct Seq {
    pub name: String,
    pub nodes: Vec<Node>,
    pub repeat: f64,
    pub synced: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Op(Op),
    Seq(Seq),
}

/// Memory one device must hold, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct MemoryNeed {
    pub weights: f64,
    pub gradients: f64,
    pub optimizer: f64,
    pub activations: f64,
    pub kv_cache: f64,
}

impl MemoryNeed {
    /// Weights (plus autocast's cached bf16 copies when training under AMP),
    /// gradients and optimizer state of `params` parameters, with the given
    /// activations and KV cache.
    fn of_state(params: f64, w: &Workload, activations: f64, kv_cache: f64) -> Self {
        let p = w.precision;
        let train = w.phase == Phase::Train;
        // 8-bit training (Transformer Engine) keeps higher-precision parameters
        // and gradients, as AMP does, and casts to 8 bits per GEMM, caching the
        // 8-bit copies of the weights
        let eight_bit_train = train && matches!(p, Precision::Fp8 | Precision::Int8);
        let stored = if eight_bit_train {
            4.0
        } else {
            p.weight_bytes()
        };
        let amp_copies = match (train, p) {
            (true, Precision::Bf16Amp) => 2.0,
            (true, Precision::Fp8 | Precision::Int8) => 1.0,
            _ => 0.0,
        };
        MemoryNeed {
            weights: params * (stored + amp_copies),
            gradients: if train { params * stored } else { 0.0 },
            optimizer: if train {
                params * optimizer::state_bytes(w.optimizer, p)
            } else {
                0.0
            },
            activations,
            kv_cache,
        }
    }

    /// Megatron-style mixed-precision training keeps 16-bit model parameters
    /// (plus the 8-bit copies of fp8/int8 training) and fp32 main gradients,
    /// and the fp32 main parameters live in the optimizer, whose distributed
    /// form (ZeRO-1) shards them with its moments: bf16 parameters with fp32
    /// gradients take 18 bytes per parameter, 6 + 12/d distributed
    /// (Megatron-LM README, "Distributed Optimizer"). Eager AMP keeps fp32
    /// parameters and autocast's 16-bit copies instead (`of_state`).
    fn with_main_params_in_optimizer(self, params: f64, w: &Workload) -> Self {
        let copies = match w.precision {
            Precision::Bf16Amp => 0.0,
            Precision::Fp8 | Precision::Int8 => 1.0,
            _ => return self,
        };
        if w.phase != Phase::Train {
            return self;
        }
        MemoryNeed {
            weights: params * (2.0 + copies),
            optimizer: self.optimizer + params * 4.0,
            ..self
        }
    }

    pub fn total(&self) -> f64 {
        self.weights + self.gradients + self.optimizer + self.activations + self.kv_cache
    }
    /// State that sharding (ZeRO-3 / FSDP) spreads over devices.
    pub fn shardable(&self) -> f64 {
        self.weights + self.gradients + self.optimizer
    }
}

/// One step of a workload on one device.
#[derive(Debug, Clone, PartialEq)]
pub struct StepPlan {
    pub root: Seq,
    pub params: f64,
    /// Parameters used per token (mixture-of-experts: the routed experts only).
    pub active_params: f64,
    /// Samples (sequences, images, requests) per step.
    pub samples: f64,
    /// Tokens per step: processed (train, inference, prefill) or generated (decode).
    pub tokens: f64,
    /// False when only FLOPs are known: the energy model falls back to a utilisation prior.
    pub has_breakdown: bool,
    /// Counted FLOPs of a FLOPs-only model (no ops).
    pub flops_only: Option<f64>,
    /// Bytes of one activation element: what the model's element-wise kernels
    /// move per element they process (2 in 16-bit and mixed precision, 4 in fp32).
    pub element_bytes: f64,
    pub memory: MemoryNeed,
    pub notes: Vec<String>,
}

impl StepPlan {
    /// Visit every op with its multiplicity in one step.
    pub fn for_each_op(&self, f: &mut impl FnMut(&Op, f64)) {
        fn walk(s: &Seq, mult: f64, f: &mut impl FnMut(&Op, f64)) {
            for n in &s.nodes {
                match n {
                    Node::Op(op) => f(op, mult * s.repeat * op.count),
                    Node::Seq(c) => walk(c, mult * s.repeat, f),
                }
            }
        }
        walk(&self.root, 1.0, f)
    }

    /// Counted (FlopCounterMode) matmul/convolution FLOPs of one step.
    pub fn counted_flops(&self) -> f64 {
        if let Some(f) = self.flops_only {
            return f;
        }
        let mut total = 0.0;
        self.for_each_op(&mut |op, n| total += op.flops * n);
        total
    }

    pub fn other_flops(&self) -> f64 {
        let mut total = 0.0;
        self.for_each_op(&mut |op, n| total += op.other_flops * n);
        total
    }

    pub fn bytes(&self) -> f64 {
        let mut total = 0.0;
        self.for_each_op(&mut |op, n| total += op.bytes * n);
        total
    }

    pub fn kernels(&self) -> f64 {
        let mut total = 0.0;
        self.for_each_op(&mut |op, n| total += op.kernels * n);
        total
    }
}

fn err(field: &str, msg: impl Into<String>) -> InputError {
    InputError::new(field, msg)
}

/// The ops of one step of `w` on one device (`field` names the workload in errors).
pub fn plan(
    arch: &Architecture,
    w: &Workload,
    sw: SoftwareClass,
    field: &str,
) -> Result<StepPlan, InputError> {
    let mut p = plan_for(arch, w, sw, field)?;
    if sw == SoftwareClass::Megatron {
        p.memory = p.memory.with_main_params_in_optimizer(p.params, w);
    }
    Ok(p)
}

fn plan_for(
    arch: &Architecture,
    w: &Workload,
    sw: SoftwareClass,
    field: &str,
) -> Result<StepPlan, InputError> {
    match arch {
        Architecture::Transformer(t) => transformer::plan(t, w, sw, field),
        Architecture::ResNet(r) => resnet::plan(r, w, sw, field),
        Architecture::Graph(g) => graph::plan(g, w, field),
        Architecture::Flops(f) => {
            if w.phase == Phase::Decode {
                return Err(err(
                    &format!("{field}.phase"),
                    "decode needs a model architecture (a preset or hf_config), not only FLOPs",
                ));
            }
            let step = match (f.flops_per_step, f.flops_per_sample) {
                (Some(s), _) => s,
                (None, Some(s)) => {
                    s * w.batch as f64 * if w.phase == Phase::Train { 3.0 } else { 1.0 }
                }
                (None, None) => {
                    return Err(err("model", "give flops_per_step or flops_per_sample"))
                }
            };
            Ok(StepPlan {
                root: Seq {
                    name: "step".into(),
                    nodes: vec![],
                    repeat: 1.0,
                    synced: true,
                },
                params: f.params,
                active_params: f.params,
                samples: w.batch as f64,
                tokens: w.batch as f64 * w.seq.unwrap_or(1) as f64,
                has_breakdown: false,
                flops_only: Some(step),
                element_bytes: w.precision.activation_bytes(),
                memory: MemoryNeed::of_state(f.params, w, 0.0, 0.0),
                notes: vec!["no op breakdown: time from a utilisation prior, wide range".into()],
            })
        }
    }
}
