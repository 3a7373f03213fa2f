//! The NVML power meter. This module is the one place where NVML's units
//! (millijoules, milliwatts) become the project's (`Joules`, `Watts`), through
//! `shared::units`.

use super::counter::{self, EnergyCounter, PowerIntegrator};
use super::procs::ProcessIdentity;
use super::traits::*;
use nvml_wrapper::bitmasks::device::ThrottleReasons;
use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
use nvml_wrapper::error::NvmlError;
use nvml_wrapper::Nvml;
use shared::units::{Joules, Seconds, Watts};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Power sampling period for GPUs without the energy counter.
const SAMPLE_PERIOD: Duration = Duration::from_millis(10);
/// Period of the clock/power/throttle sampling during loops.
const LOOP_SAMPLE_PERIOD: Duration = Duration::from_millis(20);

fn nvml_err(e: NvmlError) -> MeterError {
    MeterError::Nvml(e.to_string())
}

/// Open NVML, or say clearly why not (no driver, no library).
pub fn init() -> Result<Nvml, MeterError> {
    Nvml::init().map_err(|e| {
        MeterError::Unavailable(format!(
            "{e}. `jouleprint calibrate` and `measure` need an NVIDIA GPU with its driver \
             (libnvidia-ml.so.1); nothing was measured"
        ))
    })
}

/// Energy from NVML's total-energy counter, or from integrated power samples.
pub struct NvmlMeter {
    nvml: Arc<Nvml>,
    index: u32,
    info: DeviceInfo,
    source: EnergySource,
    period: Seconds,
    epoch: Instant,
    sampler: Option<PowerIntegrator>,
    procs: ProcessIdentity,
    loop_sampler: Option<(Arc<AtomicBool>, std::thread::JoinHandle<Vec<Sample>>)>,
}

/// One power reading, W.
fn power(nvml: &Nvml, index: u32) -> Result<Watts, NvmlError> {
    let d = nvml.device_by_index(index)?;
    Ok(Watts::from_milliwatts(d.power_usage()?))
}

impl NvmlMeter {
    /// Open device `index`: read its identity, find the energy source and
    /// measure the counter's update period.
    pub fn open(index: u32) -> Result<Self, MeterError> {
        let nvml = Arc::new(init()?);
        let count = nvml.device_count().map_err(nvml_err)?;
        if index >= count {
            return Err(MeterError::Unavailable(format!(
                "no GPU with index {index}: NVML sees {count}"
            )));
        }
        let d = nvml.device_by_index(index).map_err(nvml_err)?;
        let info = DeviceInfo {
            index,
            name: d.name().map_err(nvml_err)?,
            uuid: d.uuid().ok(),
            driver: nvml.sys_driver_version().ok(),
            power_limit_mw: d.enforced_power_limit().map_err(nvml_err)? as u64,
            max_sm_clock_mhz: d.max_clock_info(Clock::SM).ok(),
            max_mem_clock_mhz: d.max_clock_info(Clock::Memory).ok(),
            memory_mib: d.memory_info().ok().map(|m| m.total / 1048576),
        };
        // Before our CUDA context exists (the CLI opens the meter first): the
        // baseline that tells our process from others inside a container.
        let baseline = compute_pids(&d).map_err(nvml_err)?;
        let source = match d.total_energy_consumption() {
            Ok(_) => EnergySource::Counter,
            Err(NvmlError::NotSupported) => EnergySource::SampledPower,
            Err(e) => return Err(nvml_err(e)),
        };
        let sampler = match source {
            EnergySource::Counter => None,
            EnergySource::SampledPower => Some(Self::start_sampler(nvml.clone(), index)?),
        };
        let mut m = NvmlMeter {
            nvml,
            index,
            info,
            source,
            period: Seconds(0.1),
            epoch: Instant::now(),
            sampler,
            procs: ProcessIdentity::new(std::process::id(), baseline),
            loop_sampler: None,
        };
        m.period = counter::estimate_period(&mut m, 7)?;
        Ok(m)
    }

    fn start_sampler(nvml: Arc<Nvml>, index: u32) -> Result<PowerIntegrator, MeterError> {
        power(&nvml, index).map_err(nvml_err)?;
        Ok(PowerIntegrator::start(SAMPLE_PERIOD, move || {
            power(&nvml, index).ok()
        }))
    }

    /// Instantaneous power, W (for `measure`'s peak).
    pub fn power_now(&self) -> Result<Watts, MeterError> {
        power(&self.nvml, self.index).map_err(nvml_err)
    }
}

impl EnergyCounter for NvmlMeter {
    fn read(&mut self) -> Result<Joules, MeterError> {
        match &self.sampler {
            None => {
                let d = self.nvml.device_by_index(self.index).map_err(nvml_err)?;
                let mj = d.total_energy_consumption().map_err(nvml_err)?;
                Ok(Joules::from_millijoules(mj))
            }
            Some(s) => Ok(s.energy()),
        }
    }
    fn now(&self) -> f64 {
        self.epoch.elapsed().as_secs_f64()
    }
    fn pause(&mut self, s: f64) {
        std::thread::sleep(Duration::from_secs_f64(s));
    }
}

fn compute_pids(d: &nvml_wrapper::Device) -> Result<Vec<u32>, NvmlError> {
    Ok(d.running_compute_processes()?
        .into_iter()
        .map(|p| p.pid)
        .collect())
}

/// One reading of clocks, power, temperature and throttle reasons.
fn sample(nvml: &Nvml, index: u32, epoch: Instant) -> Option<Sample> {
    let d = nvml.device_by_index(index).ok()?;
    Some(Sample {
        t_s: epoch.elapsed().as_secs_f64(),
        sm_clock_mhz: d.clock_info(Clock::SM).ok(),
        power_w: d.power_usage().ok().map(|mw| Watts::from_milliwatts(mw).0),
        temperature_c: d.temperature(TemperatureSensor::Gpu).ok().map(|t| t as f64),
        throttle_reasons: d
            .current_throttle_reasons()
            .map(throttle_names)
            .unwrap_or_default(),
    })
}

/// NVML's throttle (clock event) reasons as snake_case names.
fn throttle_names(r: ThrottleReasons) -> Vec<String> {
    let table = [
        (ThrottleReasons::GPU_IDLE, "gpu_idle"),
        (
            ThrottleReasons::APPLICATIONS_CLOCKS_SETTING,
            "applications_clocks_setting",
        ),
        (ThrottleReasons::SW_POWER_CAP, "sw_power_cap"),
        (ThrottleReasons::HW_SLOWDOWN, "hw_slowdown"),
        (ThrottleReasons::SYNC_BOOST, "sync_boost"),
        (ThrottleReasons::SW_THERMAL_SLOWDOWN, "sw_thermal_slowdown"),
        (ThrottleReasons::HW_THERMAL_SLOWDOWN, "hw_thermal_slowdown"),
        (
            ThrottleReasons::HW_POWER_BRAKE_SLOWDOWN,
            "hw_power_brake_slowdown",
        ),
        (
            ThrottleReasons::DISPLAY_CLOCK_SETTING,
            "display_clock_setting",
        ),
    ];
    table
        .iter()
        .filter(|(b, _)| r.contains(*b))
        .map(|(_, n)| n.to_string())
        .collect()
}

impl PowerMeter for NvmlMeter {
    fn device(&self) -> &DeviceInfo {
        &self.info
    }
    fn energy_source(&self) -> EnergySource {
        self.source
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
        let d = self.nvml.device_by_index(self.index).map_err(nvml_err)?;
        Ok(Snapshot {
            temperature_c: d.temperature(TemperatureSensor::Gpu).ok().map(|t| t as f64),
            sm_clock_mhz: d.clock_info(Clock::SM).ok(),
            throttle_reasons: d
                .current_throttle_reasons()
                .map(throttle_names)
                .unwrap_or_default(),
        })
    }
    fn other_processes(&mut self) -> Result<Vec<u32>, MeterError> {
        let d = self.nvml.device_by_index(self.index).map_err(nvml_err)?;
        let listed = compute_pids(&d).map_err(nvml_err)?;
        Ok(self.procs.others(&listed))
    }
    fn identify_own_process(&mut self) -> Result<String, MeterError> {
        let d = self.nvml.device_by_index(self.index).map_err(nvml_err)?;
        let listed = compute_pids(&d).map_err(nvml_err)?;
        Ok(self.procs.identify(&listed))
    }
    fn start_sampling(&mut self) -> Result<(), MeterError> {
        let _ = self.stop_sampling();
        let stop = Arc::new(AtomicBool::new(false));
        let (nvml, index, epoch, s) = (self.nvml.clone(), self.index, self.epoch, stop.clone());
        let handle = std::thread::spawn(move || {
            let mut v = Vec::new();
            while !s.load(Ordering::SeqCst) {
                if let Some(x) = sample(&nvml, index, epoch) {
                    v.push(x);
                }
                std::thread::sleep(LOOP_SAMPLE_PERIOD);
            }
            v
        });
        self.loop_sampler = Some((stop, handle));
        Ok(())
    }
    fn stop_sampling(&mut self) -> Vec<Sample> {
        match self.loop_sampler.take() {
            Some((stop, h)) => {
                stop.store(true, Ordering::SeqCst);
                h.join().unwrap_or_default()
            }
            None => Vec::new(),
        }
    }
    fn sample_period(&self) -> Seconds {
        Seconds(LOOP_SAMPLE_PERIOD.as_secs_f64())
    }
}
