//! One device's share of a step under tensor, pipeline and context
//! parallelism, with activation recomputation: a transform of the whole
//! model's plan of one micro-batch (`docs/energy-model.md`, "Training at scale").
//!
//! - Tensor parallelism (Megatron): inside each layer the attention heads
//!   and the MLP's columns are split, so every matmul, attention and the
//!   element-wise ops between the column- and row-parallel projections do 1/t
//!   of the work; the ops on the residual stream (norms, residual adds,
//!   dropout after a projection) are replicated, or split too with sequence
//!   parallelism. The embedding, the output head and its loss are
//!   vocabulary-parallel (1/t).
//! - Pipeline parallelism: a device holds 1/p of the layers, and on average
//!   1/p of the embedding and the head.
//! - Context parallelism: each device computes 1/c of every sequence's tokens
//!   (ring attention: its queries against all keys).
//! - Recomputation: `full` runs each layer's forward again in its backward;
//!   `selective` the attention core only (Korthikanti et al. 2022).

use super::{Node, Seq, StepPlan};
use crate::model::graph::{Op, Pass};
use crate::scenario::{Recompute, RecomputeModule};

/// Recomputed modules as a set of bits, in [`RecomputeModule::ALL`]'s order.
pub fn module_bits(modules: &[RecomputeModule]) -> u8 {
    modules.iter().fold(0, |b, m| {
        b | 1
            << RecomputeModule::ALL
                .iter()
                .position(|x| x == m)
                .unwrap_or(0)
    })
}

/// The modules of a set of bits.
pub fn modules_of(bits: u8) -> Vec<RecomputeModule> {
    RecomputeModule::ALL
        .iter()
        .enumerate()
        .filter(|(i, _)| bits & (1 << i) != 0)
        .map(|(_, m)| *m)
        .collect()
}

/// The degrees a device's share follows from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shard {
    pub tensor: f64,
    pub pipeline: f64,
    pub context: f64,
    pub sequence_parallel: bool,
    pub recompute: Recompute,
    /// Under selective recomputation, the modules run again ([`module_bits`]).
    pub modules: u8,
    /// Devices the optimizer state is sharded over (ZeRO-1 and above: the
    /// data-parallel degree; 1 otherwise).
    pub optimizer_shards: f64,
}

impl Default for Shard {
    fn default() -> Self {
        Shard {
            tensor: 1.0,
            pipeline: 1.0,
            context: 1.0,
            sequence_parallel: false,
            recompute: Recompute::None,
            modules: 0,
            optimizer_shards: 1.0,
        }
    }
}

impl Shard {
    pub fn is_whole(&self) -> bool {
        *self == Shard::default()
    }
}

/// Layer sequences, as the transformer planner names them.
fn is_layer(name: &str) -> bool {
    let base = name.trim_end_matches(".backward");
    matches!(base, "layer" | "encoder_layer" | "decoder_layer")
}

/// Ops of a layer on the residual stream: replicated under tensor parallelism
/// unless sequence parallelism splits them.
fn on_residual_stream(name: &str) -> bool {
    let base = name.trim_end_matches(".backward");
    base.contains("norm")
        || base.ends_with(".residual")
        || base == "attn.dropout"
        || base == "mlp.dropout"
        || base == "cross.dropout"
}

fn scale(op: &mut Op, k: f64) {
    op.flops *= k;
    op.other_flops *= k;
    op.bytes *= k;
    op.params *= k;
}

impl super::MemoryNeed {
    /// One device's memory under a share (see [`StepPlan::shard`]).
    pub fn sharded(&self, s: &Shard) -> super::MemoryNeed {
        let (t, p, c) = (s.tensor.max(1.0), s.pipeline.max(1.0), s.context.max(1.0));
        let mut m = *self;
        m.weights /= t * p;
        m.gradients /= t * p;
        m.optimizer /= t * p * s.optimizer_shards.max(1.0);
        // the KV cache of a device's heads and layers
        m.kv_cache /= t * p;
        // 1F1B keeps up to p micro-batches in flight on the first stage, each
        // with 1/p of the layers: about one micro-batch of the whole model.
        // Per layer, 34 b s h bytes with FlashAttention, of which 10 b s h on the
        // residual stream stay whole without sequence parallelism (Korthikanti et al. 2022, table 2)
        let act_tp = if s.sequence_parallel {
            1.0 / t
        } else {
            (10.0 + 24.0 / t) / 34.0
        };
        m.activations *= act_tp / c;
        if s.recompute == Recompute::Full {
            m.activations *= FULL_RECOMPUTE_ACTIVATIONS;
        }
        m
    }
}

impl StepPlan {
    /// This plan (the whole model, one micro-batch) cut to one device's share.
    pub fn shard(&mut self, s: &Shard) {
        if s.is_whole() {
            return;
        }
        let (t, p, c) = (s.tensor.max(1.0), s.pipeline.max(1.0), s.context.max(1.0));
        fn walk(seq: &mut Seq, s: &Shard, in_layer: bool, t: f64, p: f64, c: f64) {
            let layer = in_layer || is_layer(&seq.name);
            if is_layer(&seq.name) {
                seq.repeat /= p;
            }
            for n in &mut seq.nodes {
                match n {
                    Node::Seq(child) => walk(child, s, layer, t, p, c),
                    Node::Op(op) if op.pass == Pass::Optimizer => {
                        // the optimizer updates this device's parameters only
                        let k = 1.0 / (t * p * s.optimizer_shards.max(1.0));
                        op.bytes *= k;
                        op.other_flops *= k;
                        if let crate::model::graph::HostWork::OptimizerTensors(n) = &mut op.host {
                            *n /= p;
                        }
                    }
                    Node::Op(op) => {
                        let tp = if layer && on_residual_stream(&op.name) && !s.sequence_parallel {
                            1.0
                        } else {
                            t
                        };
                        // outside the layers, a device holds 1/p of the embedding and head on average
                        let pp = if layer { 1.0 } else { p };
                        scale(op, 1.0 / (tp * pp * c));
                    }
                }
            }
        }
        walk(&mut self.root, s, false, t, p, c);
        if s.recompute != Recompute::None {
            recompute(&mut self.root, s.recompute, &modules_of(s.modules));
        }
        self.params /= t * p;
        self.active_params /= t * p;
        self.samples /= c;
        self.tokens /= c;
        self.memory = self.memory.sharded(s);
        if t * p * c > 1.0 || s.recompute != Recompute::None {
            self.notes.push(format!(
                "one device's share: tensor {t}, pipeline {p}, context {c}{}{}",
                if s.sequence_parallel {
                    ", sequence parallel"
                } else {
                    ""
                },
                match s.recompute {
                    Recompute::None => String::new(),
                    r => format!(", {} recomputation", r.as_str()),
                }
            ));
        }
    }
}

/// Activations kept under full recomputation, relative to none: only each
/// layer's input (b s h) of the ~34 b s h (+ attention scores) a layer keeps
/// (Korthikanti et al. 2022, eq. 1 with FlashAttention: 34 b s h).
const FULL_RECOMPUTE_ACTIVATIONS: f64 = 2.0 / 34.0;

/// Put each layer's recomputed forward (or its attention core) at the start of its backward.
fn recompute(root: &mut Seq, r: Recompute, modules: &[RecomputeModule]) {
    // find the forward layer sequences, then prepend them to their backward twins
    let mut forwards: Vec<Seq> = vec![];
    collect(root, &mut forwards);
    let modules = if modules.is_empty() {
        &[RecomputeModule::CoreAttn][..]
    } else {
        modules
    };
    insert(root, &forwards, r, modules);
}

/// Whether selective recomputation of `modules` runs a layer's op again.
fn recomputed(op: &Op, modules: &[RecomputeModule]) -> bool {
    let n = op.name.as_str();
    modules.iter().any(|m| match m {
        RecomputeModule::CoreAttn => op.kind == crate::model::graph::OpKind::Attention,
        RecomputeModule::Layernorm => n.contains("norm"),
        // the up-projections and the rotary and concatenations that make Q and K from them
        RecomputeModule::MlaUpProj => {
            n.starts_with("attn.q_b")
                || n.starts_with("attn.kv_b")
                || n.starts_with("rotary.")
                || n == "attn.q_cat"
                || n == "attn.k_cat"
        }
        RecomputeModule::MoeAct => {
            n.starts_with("mlp.silu") || n.starts_with("mlp.mul") || n.starts_with("mlp.gelu")
        }
    })
}

/// A layer node's recomputed part under selective recomputation: its ops
/// that `modules` run again, inside nested sequences too (the experts' MLP).
fn selective(n: &Node, modules: &[RecomputeModule]) -> Option<Node> {
    match n {
        Node::Op(op) => recomputed(op, modules).then(|| Node::Op(op.clone())),
        Node::Seq(q) => {
            let nodes: Vec<Node> = q
                .nodes
                .iter()
                .filter_map(|c| selective(c, modules))
                .collect();
            (!nodes.is_empty()).then(|| {
                Node::Seq(Seq {
                    name: format!("{}.recompute", q.name),
                    nodes,
                    repeat: q.repeat,
                    synced: q.synced,
                })
            })
        }
    }
}

fn collect(seq: &Seq, out: &mut Vec<Seq>) {
    for n in &seq.nodes {
        if let Node::Seq(c) = n {
            if is_layer(&c.name) && !c.name.ends_with(".backward") {
                out.push(c.clone());
            } else {
                collect(c, out);
            }
        }
    }
}

/// Names every op of a recomputed node `<name>.recompute`, inside nested
/// sequences too (an MLP's ops), so MFU can leave them out.
fn mark_recomputed(n: Node) -> Node {
    match n {
        Node::Op(mut op) => {
            op.name = format!("{}.recompute", op.name);
            Node::Op(op)
        }
        Node::Seq(mut q) => {
            q.nodes = q.nodes.into_iter().map(mark_recomputed).collect();
            Node::Seq(q)
        }
    }
}

fn insert(seq: &mut Seq, forwards: &[Seq], r: Recompute, modules: &[RecomputeModule]) {
    for n in &mut seq.nodes {
        if let Node::Seq(c) = n {
            if let Some(base) = c.name.strip_suffix(".backward").filter(|b| is_layer(b)) {
                if let Some(f) = forwards.iter().find(|f| f.name == base) {
                    let ops: Vec<Node> = f
                        .nodes
                        .iter()
                        .filter_map(|n| match r {
                            Recompute::Full => Some(n.clone()),
                            Recompute::Selective => selective(n, modules),
                            Recompute::None => None,
                        })
                        .map(mark_recomputed)
                        .collect();
                    let mut nodes = ops;
                    nodes.append(&mut c.nodes);
                    c.nodes = nodes;
                }
            } else {
                insert(c, forwards, r, modules);
            }
        }
    }
}
