//! A simulated GPU: the power meter and kernel runner of the tests.
//!
//! Physics, from a [`DeviceProfile`] (the steady state `derive_profile` inverts):
//! power while a kernel stream runs = idle + active floor + pJ/FLOP x FLOP rate
//! (GEMMs) or + pJ/byte x byte rate (copy, element-wise); a GEMM step takes
//! max(F / throughput, bytes / bandwidth) + GEMM latency, a memory step
//! B / bandwidth + kernel latency, an empty kernel the kernel latency on the
//! device (and the host's launch time when the host launches each one).
//!
//! Transients of a real GPU, each a knob of [`SimConfig`]:
//! - power capping: kernels whose steady power is near the limit run at
//!   `capped_mhz` in steady state, but a cool GPU runs them at up to the boost
//!   clock (faster, same energy per step) until its thermal state `heat`
//!   approaches 1; heat relaxes toward 1 at the limit, else toward the share
//!   of the power range in use (time constant `heat_tau_s` heating,
//!   `cool_tau_s` cooling);
//! - a thermal clock drop after `clock_drop_after_s`;
//! - NVML listing this process under a host PID (`nvml_own_pid`, containers).
//!
//! Time is simulated (nothing sleeps); the energy counter reports whole
//! millijoules and only advances every `update_period`, like NVML's; the
//! meter's background sampling reads the simulated clocks every 20 ms.

use super::counter::{self, EnergyCounter};
use super::procs::ProcessIdentity;
use super::traits::*;
use shared::device::DeviceProfile;
use shared::units::{Joules, MathMode, Seconds};
use std::cell::RefCell;
use std::rc::Rc;

/// Interval of the simulated background sampling, s.
pub const SIM_SAMPLE_PERIOD_S: f64 = 0.020;
/// Clock of a GPU idle for a second or more, MHz (what NVML reports at rest).
const IDLE_MHZ: u32 = 345;

/// Settings of the simulated device.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The steady-state coefficients the simulation obeys.
    pub profile: DeviceProfile,
    pub info: DeviceInfo,
    /// How often the energy counter advances, s.
    pub update_period_s: f64,
    /// Host time between the start of a window and the first kernel, s.
    pub launch_gap_s: f64,
    /// Other compute processes on the device.
    pub other_processes: Vec<u32>,
    /// The PID NVML lists for this process (a container's host PID); `None`: our own PID.
    pub nvml_own_pid: Option<u32>,
    /// Throttle reasons reported by every snapshot and sample.
    pub throttle_reasons: Vec<String>,
    pub compute_capability: (u32, u32),
    pub sm_count: u32,
    pub max_threads_per_sm: u32,
    /// Simulated seconds after which the SM clock drops by a quarter (a GPU overheating).
    pub clock_drop_after_s: Option<f64>,
    /// Steady SM clock of loops at the power limit, MHz; `None`: no power-cap transient.
    pub capped_mhz: Option<u32>,
    pub heat_tau_s: f64,
    pub cool_tau_s: f64,
    /// Host time to launch one kernel, us (a host-bound loop of tiny kernels runs at this rate).
    pub host_launch_us: f64,
    /// Shapes (m, n, k) that run faster (factor > 1) or slower than the square GEMMs' rate.
    pub shape_speedup: Vec<([u64; 3], f64)>,
    /// Element-wise loops whose tensors fit in this many bytes of L2 (all four) run
    /// `l2_speedup` times faster.
    pub l2_bytes: u64,
    pub l2_speedup: f64,
}

shared::named_enum! {
    /// The simulated devices `jouleprint calibrate --simulate-device` offers.
    pub enum SimModel {
        /// [`SimConfig::h100`].
        H100 = "h100",
        /// [`SimConfig::h200`].
        H200 = "h200",
    }
}

impl SimModel {
    pub fn config(self) -> SimConfig {
        match self {
            SimModel::H100 => SimConfig::h100(),
            SimModel::H200 => SimConfig::h200(),
        }
    }
}

impl SimConfig {
    /// The reference H100 SXM: its built-in (measured) profile; no power-cap transient.
    pub fn h100() -> Self {
        #[allow(clippy::expect_used)]
        let spec = shared::catalog::find("h100-sxm").expect("h100-sxm is in the catalog");
        let profile = shared::calibration::builtin_profile(spec);
        Self::from_profile(profile, "NVIDIA H100 80GB HBM3")
    }

    /// An H200 SXM (141 GB HBM3e, 700 W, 132 SMs, boost 1980 MHz) from the
    /// catalog's datasheet profile, with the power-cap transient on: large GEMMs
    /// settle at 1755 MHz, a cool GPU runs them at up to 1980.
    pub fn h200() -> Self {
        #[allow(clippy::expect_used)]
        let spec = shared::catalog::find("h200-sxm").expect("h200-sxm is in the catalog");
        let mut cfg = Self::from_profile(spec.datasheet_profile(), "NVIDIA H200");
        cfg.capped_mhz = Some(1755);
        cfg
    }

    pub fn from_profile(profile: DeviceProfile, nvml_name: &str) -> Self {
        let info = DeviceInfo {
            index: 0,
            name: nvml_name.into(),
            uuid: Some("GPU-00000000-0000-4000-8000-000000000000".into()),
            driver: Some("simulated".into()),
            power_limit_mw: (profile.power_limit_w * 1000.0).round() as u64,
            max_sm_clock_mhz: Some(1980),
            max_mem_clock_mhz: Some(2619),
            memory_mib: Some((profile.memory_gb * 1e9 / 1048576.0).round() as u64),
        };
        SimConfig {
            profile,
            info,
            update_period_s: 0.020,
            launch_gap_s: 20e-6,
            other_processes: vec![],
            nvml_own_pid: None,
            throttle_reasons: vec![],
            compute_capability: (9, 0),
            sm_count: 132,
            max_threads_per_sm: 2048,
            clock_drop_after_s: None,
            capped_mhz: None,
            heat_tau_s: 1.0,
            cool_tau_s: 30.0,
            host_launch_us: 4.5,
            shape_speedup: vec![],
            l2_bytes: 50 << 20,
            l2_speedup: 2.5,
        }
    }

    fn boost_mhz(&self) -> u32 {
        self.info.max_sm_clock_mhz.unwrap_or(1980)
    }
}

/// What the device is doing during a stretch of simulated time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Activity {
    Idle,
    /// A kernel below the power limit: boost clock.
    Light,
    /// A kernel at the power limit: the capped clock once hot.
    Capped,
}

/// One step of a kernel in steady state.
#[derive(Debug, Clone, Copy)]
struct Step {
    /// Device seconds the step occupies (what events measure).
    seconds: f64,
    /// Energy of the step, J.
    joules: f64,
    activity: Activity,
}

#[derive(Debug)]
struct SimState {
    cfg: SimConfig,
    start: f64,
    now: f64,
    energy: f64,
    last_tick: f64,
    energy_at_tick: f64,
    /// Thermal state: 0 cool, 1 hot at steady power capping.
    heat: f64,
    activity: Activity,
    /// When the current idle stretch began.
    idle_since: f64,
    power: f64,
    context_open: bool,
    sampling: Option<(f64, Vec<Sample>)>,
}

impl SimState {
    fn idle_w(&self) -> f64 {
        self.cfg.profile.idle_w
    }
    fn hot(&self) -> bool {
        self.cfg
            .clock_drop_after_s
            .is_some_and(|t| self.now - self.start > t)
    }
    /// SM clock now.
    fn clock_mhz(&self) -> u32 {
        let boost = self.cfg.boost_mhz();
        let c = match (self.activity, self.cfg.capped_mhz) {
            // A GPU idle for less than a second still reports its boost clock.
            (Activity::Idle, _) if self.now - self.idle_since < 1.0 => boost,
            (Activity::Idle, _) => IDLE_MHZ,
            (Activity::Capped, Some(capped)) => {
                (capped as f64 + (boost - capped) as f64 * (1.0 - self.heat)).round() as u32
            }
            _ => boost,
        };
        if self.hot() {
            c * 3 / 4
        } else {
            c
        }
    }
    /// How much faster than steady state a capped kernel runs now.
    fn speedup(&self, activity: Activity) -> f64 {
        match (activity, self.cfg.capped_mhz) {
            (Activity::Capped, Some(capped)) => {
                let boost = self.cfg.boost_mhz() as f64;
                let c = capped as f64 + (boost - capped as f64) * (1.0 - self.heat);
                c / capped as f64
            }
            _ => 1.0,
        }
    }
    fn reasons(&self) -> Vec<String> {
        let mut r = self.cfg.throttle_reasons.clone();
        match self.activity {
            Activity::Idle => r.push("gpu_idle".into()),
            Activity::Capped if self.cfg.capped_mhz.is_some() => r.push("sw_power_cap".into()),
            _ => {}
        }
        r
    }
    fn temperature(&self) -> f64 {
        if self.hot() {
            88.0
        } else {
            (35.0 + 40.0 * self.heat).round()
        }
    }

    /// Run at `power` watts for `dt` seconds doing `activity`.
    fn advance(&mut self, dt: f64, power: f64, activity: Activity) {
        if activity == Activity::Idle && self.activity != Activity::Idle {
            self.idle_since = self.now;
        }
        self.activity = activity;
        self.power = power;
        let end = self.now + dt;
        // Samples at their times within this stretch (heat taken at the start).
        if let Some((next, mut v)) = self.sampling.take() {
            let mut next = next;
            while next <= end {
                v.push(Sample {
                    t_s: next,
                    sm_clock_mhz: Some(self.clock_mhz()),
                    power_w: Some(power),
                    temperature_c: Some(self.temperature()),
                    throttle_reasons: self.reasons(),
                });
                next += SIM_SAMPLE_PERIOD_S;
            }
            self.sampling = Some((next, v));
        }
        let (t0, e0) = (self.now, self.energy);
        self.now = end;
        self.energy += power * dt;
        let p = self.cfg.update_period_s;
        let tick = (self.now / p).floor() * p;
        if tick > self.last_tick {
            self.last_tick = tick;
            self.energy_at_tick = e0 + power * (tick - t0).max(0.0);
        }
        // Heat relaxes toward the share of the power range in use: fast when
        // heating, slowly when cooling.
        let p = &self.cfg.profile;
        let target = match activity {
            Activity::Idle => 0.0,
            Activity::Capped => 1.0,
            Activity::Light => ((power - p.idle_w) / (p.power_limit_w - p.idle_w)).clamp(0.0, 1.0),
        };
        let tau = if target > self.heat {
            self.cfg.heat_tau_s
        } else {
            self.cfg.cool_tau_s
        };
        self.heat = target + (self.heat - target) * (-dt / tau).exp();
    }

    fn idle_for(&mut self, dt: f64) {
        let idle = self.idle_w();
        self.advance(dt, idle, Activity::Idle);
    }

    /// A step of `k` in steady state, or `None` when the device cannot run it.
    fn step(&self, k: &Kernel) -> Option<Step> {
        let p = &self.cfg.profile;
        let busy = p.idle_w + p.active_floor_w;
        let limit = p.power_limit_w;
        let lat = p.kernel_latency_us * 1e-6;
        let classify = |seconds: f64, joules: f64| Step {
            seconds,
            joules,
            activity: if joules / seconds >= 0.9 * limit {
                Activity::Capped
            } else {
                Activity::Light
            },
        };
        match *k {
            Kernel::Gemm { math, m, n, k: kk } => {
                let tflops = *p.gemm_tflops.get(&math)?;
                let pj = *p.pj_per_flop.get(&math)?;
                let f = k.flops()?;
                let speed = self
                    .cfg
                    .shape_speedup
                    .iter()
                    .find(|(s, _)| *s == [m, n, kk])
                    .map(|(_, x)| *x)
                    .unwrap_or(1.0);
                let elem = match math {
                    MathMode::Fp32 | MathMode::Tf32 => 4.0,
                    MathMode::Fp16 | MathMode::Bf16 => 2.0,
                    MathMode::Fp8 | MathMode::Int8 => 1.0,
                };
                let bytes = elem * (m * kk + kk * n + m * n) as f64;
                let t = (f / (tflops * 1e12 * speed)).max(bytes / (p.mem_gbs * 1e9))
                    + p.gemm_latency_us * 1e-6;
                Some(classify(t, busy * t + pj * 1e-12 * f))
            }
            Kernel::Attention {
                batch_heads,
                seq,
                backward,
                ..
            } => {
                let tflops = *p.gemm_tflops.get(&MathMode::Bf16)?;
                let pj = *p.pj_per_flop.get(&MathMode::Bf16)?;
                let f = k.flops()?;
                // Softmax traffic: scores read and probabilities written
                // (forward); P and dP read, dS written (backward). bf16.
                let planes = if backward { 3.0 } else { 2.0 };
                let bytes = planes * 2.0 * batch_heads as f64 * (seq * seq) as f64;
                let t = f / (tflops * 1e12 * SIM_ATTENTION_GEMM_EFFICIENCY)
                    + bytes / (p.mem_gbs * 1e9)
                    + k.kernels_per_step() as f64 * lat;
                Some(classify(
                    t,
                    busy * t + pj * 1e-12 * f + p.pj_per_byte * 1e-12 * bytes,
                ))
            }
            Kernel::Copy { .. } | Kernel::Fma { .. } => {
                let b = k.bytes()?;
                let tensors = if matches!(k, Kernel::Copy { .. }) {
                    2
                } else {
                    4
                };
                let resident = k.tensor_bytes()? * tensors <= self.cfg.l2_bytes;
                let bw = p.mem_gbs * 1e9 * if resident { self.cfg.l2_speedup } else { 1.0 };
                let t = b / bw + lat;
                Some(classify(t, busy * t + p.pj_per_byte * 1e-12 * b))
            }
            Kernel::LaunchGraph { kernels } => {
                let t = kernels as f64 * lat;
                Some(classify(t, busy * t))
            }
            Kernel::LaunchStream => {
                // Host-bound: the device works `lat` of every launch interval.
                let t = lat.max(self.cfg.host_launch_us * 1e-6);
                Some(classify(t, busy * lat + p.idle_w * (t - lat)))
            }
            Kernel::Spin {
                sms,
                threads_per_sm,
            } => {
                if sms == 0
                    || sms > self.cfg.sm_count
                    || threads_per_sm > self.cfg.max_threads_per_sm
                {
                    return None;
                }
                let t = SPIN_CYCLES as f64 / (self.cfg.boost_mhz() as f64 * 1e6);
                let floor = p.active_floor_w
                    * sim_floor_share(
                        sms,
                        self.cfg.sm_count,
                        threads_per_sm,
                        self.cfg.max_threads_per_sm,
                    );
                Some(classify(t, (p.idle_w + floor) * t))
            }
        }
    }
}

/// Attention's batched products reach this fraction of the large-GEMM rate in the simulation.
pub const SIM_ATTENTION_GEMM_EFFICIENCY: f64 = 0.8;

/// Share of the active floor a spin kernel draws in the simulation: all of it
/// with every SM full, less with fewer SMs or threads (a made-up monotone
/// curve: the tests check the sweep reports what was simulated).
pub fn sim_floor_share(sms: u32, sm_count: u32, threads: u32, max_threads: u32) -> f64 {
    let s = sms as f64 / sm_count as f64;
    let t = threads as f64 / max_threads as f64;
    (0.2 + 0.8 * s) * (0.8 + 0.2 * t)
}

/// Handle on one simulated device; make its meter and runner from it.
#[derive(Debug, Clone)]
pub struct SimDevice(Rc<RefCell<SimState>>);

impl SimDevice {
    pub fn new(cfg: SimConfig) -> Self {
        // Start at an arbitrary time since "driver load", off the tick grid.
        let now = 1234.5678;
        let energy = now * cfg.profile.idle_w;
        SimDevice(Rc::new(RefCell::new(SimState {
            power: cfg.profile.idle_w,
            cfg,
            start: now,
            now,
            energy,
            last_tick: now,
            energy_at_tick: energy,
            heat: 0.0,
            activity: Activity::Idle,
            idle_since: now,
            context_open: false,
            sampling: None,
        })))
    }
    pub fn h100() -> Self {
        Self::new(SimConfig::h100())
    }
    pub fn profile(&self) -> DeviceProfile {
        self.0.borrow().cfg.profile.clone()
    }
    /// Simulated seconds since the device was created.
    pub fn now(&self) -> f64 {
        self.0.borrow().now
    }
    /// The simulated thermal state (0 cool, 1 hot).
    pub fn heat(&self) -> f64 {
        self.0.borrow().heat
    }
    /// Make the meter first (before the runner opens its "CUDA context"), as the CLI does.
    pub fn meter(&self) -> FakeMeter {
        let baseline = self.listed_pids();
        let mut m = FakeMeter {
            dev: self.clone(),
            info: self.0.borrow().cfg.info.clone(),
            period: Seconds(0.0),
            procs: ProcessIdentity::new(std::process::id(), baseline),
        };
        let period = counter::estimate_period(&mut m, 5).unwrap_or(Seconds(0.1));
        m.period = period;
        m
    }
    pub fn runner(&self) -> FakeRunner {
        self.0.borrow_mut().context_open = true;
        FakeRunner { dev: self.clone() }
    }
    /// Compute processes as NVML would list them (ours once a runner exists).
    fn listed_pids(&self) -> Vec<u32> {
        let s = self.0.borrow();
        let mut v = s.cfg.other_processes.clone();
        if s.context_open {
            v.push(s.cfg.nvml_own_pid.unwrap_or(std::process::id()));
        }
        v
    }
}

/// The simulated device's energy meter.
#[derive(Debug)]
pub struct FakeMeter {
    dev: SimDevice,
    info: DeviceInfo,
    period: Seconds,
    procs: ProcessIdentity,
}

impl EnergyCounter for FakeMeter {
    fn read(&mut self) -> Result<Joules, MeterError> {
        let s = self.dev.0.borrow();
        // Whole millijoules since "driver load", as NVML reports them.
        let mj = (s.energy_at_tick * 1000.0).floor() as u64;
        Ok(Joules::from_millijoules(mj))
    }
    fn now(&self) -> f64 {
        self.dev.0.borrow().now
    }
    fn pause(&mut self, s: f64) {
        self.dev.0.borrow_mut().idle_for(s);
    }
}

impl PowerMeter for FakeMeter {
    fn device(&self) -> &DeviceInfo {
        &self.info
    }
    fn energy_source(&self) -> EnergySource {
        EnergySource::Counter
    }
    fn update_period(&self) -> Seconds {
        self.period
    }
    fn begin(&mut self) -> Result<Window, MeterError> {
        let p = self.period;
        counter::begin(self, p)
    }
    fn end(&mut self, w: Window) -> Result<WindowMeasurement, MeterError> {
        let p = self.period;
        counter::end(self, w, p)
    }
    fn snapshot(&mut self) -> Result<Snapshot, MeterError> {
        let s = self.dev.0.borrow();
        Ok(Snapshot {
            temperature_c: Some(s.temperature()),
            sm_clock_mhz: Some(s.clock_mhz()),
            throttle_reasons: s.reasons(),
        })
    }
    fn other_processes(&mut self) -> Result<Vec<u32>, MeterError> {
        let listed = self.dev.listed_pids();
        Ok(self.procs.others(&listed))
    }
    fn identify_own_process(&mut self) -> Result<String, MeterError> {
        let listed = self.dev.listed_pids();
        Ok(self.procs.identify(&listed))
    }
    fn start_sampling(&mut self) -> Result<(), MeterError> {
        let mut s = self.dev.0.borrow_mut();
        s.sampling = Some((s.now, Vec::new()));
        Ok(())
    }
    fn stop_sampling(&mut self) -> Vec<Sample> {
        self.dev
            .0
            .borrow_mut()
            .sampling
            .take()
            .map(|(_, v)| v)
            .unwrap_or_default()
    }
    fn sample_period(&self) -> Seconds {
        Seconds(SIM_SAMPLE_PERIOD_S)
    }
}

/// The simulated device's kernel runner.
#[derive(Debug)]
pub struct FakeRunner {
    dev: SimDevice,
}

impl KernelRunner for FakeRunner {
    fn kind(&self) -> &'static str {
        "simulated"
    }
    fn compute_capability(&self) -> Option<(u32, u32)> {
        Some(self.dev.0.borrow().cfg.compute_capability)
    }
    fn sm_count(&self) -> Option<u32> {
        Some(self.dev.0.borrow().cfg.sm_count)
    }
    fn max_threads_per_sm(&self) -> Option<u32> {
        Some(self.dev.0.borrow().cfg.max_threads_per_sm)
    }
    fn supports(&self, k: &Kernel) -> bool {
        self.dev.0.borrow().step(k).is_some()
    }
    fn prepare(&mut self, k: &Kernel) -> Result<(), RunnerError> {
        if !self.supports(k) {
            return Err(RunnerError::Unsupported(k.name()));
        }
        self.dev.0.borrow_mut().idle_for(0.05);
        Ok(())
    }
    fn run(&mut self, k: &Kernel, steps: u64) -> Result<Seconds, RunnerError> {
        let mut s = self.dev.0.borrow_mut();
        let st = s
            .step(k)
            .ok_or_else(|| RunnerError::Unsupported(k.name()))?;
        // The host's launch gap: before the first kernel, not sampled as part of the loop.
        let gap = s.cfg.launch_gap_s;
        let sampling = s.sampling.take();
        s.idle_for(gap);
        let now = s.now;
        s.sampling = sampling.map(|(next, v)| (next.max(now), v));
        // In stretches of about 5 ms, so the clock and heat can change within a loop.
        let per = ((0.005 / st.seconds).ceil() as u64).max(1);
        let (mut left, mut total) = (steps, 0.0);
        while left > 0 {
            let n = per.min(left);
            let speed = s.speedup(st.activity);
            let dt = st.seconds * n as f64 / speed;
            s.advance(dt, st.joules / st.seconds * speed, st.activity);
            total += dt;
            left -= n;
        }
        Ok(Seconds(total))
    }
    fn synchronize(&mut self) -> Result<(), RunnerError> {
        Ok(())
    }
    fn idle(&mut self, d: Seconds) -> Result<(), RunnerError> {
        self.dev.0.borrow_mut().idle_for(d.0);
        Ok(())
    }
    fn release(&mut self) {}
}
