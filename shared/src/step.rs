//! Pipeline stage 4, the step model: the time and energy of the kernels of
//! one step on one device profile. Physics alone: no scenario, no totals.
//! Equations and the origin of every constant: `docs/energy-model.md`.

use crate::device::DeviceProfile;
use crate::model::graph::{Op, OpKind, Pass};
use crate::plan::{Node, Seq, StepPlan};
use crate::scenario::SoftwareClass;
use crate::tuning::{Tuning, TUNING};
use crate::units::MathMode;
use std::collections::BTreeMap;

/// Constants of the software classes and of the utilisation prior.
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
    /// Fused attention (FlashAttention-2 in PyTorch's SDPA) reaches about 35% of
    /// Hopper's dense peak (Shah et al. 2024, FlashAttention-3, sec. 1), about half
    /// of a large GEMM's achieved rate.
    pub const ATTENTION_FRACTION_OF_GEMM: f64 = 0.5;
    /// Without an op breakdown: achieved fraction of the large-GEMM rate (utilisation prior)
    /// and average power as a fraction of the way from idle to the power limit.
    pub const PRIOR_UTILISATION: f64 = 0.35;
    pub const PRIOR_POWER_FRACTION: f64 = 0.55;
}
use constants::*;

/// Time and energy of one step on one device.
#[derive(Debug, Clone, PartialEq)]
pub struct StepCost {
    pub seconds: f64,
    pub joules: f64,
    /// Per op: (name, kind, bound, joules attributed).
    pub ops: Vec<(String, OpKind, &'static str, f64)>,
    /// What holds most of the step's time: `compute`, `memory` or `overhead` (the host).
    pub bound: &'static str,
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
            bound: "compute",
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
    let mut by_bound: BTreeMap<&'static str, f64> = BTreeMap::new();
    for (_, b, _, t) in w.ops.values() {
        *by_bound.entry(*b).or_default() += t;
    }
    let mut ops: Vec<(String, OpKind, &'static str, f64)> = w
        .ops
        .into_iter()
        .map(|(name, (kind, bound, dynamic, t))| (name, kind, bound, dynamic + fixed * t / held))
        .collect();
    let bound = by_bound
        .into_iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or("compute", |x| x.0);
    ops.sort_by(|a, b| b.3.total_cmp(&a.3));
    StepCost {
        seconds,
        joules,
        ops,
        bound,
    }
}
