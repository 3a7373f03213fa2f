//! A simulated GPU: the power meter and kernel runner of the tests.
//!
//! Physics, from a [`DeviceProfile`] (the model `derive_profile` inverts):
//! power while a kernel stream runs = idle + active floor + pJ/FLOP x FLOP rate
//! (GEMMs) or + pJ/byte x byte rate (copy, element-wise); a GEMM step takes
//! F / throughput + GEMM latency, a memory step B / bandwidth + kernel latency,
//! an empty kernel the kernel latency. Time is simulated (nothing sleeps); the
//! energy counter reports whole millijoules and only advances every
//! `update_period`, like NVML's.

use super::counter::{self, EnergyCounter};
use super::traits::*;
use shared::device::DeviceProfile;
use shared::units::{Joules, Seconds};
use std::cell::RefCell;
use std::rc::Rc;

/// Settings of the simulated device.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub profile: DeviceProfile,
    pub info: DeviceInfo,
    /// How often the energy counter advances, s.
    pub update_period_s: f64,
    /// Host time between the start of a window and the first kernel, s.
    pub launch_gap_s: f64,
    /// Other compute processes on the device.
    pub other_processes: Vec<u32>,
    /// Throttle reasons reported by every snapshot.
    pub throttle_reasons: Vec<String>,
    pub compute_capability: (u32, u32),
    /// Simulated seconds after which the SM clock drops (a GPU heating up).
    pub clock_drop_after_s: Option<f64>,
}

impl SimConfig {
    /// The reference H100 SXM: its built-in (measured) profile.
    pub fn h100() -> Self {
        #[allow(clippy::expect_used)]
        let spec = shared::catalog::find("h100-sxm").expect("h100-sxm is in the catalog");
        let profile = shared::catalog::builtin_profile(spec);
        Self::from_profile(profile, "NVIDIA H100 80GB HBM3")
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
        };
        SimConfig {
            profile,
            info,
            update_period_s: 0.020,
            launch_gap_s: 20e-6,
            other_processes: vec![],
            throttle_reasons: vec![],
            compute_capability: (9, 0),
            clock_drop_after_s: None,
        }
    }
}

#[derive(Debug)]
struct SimState {
    cfg: SimConfig,
    start: f64,
    now: f64,
    energy: f64,
    last_tick: f64,
    energy_at_tick: f64,
}

impl SimState {
    /// Run at `power` watts for `dt` seconds.
    fn advance(&mut self, dt: f64, power: f64) {
        let (t0, e0) = (self.now, self.energy);
        self.now += dt;
        self.energy += power * dt;
        let p = self.cfg.update_period_s;
        let tick = (self.now / p).floor() * p;
        if tick > self.last_tick {
            self.last_tick = tick;
            self.energy_at_tick = e0 + power * (tick - t0).max(0.0);
        }
    }
    fn idle_w(&self) -> f64 {
        self.cfg.profile.idle_w
    }
    /// Device seconds and energy (J) of one step.
    fn step(&self, k: &Kernel) -> Option<(f64, f64)> {
        let p = &self.cfg.profile;
        let busy = p.idle_w + p.active_floor_w;
        match *k {
            Kernel::Gemm { math, .. } => {
                let tflops = *p.gemm_tflops.get(&math)?;
                let pj = *p.pj_per_flop.get(&math)?;
                let f = k.flops()?;
                let t = f / (tflops * 1e12) + p.gemm_latency_us * 1e-6;
                Some((t, busy * t + pj * 1e-12 * f))
            }
            Kernel::Copy { .. } | Kernel::Fma { .. } => {
                let b = k.bytes()?;
                let t = b / (p.mem_gbs * 1e9) + p.kernel_latency_us * 1e-6;
                Some((t, busy * t + p.pj_per_byte * 1e-12 * b))
            }
            Kernel::Launch => {
                let t = p.kernel_latency_us * 1e-6;
                Some((t, busy * t))
            }
        }
    }
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
            cfg,
            start: now,
            now,
            energy,
            last_tick: now,
            energy_at_tick: energy,
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
    pub fn meter(&self) -> FakeMeter {
        let mut m = FakeMeter {
            dev: self.clone(),
            info: self.0.borrow().cfg.info.clone(),
            period: Seconds(0.0),
        };
        let period = counter::estimate_period(&mut m, 5).unwrap_or(Seconds(0.1));
        m.period = period;
        m
    }
    pub fn runner(&self) -> FakeRunner {
        FakeRunner { dev: self.clone() }
    }
}

/// The simulated device's energy meter.
#[derive(Debug)]
pub struct FakeMeter {
    dev: SimDevice,
    info: DeviceInfo,
    period: Seconds,
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
        let mut st = self.dev.0.borrow_mut();
        let idle = st.idle_w();
        st.advance(s, idle);
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
        let hot = s
            .cfg
            .clock_drop_after_s
            .is_some_and(|t| s.now - s.start > t);
        Ok(Snapshot {
            temperature_c: Some(if hot { 88.0 } else { 45.0 }),
            sm_clock_mhz: self
                .info
                .max_sm_clock_mhz
                .map(|c| if hot { c * 3 / 4 } else { c }),
            throttle_reasons: s.cfg.throttle_reasons.clone(),
        })
    }
    fn other_processes(&mut self) -> Result<Vec<u32>, MeterError> {
        Ok(self.dev.0.borrow().cfg.other_processes.clone())
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
        Some(132)
    }
    fn supports(&self, k: &Kernel) -> bool {
        self.dev.0.borrow().step(k).is_some()
    }
    fn prepare(&mut self, k: &Kernel) -> Result<(), RunnerError> {
        if !self.supports(k) {
            return Err(RunnerError::Unsupported(k.name()));
        }
        let mut s = self.dev.0.borrow_mut();
        let idle = s.idle_w();
        s.advance(0.05, idle);
        Ok(())
    }
    fn run(&mut self, k: &Kernel, steps: u64) -> Result<Seconds, RunnerError> {
        let mut s = self.dev.0.borrow_mut();
        let (t, e) = s
            .step(k)
            .ok_or_else(|| RunnerError::Unsupported(k.name()))?;
        let idle = s.idle_w();
        let gap = s.cfg.launch_gap_s;
        s.advance(gap, idle);
        let d = t * steps as f64;
        s.advance(d, e / t);
        Ok(Seconds(d))
    }
    fn synchronize(&mut self) -> Result<(), RunnerError> {
        Ok(())
    }
    fn idle(&mut self, d: Seconds) -> Result<(), RunnerError> {
        let mut s = self.dev.0.borrow_mut();
        let idle = s.idle_w();
        s.advance(d.0, idle);
        Ok(())
    }
    fn release(&mut self) {}
}
