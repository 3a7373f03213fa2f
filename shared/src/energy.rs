//! The energy model: time and energy of each op on a device profile, the
//! step they make up, and the lifecycle totals. Equations and the origin of
//! every constant: `docs/energy-model.md`.

use crate::catalog;
use crate::device::DeviceProfile;
use crate::estimate::{Estimate, MemoryCheck, OpShare, StageEstimate};
use crate::grid;
use crate::model::graph::{Op, OpKind, Pass};
use crate::model::plan::{plan, Node, Seq, StepPlan};
use crate::model::{hf, presets, Architecture, FlopsOnly};
use crate::scenario::{
    GridValue, Phase, Resolved, Scenario, SoftwareClass, StageKind, SCENARIO_VERSION,
};
use crate::units::{MathMode, Range};
use crate::{InputError, ESTIMATOR_VERSION};
use std::collections::BTreeMap;

/// Global constants of the software classes (the only fitted ones are marked).
pub mod constants {
    /// Host time per kernel launched by the C++ autograd engine, us (assumption: a
    /// third of the Python path, no interpreter).
    pub const EAGER_AUTOGRAD_US_PER_KERNEL: f64 = 6.0;
    /// torch.compile / XLA: Python wrapper launching fused kernels, us per kernel (assumption).
    pub const COMPILED_US_PER_KERNEL: f64 = 4.0;
    /// Serving with CUDA graphs: replay cost per kernel, us (assumption).
    pub const SERVING_US_PER_KERNEL: f64 = 0.5;
    /// Fusion of element-wise chains (compiled, serving): traffic and kernel count kept (assumption).
    pub const FUSED_BYTES_FRACTION: f64 = 0.5;
    pub const FUSED_KERNEL_FRACTION: f64 = 0.25;
    /// Active floor as a fraction of the power limit (see [`super::TUNING`]).
    pub const ACTIVE_FLOOR_FRACTION: f64 = super::TUNING.active_floor_fraction;
    /// Fused attention (FlashAttention-2 in PyTorch's SDPA) reaches about 35% of
    /// Hopper's dense peak (Shah et al. 2024, FlashAttention-3, sec. 1), about half
    /// of a large GEMM's achieved rate.
    pub const ATTENTION_FRACTION_OF_GEMM: f64 = 0.5;
    /// Relative uncertainty of the op-level model for eager PyTorch: the measured
    /// error on the reference cases bounds it (README accuracy table).
    pub const MODEL_UNCERTAINTY_EAGER: f64 = 0.15;
    /// For compiled and serving software, which no reference case covers.
    pub const MODEL_UNCERTAINTY_OTHER: f64 = 0.35;
    /// Without an op breakdown: achieved fraction of the large-GEMM rate (utilisation prior)
    /// and average power as a fraction of the way from idle to the power limit.
    pub const PRIOR_UTILISATION: f64 = 0.35;
    pub const PRIOR_POWER_FRACTION: f64 = 0.55;
    pub const PRIOR_UNCERTAINTY: f64 = 1.5;
    /// Data-parallel overhead: extra step time per doubling of devices (gradient all-reduce not hidden).
    pub const DP_OVERHEAD_PER_DOUBLING: f64 = 0.03;
    /// Host power drawn under load as a fraction of its rated (nameplate) share: expected, low, high.
    pub const HOST_LOAD: (f64, f64, f64) = (0.6, 0.4, 1.0);
    /// Usable fraction of device memory (allocator fragmentation, CUDA context).
    pub const USABLE_MEMORY: f64 = 0.9;
}
use constants::*;

/// The fitted global constants of the model (docs/energy-model.md, "Fitted constants").
/// `shared/examples/fit.rs` fits them on the reference cases and reports the
/// leave-one-out error; a test checks these values are what it finds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tuning {
    /// Host time to launch one kernel from Python in eager PyTorch / HF code, us
    /// (PyTorch's performance guides quote 10-20 us per op).
    pub eager_python_us: f64,
    /// Power above idle while the SMs run a full-occupancy kernel, beyond the
    /// energy of its FLOPs and bytes, as a fraction of the power limit; used
    /// where a calibration does not measure it.
    pub active_floor_fraction: f64,
    /// Achieved bandwidth of a model's element-wise kernels (norms, activations,
    /// casts, reductions) relative to the calibration's large streaming kernel.
    pub elementwise_bw_fraction: f64,
}

/// Priors: the values before fitting, used in leave-one-out where the left-out
/// case is the only one that informs a constant.
pub const PRIOR: Tuning = Tuning {
    eager_python_us: 10.0,
    active_floor_fraction: 0.25,
    elementwise_bw_fraction: 0.9,
};

pub const TUNING: Tuning = Tuning {
    eager_python_us: 18.2,
    active_floor_fraction: 0.289,
    elementwise_bw_fraction: 0.56,
};

/// Time and energy of one step on one device.
#[derive(Debug, Clone, PartialEq)]
pub struct StepCost {
    pub seconds: f64,
    pub joules: f64,
    /// Per op: (name, kind, bound, joules attributed).
    pub ops: Vec<(String, OpKind, &'static str, f64)>,
}

struct OpCost {
    cpu: f64,
    gpu: f64,
    /// Device time at full occupancy (the roofline part, without the fixed latency).
    active: f64,
    dynamic: f64,
    bound: &'static str,
}

fn host_us(sw: SoftwareClass, op: &Op, t: &Tuning) -> f64 {
    match sw {
        SoftwareClass::PytorchEager => {
            if op.from_python {
                t.eager_python_us
            } else {
                EAGER_AUTOGRAD_US_PER_KERNEL
            }
        }
        SoftwareClass::Compiled => COMPILED_US_PER_KERNEL,
        SoftwareClass::Serving => SERVING_US_PER_KERNEL,
    }
}

/// One instance of an op on a device: roofline time plus a fixed per-kernel
/// latency, dynamic energy from FLOPs and bytes, stretched when it would exceed the power limit.
fn op_cost(op: &Op, p: &DeviceProfile, sw: SoftwareClass, t: &Tuning) -> OpCost {
    let fused = sw != SoftwareClass::PytorchEager
        && op.kind == OpKind::Elementwise
        && op.pass != Pass::Optimizer;
    let bytes = if fused {
        op.bytes * FUSED_BYTES_FRACTION
    } else {
        op.bytes
    };
    let kernels = if fused {
        op.kernels * FUSED_KERNEL_FRACTION
    } else {
        op.kernels
    };
    let bw = p.mem_gbs
        * 1e9
        * if op.kind == OpKind::Elementwise {
            t.elementwise_bw_fraction
        } else {
            1.0
        };
    let t_mem = bytes / bw;
    let (mut active, latency, mut dynamic, bound) = match op.kind {
        OpKind::Shape => (0.0, 0.0, 0.0, "memory"),
        OpKind::Elementwise => (
            t_mem,
            kernels * p.kernel_latency_us * 1e-6,
            bytes * p.pj_per_byte * 1e-12,
            "memory",
        ),
        OpKind::Matmul | OpKind::Conv | OpKind::Attention => {
            let mode = op
                .math
                .and_then(|m| p.effective_math(m))
                .or_else(|| p.best_math())
                .unwrap_or(MathMode::Fp32);
            let eff = match op.kind {
                OpKind::Attention => ATTENTION_FRACTION_OF_GEMM,
                _ => 1.0,
            };
            let rate = p.gemm_tflops.get(&mode).copied().unwrap_or(1.0) * 1e12 * eff;
            let work = (op.flops + op.other_flops).max(0.0);
            let t_comp = work / rate;
            let pj = p.pj_per_flop.get(&mode).copied().unwrap_or(1.0);
            let bound = if t_comp >= t_mem { "compute" } else { "memory" };
            (
                t_comp.max(t_mem),
                kernels * p.gemm_latency_us * 1e-6,
                work * pj * 1e-12 + bytes * p.pj_per_byte * 1e-12,
                bound,
            )
        }
    };
    // Power limit: the clocks drop until the dynamic power fits.
    let headroom = (p.power_limit_w - p.idle_w - p.active_floor_w).max(1.0);
    if active > 0.0 && dynamic / active > headroom {
        active = dynamic / headroom;
    }
    if !dynamic.is_finite() {
        dynamic = 0.0;
    }
    let gpu = active + latency;
    let cpu = kernels * host_us(sw, op, t) * 1e-6;
    let bound = if cpu > gpu { "overhead" } else { bound };
    OpCost {
        cpu,
        gpu,
        active,
        dynamic,
        bound,
    }
}

/// Host seconds, device seconds and dynamic joules of one instance of an op (for `explain`).
pub fn op_timing(op: &Op, p: &DeviceProfile, sw: SoftwareClass) -> (f64, f64, f64) {
    let c = op_cost(op, p, sw, &TUNING);
    (c.cpu, c.gpu, c.dynamic)
}

/// The host issues kernels asynchronously; the device runs them in order. A block
/// maps (host time C, device time G) to (C + sc, max(G + a, C + b)): max-plus algebra,
/// so sequences and repetitions compose exactly without expanding every kernel.
#[derive(Debug, Clone, Copy)]
struct Block {
    sc: f64,
    a: f64,
    b: f64,
}

impl Block {
    fn then(self, o: Block) -> Block {
        Block {
            sc: self.sc + o.sc,
            a: self.a + o.a,
            b: (self.b + o.a).max(self.sc + o.b),
        }
    }
    fn repeat(self, n: f64) -> Block {
        if n <= 0.0 {
            return Block {
                sc: 0.0,
                a: 0.0,
                b: 0.0,
            };
        }
        Block {
            sc: self.sc * n,
            a: self.a * n,
            b: self.b + (n - 1.0) * self.sc.max(self.a),
        }
    }
    /// Time of the block from a synchronised start.
    fn span(self) -> f64 {
        self.a.max(self.b)
    }
}

struct Walker<'a> {
    p: &'a DeviceProfile,
    sw: SoftwareClass,
    t: &'a Tuning,
    dynamic: f64,
    /// Full-occupancy device seconds (the active floor's time).
    active: f64,
    /// Per op name: (kind, bound, dynamic J, busy seconds).
    ops: BTreeMap<String, (OpKind, &'static str, f64, f64)>,
}

impl Walker<'_> {
    fn seq(&mut self, s: &Seq, mult: f64) -> Block {
        let mut blk = Block {
            sc: 0.0,
            a: 0.0,
            b: 0.0,
        };
        for n in &s.nodes {
            let nb = match n {
                Node::Op(op) => {
                    let c = op_cost(op, self.p, self.sw, self.t);
                    let n_inst = mult * s.repeat * op.count;
                    self.dynamic += c.dynamic * n_inst;
                    self.active += c.active * n_inst;
                    let e = self
                        .ops
                        .entry(op.name.clone())
                        .or_insert((op.kind, c.bound, 0.0, 0.0));
                    e.2 += c.dynamic * n_inst;
                    e.3 += c.cpu.max(c.gpu) * n_inst;
                    Block {
                        sc: c.cpu,
                        a: c.gpu,
                        b: c.cpu + c.gpu,
                    }
                    .repeat(op.count)
                }
                Node::Seq(child) => self.seq(child, mult * s.repeat),
            };
            blk = blk.then(nb);
        }
        if s.synced {
            let t = blk.span() * s.repeat;
            Block { sc: t, a: t, b: t }
        } else {
            blk.repeat(s.repeat)
        }
    }
}

/// Time and accelerator energy of one step on one device.
pub fn step_cost(plan: &StepPlan, p: &DeviceProfile, sw: SoftwareClass) -> StepCost {
    step_cost_tuned(plan, p, sw, &TUNING)
}

/// [`step_cost`] with other values of the fitted constants (for the fitter).
pub fn step_cost_tuned(
    plan: &StepPlan,
    p: &DeviceProfile,
    sw: SoftwareClass,
    t: &Tuning,
) -> StepCost {
    if let Some(flops) = plan.flops_only {
        // Utilisation prior: no breakdown to time.
        let mode = MathMode::Bf16;
        let rate = p
            .effective_math(mode)
            .and_then(|m| p.gemm_tflops.get(&m))
            .copied()
            .unwrap_or(1.0)
            * 1e12;
        let seconds = flops / (rate * PRIOR_UTILISATION);
        let watts = p.idle_w + PRIOR_POWER_FRACTION * (p.power_limit_w - p.idle_w);
        return StepCost {
            seconds,
            joules: watts * seconds,
            ops: vec![(
                "step (FLOPs only)".into(),
                OpKind::Matmul,
                "compute",
                watts * seconds,
            )],
        };
    }
    let mut w = Walker {
        p,
        sw,
        t,
        dynamic: 0.0,
        active: 0.0,
        ops: BTreeMap::new(),
    };
    let blk = w.seq(&plan.root, 1.0);
    let seconds = blk.span();
    let busy = w.active.min(seconds);
    // idle power all the time, the active floor while kernels run, work on top
    let fixed = p.idle_w * seconds + p.active_floor_w * busy;
    let joules = fixed + w.dynamic;
    // Fixed energy attributed to ops by the time they hold the step.
    let held: f64 = w.ops.values().map(|v| v.3).sum::<f64>().max(1e-30);
    let mut ops: Vec<(String, OpKind, &'static str, f64)> = w
        .ops
        .into_iter()
        .map(|(name, (kind, bound, dynamic, t))| (name, kind, bound, dynamic + fixed * t / held))
        .collect();
    ops.sort_by(|a, b| b.3.total_cmp(&a.3));
    StepCost {
        seconds,
        joules,
        ops,
    }
}

/// Resolve the model source of a scenario into an architecture.
pub fn architecture(s: &Scenario) -> Result<Architecture, InputError> {
    let m = &s.model;
    let given = [
        m.preset.is_some(),
        m.hf_config.is_some(),
        m.flops_per_step.is_some() || m.flops_per_sample.is_some(),
        m.graph.is_some(),
        m.file.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if given != 1 {
        return Err(InputError::new(
            "model",
            "give exactly one of: preset, hf_config, flops_per_step or flops_per_sample (with params), graph",
        ));
    }
    if let Some(id) = &m.preset {
        return presets::architecture(id).ok_or_else(|| {
            let ids: Vec<&str> = presets::PRESETS.iter().map(|p| p.id).collect();
            InputError::new(
                "model.preset",
                format!("unknown preset `{id}`; known: {}", ids.join(", ")),
            )
        });
    }
    if let Some(cfg) = &m.hf_config {
        return hf::spec_from_config(cfg).map(Architecture::Transformer);
    }
    if let Some(g) = &m.graph {
        return Ok(Architecture::Graph(g.clone()));
    }
    if m.file.is_some() {
        return Err(InputError::new("model.file", "a file path is read by the CLI only; import it first (jouleprint inspect) or use the CLI"));
    }
    let params = m.params.ok_or_else(|| {
        InputError::new(
            "model.params",
            "is required with flops_per_step or flops_per_sample",
        )
    })?;
    for (name, v) in [
        ("model.params", Some(params)),
        ("model.flops_per_step", m.flops_per_step),
        ("model.flops_per_sample", m.flops_per_sample),
    ] {
        if let Some(v) = v {
            if !v.is_finite() || v <= 0.0 {
                return Err(InputError::new(name, "must be a finite number above 0"));
            }
        }
    }
    if m.flops_per_step.is_some() && m.flops_per_sample.is_some() {
        return Err(InputError::new(
            "model",
            "give flops_per_step or flops_per_sample, not both",
        ));
    }
    Ok(Architecture::Flops(FlopsOnly {
        flops_per_sample: m.flops_per_sample,
        flops_per_step: m.flops_per_step,
        params,
    }))
}

/// The device profile a scenario uses: pinned in `resolved`, else a measured one, else the built-in one.
pub fn resolve_device(
    s: &Scenario,
    measured: &[DeviceProfile],
) -> Result<DeviceProfile, InputError> {
    if let Some(r) = &s.resolved {
        return Ok(r.device.clone());
    }
    let spec = catalog::find(&s.hardware.device).ok_or_else(|| {
        InputError::new(
            "hardware.device",
            format!(
                "unknown device `{}`; `jouleprint devices` lists the catalog ids and NVML names",
                s.hardware.device
            ),
        )
    })?;
    if let Some(m) = measured.iter().find(|m| m.id == spec.id) {
        return Ok(m.clone());
    }
    Ok(catalog::builtin_profile(spec))
}

fn resolve_grid(s: &Scenario) -> Result<GridValue, InputError> {
    if let Some(r) = &s.resolved {
        return Ok(r.grid.clone());
    }
    let inf = &s.infrastructure;
    if let Some(g) = inf.grid_gco2e_per_kwh {
        if !g.is_finite() || !(0.0..=2000.0).contains(&g) {
            return Err(InputError::new(
                "infrastructure.grid_gco2e_per_kwh",
                "must be between 0 and 2000 gCO2e/kWh",
            ));
        }
        return Ok(GridValue {
            gco2e_per_kwh: g,
            region: "custom".into(),
            source: "given in the scenario".into(),
            year: None,
        });
    }
    let code = inf.region.as_deref().unwrap_or("WORLD");
    grid::find(code)
        .map(|e| e.value())
        .ok_or_else(|| InputError::new("infrastructure.region", format!("unknown region `{code}`; use an ISO country code (FR), a cloud region (aws:us-east-1) or grid_gco2e_per_kwh")))
}

fn check_scenario(s: &Scenario) -> Result<(), InputError> {
    if s.version != SCENARIO_VERSION {
        return Err(InputError::new("version", format!("must be {SCENARIO_VERSION}; this estimator reads version {SCENARIO_VERSION} scenarios")));
    }
    if s.stages.is_empty() {
        return Err(InputError::new("stages", "must hold at least one stage"));
    }
    if s.hardware.count == 0 {
        return Err(InputError::new("hardware.count", "must be at least 1"));
    }
    let pue = s.infrastructure.pue;
    if !pue.is_finite() || !(1.0..=3.0).contains(&pue) {
        return Err(InputError::new(
            "infrastructure.pue",
            "must be between 1.0 and 3.0",
        ));
    }
    if let Some(h) = s.infrastructure.host_watts_per_device {
        if !h.is_finite() || !(0.0..=5000.0).contains(&h) {
            return Err(InputError::new(
                "infrastructure.host_watts_per_device",
                "must be between 0 and 5000 W",
            ));
        }
    }
    Ok(())
}

/// Steps of a stage on each device, from its amount fields.
fn stage_steps(s: &Scenario, i: usize, plan: &StepPlan) -> Result<(f64, Option<f64>), InputError> {
    let st = &s.stages[i];
    let f = |name: &str| format!("stages[{i}].{name}");
    let devices = s.hardware.count as f64;
    // Up to 1e18 (a quintillion steps, samples, tokens or requests): beyond is a typo.
    let positive = |name: &str, v: f64| -> Result<f64, InputError> {
        if v.is_finite() && v > 0.0 && v <= 1e18 {
            Ok(v)
        } else {
            Err(InputError::new(
                f(name),
                "must be a finite number above 0 and at most 1e18",
            ))
        }
    };
    if !st.runs.is_finite() || !(1.0..=1e6).contains(&st.runs) {
        return Err(InputError::new(f("runs"), "must be between 1 and 1e6"));
    }
    let given = [
        st.steps.is_some(),
        st.samples.is_some(),
        st.tokens.is_some(),
        st.requests_per_day.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if given != 1 {
        return Err(InputError::new(f("steps"), "give exactly one of: steps; samples or tokens (with epochs); requests_per_day (with days)"));
    }
    if let Some(n) = st.steps {
        return Ok((positive("steps", n)?, None));
    }
    let epochs = match st.epochs {
        Some(e) => positive("epochs", e)?,
        None => 1.0,
    };
    if let Some(n) = st.samples {
        return Ok((
            (positive("samples", n)? * epochs / (plan.samples * devices)).ceil(),
            None,
        ));
    }
    if let Some(n) = st.tokens {
        let per_step = plan.tokens.max(1.0);
        return Ok((
            (positive("tokens", n)? * epochs / (per_step * devices)).ceil(),
            None,
        ));
    }
    let rpd = positive("requests_per_day", st.requests_per_day.unwrap_or(0.0))?;
    let days = positive(
        "days",
        st.days
            .ok_or_else(|| InputError::new(f("days"), "is required with requests_per_day"))?,
    )?;
    let requests = rpd * days;
    Ok(((requests / (plan.samples * devices)).ceil(), Some(requests)))
}

fn rel_uncertainty(p: &DeviceProfile, plan: &StepPlan, sw: SoftwareClass) -> f64 {
    let model = if !plan.has_breakdown {
        PRIOR_UNCERTAINTY
    } else if sw == SoftwareClass::PytorchEager {
        MODEL_UNCERTAINTY_EAGER
    } else {
        MODEL_UNCERTAINTY_OTHER
    };
    (model * model + p.uncertainty * p.uncertainty).sqrt()
}

/// Estimate a whole scenario.
pub fn estimate_scenario(s: &Scenario, measured: &[DeviceProfile]) -> Result<Estimate, InputError> {
    check_scenario(s)?;
    let arch = architecture(s)?;
    let device = resolve_device(s, measured)?;
    let grid = resolve_grid(s)?;
    let spec = catalog::find(&device.id).or_else(|| catalog::find(&s.hardware.device));
    let n_dev = s.hardware.count as f64;
    let pue = s.infrastructure.pue;
    let host_rated = s
        .infrastructure
        .host_watts_per_device
        .or(spec.map(|d| d.host_w_per_device))
        .unwrap_or(0.25 * device.power_limit_w);
    let host_load = if s.infrastructure.host_watts_per_device.is_some() {
        (1.0, 1.0, 1.0)
    } else {
        HOST_LOAD
    };
    let dp = 1.0 + DP_OVERHEAD_PER_DOUBLING * n_dev.log2();
    let mut warnings = vec![];
    if let Some(r) = &s.resolved {
        if r.estimator_version != ESTIMATOR_VERSION {
            warnings.push(format!(
                "this scenario was computed by {}; recomputed by {} with its pinned device and grid values, numbers may differ where the model changed",
                r.estimator_version, ESTIMATOR_VERSION
            ));
        }
    }
    if device.source.kind == "datasheet" {
        warnings.push(format!("{} has no measured calibration: coefficients derived from its datasheet, range widened", device.name));
    }

    let mut stages = vec![];
    let mut first: Option<(StepPlan, StepCost, Range)> = None;
    let mut total_energy = Range::zero();
    let mut total_co2 = Range::zero();
    let mut device_hours = 0.0;
    let mut wall_hours = 0.0;
    let mut worst_mem: Option<MemoryCheck> = None;
    for (i, st) in s.stages.iter().enumerate() {
        let field = format!("stages[{i}].workload");
        let pl = plan(&arch, &st.workload, s.software, &field)?;
        if st.kind == StageKind::Deployment && st.workload.phase == Phase::Train {
            return Err(InputError::new(
                format!("{field}.phase"),
                "a deployment stage serves requests: use inference, prefill or decode",
            ));
        }
        // State that does not fit one device is sharded, the optimizer step with it.
        let mut pl = pl;
        if st.workload.phase == Phase::Train
            && s.hardware.count > 1
            && !memory_check(&pl, &device, 1).fits
        {
            pl.shard_optimizer(n_dev);
        }
        let cost = step_cost(&pl, &device, s.software);
        let (steps, requests) = stage_steps(s, i, &pl)?;
        let rel = rel_uncertainty(&device, &pl, s.software);
        let sec = cost.seconds
            * if st.workload.phase == Phase::Train {
                dp
            } else {
                1.0
            };
        let joules_dev = cost.joules * sec / cost.seconds.max(1e-30);
        let seconds_per_step = Range::around(sec, rel);
        let joules_per_step = Range::around(joules_dev * n_dev, rel);
        let runs = st.runs;
        let wall_s = sec * steps * runs;
        let dev_kwh = joules_per_step.scale(steps * runs / 3.6e6);
        let host_kwh = Range {
            low: host_load.1,
            expected: host_load.0,
            high: host_load.2,
        }
        .scale(host_rated * n_dev * wall_s / 3.6e6);
        let energy = dev_kwh.plus(host_kwh).scale(pue);
        let mut co2 = energy.scale(grid.gco2e_per_kwh / 1000.0);
        let dh = n_dev * wall_s / 3600.0;
        if s.infrastructure.embodied {
            if let Some(sp) = spec {
                co2 = co2.plus(Range::exact(
                    sp.embodied_kgco2e * dh / (sp.service_years * 8760.0),
                ));
            }
        }
        let tokens_per_request = pl.tokens / pl.samples.max(1.0);
        let (wh_req, wh_tok) = match requests {
            Some(r) if r > 0.0 => (
                Some(energy.scale(1000.0 / r)),
                Some(energy.scale(1000.0 / (r * tokens_per_request))),
            ),
            _ => (None, None),
        };
        total_energy = total_energy.plus(energy);
        total_co2 = total_co2.plus(co2);
        device_hours += dh;
        wall_hours += wall_s / 3600.0;
        let mem = memory_check(&pl, &device, s.hardware.count);
        if !mem.fits {
            let stage = st
                .name
                .clone()
                .unwrap_or_else(|| st.kind.as_str().to_string());
            warnings.push(if mem.devices_needed == 0 {
                format!(
                    "stage {stage}: activations alone need more than one {} ({:.0} GB): lower the batch or sequence, or use activation checkpointing or sequence parallelism",
                    device.name, device.memory_gb
                )
            } else {
                format!(
                    "stage {stage} needs {:.1} GB per device on {} devices but {} has {:.0} GB: at least {} devices with sharded weights, gradients and optimizer state",
                    mem.required_gb, s.hardware.count, device.name, device.memory_gb, mem.devices_needed
                )
            });
        }
        if worst_mem
            .as_ref()
            .is_none_or(|w| mem.required_gb > w.required_gb)
        {
            worst_mem = Some(mem);
        }
        stages.push(StageEstimate {
            name: st
                .name
                .clone()
                .unwrap_or_else(|| st.kind.as_str().replace('_', " ")),
            kind: st.kind.as_str().into(),
            steps: steps * runs,
            flops_per_step: pl.counted_flops(),
            seconds_per_step,
            joules_per_step,
            device_kwh: dev_kwh,
            energy_kwh: energy,
            co2e_kg: co2,
            device_hours: dh,
            wall_hours: wall_s / 3600.0,
            wh_per_request: wh_req,
            wh_per_token: wh_tok,
        });
        if first.is_none() {
            first = Some((pl, cost, joules_per_step));
        }
    }
    let (pl, cost, jps) =
        first.ok_or_else(|| InputError::new("stages", "must hold at least one stage"))?;
    let total_j: f64 = cost.ops.iter().map(|o| o.3).sum::<f64>().max(1e-30);
    let top_ops = cost
        .ops
        .iter()
        .take(12)
        .map(|(name, kind, bound, j)| OpShare {
            name: name.clone(),
            kind: format!("{kind:?}").to_lowercase(),
            bound: (*bound).into(),
            joules: *j,
            fraction: j / total_j,
        })
        .collect();
    warnings.extend(
        pl.notes
            .iter()
            .filter(|n| n.starts_with("unsupported"))
            .cloned(),
    );
    Ok(Estimate {
        estimator_version: ESTIMATOR_VERSION.into(),
        params: pl.params,
        active_params: pl.active_params,
        flops_per_step: pl.counted_flops(),
        other_flops_per_step: pl.other_flops(),
        seconds_per_step: stages[0].seconds_per_step,
        joules_per_step: jps,
        energy_kwh: total_energy,
        co2e_kg: total_co2,
        device_hours,
        wall_hours,
        stages,
        memory: worst_mem.unwrap_or(MemoryCheck {
            required_gb: 0.0,
            available_gb: device.memory_gb,
            fits: true,
            devices_needed: 1,
        }),
        top_ops,
        method: if pl.has_breakdown {
            "op-level roofline with measured or datasheet coefficients".into()
        } else {
            "FLOPs only: utilisation prior".into()
        },
        resolved: Resolved {
            estimator_version: ESTIMATOR_VERSION.into(),
            device,
            grid,
        },
        warnings,
    })
}

/// Memory per device, with weights, gradients and optimizer state sharded over
/// the devices (ZeRO-3 / FSDP, or tensor parallelism for serving); activations
/// and the KV cache are per device. `devices_needed` is the smallest count that
/// fits, 0 when activations alone exceed one device (smaller batch, activation
/// checkpointing or sequence parallelism needed).
fn memory_check(pl: &StepPlan, p: &DeviceProfile, devices: u64) -> MemoryCheck {
    let need = pl.memory;
    let avail = p.memory_gb * 1e9 * USABLE_MEMORY;
    let per_device = need.shardable() / devices.max(1) as f64 + need.activations + need.kv_cache;
    let room = avail - need.activations - need.kv_cache;
    let devices_needed = if room <= 0.0 {
        0
    } else {
        (need.shardable() / room).ceil().max(1.0) as u64
    };
    MemoryCheck {
        required_gb: per_device / 1e9,
        available_gb: p.memory_gb,
        fits: per_device <= avail,
        devices_needed,
    }
}

/// The reference cases shipped with the project (shared/data/h100-cases.jsonl).
pub fn reference_cases() -> &'static str {
    include_str!("../data/h100-cases.jsonl")
}

/// Relative (energy, time) error of one case under a tuning.
pub fn case_errors(c: &crate::validate::Case, t: &Tuning) -> Option<(f64, f64)> {
    let s = c.scenario().ok()?;
    let arch = architecture(&s).ok()?;
    let dev = resolve_device(&s, &[]).ok()?;
    let dev = if dev.source.kind == "measured" || dev.source.kind == "datasheet" {
        dev.with_floor(t.active_floor_fraction * dev.power_limit_w)
    } else {
        dev
    };
    let pl = plan(&arch, &s.stages[0].workload, s.software, "workload").ok()?;
    let cost = step_cost_tuned(&pl, &dev, s.software, t);
    Some((
        cost.joules / c.measured.joules_per_step - 1.0,
        cost.seconds / c.measured.seconds_per_step - 1.0,
    ))
}

/// Fit [`Tuning`] on the cases `idx` by coordinate descent over log-spaced grids.
pub fn fit_cases(cases: &[crate::validate::Case], idx: &[usize]) -> Tuning {
    let objective = |t: &Tuning| -> f64 {
        let mut s = 0.0;
        for &i in idx {
            match case_errors(&cases[i], t) {
                Some((e, tm)) => s += (1.0 + e).ln().powi(2) + (1.0 + tm).ln().powi(2),
                None => s += 10.0,
            }
        }
        let pull = |v: f64, p: f64| (v / p).ln().powi(2);
        s + 2e-2
            * (pull(t.eager_python_us, PRIOR.eager_python_us)
                + pull(t.active_floor_fraction, PRIOR.active_floor_fraction)
                + pull(t.elementwise_bw_fraction, PRIOR.elementwise_bw_fraction))
    };
    let mut best = PRIOR;
    let mut best_v = objective(&best);
    for round in 0..6 {
        let span = 0.5f64.powi(round);
        for k in 0..3 {
            for step in -10..=10 {
                let f = (span * step as f64 / 10.0).exp();
                let mut t = best;
                match k {
                    0 => t.eager_python_us = (best.eager_python_us * f).clamp(1.0, 100.0),
                    1 => t.active_floor_fraction = (best.active_floor_fraction * f).clamp(0.0, 0.7),
                    _ => {
                        t.elementwise_bw_fraction =
                            (best.elementwise_bw_fraction * f).clamp(0.1, 1.0)
                    }
                }
                let v = objective(&t);
                if v < best_v {
                    best_v = v;
                    best = t;
                }
            }
        }
    }
    best
}
