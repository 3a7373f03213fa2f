//! Pipeline stage 4, the step model: the time and energy of the kernels of
//! one step on one device profile. Physics alone: no scenario, no totals.
//! Equations and the origin of every constant: `docs/energy-model.md`.

use crate::device::DeviceProfile;
use crate::model::graph::{HostWork, Op, OpKind, Pass};
use crate::plan::{Node, Seq, StepPlan};
use crate::scenario::{HostCosts, SoftwareClass};
use crate::tuning::{Tuning, HOST_SCALE, REFERENCE_STREAM_GBS_PER_SM, TUNING};
use crate::units::MathMode;
use std::collections::BTreeMap;

/// Constants of the software classes and of the utilisation prior.
pub mod constants {
    /// Eager PyTorch host costs, us, measured by `tools/host_overhead.py`
    /// (torch 2.11, transformers 5.23; shared/data/host-overhead.json) plus
    /// the documented cudaLaunchKernel cost (2.0 us) per kernel; scaled by the
    /// measured `tuning::HOST_SCALE`. Per kernel launched from Python: the median
    /// over Hugging Face modules of their host time per kernel (6.94 us CPU).
    pub const EAGER_US_PER_KERNEL: f64 = 8.94;
    /// Per kernel the autograd engine launches: HF backward, 7.17 us CPU per kernel.
    pub const EAGER_US_PER_BACKWARD_KERNEL: f64 = 9.17;
    /// Per generated token, HF `generate`'s loop: 270.9 us CPU, 23 launches, one sync (7.15 us).
    pub const EAGER_US_PER_TOKEN_LOOP: f64 = 324.0;
    /// Per parameter tensor of the foreach/fused AdamW or SGD step.
    pub const EAGER_US_PER_OPTIMIZER_TENSOR: f64 = 3.58;
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
    /// Device time of the roofline part (without the fixed latency).
    active: f64,
    /// Share of the SMs the kernel keeps busy while it runs (the active floor scales with it).
    occupancy: f64,
    dynamic: f64,
    bound: &'static str,
}

/// Host seconds of one instance of an op.
fn host_seconds(sw: SoftwareClass, op: &Op, h: &HostCosts) -> f64 {
    let us = match sw {
        // Megatron-style training is eager PyTorch with fused kernels: the same host path
        SoftwareClass::PytorchEager | SoftwareClass::Megatron => {
            // a user's own figures are their host's: not scaled
            let scaled = |given: Option<f64>, measured: f64| given.unwrap_or(measured * HOST_SCALE);
            match op.host {
                HostWork::Kernels if op.from_python => {
                    op.kernels * scaled(h.us_per_kernel, EAGER_US_PER_KERNEL)
                }
                HostWork::Kernels => {
                    op.kernels * scaled(h.us_per_backward_kernel, EAGER_US_PER_BACKWARD_KERNEL)
                }
                HostWork::TokenLoop => scaled(h.us_per_token_loop, EAGER_US_PER_TOKEN_LOOP),
                HostWork::OptimizerTensors(n) => {
                    n * scaled(h.us_per_optimizer_tensor, EAGER_US_PER_OPTIMIZER_TENSOR)
                }
                HostWork::Included => 0.0,
            }
        }
        SoftwareClass::Compiled => op.kernels * COMPILED_US_PER_KERNEL,
        SoftwareClass::Serving => op.kernels * SERVING_US_PER_KERNEL,
    };
    us * 1e-6
}

/// One instance of an op on a device: roofline time plus a fixed per-kernel
/// latency, dynamic energy from FLOPs and bytes, stretched when it would exceed the power limit.
fn op_cost(
    op: &Op,
    p: &DeviceProfile,
    sw: SoftwareClass,
    t: &Tuning,
    h: &HostCosts,
    element_bytes: f64,
) -> OpCost {
    // a layout transpose for tensor-core math (`Op::math` on an element-wise op)
    // does not happen where the device runs that math on its FP32 units
    if op.kind == OpKind::Elementwise
        && op
            .math
            .is_some_and(|m| p.effective_math(m) == Some(MathMode::Fp32))
    {
        return OpCost {
            cpu: 0.0,
            gpu: 0.0,
            active: 0.0,
            occupancy: 0.0,
            dynamic: 0.0,
            bound: "memory",
        };
    }
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
    let bw = if op.kind == OpKind::Elementwise {
        elementwise_gbs(p, sw, t, element_bytes) * 1e9
    } else {
        p.mem_gbs * 1e9
    };
    let t_mem = bytes / bw;
    let mut occupancy = elementwise_occupancy(bytes, p);
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
            let work = (op.flops + op.other_flops).max(0.0);
            let shape = shape_rate(op, p, sw);
            let rate = p.gemm_tflops.get(&mode).copied().unwrap_or(1.0) * 1e12 * shape.fraction;
            let t_comp = work / rate;
            let pj = p.pj_per_flop.get(&mode).copied().unwrap_or(1.0);
            let bound = if t_comp >= t_mem { "compute" } else { "memory" };
            occupancy = shape.occupancy;
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
    // fusion cuts the kernels the host launches too
    let cpu = host_seconds(sw, op, h) * if fused { FUSED_KERNEL_FRACTION } else { 1.0 };
    let bound = if cpu > gpu { "overhead" } else { bound };
    OpCost {
        cpu,
        gpu,
        active,
        occupancy,
        dynamic,
        bound,
    }
}

/// The rate of a matrix product or fused attention relative to the device's
/// large-GEMM rate, and the share of SMs it keeps busy.
struct ShapeRate {
    fraction: f64,
    occupancy: f64,
}

/// Output tiles reach the tensor cores' rate in proportion to the multiply-adds
/// they do per operand element loaded (2 m n / (m + n)); 128 x 128 tiles, the
/// CUTLASS default from Volta to Hopper, saturate them (assumption,
/// docs/energy-model.md "Kernel rates").
fn tile_efficiency(tm: f64, tn: f64) -> f64 {
    (2.0 * tm * tn / (tm + tn) / 128.0).min(1.0)
}

/// A GEMM of `[m, n, k]` on `sms` SMs with the library's best tile: the
/// fraction of the SMs' peak it reaches (padding of partial tiles, the last
/// partial wave, split-K when there are fewer tiles than SMs) and its occupancy.
pub fn gemm_waves(mnk: [f64; 3], sms: u32, tiles: &[[u32; 2]]) -> (f64, f64) {
    let [m, n, k] = mnk.map(|x| x.max(1.0));
    let sms = f64::from(sms.max(1));
    let mut best = (0.0, 1.0);
    for &[tm, tn] in tiles {
        let (tm, tn) = (f64::from(tm), f64::from(tn));
        let count = (m / tm).ceil() * (n / tn).ceil();
        let useful = m * n / (count * tm * tn);
        // split-K: the k loop cut so that the pieces fill the SMs (pieces of at least 256)
        let splits = if count < sms {
            (sms / count).floor().min((k / 256.0).floor()).max(1.0)
        } else {
            1.0
        };
        let units = count * splits;
        let waves = (units / sms).ceil();
        let eff = tile_efficiency(tm, tn) * useful * units / (waves * sms);
        if eff > best.0 {
            best = (eff, (units / sms).min(1.0));
        }
    }
    best
}

/// FlashAttention's thread blocks: one per 128 query rows of each sequence and head.
fn attention_blocks(op: &Op) -> Option<f64> {
    let [sq, sk, d] = op.mnk?;
    let per_head = 4.0 * sq * sk * d;
    (per_head > 0.0 && op.flops > 0.0)
        .then(|| (op.flops / per_head).round().max(1.0) * (sq / 128.0).ceil())
}

fn shape_rate(op: &Op, p: &DeviceProfile, sw: SoftwareClass) -> ShapeRate {
    let Some(km) = &p.kernels else {
        // profiles pinned before shape-aware rates: the large-GEMM rate, attention at half
        let fraction = if op.kind == OpKind::Attention {
            ATTENTION_FRACTION_OF_GEMM
        } else {
            1.0
        };
        return ShapeRate {
            fraction,
            occupancy: 1.0,
        };
    };
    let sms = km.sm_count;
    if op.kind == OpKind::Attention {
        let [f, b] = if sw == SoftwareClass::PytorchEager {
            km.attention
        } else {
            km.attention_fused
        };
        let base = if op.pass == Pass::Backward { b } else { f };
        let (wave, occupancy) = match (sms, attention_blocks(op)) {
            (Some(n), Some(blocks)) => {
                let n = f64::from(n.max(1));
                (blocks / ((blocks / n).ceil() * n), (blocks / n).min(1.0))
            }
            _ => (1.0, 1.0),
        };
        return ShapeRate {
            fraction: base * wave,
            occupancy,
        };
    }
    match (sms, op.mnk) {
        (Some(n), Some(mnk)) if !km.tiles.is_empty() => {
            let (eff, occupancy) = gemm_waves(mnk, n, &km.tiles);
            // the profile's rate is that of the calibration's large GEMM
            let (reference, _) = gemm_waves(REFERENCE_GEMM, n, &km.tiles);
            ShapeRate {
                fraction: (eff / reference).min(1.0),
                occupancy,
            }
        }
        _ => ShapeRate {
            fraction: 1.0,
            occupancy: 1.0,
        },
    }
}

/// The shape of the GEMM a profile's rate is measured on (8192 cube).
const REFERENCE_GEMM: [f64; 3] = [8192.0, 8192.0, 8192.0];

/// Threads resident per SM on current GPUs: a kernel over fewer elements than
/// SMs x this leaves SMs idle.
const THREADS_PER_SM: f64 = 2048.0;

/// Achieved bandwidth of a model's element-wise kernels, GB/s.
///
/// Eager PyTorch's element-wise mix (batch-norm statistics and their reductions,
/// layout transposes, pooling with indices, casts) does not reach the rate of
/// the calibration's large streaming kernel on the reference H100: the fitted
/// `elementwise_bw_fraction` of it. Such kernels are bound by what each SM keeps
/// in flight (Little's law: bandwidth = bytes in flight / memory latency;
/// Volkov 2016), so that rate carries to another device per SM, up to the
/// device's own streaming bandwidth: a V100 (80 SMs, 765 GB/s streaming)
/// streams them at full rate, a B200 (148 SMs, 8 TB/s) reaches a quarter of
/// its. Fused kernels (Megatron-style, compiled, serving engines) are written
/// to stream and keep the fraction of the device's streaming bandwidth; so does
/// a device without an SM count (TPU).
///
/// What an SM sustains is a rate of elements (each costs its index arithmetic,
/// loads, operation and store whatever its width), so 4-byte elements move
/// twice the bytes of the reference's 2-byte ones (its cases are 16-bit).
fn elementwise_gbs(p: &DeviceProfile, sw: SoftwareClass, t: &Tuning, element_bytes: f64) -> f64 {
    let fraction = p.mem_gbs * t.elementwise_bw_fraction;
    match p.kernels.as_ref().and_then(|k| k.sm_count) {
        Some(n) if sw == SoftwareClass::PytorchEager => (f64::from(n.max(1))
            * t.elementwise_bw_fraction
            * REFERENCE_STREAM_GBS_PER_SM
            * element_bytes.max(1.0)
            / REFERENCE_ELEMENT_BYTES)
            .min(p.mem_gbs),
        _ => fraction,
    }
}

/// Bytes per element of the reference cases' activations (bf16 and bf16-amp).
const REFERENCE_ELEMENT_BYTES: f64 = 2.0;

/// An element-wise kernel's occupancy: one thread per element of about 4 bytes moved.
fn elementwise_occupancy(bytes: f64, p: &DeviceProfile) -> f64 {
    match p.kernels.as_ref().and_then(|k| k.sm_count) {
        Some(n) => (bytes / 4.0 / (f64::from(n.max(1)) * THREADS_PER_SM)).min(1.0),
        None => 1.0,
    }
}

/// Host seconds, device seconds and dynamic joules of one instance of an op (for `explain`).
pub fn op_timing(
    op: &Op,
    p: &DeviceProfile,
    sw: SoftwareClass,
    element_bytes: f64,
) -> (f64, f64, f64) {
    let c = op_cost(op, p, sw, &TUNING, &HostCosts::default(), element_bytes);
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
    h: &'a HostCosts,
    element_bytes: f64,
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
                    let c = op_cost(op, self.p, self.sw, self.t, self.h, self.element_bytes);
                    let n_inst = mult * s.repeat * op.count;
                    self.dynamic += c.dynamic * n_inst;
                    self.active += c.active * c.occupancy * n_inst;
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
pub fn step_cost(plan: &StepPlan, p: &DeviceProfile, sw: SoftwareClass, h: &HostCosts) -> StepCost {
    step_cost_tuned(plan, p, sw, h, &TUNING)
}

/// [`step_cost`] with other values of the fitted constants (for the fitter).
pub fn step_cost_tuned(
    plan: &StepPlan,
    p: &DeviceProfile,
    sw: SoftwareClass,
    h: &HostCosts,
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
        h,
        element_bytes: plan.element_bytes,
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

#[cfg(test)]
mod tests {
    use super::{gemm_waves, op_cost};
    use crate::model::graph::{HostWork, Op, OpKind, Pass};
    use crate::scenario::{HostCosts, SoftwareClass};
    use crate::tuning::TUNING;

    /// Fused attention at two sequence lengths on the H100 (132 SMs): one
    /// sequence of 32 heads, head dimension 128. FlashAttention runs a block per
    /// 128 query rows and head: 256 blocks (2 waves of 132: 256/264 busy) at
    /// 1,024 tokens, 1,024 blocks (8 waves: 1,024/1,056) at 4,096; both at the
    /// eager FA2 rate, half of the large GEMM's (35% vs 69% of peak).
    #[test]
    fn attention_time_at_two_sequence_lengths() {
        let p =
            crate::calibration::builtin_profile(crate::catalog::find("h100-sxm").expect("h100"));
        let rate = p.gemm_tflops[&crate::units::MathMode::Bf16] * 1e12;
        let k = p.kernels.clone().expect("kernel model");
        let op = |s: f64| Op {
            name: "attn".into(),
            kind: OpKind::Attention,
            pass: Pass::Forward,
            count: 1.0,
            flops: 4.0 * 32.0 * s * s * 128.0,
            other_flops: 0.0,
            bytes: 0.0,
            params: 0.0,
            kernels: 1.0,
            mnk: Some([s, s, 128.0]),
            math: Some(crate::units::MathMode::Bf16),
            from_python: true,
            host: HostWork::Kernels,
        };
        for (s, busy) in [(1024.0, 256.0 / 264.0), (4096.0, 1024.0 / 1056.0)] {
            let c = op_cost(
                &op(s),
                &p,
                SoftwareClass::PytorchEager,
                &TUNING,
                &HostCosts::default(),
                2.0,
            );
            let want = 4.0 * 32.0 * s * s * 128.0 / (rate * k.attention[0] * busy);
            assert!(
                (c.active / want - 1.0).abs() < 1e-9,
                "{s}: {} vs {want}",
                c.active
            );
        }
    }

    /// A layer whose host waits for the device at its end (a blocking copy):
    /// a host-heavy op H, then a device-heavy op G. In max-plus terms one op is
    /// (host c, device g) and the device starts it when the host has issued it,
    /// so a layer from a synchronised start takes u = cH + gG + max(gH, cG), and
    /// n layers n u: the wait stops the host running ahead into the next layer,
    /// where without it G's device time hides H's host time.
    #[test]
    fn a_wait_in_every_layer_serialises_host_and_device() {
        use crate::plan::{MemoryNeed, Node, Seq, StepPlan};
        let p = profile("h100-sxm");
        let host = HostCosts {
            us_per_kernel: Some(100.0),
            ..HostCosts::default()
        };
        let mut h = ew(1e3, None);
        h.name = "h".into();
        h.kernels = 10.0;
        let mut g = ew(3e9, None);
        g.name = "g".into();
        let cost = |op: &Op| op_cost(op, &p, SoftwareClass::PytorchEager, &TUNING, &host, 2.0);
        let (ch, cg) = (cost(&h), cost(&g));
        assert!(
            cg.gpu > ch.cpu && ch.cpu > cg.cpu,
            "{} {} {} {}",
            ch.cpu,
            ch.gpu,
            cg.cpu,
            cg.gpu
        );
        let n = 6.0;
        let layer = Seq {
            name: "layer".into(),
            nodes: vec![Node::Op(h), Node::Op(g)],
            repeat: 1.0,
            synced: false,
        };
        let plan = |nodes: Vec<Node>| StepPlan {
            root: Seq {
                name: "forward".into(),
                nodes,
                repeat: 1.0,
                synced: false,
            },
            params: 0.0,
            active_params: 0.0,
            samples: 1.0,
            tokens: 1.0,
            has_breakdown: true,
            flops_only: None,
            element_bytes: 2.0,
            memory: MemoryNeed::default(),
            notes: vec![],
        };
        let waits = crate::plan::transformer::synced_layers(layer.clone(), &[2], n);
        let t = super::step_cost(&plan(waits), &p, SoftwareClass::PytorchEager, &host).seconds;
        let u = ch.cpu + cg.gpu + ch.gpu.max(cg.cpu);
        assert!((t / (n * u) - 1.0).abs() < 1e-9, "{t} vs {}", n * u);
        let free = Seq { repeat: n, ..layer };
        let t0 = super::step_cost(
            &plan(vec![Node::Seq(free)]),
            &p,
            SoftwareClass::PytorchEager,
            &host,
        )
        .seconds;
        assert!(t0 < 0.75 * t, "{t0} vs {t}");
    }

    fn profile(id: &str) -> crate::device::DeviceProfile {
        crate::calibration::builtin_profile(crate::catalog::find(id).expect("catalog device"))
    }

    fn ew(bytes: f64, math: Option<crate::units::MathMode>) -> Op {
        Op {
            name: "bn".into(),
            kind: OpKind::Elementwise,
            pass: Pass::Forward,
            count: 1.0,
            flops: 0.0,
            other_flops: 0.0,
            bytes,
            params: 0.0,
            kernels: 1.0,
            mnk: None,
            math,
            from_python: true,
            host: HostWork::Kernels,
        }
    }

    /// Eager element-wise kernels stream at the reference H100's fitted rate per
    /// SM, up to the device's own streaming bandwidth; fused ones at the fitted
    /// fraction of it. Worked by hand with the catalog's datasheet figures.
    #[test]
    fn eager_elementwise_rate_carries_per_sm_up_to_the_streaming_bandwidth() {
        let f = TUNING.elementwise_bw_fraction;
        let per_sm = f * 3124.8137248956664 / 132.0; // GB/s
        let gb = 1e9;
        let time = |id: &str, sw: SoftwareClass| {
            op_cost(
                &ew(gb, None),
                &profile(id),
                sw,
                &TUNING,
                &HostCosts::default(),
                2.0,
            )
            .active
        };
        // V100 SXM2: 900 GB/s x 0.851 (streaming) = 765.9 GB/s < 80 SMs x per_sm
        let v100 = 900.0 * 0.851;
        assert!(v100 < 80.0 * per_sm);
        let t = time("v100-sxm2-16gb", SoftwareClass::PytorchEager);
        assert!((t / (1.0 / v100) - 1.0).abs() < 1e-9, "{t}");
        // A100 SXM 80 GB: 2039 x 0.834 = 1700.5 GB/s > 108 x per_sm = 1439.5
        let a100 = 108.0 * per_sm;
        assert!(a100 < 2039.0 * 0.834);
        let t = time("a100-sxm-80gb", SoftwareClass::PytorchEager);
        assert!((t / (1.0 / a100) - 1.0).abs() < 1e-9, "{t}");
        // the same A100 under fused kernels (which also move half the bytes):
        // the fraction of its streaming rate
        let t = time("a100-sxm-80gb", SoftwareClass::Megatron);
        assert!((t / (0.5 / (2039.0 * 0.834 * f)) - 1.0).abs() < 1e-9, "{t}");
        // the reference H100 itself: the fitted fraction of its 3124.8 GB/s either way
        for (sw, bytes) in [
            (SoftwareClass::PytorchEager, 1.0),
            (SoftwareClass::Megatron, 0.5),
        ] {
            let t = time("h100-sxm", sw);
            assert!(
                (t / (bytes / (3124.8137248956664 * f)) - 1.0).abs() < 1e-9,
                "{t}"
            );
        }
        // fp32 elements: the same element rate moves twice the bytes, up to the
        // streaming bandwidth (H100: 2 x 1,759.9 > 3,124.8; A100: 2 x 1,439.5 > 1,700.5)
        let fp32 = |id: &str| {
            op_cost(
                &ew(gb, None),
                &profile(id),
                SoftwareClass::PytorchEager,
                &TUNING,
                &HostCosts::default(),
                4.0,
            )
            .active
        };
        assert!((fp32("h100-sxm") * 3124.8137248956664 - 1.0).abs() < 1e-9);
        assert!((fp32("a100-sxm-80gb") * 2039.0 * 0.834 - 1.0).abs() < 1e-9);
    }

    /// NCHW layout transposes serve tensor-core convolutions: TF32 math on an
    /// A100 has them, on a V100 (no TF32: FP32 units, NCHW kernels) they cost nothing.
    #[test]
    fn tf32_layout_transposes_vanish_where_fp32_units_run_the_convolution() {
        use crate::units::MathMode;
        let op = ew(1e9, Some(MathMode::Tf32));
        let cost = |id: &str| {
            op_cost(
                &op,
                &profile(id),
                SoftwareClass::PytorchEager,
                &TUNING,
                &HostCosts::default(),
                2.0,
            )
        };
        let v = cost("v100-sxm2-16gb");
        assert_eq!((v.cpu, v.gpu, v.dynamic), (0.0, 0.0, 0.0));
        let a = cost("a100-sxm-80gb");
        assert!(a.active > 0.0 && a.dynamic > 0.0 && a.cpu > 0.0);
    }

    const TILES: [[u32; 2]; 6] = [
        [256, 128],
        [128, 256],
        [128, 128],
        [128, 64],
        [64, 128],
        [64, 64],
    ];

    #[test]
    fn an_8192_cube_runs_16_waves_of_256x128_tiles_on_132_sms() {
        // 32 x 64 = 2048 tiles, ceil(2048 / 132) = 16 waves: 2048 / (16 x 132) busy
        let (eff, occ) = gemm_waves([8192.0, 8192.0, 8192.0], 132, &TILES);
        assert!((eff - 2048.0 / (16.0 * 132.0)).abs() < 1e-12, "{eff}");
        assert_eq!(occ, 1.0);
    }

    #[test]
    fn a_bert_base_projection_fills_under_three_quarters_of_an_h100() {
        // [4096, 768, 768]: 256x128 or 128x128 tiles give 96 tiles in one wave or
        // 192 in two; 128x64 reaches 0.97 of its waves but runs at 2/3 speed
        let (eff, occ) = gemm_waves([4096.0, 768.0, 768.0], 132, &TILES);
        assert!((eff - 96.0 / 132.0).abs() < 1e-12, "{eff}");
        assert!((occ - 96.0 / 132.0).abs() < 1e-12, "{occ}");
    }

    #[test]
    fn few_tiles_split_k_to_fill_the_sms() {
        // [1024, 1024, 8192] with 128x128 tiles: 64 tiles, split-K in 2 -> 128 of 132 busy
        let (eff, _) = gemm_waves([1024.0, 1024.0, 8192.0], 132, &[[128, 128]]);
        assert!((eff - 128.0 / 132.0).abs() < 1e-12, "{eff}");
        // a decode row [8, 4096, 4096]: a 64x64 tile is 1/8 useful at half speed
        let (eff, _) = gemm_waves([8.0, 4096.0, 4096.0], 132, &[[64, 64]]);
        // 64 tiles, split-K 2 -> 128 units in one wave
        assert!(
            (eff - 0.5 * (8.0 / 64.0) * 128.0 / 132.0).abs() < 1e-12,
            "{eff}"
        );
    }
}
