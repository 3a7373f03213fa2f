//! The calibration suite: which kernels, how long each loop runs, and how a
//! run becomes a [`CalibrationRecord`].
//!
//! A run: idle (cool GPU), heat-up (the heaviest GEMM until clocks and power
//! settle), then per kernel: prepare, probe its step time, warm up until its
//! clock and power settle, and time `repeats` loops while clocks, power and
//! throttle reasons are sampled; finally idle again (warm GPU).

use super::stats;
use super::traits::*;
use shared::calibration::{
    CalibrationRecord, Conditions, IdleMeasurement, LoopConditions, Measurement, MeasurementKind,
    Occupancy, RecordDevice, RunInfo,
};
use shared::stats::median;
use shared::units::{MathMode, Seconds};
use std::sync::atomic::{AtomicBool, Ordering};

/// Each core loop of the full suite runs at least this long after warm-up.
pub const MIN_LOOP_S: f64 = 2.0;
/// Loops of `--quick`: 15 counter periods of 100 ms, still far above the 10 a window needs.
pub const QUICK_LOOP_S: f64 = 1.5;
/// Loops of the sweeps (one repeat): their rates matter more than their joules.
pub const SWEEP_LOOP_S: f64 = 1.0;
/// Idle measurements (context open, nothing running), before and after.
pub const IDLE_S: f64 = 3.0;
pub const QUICK_IDLE_S: f64 = 2.0;
/// Step-time probe: stops once a probe lasts `PROBE_TARGET_S` or `PROBE_BUDGET_S` is spent.
pub const PROBE_BUDGET_S: f64 = 0.2;
pub const PROBE_TARGET_S: f64 = 0.05;
/// Warm-up runs in chunks this long and stops when the sampled clock and
/// power of consecutive chunks agree ([`SETTLE_CLOCK`], [`SETTLE_POWER`]).
pub const WARMUP_CHUNK_S: f64 = 0.25;
pub const SETTLE_CLOCK: f64 = 0.0025;
pub const SETTLE_POWER: f64 = 0.01;
/// A loop whose SM clock in its last quarter is this much below its first quarter is flagged.
pub const CLOCK_DROP: f64 = 0.10;
/// Allowance for allocating and filling a kernel's buffers.
pub const PREPARE_ALLOWANCE_S: f64 = 0.5;
/// Loops may overrun their planned length by one step and some slowdown: planned with this margin.
pub const LOOP_MARGIN: f64 = 1.10;

pub const SIZES: [u64; 5] = [512, 1024, 2048, 4096, 8192];
/// Sizes of the other math modes in the full suite (bf16 has all of `SIZES`).
pub const MODE_SIZES: [u64; 3] = [2048, 4096, 8192];
/// Transformer-shaped GEMMs (m = tokens, n, k): a 4096-wide model with 16k tokens per step.
pub const TRANSFORMER_SHAPES: [(u64, u64, u64); 3] = [
    (16384, 4096, 4096),  // attention output projection
    (16384, 14336, 4096), // MLP up / gate
    (16384, 4096, 14336), // MLP down
];
/// Decode GEMMs: m tokens against the (n, k) of the layers above.
pub const DECODE_TOKENS: [u64; 3] = [1, 16, 64];
/// Attention sweep: (seq, head_dim); batch x heads = 65536 / seq (the same tokens).
pub const ATTENTION_SHAPES: [(u64, u64); 7] = [
    (512, 128),
    (1024, 128),
    (2048, 128),
    (4096, 128),
    (8192, 128),
    (1024, 64),
    (4096, 64),
];
pub const ATTENTION_TOKENS: u64 = 65536;
/// Each tensor of the copy and of the element-wise loop: 2 GiB of bf16, as in the reference.
pub const STREAM_TENSOR_BYTES: u64 = 2 << 30;
/// Element-wise sweep: bytes of each of the four tensors (L2-resident to HBM).
pub const ELEMENTWISE_SIZES: [u64; 4] = [1 << 20, 8 << 20, 64 << 20, 512 << 20];
/// A step of a small element-wise loop sweeps its tensors until it moves this many bytes.
pub const ELEMENTWISE_STEP_BYTES: u64 = 256 << 20;
/// Empty kernels per replay of the launch graph.
pub const GRAPH_KERNELS: u64 = 1000;

/// Loop lengths, repeats and warm-up bounds of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteOptions {
    pub quick: bool,
    /// Repeats of the core loops (the sweeps run once).
    pub repeats: u32,
    pub min_loop_s: f64,
    pub sweep_loop_s: f64,
    pub idle_s: f64,
    /// Per-kernel warm-up (min, max), s.
    pub warmup_s: (f64, f64),
    /// Heat-up before the first kernel (min, max), s.
    pub heat_up_s: (f64, f64),
    /// Run even with other compute processes on the GPU (the record is flagged).
    pub allow_other_processes: bool,
}

impl SuiteOptions {
    pub fn full() -> Self {
        SuiteOptions {
            quick: false,
            repeats: 3,
            min_loop_s: MIN_LOOP_S,
            sweep_loop_s: SWEEP_LOOP_S,
            idle_s: IDLE_S,
            warmup_s: (1.0, 2.0),
            heat_up_s: (8.0, 15.0),
            allow_other_processes: false,
        }
    }
    pub fn quick() -> Self {
        SuiteOptions {
            quick: true,
            repeats: 1,
            min_loop_s: QUICK_LOOP_S,
            sweep_loop_s: SWEEP_LOOP_S,
            idle_s: QUICK_IDLE_S,
            warmup_s: (0.5, 1.0),
            heat_up_s: (3.0, 6.0),
            allow_other_processes: false,
        }
    }
}

/// What the plan needs to know of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceShape {
    pub sm_count: u32,
    pub max_threads_per_sm: u32,
}

impl DeviceShape {
    /// An H100/H200 SXM: 132 SMs of 2048 threads (what a plan without a device assumes).
    pub const GH100: DeviceShape = DeviceShape {
        sm_count: 132,
        max_threads_per_sm: 2048,
    };
    pub fn of(runner: &dyn KernelRunner) -> Self {
        DeviceShape {
            sm_count: runner.sm_count().unwrap_or(Self::GH100.sm_count),
            max_threads_per_sm: runner
                .max_threads_per_sm()
                .unwrap_or(Self::GH100.max_threads_per_sm),
        }
    }
}

/// One kernel of the plan; sweep loops run once and shorter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Planned {
    pub kernel: Kernel,
    pub sweep: bool,
}

/// The kernels of the suite, in order.
pub fn plan(quick: bool, dev: DeviceShape) -> Vec<Planned> {
    use MathMode::*;
    let mut core = Vec::new();
    let mut sweep = Vec::new();
    let stream = Kernel::Fma {
        elements: STREAM_TENSOR_BYTES / 2,
        passes: 1,
    };
    let full_spin = Kernel::Spin {
        sms: dev.sm_count,
        threads_per_sm: dev.max_threads_per_sm,
    };
    let (m, n, k) = TRANSFORMER_SHAPES[1];
    if quick {
        for n in [8192, 2048] {
            core.push(Kernel::square(Bf16, n));
        }
        for mode in [Fp16, Tf32, Fp32, Fp8, Int8] {
            core.push(Kernel::square(mode, 8192));
        }
        core.push(Kernel::Gemm {
            math: Bf16,
            m,
            n,
            k,
        });
    } else {
        // Largest first: the power-capped loops follow one another and the
        // GPU stays at its working temperature.
        for n in SIZES.into_iter().rev() {
            core.push(Kernel::square(Bf16, n));
        }
        for mode in [Fp32, Tf32, Fp16, Fp8, Int8] {
            for n in MODE_SIZES.into_iter().rev() {
                core.push(Kernel::square(mode, n));
            }
        }
        for (m, n, k) in TRANSFORMER_SHAPES {
            core.push(Kernel::Gemm {
                math: Bf16,
                m,
                n,
                k,
            });
        }
        for t in DECODE_TOKENS {
            for (_, n, k) in TRANSFORMER_SHAPES {
                sweep.push(Kernel::Gemm {
                    math: Bf16,
                    m: t,
                    n,
                    k,
                });
            }
        }
        for (seq, head_dim) in ATTENTION_SHAPES {
            for backward in [false, true] {
                sweep.push(Kernel::Attention {
                    batch_heads: (ATTENTION_TOKENS / seq).max(1),
                    seq,
                    head_dim,
                    backward,
                });
            }
        }
        for bytes in ELEMENTWISE_SIZES {
            sweep.push(Kernel::Fma {
                elements: bytes / 2,
                passes: (ELEMENTWISE_STEP_BYTES / (4 * bytes)).max(1),
            });
        }
        let s = dev.sm_count.max(1);
        let mut counts: Vec<u32> = [1, s / 8, s / 4, s / 2, 3 * s / 4, s]
            .into_iter()
            .filter(|c| *c >= 1)
            .collect();
        counts.dedup();
        for sms in counts {
            sweep.push(Kernel::Spin {
                sms,
                threads_per_sm: dev.max_threads_per_sm.min(1024),
            });
        }
        sweep.push(Kernel::LaunchStream);
    }
    core.push(Kernel::Copy {
        bytes: STREAM_TENSOR_BYTES,
    });
    core.push(stream);
    core.push(Kernel::LaunchGraph {
        kernels: GRAPH_KERNELS,
    });
    core.push(full_spin);
    core.into_iter()
        .map(|kernel| Planned {
            kernel,
            sweep: false,
        })
        .chain(sweep.into_iter().map(|kernel| Planned {
            kernel,
            sweep: true,
        }))
        .collect()
}

/// The heavy GEMM of the heat-up: the first of these the runner supports.
fn heat_up_kernel(runner: &dyn KernelRunner) -> Option<Kernel> {
    [
        Kernel::square(MathMode::Bf16, 8192),
        Kernel::square(MathMode::Fp16, 8192),
        Kernel::square(MathMode::Fp32, 4096),
    ]
    .into_iter()
    .find(|k| runner.supports(k))
}

/// (loop seconds, repeats, warm-up (min, max)) of a planned kernel.
fn loop_params(p: &Planned, opts: &SuiteOptions) -> (f64, u32, (f64, f64)) {
    if p.sweep {
        (opts.sweep_loop_s, 1, (0.5, opts.warmup_s.1.min(1.0)))
    } else {
        (opts.min_loop_s, opts.repeats, opts.warmup_s)
    }
}

/// Upper bound of one kernel's time (prepare, probe, warm-up, repeats, edge waits).
pub fn planned_kernel_s(p: &Planned, opts: &SuiteOptions, period: Seconds) -> f64 {
    let (loop_s, repeats, (_, warm_max)) = loop_params(p, opts);
    let edges = 2.0 * (period.0 + super::counter::POLL_S);
    let loop_s = loop_s.max(period.0 * MIN_PERIODS_PER_WINDOW * 1.05);
    PREPARE_ALLOWANCE_S
        + PROBE_BUDGET_S
        + PROBE_TARGET_S * 4.0
        + warm_max
        + WARMUP_CHUNK_S
        + repeats as f64 * (loop_s * LOOP_MARGIN + edges)
}

/// Upper bound of the whole run, by construction of the plan.
pub fn planned_duration(kernels: &[Planned], opts: &SuiteOptions, period: Seconds) -> Seconds {
    let idle = 2.0 * (opts.idle_s + 2.0 * period.0);
    let heat = PREPARE_ALLOWANCE_S + opts.heat_up_s.1 + WARMUP_CHUNK_S;
    let kernels: f64 = kernels
        .iter()
        .map(|p| planned_kernel_s(p, opts, period))
        .sum();
    Seconds(idle + heat + kernels)
}

/// What the run reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Start { planned_s: f64, kernels: usize },
    Kernel { name: String, index: usize },
    Done { planned_s: f64 },
    Skipped { name: String },
}

#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error(transparent)]
    Meter(#[from] MeterError),
    #[error(transparent)]
    Runner(#[from] RunnerError),
    #[error("stopped by the user; nothing was written")]
    Cancelled,
    #[error("other compute processes are using the GPU (NVML pids {pids:?}; this process: {own}): their energy would be counted; stop them or pass --allow-other-processes (docs/calibration.md, \"Containers\")")]
    OtherProcesses { pids: Vec<u32>, own: String },
    #[error("the record does not validate: {0}")]
    Invalid(String),
}

/// One repeat of one loop.
#[derive(Debug, Clone)]
struct Rep {
    steps: u64,
    seconds: f64,
    joules: f64,
    samples: Vec<Sample>,
}

/// Run the suite and build the record.
pub fn run(
    meter: &mut dyn PowerMeter,
    runner: &mut dyn KernelRunner,
    opts: &SuiteOptions,
    cancel: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<CalibrationRecord, SuiteError> {
    let started_at = chrono::Utc::now();
    let own = meter.identify_own_process()?;
    let others = meter.other_processes()?;
    let mut flags = Vec::new();
    if !others.is_empty() {
        if !opts.allow_other_processes {
            return Err(SuiteError::OtherProcesses { pids: others, own });
        }
        flags.push(format!("other_processes_at_start:{}", others.len()));
    }
    let period = meter.update_period();
    let kernels = plan(opts.quick, DeviceShape::of(runner));
    progress(Progress::Start {
        planned_s: planned_duration(&kernels, opts, period).0,
        kernels: kernels.len(),
    });
    let first = meter.snapshot()?;
    let idle_planned = opts.idle_s + 2.0 * period.0;

    // Idle with the context open, on the cool GPU.
    let (idle_before, idle_before_s) = measure_idle(meter, runner, opts.idle_s)?;
    progress(Progress::Done {
        planned_s: idle_planned,
    });

    // Heat-up: a cool GPU runs power-capped kernels faster than it will in
    // sustained operation, so bring it to its working temperature first.
    let mut heat_up_s = None;
    if let Some(k) = heat_up_kernel(runner) {
        if cancel.load(Ordering::SeqCst) {
            return Err(SuiteError::Cancelled);
        }
        progress(Progress::Kernel {
            name: format!("heat-up ({})", k.name()),
            index: 0,
        });
        runner.prepare(&k)?;
        let t = probe(runner, &k)?;
        let w = warm_up(meter, runner, &k, t, opts.heat_up_s);
        runner.release();
        heat_up_s = Some(w?.0);
        progress(Progress::Done {
            planned_s: PREPARE_ALLOWANCE_S + opts.heat_up_s.1 + WARMUP_CHUNK_S,
        });
    }

    let mut micro = Vec::new();
    let mut skipped = Vec::new();
    for (i, p) in kernels.iter().enumerate() {
        if cancel.load(Ordering::SeqCst) {
            return Err(SuiteError::Cancelled);
        }
        let name = p.kernel.name();
        let planned_s = planned_kernel_s(p, opts, period);
        if !runner.supports(&p.kernel) {
            skipped.push(name.clone());
            progress(Progress::Skipped { name });
            progress(Progress::Done { planned_s });
            continue;
        }
        progress(Progress::Kernel {
            name: name.clone(),
            index: i,
        });
        let r = measure_kernel(meter, runner, p, opts, idle_before, cancel);
        let r = r.map(|mut m| {
            if let Some(o) = m.occupancy.as_mut() {
                o.sm_count = runner.sm_count().unwrap_or(o.sms).max(o.sms);
            }
            m
        });
        runner.release();
        micro.push(r?);
        progress(Progress::Done { planned_s });
    }

    // Idle again, on the warm GPU.
    let (idle_after, idle_after_s) = measure_idle(meter, runner, opts.idle_s)?;
    progress(Progress::Done {
        planned_s: idle_planned,
    });

    let last = meter.snapshot()?;
    let others = meter.other_processes()?;
    if !others.is_empty() {
        flags.push(format!("other_processes_at_end:{}", others.len()));
    }
    for m in &micro {
        for f in &m.flags {
            if f.starts_with("throttle:") || f == "clock_drop" {
                let f = format!("{}:{f}", m.name);
                if !flags.contains(&f) {
                    flags.push(f);
                }
            }
        }
    }
    let info = meter.device().clone();
    let now = chrono::Utc::now();
    let mut rec = CalibrationRecord {
        schema_version: shared::calibration::RECORD_SCHEMA_VERSION,
        run_id: Some(uuid::Uuid::new_v4().to_string()),
        tool_version: Some(format!("jouleprint {}", env!("CARGO_PKG_VERSION"))),
        host: hostname(),
        started_at: Some(started_at.to_rfc3339()),
        finished_at: Some(now.to_rfc3339()),
        what: Some(format!(
            "jouleprint calibrate{}: NVML energy ({}) over device-timed loops of each kernel after heat-up and warm-up until clocks and power settled, >= {} s each ({} repeat(s); sweeps {} s, once)",
            if opts.quick { " --quick" } else { "" },
            meter.energy_source().as_str(),
            opts.min_loop_s,
            opts.repeats,
            opts.sweep_loop_s,
        )),
        measured_on: Some(now.format("%Y-%m-%d").to_string()),
        framework: Some(format!(
            "jouleprint {} runner: cuBLAS GEMMs (cublasGemmEx, cuBLASLt for fp8, strided batched for attention) on random normal inputs; bf16 element-wise and softmax kernels in PTX; CUDA-event timing",
            runner.kind()
        )),
        device: RecordDevice {
            name: info.name.clone(),
            uuid: info.uuid.clone(),
            driver: info.driver.clone(),
            power_limit_mw: info.power_limit_mw,
            max_sm_clock: info.max_sm_clock_mhz,
            max_mem_clock: info.max_mem_clock_mhz,
            sm_count: runner.sm_count(),
            memory_mib: info.memory_mib,
        },
        energy_source: meter.energy_source().as_str().into(),
        conditions: Some(Conditions {
            temperature_before_c: first.temperature_c,
            temperature_after_c: last.temperature_c,
            sm_clock_before_mhz: first.sm_clock_mhz,
            sm_clock_after_mhz: last.sm_clock_mhz,
            throttle_reasons_before: bad_reasons(&first.throttle_reasons),
            throttle_reasons_after: bad_reasons(&last.throttle_reasons),
            other_processes: others.len() as u32,
            own_process: Some(own),
        }),
        idle: IdleMeasurement {
            avg_power_w: 0.5 * (idle_before + idle_after),
            seconds: Some(idle_before_s + idle_after_s),
            note: Some(
                "device idle with a CUDA context open: mean of before the first loop (cool) and after the last (warm)"
                    .into(),
            ),
            before_w: Some(idle_before),
            after_w: Some(idle_after),
        },
        micro,
        flags,
        run: Some(RunInfo {
            suite: if opts.quick { "quick" } else { "full" }.into(),
            repeats: opts.repeats,
            min_loop_seconds: opts.min_loop_s,
            counter_update_period_s: Some(period.0),
            runner: runner.kind().into(),
            compute_capability: runner.compute_capability().map(|(a, b)| format!("{a}.{b}")),
            skipped,
            heat_up_s,
            sample_period_s: Some(meter.sample_period().0),
        }),
        derived: None,
    };
    rec.validate()
        .map_err(|e| SuiteError::Invalid(e.to_string()))?;
    rec.derived = shared::calibration::derived(&rec).ok();
    Ok(rec)
}

/// Idle power over one window of `secs`, and the window's length.
fn measure_idle(
    meter: &mut dyn PowerMeter,
    runner: &mut dyn KernelRunner,
    secs: f64,
) -> Result<(f64, f64), SuiteError> {
    runner.synchronize()?;
    let w = meter.begin()?;
    runner.idle(Seconds(secs))?;
    let m = meter.end(w)?;
    Ok((m.energy.0 / m.window.0, m.window.0))
}

/// The throttle reasons that invalidate a measurement (the service flags a run
/// with any reason in `conditions`; idle and power-cap reasons are normal).
fn bad_reasons(reasons: &[String]) -> Vec<String> {
    reasons
        .iter()
        .filter(|r| BAD_THROTTLE.contains(&r.as_str()))
        .cloned()
        .collect()
}

fn hostname() -> Option<String> {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Step time from device events: probes of 1, 4, 16... steps until one lasts
/// `PROBE_TARGET_S` or `PROBE_BUDGET_S` is spent.
fn probe(runner: &mut dyn KernelRunner, k: &Kernel) -> Result<f64, SuiteError> {
    let (mut steps, mut spent) = (1u64, 0.0);
    loop {
        let d = runner.run(k, steps)?.0;
        spent += d;
        if d >= PROBE_TARGET_S || spent >= PROBE_BUDGET_S {
            return Ok((d / steps as f64).max(1e-9));
        }
        steps *= 4;
    }
}

/// Median SM clock and power of some samples.
fn medians(s: &[Sample]) -> (Option<f64>, Option<f64>) {
    let clocks: Vec<f64> = s
        .iter()
        .filter_map(|x| x.sm_clock_mhz.map(f64::from))
        .collect();
    let powers: Vec<f64> = s.iter().filter_map(|x| x.power_w).collect();
    (median(&clocks), median(&powers))
}

fn close(a: Option<f64>, b: Option<f64>, tol: f64) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= tol * b.abs().max(1e-9),
        _ => true,
    }
}

/// Run `k` in chunks of `WARMUP_CHUNK_S` until, after at least `min` s, the
/// sampled median clock and power of the last four chunks agree; at most
/// `max` s. Returns the time spent, whether it settled, and the step time of
/// the last chunk (steady state).
fn warm_up(
    meter: &mut dyn PowerMeter,
    runner: &mut dyn KernelRunner,
    k: &Kernel,
    t_step: f64,
    (min, max): (f64, f64),
) -> Result<(f64, bool, f64), SuiteError> {
    let chunk = ((WARMUP_CHUNK_S / t_step).ceil() as u64).max(1);
    let mut spent = 0.0;
    let mut t;
    let mut hist: Vec<(Option<f64>, Option<f64>)> = Vec::new();
    loop {
        meter.start_sampling()?;
        let d = runner.run(k, chunk);
        let samples = meter.stop_sampling();
        let d = d?.0;
        spent += d;
        t = d / chunk as f64;
        hist.push(medians(&samples));
        let n = hist.len();
        let settled = n >= 4
            && (n - 3..n).all(|i| {
                close(hist[i].0, hist[i - 1].0, SETTLE_CLOCK)
                    && close(hist[i].1, hist[i - 1].1, SETTLE_POWER)
            });
        if spent >= min && settled {
            return Ok((spent, true, t.max(1e-9)));
        }
        if spent >= max {
            return Ok((spent, false, t.max(1e-9)));
        }
    }
}

fn measure_kernel(
    meter: &mut dyn PowerMeter,
    runner: &mut dyn KernelRunner,
    p: &Planned,
    opts: &SuiteOptions,
    idle_w: f64,
    cancel: &AtomicBool,
) -> Result<Measurement, SuiteError> {
    let k = &p.kernel;
    let (loop_s, repeats, warm) = loop_params(p, opts);
    runner.prepare(k)?;
    let t_probe = probe(runner, k)?;
    let (warmup_s, settled, t_step) = warm_up(meter, runner, k, t_probe, warm)?;
    let want = loop_s.max(meter.min_window().0 * 1.05);
    // A hair over `want`: the loop must not fall short by a rounding error.
    let n = ((want * (1.0 + 1e-9) / t_step).ceil() as u64).max(1);

    let mut reps = Vec::new();
    for _ in 0..repeats {
        if cancel.load(Ordering::SeqCst) {
            return Err(SuiteError::Cancelled);
        }
        runner.synchronize()?;
        let w = meter.begin()?;
        meter.start_sampling()?;
        let busy = runner.run(k, n);
        runner.synchronize()?;
        let samples = meter.stop_sampling();
        let busy = busy?;
        let m = meter.end(w)?;
        reps.push(Rep {
            steps: n,
            seconds: busy.0,
            joules: m.energy_of(busy, idle_w).0,
            samples,
        });
    }
    let flags = check(&reps);
    let mut m = measurement(k, &reps, flags);
    m.warmup_s = Some(warmup_s);
    m.settled = Some(settled);
    Ok(m)
}

/// Flags from the samples of a loop's repeats. Only reasons that make the
/// numbers untrustworthy are flags (the service stores a run with any flag
/// without using it; running at the power limit, `sw_power_cap`, is the
/// normal state of a large GEMM). The clock is compared within each loop, in
/// steady state: the median of its last quarter against its first quarter.
fn check(reps: &[Rep]) -> Vec<String> {
    let mut flags = Vec::new();
    for r in reps {
        for reason in r.samples.iter().flat_map(|s| &s.throttle_reasons) {
            if !BAD_THROTTLE.contains(&reason.as_str()) {
                continue;
            }
            let f = format!("throttle:{reason}");
            if !flags.contains(&f) {
                flags.push(f);
            }
        }
        let clocks: Vec<f64> = r
            .samples
            .iter()
            .filter_map(|s| s.sm_clock_mhz.map(f64::from))
            .collect();
        let q = clocks.len() / 4;
        if q >= 1 {
            let head = median(&clocks[..q]);
            let tail = median(&clocks[clocks.len() - q..]);
            let dropped = matches!((head, tail), (Some(h), Some(t)) if t < (1.0 - CLOCK_DROP) * h);
            if dropped && !flags.iter().any(|f| f == "clock_drop") {
                flags.push("clock_drop".into());
            }
        }
    }
    flags
}

/// Clocks, power and throttle reasons over all samples of a loop.
fn loop_conditions(reps: &[Rep]) -> Option<LoopConditions> {
    let samples: Vec<&Sample> = reps.iter().flat_map(|r| &r.samples).collect();
    if samples.is_empty() {
        return None;
    }
    let clocks: Vec<f64> = samples
        .iter()
        .filter_map(|s| s.sm_clock_mhz.map(f64::from))
        .collect();
    let powers: Vec<f64> = samples.iter().filter_map(|s| s.power_w).collect();
    let temps: Vec<f64> = samples.iter().filter_map(|s| s.temperature_c).collect();
    let min = |v: &[f64]| v.iter().copied().reduce(f64::min);
    let mut reasons: Vec<String> = Vec::new();
    for r in samples.iter().flat_map(|s| &s.throttle_reasons) {
        if !reasons.contains(r) {
            reasons.push(r.clone());
        }
    }
    Some(LoopConditions {
        samples: samples.len() as u32,
        sm_clock_min_mhz: min(&clocks).map(|c| c as u32),
        sm_clock_median_mhz: median(&clocks).map(|c| c.round() as u32),
        power_min_w: min(&powers),
        power_median_w: median(&powers),
        temperature_max_c: temps.iter().copied().reduce(f64::max),
        throttle_reasons: reasons,
    })
}

fn measurement(k: &Kernel, reps: &[Rep], flags: Vec<String>) -> Measurement {
    let steps: u64 = reps.iter().map(|r| r.steps).sum();
    let seconds: f64 = reps.iter().map(|r| r.seconds).sum();
    let joules: f64 = reps.iter().map(|r| r.joules).sum();
    let per_step: Vec<f64> = reps.iter().map(|r| r.joules / r.steps as f64).collect();
    let flops = k.flops();
    let bytes = k.bytes();
    let (mnk, n) = match *k {
        Kernel::Gemm { m, n, k: kk, .. } if m == n && n == kk => (None, Some(n)),
        Kernel::Gemm { m, n, k: kk, .. } => (Some([m, n, kk]), None),
        _ => (None, None),
    };
    let attention = match *k {
        Kernel::Attention {
            batch_heads,
            seq,
            head_dim,
            backward,
        } => Some(shared::calibration::AttentionShape {
            batch_heads,
            seq,
            head_dim,
            pass: if backward { "backward" } else { "forward" }.into(),
            path: "math".into(),
        }),
        _ => None,
    };
    let occupancy = match *k {
        Kernel::Spin {
            sms,
            threads_per_sm,
        } => Some(Occupancy {
            sms,
            sm_count: 0,
            threads_per_sm,
        }),
        _ => None,
    };
    let passes = match *k {
        Kernel::Fma { passes, .. } if passes > 1 => Some(passes),
        _ => None,
    };
    let launch = match k {
        Kernel::LaunchGraph { .. } => Some("graph".to_string()),
        Kernel::LaunchStream => Some("stream".to_string()),
        _ => None,
    };
    let kps = k.kernels_per_step();
    // Only GEMM, attention and element-wise loops carry FLOPs; the element-wise
    // loop's coefficient is per byte.
    let mut m = Measurement {
        name: k.name(),
        kind: k.kind(),
        dtype: k.dtype().into(),
        n,
        mnk,
        steps,
        seconds,
        joules,
        avg_power_w: Some(joules / seconds),
        flops_per_step: flops,
        bytes_per_step: bytes,
        spread: (reps.len() > 1).then(|| stats::spread(&per_step)),
        device_timed: true,
        kernels_per_step: (kps != 1).then_some(kps),
        launch,
        tensor_bytes: k.tensor_bytes(),
        passes,
        attention,
        occupancy,
        warmup_s: None,
        settled: None,
        conditions: loop_conditions(reps),
        seconds_per_step: None,
        joules_per_step: None,
        tflops: None,
        gb_per_s: None,
        pj_per_flop: None,
        pj_per_byte: None,
        flags,
    };
    m.fill_derived_columns();
    m
}

/// A fixed-width table of the record and its derived coefficients.
pub fn summary(rec: &CalibrationRecord) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} ({}), power limit {:.0} W, idle {:.1} W{}, energy from {}",
        rec.device.name,
        rec.device.uuid.as_deref().unwrap_or("-"),
        rec.device.power_limit_mw as f64 / 1000.0,
        rec.idle.avg_power_w,
        match (rec.idle.before_w, rec.idle.after_w) {
            (Some(b), Some(a)) => format!(" ({b:.1} before, {a:.1} after)"),
            _ => String::new(),
        },
        rec.energy_source
    );
    let _ = writeln!(
        s,
        "{:<34} {:>9} {:>7} {:>8} {:>7} {:>12} {:>9} {:>7} {:>11}  flags",
        "kernel", "steps", "s", "J", "W", "rate", "pJ/unit", "spread", "MHz min/med"
    );
    for m in &rec.micro {
        let per_kernel = m.seconds / (m.steps as f64 * m.kernels_per_step.unwrap_or(1) as f64);
        let (rate, unit) = match m.kind {
            MeasurementKind::Memory | MeasurementKind::Elementwise => (
                m.gb_per_s.map(|g| format!("{g:.0} GB/s")),
                m.pj_per_byte.map(|p| format!("{p:.1}/B")),
            ),
            MeasurementKind::Launch => (Some(format!("{:.2} us", per_kernel * 1e6)), None),
            MeasurementKind::Spin => (None, None),
            MeasurementKind::Gemm | MeasurementKind::Attention => (
                m.tflops.map(|t| format!("{t:.1} TF/s")),
                m.pj_per_flop.map(|p| format!("{p:.3}")),
            ),
        };
        let clocks = m
            .conditions
            .as_ref()
            .and_then(|c| {
                Some(format!(
                    "{}/{}",
                    c.sm_clock_min_mhz?, c.sm_clock_median_mhz?
                ))
            })
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            s,
            "{:<34} {:>9} {:>7.2} {:>8.1} {:>7.1} {:>12} {:>9} {:>7} {:>11}  {}",
            m.name,
            m.steps,
            m.seconds,
            m.joules,
            m.avg_power(),
            rate.unwrap_or_default(),
            unit.unwrap_or_default(),
            m.spread
                .map(|x| format!("{:.2}%", x * 100.0))
                .unwrap_or_else(|| "-".into()),
            clocks,
            m.flags.join(",")
        );
    }
    if let Some(d) = &rec.derived {
        let p = &d.profile;
        let _ = writeln!(
            s,
            "derived: idle {:.1} W, active floor {:.1} W, {:.0} GB/s at {:.1} pJ/B (marginal), kernel {:.2} us, GEMM latency {:.2} us",
            p.idle_w, p.active_floor_w, p.mem_gbs, p.pj_per_byte, p.kernel_latency_us, p.gemm_latency_us
        );
        for (mode, pj) in &p.pj_per_flop {
            let t = p.gemm_tflops.get(mode).copied().unwrap_or(0.0);
            let _ = writeln!(
                s,
                "  {:<5} {:>8.1} TFLOP/s  {:.3} pJ/FLOP marginal",
                mode.as_str(),
                t,
                pj
            );
        }
        if let Some(e) = d.launch_energy_uj {
            let _ = writeln!(s, "  launch: {e:.2} uJ per empty kernel above idle");
        }
        if let Some(f) = d.sweeps.as_ref().and_then(|w| w.active_floor_measured_w) {
            let _ = writeln!(
                s,
                "  active floor measured (full-occupancy spin): {f:.1} W above idle"
            );
        }
        for n in &d.notes {
            let _ = writeln!(s, "  note: {n}");
        }
    }
    if let Some(run) = rec.run.as_ref().filter(|r| !r.skipped.is_empty()) {
        let _ = writeln!(
            s,
            "skipped (not supported here): {}",
            run.skipped.join(", ")
        );
    }
    if !rec.flags.is_empty() {
        let _ = writeln!(s, "FLAGGED (stored, not used): {}", rec.flags.join(", "));
    }
    s
}
