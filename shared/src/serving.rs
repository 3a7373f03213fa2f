//! Pipeline stage 4c, serving at scale: a deployment stage served by a
//! continuous-batching engine (vLLM, TGI, TensorRT-LLM). Replicas of `tensor`
//! devices each run up to `batch` sequences at once, bounded by the KV cache
//! the memory leaves (paged); the load sets the mean concurrency by Little's
//! law (N = arrival rate x time in the system); replicas kept up draw idle
//! power between requests. Formulas: `docs/energy-model.md`, "Serving".

use crate::device::DeviceProfile;
use crate::error::InputError;
use crate::model::Architecture;
use crate::scenario::{Engine, HostCosts, Serving, SoftwareClass, Stage};
use crate::schedule::{self, StageStep, Strategy};

/// vLLM up to 0.5: the host work of each engine step that the GPU waits for
/// (scheduling, input preparation, sampling and output processing, the API
/// server): a fixed part per step, a part per running sequence on one
/// device, and what each further device of a tensor-parallel replica adds per
/// sequence (the driver broadcasts each step's inputs to its workers). Least
/// squares over the ten ML.ENERGY v2 vLLM 0.5.4 cases of
/// `shared/data/validation/serving.jsonl` of the host time per sequence they
/// imply (published time per token - the GPU model's) against 1 / sequences,
/// 1 and devices - 1: `cargo run --release -p jouleprint-shared --example
/// fit`, which also reports leave-one-out errors and those on the 57
/// configurations of `serving-held-out.jsonl`, which the fit never sees
/// (docs/energy-model.md, "Serving"). vLLM's v0.6.0 blog profiled the cause:
/// on one H100 serving Llama 3 8B with v0.5.3 the GPU was busy 38% of the time.
pub const VLLM05_HOST: EngineHost = EngineHost {
    per_step: 6.97,
    per_sequence: 0.388,
    per_extra_device: 0.0646,
};

/// An engine's host time that the GPU waits for, in ms: a fixed part per
/// step, a part per running sequence on one device, and what each further
/// device of a tensor-parallel replica adds per sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EngineHost {
    pub per_step: f64,
    pub per_sequence: f64,
    pub per_extra_device: f64,
}

impl EngineHost {
    /// Host ms of one step with `sequences` running on `devices`.
    pub fn ms_per_step(&self, devices: u64, sequences: f64) -> f64 {
        self.per_step
            + (self.per_sequence + self.per_extra_device * (devices.max(1) - 1) as f64) * sequences
    }
}
/// While a step waits for the host, each device draws its idle power plus this
/// share of its active floor (clocks stay up through gaps of milliseconds; the
/// reference H100 drew 177 W, 0.27 of its floor above idle, in a loop of
/// launch-bound 512-cubed GEMMs). Fitted: the median over the same ten
/// configurations of the share that gives each its published energy per
/// token (`--example fit`, which reports each configuration left out).
pub const WAIT_FLOOR_SHARE: f64 = 0.437;

/// A device's power while a step waits for the engine's host work.
pub fn wait_watts(device: &DeviceProfile) -> f64 {
    device.idle_w + WAIT_FLOOR_SHARE * device.active_floor_w
}

/// Host milliseconds per engine step the GPU waits for, with `sequences`
/// running: `serving.host_ms_per_sequence` x sequences where given (the
/// whole host time, per sequence), else the engine's.
pub fn host_ms_per_step(cfg: &Serving, tensor: u64, sequences: f64) -> f64 {
    match (cfg.host_ms_per_sequence, cfg.engine.unwrap_or_default()) {
        (Some(ms), _) => ms * sequences,
        (None, Engine::Overlapped) => 0.0,
        (None, Engine::Vllm05) => VLLM05_HOST.ms_per_step(tensor, sequences),
    }
}

/// A deployment under its engine.
#[derive(Debug, Clone)]
pub struct ServingStep {
    pub replicas: u64,
    pub tensor: u64,
    /// Mean sequences running per replica.
    pub concurrency: f64,
    /// The engine's bound: `batch`, or the KV cache's when lower.
    pub max_concurrency: u64,
    /// Sequences whose KV cache fits a replica's memory.
    pub kv_limit: u64,
    /// Seconds one request spends in a replica (its prompt, then its tokens) at the mean concurrency.
    pub request_seconds: f64,
    pub ttft_s: f64,
    pub tpot_s: f64,
    /// Share of the period a replica has at least one request.
    pub busy_fraction: f64,
    /// Accelerator power of a busy replica (all its devices), W.
    pub busy_watts: f64,
    /// Accelerator power of an idle replica, W.
    pub idle_watts: f64,
    /// The step at the concurrency (rounded up) for the op breakdown.
    pub step: StageStep,
    pub saturated: bool,
    pub notes: Vec<String>,
}

/// A static batch of `n` requests on one replica: its seconds and joules (all devices).
#[allow(clippy::too_many_arguments)]
fn batch_cost(
    arch: &Architecture,
    st: &Stage,
    sw: SoftwareClass,
    field: &str,
    tensor: u64,
    n: u64,
    device: &DeviceProfile,
    host: &HostCosts,
) -> Result<StageStep, InputError> {
    let strategy = Strategy {
        tensor,
        data: 1,
        micro_batch: n.max(1),
        ..Strategy::data_parallel(1, n.max(1))
    };
    let mut w = st.workload.clone();
    w.batch = n.max(1);
    schedule::stage_step(arch, &w, sw, field, &strategy, device, host)
}

/// Time and energy of a request batch of fractional size `n` (interpolated).
fn interpolated(
    costs: &mut Vec<(u64, f64, f64)>,
    n: f64,
    eval: &mut dyn FnMut(u64) -> Result<(f64, f64), InputError>,
) -> Result<(f64, f64), InputError> {
    let lo = n.floor().max(1.0) as u64;
    let hi = n.ceil().max(1.0) as u64;
    let mut get = |k: u64| -> Result<(f64, f64), InputError> {
        if let Some(c) = costs.iter().find(|c| c.0 == k) {
            return Ok((c.1, c.2));
        }
        let (t, e) = eval(k)?;
        costs.push((k, t, e));
        Ok((t, e))
    };
    let (t0, e0) = get(lo)?;
    if hi == lo {
        return Ok((t0, e0));
    }
    let (t1, e1) = get(hi)?;
    let x = n - lo as f64;
    Ok((t0 + x * (t1 - t0), e0 + x * (e1 - e0)))
}

#[allow(clippy::too_many_arguments)]
pub fn serve(
    arch: &Architecture,
    st: &Stage,
    cfg: &Serving,
    sw: SoftwareClass,
    field: &str,
    count_hint: u64,
    device: &DeviceProfile,
    host: &HostCosts,
) -> Result<ServingStep, InputError> {
    let w = &st.workload;
    let fraction = cfg.memory_fraction.unwrap_or(0.9).clamp(0.05, 1.0);
    let budget_per_device = device.memory_gb * 1e9 * fraction;
    // the replica: the given tensor degree, else the fewest devices whose memory holds the weights
    let tensor = match st.parallelism.as_ref().and_then(|p| p.tensor) {
        Some(t) => t.max(1),
        None => {
            let one = batch_cost(arch, st, sw, field, 1, 1, device, host)?;
            let weights = one.memory.weights;
            let domain = device.domain();
            [1u64, 2, 4, 8, 16, 32, 64, 72]
                .into_iter()
                .filter(|t| *t <= domain)
                .find(|t| {
                    weights / *t as f64 + one.memory.kv_cache / *t as f64 <= budget_per_device
                })
                .unwrap_or(domain)
        }
    };
    let single = batch_cost(arch, st, sw, field, tensor, 1, device, host)?;
    let p = w.prompt.unwrap_or(1) as f64;
    let n_new = w.new_tokens.unwrap_or(1) as f64;
    // paged KV: a request holds its prompt and, on average, half its output
    let paged = (p + n_new / 2.0) / (p + n_new).max(1.0);
    let kv_per_request = single.memory.kv_cache * paged;
    let room = budget_per_device - single.memory.weights - single.memory.activations;
    let kv_limit = if kv_per_request > 0.0 {
        (room / kv_per_request).floor().max(0.0) as u64
    } else {
        u64::MAX
    };
    if kv_limit == 0 {
        return Err(InputError::new(
            format!("{field}.serving"),
            format!(
                "one request's KV cache does not fit beside the weights on {tensor} device(s): raise parallelism.tensor or memory_fraction"
            ),
        ));
    }
    let max_concurrency = w.batch.max(1).min(kv_limit);
    let mut notes = vec![];
    if kv_limit < w.batch {
        notes.push(format!(
            "the KV cache bounds a replica at {kv_limit} concurrent sequences (below the engine's {})",
            w.batch
        ));
    }
    // the engine's host work between steps: the replica's devices wait at
    // near-idle power (one step per generated token)
    let host_at = |n: f64| host_ms_per_step(cfg, tensor, n) * 1e-3;
    if host_at(max_concurrency as f64) > 0.0 {
        notes.push(format!(
            "the engine's host work: {:.1} ms per step at {max_concurrency} sequences, not overlapped with the GPU",
            host_at(max_concurrency as f64) * 1e3
        ));
    }
    let mut costs: Vec<(u64, f64, f64)> = vec![];
    let mut eval = |n: u64| -> Result<(f64, f64), InputError> {
        let s = batch_cost(arch, st, sw, field, tensor, n, device, host)?;
        let wait = host_at(n as f64) * n_new;
        Ok((
            s.seconds + wait,
            s.joules * tensor as f64 + wait * wait_watts(device) * tensor as f64,
        ))
    };
    let (t_cap, _) = interpolated(&mut costs, max_concurrency as f64, &mut eval)?;
    let saturated = cfg.saturated.unwrap_or(false);
    let (replicas, concurrency) = if saturated {
        (
            cfg.replicas.unwrap_or(count_hint.div_ceil(tensor).max(1)),
            max_concurrency as f64,
        )
    } else {
        let lambda = st.requests_per_day.unwrap_or(0.0) / 86_400.0;
        let peak = lambda * cfg.peak_to_mean.unwrap_or(1.0).max(1.0);
        let per_replica_max = max_concurrency as f64 / t_cap;
        let needed = (peak / per_replica_max).ceil().max(1.0) as u64;
        let replicas = cfg.replicas.unwrap_or(needed);
        if replicas < needed {
            notes.push(format!(
                "{replicas} replicas cannot serve the peak load: it needs {needed} (at {max_concurrency} sequences each)"
            ));
        }
        // Little's law per replica at the mean load: N = lambda_r T(N). T grows
        // with N: the smallest whole n with lambda_r T(n) <= n by binary
        // search, then T linear between n - 1 and n
        let lambda_r = lambda / replicas as f64;
        let mut time = |n: u64, costs: &mut Vec<(u64, f64, f64)>| -> Result<f64, InputError> {
            Ok(interpolated(costs, n as f64, &mut eval)?.0)
        };
        let cap = max_concurrency;
        let concurrency = if lambda_r * time(cap, &mut costs)? > cap as f64 {
            cap as f64
        } else if lambda_r * time(1, &mut costs)? <= 1.0 {
            lambda_r * time(1, &mut costs)?
        } else {
            let (mut lo, mut hi) = (1u64, cap);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if lambda_r * time(mid, &mut costs)? <= mid as f64 {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            let (t_lo, t_hi) = (time(lo, &mut costs)?, time(hi, &mut costs)?);
            // N = lambda (t_lo + (N - lo)(t_hi - t_lo))
            let slope = t_hi - t_lo;
            let denom = 1.0 - lambda_r * slope;
            if denom > 0.0 {
                ((lambda_r * (t_lo - lo as f64 * slope)) / denom).clamp(lo as f64, hi as f64)
            } else {
                hi as f64
            }
        };
        (replicas, concurrency)
    };
    let (t_n, e_n) = interpolated(&mut costs, concurrency.max(1.0), &mut eval)?;
    let mut step = batch_cost(
        arch,
        st,
        sw,
        field,
        tensor,
        concurrency.ceil().max(1.0) as u64,
        device,
        host,
    )?;
    // the memory a replica's device holds is the engine's: paged KV at the
    // sequences' mean length, as the bound above counts it, not all at their longest
    step.memory.kv_cache *= paged;
    // a request: its prompt pass, then its tokens at the batch's pace; its
    // first token comes after its prompt pass and one iteration of the batch
    let tpot = (t_n * (1.0 - prefill_share(&step)) / (n_new - 1.0).max(1.0)).max(0.0);
    let ttft = single.seconds * prefill_share(&single) + tpot;
    // Poisson arrivals into a many-server system: P(empty) = e^-N
    let busy_fraction = if saturated {
        1.0
    } else {
        1.0 - (-concurrency).exp()
    };
    let busy_watts = e_n / t_n.max(1e-30);
    Ok(ServingStep {
        replicas,
        tensor,
        concurrency,
        max_concurrency,
        kv_limit,
        request_seconds: t_n,
        ttft_s: ttft,
        tpot_s: tpot,
        busy_fraction,
        busy_watts,
        idle_watts: device.idle_w * tensor as f64,
        step,
        saturated,
        notes,
    })
}

/// The prompt pass's share of a single request's time, from its plan: the
/// ops outside the `token` passes (1 when the plan has no token passes).
fn prefill_share(s: &StageStep) -> f64 {
    use crate::plan::Node;
    let mut prompt = 0.0;
    let mut token = 0.0;
    for n in &s.plan.root.nodes {
        if let Node::Seq(q) = n {
            let mut c = 0.0;
            let one = crate::plan::StepPlan {
                root: q.clone(),
                ..s.plan.clone()
            };
            one.for_each_op(&mut |op, k| c += op.flops * k + op.bytes * k);
            if q.name == "token" {
                token += c;
            } else {
                prompt += c;
            }
        }
    }
    if prompt + token > 0.0 {
        prompt / (prompt + token)
    } else {
        1.0
    }
}
