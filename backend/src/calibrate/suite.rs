//! The calibration suite: which kernels, how long each loop runs, and how a
//! run becomes a [`CalibrationRecord`].

use super::stats;
use super::traits::*;
use shared::calibration::{
    derive_profile, CalibrationRecord, Conditions, Derived, GemmEfficiency, IdleMeasurement,
    Measurement, MeasurementKind, RecordDevice, RunInfo,
};
use shared::device::{DeviceProfile, ProfileSource};
use shared::units::{MathMode, Seconds};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// Each timed loop runs at least this long after warm-up (counter granularity under 1%).
pub const MIN_LOOP_S: f64 = 2.0;
/// Idle measurement (context open, nothing running).
pub const IDLE_S: f64 = 3.0;
pub const QUICK_IDLE_S: f64 = 2.0;
/// Warm-up and step-time probe: stops once a probe lasts `PROBE_TARGET_S` or the budget is spent.
pub const WARMUP_BUDGET_S: f64 = 0.4;
pub const PROBE_TARGET_S: f64 = 0.05;
/// Allowance for allocating and filling a kernel's buffers.
pub const PREPARE_ALLOWANCE_S: f64 = 0.5;
/// Loops may overrun their planned length by one step and some slowdown: planned with this margin.
pub const LOOP_MARGIN: f64 = 1.10;

pub const SIZES: [u64; 5] = [512, 1024, 2048, 4096, 8192];
/// Transformer-shaped GEMMs (m = tokens, n, k): a 4096-wide model with 16k tokens per step.
pub const TRANSFORMER_SHAPES: [(u64, u64, u64); 3] = [
    (16384, 4096, 4096),  // attention output projection
    (16384, 14336, 4096), // MLP up / gate
    (16384, 4096, 14336), // MLP down
];
/// Buffer of the copy (bytes copied per step; read plus written is twice that).
pub const COPY_BYTES: u64 = 2 << 30;
/// Elements of each of the four fp32 arrays of the multiply-add (2 GiB each).
pub const FMA_ELEMENTS: u64 = 512 << 20;

#[derive(Debug, Clone, PartialEq)]
pub struct SuiteOptions {
    pub quick: bool,
    pub repeats: u32,
    pub min_loop_s: f64,
    pub idle_s: f64,
    /// Run even with other compute processes on the GPU (the record is flagged).
    pub allow_other_processes: bool,
}

impl SuiteOptions {
    pub fn full() -> Self {
        SuiteOptions {
            quick: false,
            repeats: 3,
            min_loop_s: MIN_LOOP_S,
            idle_s: IDLE_S,
            allow_other_processes: false,
        }
    }
    pub fn quick() -> Self {
        SuiteOptions {
            quick: true,
            repeats: 1,
            min_loop_s: MIN_LOOP_S,
            idle_s: QUICK_IDLE_S,
            allow_other_processes: false,
        }
    }
}

/// The kernels of the suite, in order.
pub fn plan(quick: bool) -> Vec<Kernel> {
    use MathMode::*;
    let mut v = Vec::new();
    if quick {
        for n in [512, 2048, 8192] {
            v.push(Kernel::square(Bf16, n));
        }
        for m in [Fp16, Tf32, Fp32, Fp8, Int8] {
            v.push(Kernel::square(m, 8192));
        }
        let (m, n, k) = TRANSFORMER_SHAPES[1];
        v.push(Kernel::Gemm {
            math: Bf16,
            m,
            n,
            k,
        });
    } else {
        for math in [Fp32, Tf32, Fp16, Bf16, Fp8, Int8] {
            for n in SIZES {
                v.push(Kernel::square(math, n));
            }
        }
        for (m, n, k) in TRANSFORMER_SHAPES {
            v.push(Kernel::Gemm {
                math: Bf16,
                m,
                n,
                k,
            });
        }
    }
    v.push(Kernel::Copy { bytes: COPY_BYTES });
    v.push(Kernel::Fma {
        elements: FMA_ELEMENTS,
    });
    v.push(Kernel::Launch);
    v
}

/// Upper bound of one kernel's time (prepare, warm-up, repeats, edge waits).
pub fn planned_kernel_s(opts: &SuiteOptions, period: Seconds) -> f64 {
    let edges = 2.0 * (period.0 + super::counter::POLL_S);
    PREPARE_ALLOWANCE_S
        + WARMUP_BUDGET_S
        + PROBE_TARGET_S * 4.0
        + opts.repeats as f64 * (opts.min_loop_s * LOOP_MARGIN + edges)
}

/// Upper bound of the whole run, by construction of the plan.
pub fn planned_duration(kernels: &[Kernel], opts: &SuiteOptions, period: Seconds) -> Seconds {
    let idle = opts.idle_s + 2.0 * period.0;
    Seconds(idle + kernels.len() as f64 * planned_kernel_s(opts, period))
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
    #[error("other compute processes are using the GPU (pids {0:?}): their energy would be counted; stop them or pass --allow-other-processes")]
    OtherProcesses(Vec<u32>),
    #[error("the record does not validate: {0}")]
    Invalid(String),
}

/// One repeat of one loop.
#[derive(Debug, Clone, Copy)]
struct Rep {
    steps: u64,
    seconds: f64,
    joules: f64,
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
    let others = meter.other_processes()?;
    let mut flags = Vec::new();
    if !others.is_empty() {
        if !opts.allow_other_processes {
            return Err(SuiteError::OtherProcesses(others));
        }
        flags.push(format!("other_processes_at_start:{}", others.len()));
    }
    let period = meter.update_period();
    let kernels = plan(opts.quick);
    progress(Progress::Start {
        planned_s: planned_duration(&kernels, opts, period).0,
        kernels: kernels.len(),
    });
    let first = meter.snapshot()?;

    // Idle with the context open.
    runner.synchronize()?;
    let w = meter.begin()?;
    runner.idle(Seconds(opts.idle_s))?;
    let m = meter.end(w)?;
    let idle_w = m.energy.0 / m.window.0;
    progress(Progress::Done {
        planned_s: opts.idle_s + 2.0 * period.0,
    });

    let mut micro = Vec::new();
    let mut skipped = Vec::new();
    for (i, k) in kernels.iter().enumerate() {
        if cancel.load(Ordering::SeqCst) {
            return Err(SuiteError::Cancelled);
        }
        let name = k.name();
        if !runner.supports(k) {
            skipped.push(name.clone());
            progress(Progress::Skipped { name });
            progress(Progress::Done {
                planned_s: planned_kernel_s(opts, period),
            });
            continue;
        }
        progress(Progress::Kernel {
            name: name.clone(),
            index: i,
        });
        let r = measure_kernel(meter, runner, k, opts, idle_w, cancel);
        runner.release();
        micro.push(r?);
        progress(Progress::Done {
            planned_s: planned_kernel_s(opts, period),
        });
    }
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
            "jouleprint calibrate{}: NVML energy ({}) over device-timed loops of each kernel, >= {} s after warm-up, {} repeat(s)",
            if opts.quick { " --quick" } else { "" },
            meter.energy_source().as_str(),
            opts.min_loop_s,
            opts.repeats
        )),
        measured_on: Some(now.format("%Y-%m-%d").to_string()),
        framework: Some(format!(
            "jouleprint {} runner: cuBLAS GEMMs (cublasGemmEx) on random normal inputs, CUDA-event timing",
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
        },
        energy_source: meter.energy_source().as_str().into(),
        conditions: Some(Conditions {
            temperature_before_c: first.temperature_c,
            temperature_after_c: last.temperature_c,
            sm_clock_before_mhz: first.sm_clock_mhz,
            sm_clock_after_mhz: last.sm_clock_mhz,
            throttle_reasons_before: bad_reasons(&first),
            throttle_reasons_after: bad_reasons(&last),
            other_processes: others.len() as u32,
        }),
        idle: IdleMeasurement {
            avg_power_w: idle_w,
            seconds: Some(m.window.0),
            note: Some("device idle with a CUDA context open".into()),
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
        }),
        derived: None,
    };
    rec.validate()
        .map_err(|e| SuiteError::Invalid(e.to_string()))?;
    rec.derived = derive(&rec).ok();
    Ok(rec)
}

/// Coefficients of a record, against the catalog entry of its device when known.
pub fn derive(rec: &CalibrationRecord) -> Result<Derived, shared::calibration::RecordError> {
    let base = base_profile(rec);
    let profile = derive_profile(rec, &base)?;
    let mut largest: BTreeMap<&str, f64> = BTreeMap::new();
    let gemms = || rec.micro.iter().filter(|m| m.kind == MeasurementKind::Gemm);
    for m in gemms() {
        let f = m.flops_per_step.unwrap_or(0.0);
        let e = largest.entry(m.dtype.as_str()).or_insert(0.0);
        if f > *e {
            *e = f;
        }
    }
    let rate_of_largest = |dtype: &str| {
        gemms()
            .filter(|m| {
                m.dtype == dtype
                    && Some(m.flops_per_step.unwrap_or(0.0)) == largest.get(dtype).copied()
            })
            .find_map(|m| m.flop_rate())
    };
    let gemm_efficiency = gemms()
        .filter_map(|m| {
            let rate = m.flop_rate()?;
            let top = rate_of_largest(&m.dtype)?;
            Some(GemmEfficiency {
                name: m.name.clone(),
                dtype: m.dtype.clone(),
                flops_per_step: m.flops_per_step.unwrap_or(0.0),
                tflops: rate / 1e12,
                efficiency: rate / top,
            })
        })
        .collect();
    let launch_energy_uj = rec
        .micro
        .iter()
        .find(|m| m.kind == MeasurementKind::Launch)
        .map(|m| (m.joules - rec.idle.avg_power_w * m.seconds).max(0.0) / m.steps as f64 * 1e6);
    Ok(Derived {
        profile,
        gemm_efficiency,
        launch_energy_uj,
    })
}

/// The catalog's datasheet profile of the record's device, or an empty one.
pub fn base_profile(rec: &CalibrationRecord) -> DeviceProfile {
    if let Some(spec) = shared::catalog::find(&rec.device.name) {
        return spec.datasheet_profile();
    }
    let id: String = rec
        .device
        .name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    DeviceProfile {
        id,
        name: rec.device.name.clone(),
        source: ProfileSource {
            kind: "measured".into(),
            detail: "device not in the catalog".into(),
            version: "measured".into(),
        },
        memory_gb: 0.0,
        power_limit_w: rec.device.power_limit_mw as f64 / 1000.0,
        idle_w: rec.idle.avg_power_w,
        active_floor_w: 0.0,
        gemm_tflops: BTreeMap::new(),
        gemm_latency_us: 5.0,
        pj_per_flop: BTreeMap::new(),
        mem_gbs: 0.0,
        pj_per_byte: 0.0,
        kernel_latency_us: 3.0,
        uncertainty: 0.08,
    }
}

/// The throttle reasons that invalidate a measurement (the service flags a run
/// with any reason in `conditions`; idle and power-cap reasons are normal).
fn bad_reasons(s: &Snapshot) -> Vec<String> {
    s.throttle_reasons
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

fn measure_kernel(
    meter: &mut dyn PowerMeter,
    runner: &mut dyn KernelRunner,
    k: &Kernel,
    opts: &SuiteOptions,
    idle_w: f64,
    cancel: &AtomicBool,
) -> Result<Measurement, SuiteError> {
    runner.prepare(k)?;
    // Warm-up, and the step time from device events.
    let (mut steps, mut spent) = (1u64, 0.0);
    let t_step = loop {
        let d = runner.run(k, steps)?.0;
        spent += d;
        if d >= PROBE_TARGET_S || spent >= WARMUP_BUDGET_S {
            break (d / steps as f64).max(1e-9);
        }
        steps *= 4;
    };
    let want = opts.min_loop_s.max(meter.min_window().0 * 1.05);
    let n = ((want / t_step).ceil() as u64).max(1);

    let mut reps = Vec::new();
    let mut flags = Vec::new();
    for _ in 0..opts.repeats {
        if cancel.load(Ordering::SeqCst) {
            return Err(SuiteError::Cancelled);
        }
        let before = meter.snapshot()?;
        runner.synchronize()?;
        let w = meter.begin()?;
        let busy = runner.run(k, n)?;
        runner.synchronize()?;
        // Clocks and throttling as the loop ends, before the wait for the
        // closing edge lets the GPU relax (that time is charged at idle power).
        let after = meter.snapshot()?;
        let m = meter.end(w)?;
        check(&before, &after, &mut flags);
        reps.push(Rep {
            steps: n,
            seconds: busy.0,
            joules: m.energy_of(busy, idle_w).0,
        });
    }
    Ok(measurement(k, &reps, flags))
}

/// Flag throttling and clock drops seen around a loop. Only reasons that make
/// the numbers untrustworthy are flags: the service stores a run with any flag
/// without using it, and running at the power limit (`sw_power_cap`) is the
/// normal state of a large GEMM, not a fault.
fn check(before: &Snapshot, after: &Snapshot, flags: &mut Vec<String>) {
    for r in before
        .throttle_reasons
        .iter()
        .chain(&after.throttle_reasons)
    {
        if !BAD_THROTTLE.contains(&r.as_str()) {
            continue;
        }
        let f = format!("throttle:{r}");
        if !flags.contains(&f) {
            flags.push(f);
        }
    }
    // Compared with the clock right after warm-up (not with the idle GPU's at
    // the start of the run): a drop during the loop means it heated up.
    if let (Some(b), Some(a)) = (before.sm_clock_mhz, after.sm_clock_mhz) {
        if (a as f64) < 0.9 * b as f64 && !flags.iter().any(|f| f == "clock_drop") {
            flags.push("clock_drop".into());
        }
    }
}

fn measurement(k: &Kernel, reps: &[Rep], flags: Vec<String>) -> Measurement {
    let steps: u64 = reps.iter().map(|r| r.steps).sum();
    let seconds: f64 = reps.iter().map(|r| r.seconds).sum();
    let joules: f64 = reps.iter().map(|r| r.joules).sum();
    let per_step: Vec<f64> = reps.iter().map(|r| r.joules / r.steps as f64).collect();
    let flops = k.flops();
    let bytes = k.bytes();
    let (m_, n_) = match *k {
        Kernel::Gemm { m, n, k: kk, .. } if m == n && n == kk => (None, Some(n)),
        Kernel::Gemm { m, n, k: kk, .. } => (Some([m, n, kk]), None),
        _ => (None, None),
    };
    // A launch loop's "work" is nothing: only memory and GEMM kernels carry FLOPs here
    // (the FMA's FLOPs are reported, but its coefficient is per byte).
    Measurement {
        name: k.name(),
        kind: k.kind(),
        dtype: k.dtype().into(),
        n: n_,
        mnk: m_,
        steps,
        seconds,
        joules,
        avg_power_w: Some(joules / seconds),
        flops_per_step: flops,
        bytes_per_step: bytes,
        spread: (reps.len() > 1).then(|| stats::spread(&per_step)),
        device_timed: true,
        seconds_per_step: Some(seconds / steps as f64),
        joules_per_step: Some(joules / steps as f64),
        tflops: flops.map(|f| f * steps as f64 / seconds / 1e12),
        gb_per_s: bytes.map(|b| b * steps as f64 / seconds / 1e9),
        pj_per_flop: flops.map(|f| joules / (f * steps as f64) * 1e12),
        pj_per_byte: bytes.map(|b| joules / (b * steps as f64) * 1e12),
        flags,
    }
}

/// A fixed-width table of the record and its derived coefficients.
pub fn summary(rec: &CalibrationRecord) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} ({}), power limit {:.0} W, idle {:.1} W, energy from {}",
        rec.device.name,
        rec.device.uuid.as_deref().unwrap_or("-"),
        rec.device.power_limit_mw as f64 / 1000.0,
        rec.idle.avg_power_w,
        rec.energy_source
    );
    let _ = writeln!(
        s,
        "{:<26} {:>9} {:>7} {:>8} {:>7} {:>10} {:>9} {:>7}  flags",
        "kernel", "steps", "s", "J", "W", "TFLOP/s", "pJ/unit", "spread"
    );
    for m in &rec.micro {
        let (rate, unit) = match m.kind {
            MeasurementKind::Memory | MeasurementKind::Elementwise => (
                m.gb_per_s.map(|g| format!("{g:.0} GB/s")),
                m.pj_per_byte.map(|p| format!("{p:.1}/B")),
            ),
            MeasurementKind::Launch => (
                Some(format!("{:.2} us", m.seconds / m.steps as f64 * 1e6)),
                None,
            ),
            MeasurementKind::Gemm => (
                m.tflops.map(|t| format!("{t:.1}")),
                m.pj_per_flop.map(|p| format!("{p:.3}")),
            ),
        };
        let _ = writeln!(
            s,
            "{:<26} {:>9} {:>7.2} {:>8.1} {:>7.1} {:>10} {:>9} {:>7}  {}",
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
            m.flags.join(",")
        );
    }
    if let Some(d) = &rec.derived {
        let p = &d.profile;
        let _ = writeln!(
            s,
            "derived: idle {:.1} W, active floor {:.1} W, {:.0} GB/s at {:.1} pJ/B (marginal), kernel {:.2} us, GEMM latency {:.1} us",
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
