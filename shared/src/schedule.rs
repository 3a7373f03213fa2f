//! Pipeline stage 4b, a step at scale: one device's share of a stage's step
//! under its parallel strategy (`plan::parallel`), composed over the pipeline
//! schedule, with the collectives each strategy issues on the device's links
//! (`catalog::network`), the exposed part of their time, their energy, and the
//! memory per device. Formulas and sources: `docs/energy-model.md`,
//! "Training at scale".

use crate::catalog::network::{busbw_fraction, BUSBW_NVLS, BUSBW_RING};
use crate::device::{DeviceProfile, Links};
use crate::error::InputError;
use crate::model::graph::Pass;
use crate::model::{Architecture, TransformerSpec};
use crate::plan::parallel::{module_bits, modules_of, Shard};
use crate::plan::{plan, MemoryNeed, Node, StepPlan};
use crate::scenario::{
    HostCosts, Parallelism, Phase, Recompute, RecomputeModule, SoftwareClass, Workload,
};
use crate::step::{step_cost, StepCost};
use crate::units::Precision;

/// Usable fraction of device memory (allocator fragmentation, CUDA context).
pub const USABLE_MEMORY: f64 = 0.9;
/// Share of the SMs NCCL's kernels occupy while they run (32 channels on a
/// 132-SM H100: NCCL_MAX_NCHANNELS' default): the active floor's share during
/// exposed communication.
pub const NCCL_OCCUPANCY: f64 = 32.0 / 132.0;

/// How a stage's devices share the work.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Strategy {
    pub tensor: u64,
    pub pipeline: u64,
    pub context: u64,
    /// Data-parallel replicas: count / (tensor x pipeline x context).
    pub data: u64,
    /// Expert parallelism: a mixture of experts' routed experts split over
    /// this many of the data-parallel replicas (1: every expert everywhere).
    pub expert: u64,
    /// The all-to-all hidden behind another micro-batch's compute.
    pub overlap_expert_comm: bool,
    pub zero: u8,
    pub sequence_parallel: bool,
    pub micro_batches: u64,
    /// Samples per micro-batch.
    pub micro_batch: u64,
    pub interleave: u64,
    pub recompute: Recompute,
    /// Under selective recomputation, the modules run again
    /// (`plan::parallel::module_bits`; none: the attention core).
    pub modules: u8,
    /// Chosen by the estimator (no parallelism was given).
    pub chosen: bool,
}

impl Strategy {
    /// Plain data parallelism over `count` devices, the whole batch in one micro-batch.
    pub fn data_parallel(count: u64, batch: u64) -> Strategy {
        Strategy {
            tensor: 1,
            pipeline: 1,
            context: 1,
            data: count.max(1),
            expert: 1,
            overlap_expert_comm: false,
            zero: 0,
            sequence_parallel: false,
            micro_batches: 1,
            micro_batch: batch.max(1),
            interleave: 1,
            recompute: Recompute::None,
            modules: 0,
            chosen: false,
        }
    }

    /// The strategy a stage gives, checked against the device count and batch.
    pub fn given(
        p: &Parallelism,
        count: u64,
        batch: u64,
        field: &str,
    ) -> Result<Strategy, InputError> {
        let t = p.tensor.unwrap_or(1);
        let pp = p.pipeline.unwrap_or(1);
        let c = p.context.unwrap_or(1);
        let group = t * pp * c;
        if group == 0 || !count.is_multiple_of(group) {
            return Err(InputError::new(
                field,
                format!("tensor x pipeline x context ({t} x {pp} x {c}) must divide the {count} devices"),
            ));
        }
        let m = p
            .micro_batches
            .unwrap_or(if pp > 1 { batch } else { 1 })
            .max(1);
        if !batch.is_multiple_of(m) {
            return Err(InputError::new(
                format!("{field}.micro_batches"),
                format!("must divide the batch ({batch} samples per data-parallel replica)"),
            ));
        }
        let data = count / group;
        let e = p.expert.unwrap_or(1).max(1);
        if !data.is_multiple_of(e) {
            return Err(InputError::new(
                format!("{field}.expert"),
                format!("must divide the {data} data-parallel replicas (devices / (tensor x pipeline x context))"),
            ));
        }
        let recompute = p.recompute.unwrap_or_default();
        if !p.recompute_modules.is_empty() && recompute != Recompute::Selective {
            return Err(InputError::new(
                format!("{field}.recompute_modules"),
                "modules are recomputed under selective recomputation: set recompute to \"selective\" or remove recompute_modules",
            ));
        }
        Ok(Strategy {
            tensor: t,
            pipeline: pp,
            context: c,
            data,
            expert: e,
            overlap_expert_comm: p.overlap_expert_comm.unwrap_or(false),
            zero: p.zero.unwrap_or(0),
            sequence_parallel: p.sequence_parallel.unwrap_or(t > 1),
            micro_batches: m,
            micro_batch: batch / m,
            interleave: p.interleave.unwrap_or(1).max(1),
            recompute,
            modules: module_bits(&p.recompute_modules),
            chosen: false,
        })
    }

    pub fn shard(&self) -> Shard {
        Shard {
            tensor: self.tensor as f64,
            pipeline: self.pipeline as f64,
            context: self.context as f64,
            sequence_parallel: self.sequence_parallel,
            recompute: self.recompute,
            modules: self.modules,
            optimizer_shards: if self.zero >= 1 {
                self.data as f64
            } else {
                1.0
            },
        }
    }

    /// In words, for the estimate's notes.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("data {}", self.data)];
        if self.tensor > 1 {
            parts.push(format!("tensor {}", self.tensor));
        }
        if self.pipeline > 1 {
            parts.push(format!(
                "pipeline {} ({} micro-batches{})",
                self.pipeline,
                self.micro_batches,
                if self.interleave > 1 {
                    format!(", {} virtual stages", self.interleave)
                } else {
                    String::new()
                }
            ));
        } else if self.micro_batches > 1 {
            parts.push(format!("{} micro-batches", self.micro_batches));
        }
        if self.context > 1 {
            parts.push(format!("context {}", self.context));
        }
        if self.expert > 1 {
            parts.push(format!("expert {}", self.expert));
        }
        if self.zero > 0 {
            parts.push(format!("ZeRO-{}", self.zero));
        }
        if self.sequence_parallel && self.tensor > 1 {
            parts.push("sequence parallel".into());
        }
        if self.recompute != Recompute::None {
            let modules = modules_of(self.modules);
            parts.push(if modules.is_empty() {
                format!("{} recomputation", self.recompute.as_str())
            } else {
                let names: Vec<&str> = modules.iter().map(|m| m.as_str()).collect();
                format!(
                    "{} recomputation of {}",
                    self.recompute.as_str(),
                    names.join(", ")
                )
            });
        }
        parts.join(", ")
    }
}

/// One step of a stage on one device.
#[derive(Debug, Clone)]
pub struct StageStep {
    pub seconds: f64,
    /// Accelerator energy of one device over one step.
    pub joules: f64,
    /// The plan of one micro-batch on one device (for op shares) and its cost.
    pub plan: StepPlan,
    pub cost: StepCost,
    /// Time of the step the devices wait: pipeline bubble, exposed communication.
    pub bubble_seconds: f64,
    pub comm_seconds: f64,
    /// The part of `comm_seconds` that is expert parallelism's all-to-all.
    pub expert_comm_seconds: f64,
    pub memory: MemoryNeed,
    pub strategy: Strategy,
    /// Counted FLOPs of the step on one device.
    pub flops: f64,
    /// Those without the recomputed forwards: the model FLOPs that MFU counts.
    pub model_flops: f64,
    /// The whole model's parameters, and those used per token.
    pub model_params: f64,
    pub model_active_params: f64,
    /// Samples one data-parallel replica processes per step.
    pub replica_batch: u64,
    pub notes: Vec<String>,
}

/// The time of an all-reduce of `bytes` over `n` devices on a link of bus
/// bandwidth `gbs` (ring: each device sends and receives 2 (n-1)/n of it).
pub fn allreduce_seconds(bytes: f64, n: f64, gbs: f64, nvls: bool) -> f64 {
    if n <= 1.0 || bytes <= 0.0 {
        return 0.0;
    }
    let curve = if nvls { BUSBW_NVLS } else { BUSBW_RING };
    let bus = gbs * 1e9 * busbw_fraction(curve, bytes).max(1e-6);
    2.0 * (n - 1.0) / n * bytes / bus
}

/// An all-gather (or reduce-scatter) of a `bytes` buffer: half an all-reduce's traffic.
pub fn allgather_seconds(bytes: f64, n: f64, gbs: f64, nvls: bool) -> f64 {
    allreduce_seconds(bytes, n, gbs, nvls) / 2.0
}

/// The bus bandwidth of a group of `n` devices whose members are `stride`
/// apart in the device order: inside the fast domain, else the network.
///
/// Across domains NCCL runs one ring per NIC and splits a collective over the
/// group's members in each node through the fast fabric (one rail per NIC),
/// so the group moves data at its members' NICs together: `network_gbs` (one
/// device's share of its node's NICs) times the members per node, at most the
/// fabric's bus bandwidth. A data-parallel group beside tensor parallelism of
/// the node's size has one member per node and one NIC.
pub fn group_link(links: &Links, n: u64, stride: u64) -> (f64, bool) {
    let domain = u64::from(links.domain.max(1));
    if !crosses_domains(n, stride, domain) {
        (links.intra_gbs, links.nvls)
    } else {
        let per_node = (domain / stride.max(1)).clamp(1, n) as f64;
        ((links.network_gbs * per_node).min(links.intra_gbs), false)
    }
}

/// Whether a group of `n` devices, `stride` apart in the device order, spans
/// more than one fast domain (its collectives then cross the network).
pub fn crosses_domains(n: u64, stride: u64, domain: u64) -> bool {
    n > 1 && n * stride > domain.max(1)
}

/// The time of an all-to-all in which each of `n` devices, `stride` apart in
/// the device order, sends `bytes` spread evenly over the other `n - 1`
/// (expert parallelism's token dispatch and combine). Peers in the device's
/// fast domain are reached over the fabric, the others through the device's
/// own share of the node's NICs; both run at once, so the slower bounds it.
pub fn alltoall_seconds(bytes: f64, n: u64, stride: u64, links: &Links) -> f64 {
    if n <= 1 || bytes <= 0.0 {
        return 0.0;
    }
    let domain = u64::from(links.domain.max(1));
    let in_node = (domain / stride.max(1)).clamp(1, n);
    let peers = (n - 1) as f64;
    let near = bytes * (in_node - 1) as f64 / peers;
    let far = bytes * (n - in_node) as f64 / peers;
    let bus = links.intra_gbs * 1e9 * busbw_fraction(BUSBW_RING, bytes).max(1e-6);
    (near / bus).max(far / (links.network_gbs * 1e9))
}

/// The model as one device holds it under expert parallelism: its share of
/// the routed experts (`Moe::expert_shards`), the rest whole.
fn local_arch(arch: &Architecture, expert: u64) -> Option<Architecture> {
    match arch {
        Architecture::Transformer(t) if expert > 1 && t.moe.is_some() => {
            let mut t = t.clone();
            if let Some(m) = t.moe.as_mut() {
                m.expert_shards = expert;
            }
            Some(Architecture::Transformer(t))
        }
        _ => None,
    }
}

/// Under expert parallelism each expert is replicated on data / e devices, so
/// ZeRO shards its state over those, not over all data-parallel devices:
/// `routed` is the share of a device's parameters that are routed experts.
fn expert_state(m: &mut MemoryNeed, st: &Strategy, routed: f64) {
    let e = st.expert.max(1) as f64;
    if e <= 1.0 || routed <= 0.0 {
        return;
    }
    let k = 1.0 - routed + routed * e;
    if st.zero >= 1 {
        m.optimizer *= k;
    }
    if st.zero >= 2 {
        m.gradients *= k;
    }
    if st.zero >= 3 {
        m.weights *= k;
    }
}

/// A device's plan of one micro-batch under expert parallelism, the whole
/// model's parameters (total, active) and the share of the device's
/// parameters that are routed experts.
fn device_plan(
    arch: &Architecture,
    w: &Workload,
    sw: SoftwareClass,
    field: &str,
    expert: u64,
) -> Result<(StepPlan, f64, f64, f64), InputError> {
    let whole = plan(arch, w, sw, field)?;
    let (params, active) = (whole.params, whole.active_params);
    match local_arch(arch, expert) {
        None => Ok((whole, params, active, 0.0)),
        Some(local) => {
            let pl = plan(&local, w, sw, field)?;
            // whole - local = routed x (1 - 1/e): the device's routed experts are routed / e
            let e = expert as f64;
            let routed_here = (params - pl.params).max(0.0) / (e - 1.0);
            let share = routed_here / pl.params.max(1.0);
            Ok((pl, params, active, share))
        }
    }
}

fn split(pl: &StepPlan) -> (StepPlan, StepPlan) {
    let mut work = pl.clone();
    let mut opt = pl.clone();
    work.root
        .nodes
        .retain(|n| !matches!(n, Node::Op(op) if op.pass == Pass::Optimizer));
    opt.root
        .nodes
        .retain(|n| matches!(n, Node::Op(op) if op.pass == Pass::Optimizer));
    (work, opt)
}

/// Recomputed modules the model and software have.
fn check_modules(
    spec: Option<&TransformerSpec>,
    sw: SoftwareClass,
    st: &Strategy,
    field: &str,
) -> Result<(), InputError> {
    let modules = modules_of(st.modules);
    if modules.is_empty() {
        return Ok(());
    }
    let f = format!("{field}.parallelism.recompute_modules");
    let Some(spec) = spec.filter(|s| s.decoder_layers == 0) else {
        return Err(InputError::new(
            f,
            "recompute_modules needs a decoder-only or encoder-only transformer (a preset or hf_config): remove it",
        ));
    };
    if sw != SoftwareClass::Megatron {
        return Err(InputError::new(
            f,
            "recompute_modules are Megatron-Core's: set software to \"megatron\" or remove them",
        ));
    }
    if modules.contains(&RecomputeModule::MlaUpProj) && spec.mla.is_none() {
        return Err(InputError::new(
            f,
            "mla_up_proj needs multi-head latent attention (a DeepSeek-V2/V3 config): remove it",
        ));
    }
    if modules.contains(&RecomputeModule::MoeAct) && spec.moe.is_none() {
        return Err(InputError::new(
            f,
            "moe_act needs a mixture of experts: remove it",
        ));
    }
    Ok(())
}

/// Activations one device keeps under its recomputed modules, relative to
/// those it keeps without them (`plan::transformer::megatron_activations`).
fn kept_by_modules(arch: &Architecture, w: &Workload, sw: SoftwareClass, st: &Strategy) -> f64 {
    let modules = modules_of(st.modules);
    match spec_of(arch) {
        Some(spec)
            if st.recompute == Recompute::Selective
                && !modules.is_empty()
                && sw == SoftwareClass::Megatron
                && spec.decoder_layers == 0 =>
        {
            use crate::plan::transformer::megatron_activations;
            let all = megatron_activations(spec, 1.0, w.precision, &[]);
            let kept = megatron_activations(spec, 1.0, w.precision, &modules);
            if all > 0.0 {
                kept / all
            } else {
                1.0
            }
        }
        _ => 1.0,
    }
}

fn spec_of(arch: &Architecture) -> Option<&TransformerSpec> {
    match arch {
        Architecture::Transformer(t) => Some(t),
        _ => None,
    }
}

/// Bytes per gradient element communicated: PyTorch DDP/FSDP under AMP
/// reduce the fp32 gradients of fp32 parameters; Megatron-style training
/// reduces in bf16 (Megatron-Core's default `grad_reduce_in_fp32 = False`).
fn grad_bytes(p: Precision, sw: SoftwareClass) -> f64 {
    if sw == SoftwareClass::Megatron {
        p.activation_bytes()
    } else if matches!(p, Precision::Fp8 | Precision::Int8) {
        // 8-bit training keeps fp32 gradients (MemoryNeed::of_state)
        4.0
    } else {
        p.weight_bytes()
    }
}

#[allow(clippy::too_many_arguments)]
pub fn stage_step(
    arch: &Architecture,
    w: &Workload,
    sw: SoftwareClass,
    field: &str,
    strategy: &Strategy,
    device: &DeviceProfile,
    host: &HostCosts,
) -> Result<StageStep, InputError> {
    let st = strategy;
    let spec = spec_of(arch);
    if (st.tensor > 1 || st.pipeline > 1 || st.context > 1) && spec.is_none() {
        return Err(InputError::new(
            format!("{field}.parallelism"),
            "tensor, pipeline and context parallelism need a transformer (a preset or hf_config)",
        ));
    }
    if let Some(spec) = spec {
        if st.tensor > 1 && spec.heads % st.tensor != 0 {
            return Err(InputError::new(
                format!("{field}.parallelism.tensor"),
                format!("must divide the model's {} attention heads", spec.heads),
            ));
        }
        let layers = spec.layers + spec.decoder_layers;
        if st.pipeline > layers {
            return Err(InputError::new(
                format!("{field}.parallelism.pipeline"),
                format!("must be at most the model's {layers} layers"),
            ));
        }
    }
    if st.expert > 1 {
        match spec.and_then(|s| s.moe) {
            None => {
                return Err(InputError::new(
                    format!("{field}.parallelism.expert"),
                    "expert parallelism needs a mixture of experts (a config with routed experts): remove it or set it to 1",
                ))
            }
            Some(m) if !m.experts.is_multiple_of(st.expert) => {
                return Err(InputError::new(
                    format!("{field}.parallelism.expert"),
                    format!("must divide the model's {} routed experts", m.experts),
                ))
            }
            Some(_) => {}
        }
    }
    if w.phase == Phase::Train {
        check_modules(spec, sw, st, field)?;
    }
    let mut wm = w.clone();
    wm.batch = st.micro_batch.max(1);
    let replica_batch = st.micro_batch.max(1) * st.micro_batches.max(1);
    let (mut pl, model_params, model_active_params, routed) =
        device_plan(arch, &wm, sw, &format!("{field}.workload"), st.expert)?;
    pl.shard(&st.shard());
    let train = w.phase == Phase::Train;
    let m = st.micro_batches.max(1) as f64;
    let (t, p, c, d) = (
        st.tensor as f64,
        st.pipeline as f64,
        st.context as f64,
        st.data as f64,
    );

    // compute: the whole step at once when it is one micro-batch (exactly the single-device model)
    let (mut seconds, mut joules, cost) = if m <= 1.0 {
        let cost = step_cost(&pl, device, sw, host);
        (cost.seconds, cost.joules, cost)
    } else {
        let (work, opt) = split(&pl);
        let c_mb = step_cost(&work, device, sw, host);
        let c_opt = step_cost(&opt, device, sw, host);
        (
            m * c_mb.seconds + c_opt.seconds,
            m * c_mb.joules + c_opt.joules,
            c_mb,
        )
    };
    let per_mb = cost.seconds;
    let mut notes = vec![];

    // pipeline bubble: (p - 1) / v micro-batch times idle (1F1B, interleaved)
    let bubble = if p > 1.0 {
        per_mb * (p - 1.0) / st.interleave.max(1) as f64
    } else {
        0.0
    };
    seconds += bubble;
    joules += bubble * device.idle_w;

    // collectives
    let links = device.links;
    let a = w.precision.activation_bytes();
    let mut comm_exposed = 0.0;
    let mut comm_bytes = 0.0;
    let mut expert_exposed = 0.0;
    if let (Some(links), Some(spec)) = (links, spec) {
        let h = spec.hidden as f64;
        let seq = match w.phase {
            Phase::Decode => 1.0,
            _ => w.seq.or(w.prompt).unwrap_or(1) as f64,
        };
        let tokens_mb = st.micro_batch as f64 * seq / c;
        let layers = (spec.layers + spec.decoder_layers) as f64 / p;
        // the collectives a layer issues per micro-batch, tensor parallel
        // (all-reduces) and expert parallel (all-to-alls) alike: 2 forward,
        // 2 backward, 2 more when recomputing
        let per_layer = if train {
            4.0 + if st.recompute == Recompute::Full {
                2.0
            } else {
                0.0
            }
        } else {
            2.0
        };
        if t > 1.0 {
            let s_tp = tokens_mb * h * a;
            let (gbs, nvls) = group_link(&links, st.tensor, 1);
            let mut tp = allreduce_seconds(s_tp, t, gbs, nvls) * per_layer * layers * m;
            let mut tp_bytes = 2.0 * (t - 1.0) / t * s_tp * per_layer * layers * m;
            if w.phase == Phase::Decode {
                // decode: the prompt pass, then one small all-reduce pair per token and layer
                let n = w.new_tokens.unwrap_or(1) as f64;
                let prompt = w.prompt.unwrap_or(1) as f64;
                let s_prompt = st.micro_batch as f64 * prompt * h * a;
                let s_tok = st.micro_batch as f64 * h * a;
                tp = layers
                    * 2.0
                    * (allreduce_seconds(s_prompt, t, gbs, nvls)
                        + (n - 1.0) * allreduce_seconds(s_tok, t, gbs, nvls));
                tp_bytes = layers * 2.0 * 2.0 * (t - 1.0) / t * (s_prompt + (n - 1.0) * s_tok);
            }
            comm_exposed += tp;
            comm_bytes += tp_bytes;
            notes.push(format!(
                "tensor parallel: {:.3} s of all-reduces per step, not overlapped",
                tp
            ));
        }
        // pipeline: activations to the next stage per micro-batch, forward and backward;
        // only the warm-up and cool-down are exposed
        if p > 1.0 {
            let s_pp = tokens_mb * h * a / if st.sequence_parallel { t } else { 1.0 };
            let (gbs, _) = group_link(&links, st.pipeline, st.tensor * st.context);
            let one = s_pp / (gbs * 1e9);
            comm_exposed += 2.0 * (p - 1.0) * one;
            comm_bytes += 2.0 * m * s_pp;
        }
        // context parallel: ring attention passes key/value chunks, overlapped with attention
        if c > 1.0 {
            let kv = 2.0 * tokens_mb * (spec.kv_heads * spec.head_dim) as f64 * a / t;
            comm_bytes += (c - 1.0) * kv * layers * m * if train { 3.0 } else { 1.0 };
        }
        // expert parallel: each MoE layer sends every token to its k experts and
        // back (dispatch, combine), twice more in the backward and again when
        // recomputing; on the compute stream (Megatron-Core's all-to-all
        // dispatcher), or hidden behind another micro-batch's compute
        if let Some(moe) = spec.moe.filter(|_| st.expert > 1) {
            let e = st.expert as f64;
            let moe_layers = spec.layers.saturating_sub(moe.dense_layers) as f64 / p;
            let tokens = tokens_mb / if st.sequence_parallel { t } else { 1.0 };
            let sent = tokens * moe.active as f64 * h * a * (e - 1.0) / e;
            let n = per_layer * moe_layers;
            // Megatron orders ranks tensor, context, expert/data, pipeline:
            // an expert group's members are t c apart
            let one = alltoall_seconds(sent, st.expert, st.tensor * st.context, &links);
            let a2a = m * if st.overlap_expert_comm && m > 1.0 {
                (n * one - per_mb).max(0.0)
            } else {
                n * one
            };
            comm_exposed += a2a;
            expert_exposed = a2a;
            comm_bytes += m * n * sent;
            notes.push(format!(
                "expert parallel: {:.3} s of all-to-all per step, {a2a:.3} s of it exposed",
                m * n * one
            ));
        }
    }
    // data parallel: gradients once per step (reduced in the last micro-batch's
    // backward, overlapped with it); ZeRO-3 gathers parameters every micro-batch
    if train && d > 1.0 {
        if let Some(links) = links {
            let (gbs, nvls) = group_link(&links, st.data, st.tensor * st.pipeline * st.context);
            let grads = pl.params * grad_bytes(w.precision, sw);
            let sync = allreduce_seconds(grads, d, gbs, nvls);
            let backward = cost.seconds * 2.0 / 3.0;
            let mut exposed = (sync - backward).max(0.0);
            comm_bytes += 2.0 * (d - 1.0) / d * grads;
            if st.zero >= 3 {
                let weights = pl.params * 2.0;
                let gather = 2.0 * allgather_seconds(weights, d, gbs, nvls);
                exposed += m * (gather - cost.seconds).max(0.0);
                comm_bytes += m * 2.0 * (d - 1.0) / d * weights;
            }
            comm_exposed += exposed;
            if exposed > 0.0 {
                notes.push(format!(
                    "data parallel: {exposed:.3} s of gradient communication per step not hidden by the backward"
                ));
            }
        }
    }
    seconds += comm_exposed;
    // devices wait on exposed communication with NCCL's kernels running; every
    // byte a collective moves is read and written in device memory
    joules += comm_exposed * (device.idle_w + device.active_floor_w * NCCL_OCCUPANCY)
        + comm_bytes * 2.0 * device.pj_per_byte * 1e-12;

    // memory per device
    let mut memory = pl.memory;
    memory.activations *= kept_by_modules(arch, w, sw, st);
    if st.zero >= 2 {
        memory.gradients /= d;
    }
    if st.zero >= 3 {
        memory.weights /= d;
    }
    expert_state(&mut memory, st, routed);
    let flops = if m <= 1.0 {
        pl.counted_flops()
    } else {
        let (work, opt) = split(&pl);
        m * work.counted_flops() + opt.counted_flops()
    };
    let mut recomputed = 0.0;
    pl.for_each_op(&mut |op, n| {
        if op.name.ends_with(".recompute") {
            recomputed += op.flops * n;
        }
    });
    let model_flops = flops - m.max(1.0) * recomputed;
    let mut plan_out = pl;
    plan_out.notes.extend(notes.iter().cloned());
    Ok(StageStep {
        seconds,
        joules,
        plan: plan_out,
        cost,
        bubble_seconds: bubble,
        comm_seconds: comm_exposed,
        expert_comm_seconds: expert_exposed,
        memory,
        strategy: *st,
        flops,
        model_flops,
        model_params,
        model_active_params,
        replica_batch,
        notes,
    })
}

/// Pipeline degrees the chooser tries for `n` devices of a model of `layers`
/// layers: every divisor of `n` from 2 to the layers, ascending (stages may
/// hold unequal numbers of layers: Megatron-LM ran its 105-layer 530B model
/// on 35 stages and BLOOM its 70 layers on 12).
fn pipeline_degrees(n: u64, layers: u64) -> impl Iterator<Item = u64> {
    (2..=layers.min(n)).filter(move |p| n.is_multiple_of(*p))
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}

/// Whether a step's memory fits a device.
pub fn fits(memory: &MemoryNeed, device: &DeviceProfile) -> bool {
    memory.total() <= device.memory_gb * 1e9 * USABLE_MEMORY
}

/// The memory one device needs under a strategy: the whole model's memory for
/// one micro-batch (`cache`d per micro-batch size), sharded.
pub fn memory_of(
    arch: &Architecture,
    w: &Workload,
    sw: SoftwareClass,
    field: &str,
    st: &Strategy,
    cache: &mut Vec<(u64, u64, MemoryNeed, f64)>,
) -> Result<MemoryNeed, InputError> {
    let mb = st.micro_batch.max(1);
    let (whole, routed) = match cache.iter().find(|c| c.0 == mb && c.1 == st.expert) {
        Some(c) => (c.2, c.3),
        None => {
            let mut wm = w.clone();
            wm.batch = mb;
            let (pl, _, _, routed) =
                device_plan(arch, &wm, sw, &format!("{field}.workload"), st.expert)?;
            cache.push((mb, st.expert, pl.memory, routed));
            (pl.memory, routed)
        }
    };
    let mut m = whole.sharded(&st.shard());
    m.activations *= kept_by_modules(arch, w, sw, st);
    if st.zero >= 2 {
        m.gradients /= st.data as f64;
    }
    if st.zero >= 3 {
        m.weights /= st.data as f64;
    }
    expert_state(&mut m, st, routed);
    Ok(m)
}

/// A strategy for a training stage that gave none: plain data parallelism
/// when the model fits; else the first that fits in the order large runs
/// reach for them (Megatron-LM, Narayanan et al. 2021; Llama 3, 2024): ZeRO-1,
/// FSDP (ZeRO-3) inside one node, tensor parallelism within a node with
/// sequence parallelism and selective recomputation, then pipeline stages,
/// then full recomputation, and FSDP across nodes last (its parameter gathers
/// at every micro-batch would cross the network). The global batch stays
/// `batch x count` whatever the strategy.
#[allow(clippy::too_many_arguments)]
pub fn choose(
    arch: &Architecture,
    w: &Workload,
    sw: SoftwareClass,
    field: &str,
    count: u64,
    device: &DeviceProfile,
    host: &HostCosts,
) -> Result<StageStep, InputError> {
    let batch = w.batch.max(1);
    let domain = device.domain();
    // a mixture of experts trains with its experts split over as many of the
    // data-parallel replicas as divide them and share a fast domain with the
    // tensor-parallel ones (Megatron-Core's MoE guide: expert parallelism is
    // carved out of data parallelism, preferred to tensor parallelism, and
    // kept with it inside the NVLink domain)
    let moe = spec_of(arch)
        .and_then(|s| s.moe)
        .filter(|_| w.phase == Phase::Train);
    let with_experts = |st: Strategy| Strategy {
        expert: moe.map_or(1, |m| {
            let cap = (domain / (st.tensor * st.context).max(1)).max(1);
            let g = gcd(m.experts, st.data);
            (1..=g.min(cap))
                .rev()
                .find(|e| g.is_multiple_of(*e))
                .unwrap_or(1)
        }),
        ..st
    };
    let base = with_experts(Strategy::data_parallel(count, batch));
    let mut cache = vec![];
    let mut fits_with = |st: &Strategy| -> Result<bool, InputError> {
        Ok(fits(
            &memory_of(arch, w, sw, field, st, &mut cache)?,
            device,
        ))
    };
    if count <= 1 || fits_with(&base)? {
        return stage_step(arch, w, sw, field, &base, device, host);
    }
    if w.phase != Phase::Train {
        // inference: replicas of the fewest devices that hold the model (tensor
        // parallel within a node), the global batch kept
        if let Some(spec) = spec_of(arch) {
            for t in [2u64, 4, 8, 16, 32, 64, 72] {
                if t > domain || !count.is_multiple_of(t) || !spec.heads.is_multiple_of(t) {
                    continue;
                }
                let cand = Strategy {
                    tensor: t,
                    data: count / t,
                    sequence_parallel: false,
                    micro_batch: batch * t,
                    chosen: true,
                    ..base
                };
                if fits_with(&cand)? {
                    return stage_step(arch, w, sw, field, &cand, device, host);
                }
            }
        }
        return stage_step(arch, w, sw, field, &base, device, host);
    }
    let zero1 = Strategy { zero: 1, ..base };
    let mut candidates: Vec<Strategy> = vec![zero1];
    // activations: recompute, then smaller micro-batches (gradient accumulation)
    for recompute in [Recompute::Selective, Recompute::Full] {
        candidates.push(Strategy { recompute, ..zero1 });
    }
    let mut m = 2;
    while m <= batch {
        if batch.is_multiple_of(m) {
            candidates.push(Strategy {
                recompute: Recompute::Full,
                micro_batches: m,
                micro_batch: batch / m,
                ..zero1
            });
        }
        m *= 2;
    }
    if count <= domain {
        for recompute in [Recompute::None, Recompute::Full] {
            candidates.push(Strategy {
                zero: 3,
                recompute,
                ..base
            });
        }
    }
    if let Some(spec) = spec_of(arch) {
        let layers = spec.layers + spec.decoder_layers;
        let tensors: Vec<u64> = [2u64, 4, 8, 16, 32, 64, 72]
            .into_iter()
            .filter(|&t| t <= domain && count.is_multiple_of(t) && spec.heads.is_multiple_of(t))
            .collect();
        let widest = tensors.last().copied();
        // a mixture of experts takes pipeline stages before tensor
        // parallelism (Megatron-Core's MoE guide), with either recomputation
        for recompute in [Recompute::Selective, Recompute::Full]
            .into_iter()
            .filter(|_| moe.is_some())
        {
            for p in pipeline_degrees(count, layers) {
                candidates.push(Strategy {
                    pipeline: p,
                    data: count / p,
                    zero: 1,
                    sequence_parallel: false,
                    micro_batches: batch * p,
                    micro_batch: 1,
                    recompute,
                    ..base
                });
            }
        }
        for recompute in [Recompute::Selective, Recompute::Full] {
            let mut shapes: Vec<(u64, u64)> = tensors.iter().map(|&t| (t, 1)).collect();
            if let Some(t) = widest {
                for p in pipeline_degrees(count / t, layers) {
                    shapes.push((t, p));
                }
            }
            for (t, p) in shapes {
                let replica_batch = batch * t * p;
                let m = if p > 1 { replica_batch } else { 1 };
                candidates.push(Strategy {
                    tensor: t,
                    pipeline: p,
                    data: count / (t * p),
                    zero: 1,
                    sequence_parallel: true,
                    micro_batches: m,
                    micro_batch: replica_batch / m,
                    recompute,
                    ..base
                });
            }
        }
    }
    if count > domain {
        for recompute in [Recompute::None, Recompute::Full] {
            candidates.push(Strategy {
                zero: 3,
                recompute,
                ..base
            });
        }
    }
    for cand in candidates {
        let mut cand = with_experts(cand);
        if fits_with(&cand)? {
            cand.chosen = true;
            return stage_step(arch, w, sw, field, &cand, device, host);
        }
    }
    // nothing fits: plain data parallelism, and the memory check says so
    stage_step(arch, w, sw, field, &base, device, host)
}
