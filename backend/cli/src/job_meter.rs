//! The energy meter `jouleprint measure` reads at the markers: NVML's
//! counter through the calibration runner's measurement windows (opened and
//! closed on counter updates, `docs/calibration.md`), or, for tests, a fake
//! meter on the wall clock that draws a constant, known power.

use runner::nvml::NvmlMeter;
use runner::{MeterError, PowerMeter, Window, BAD_THROTTLE};
use shared::api::RunEnvironment;
use std::time::{Duration, Instant};

/// A closed window: its energy, edge to edge.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Closed {
    pub joules: f64,
    /// Seconds from the update that opened the window to the one that closed it.
    pub window_s: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum MeterFailure {
    #[error(transparent)]
    Meter(#[from] MeterError),
    #[error("a window of another meter was closed")]
    NotOpen,
}

/// An open window (several may be open at once: the whole command's, and
/// one between markers).
#[derive(Debug)]
pub struct Opened(OpenedOn);

#[derive(Debug)]
enum OpenedOn {
    Nvml(Window),
    /// The fake counter's update index.
    Fake(u64),
}

/// What `measure` needs of a meter.
pub trait JobMeter {
    /// The device's name as NVML reports it.
    fn device_name(&self) -> String;
    /// How often the energy counter advances, s.
    fn period_s(&self) -> f64;
    /// Open a window on the next counter update.
    fn open(&mut self) -> Result<Opened, MeterFailure>;
    /// Close a window on the next counter update.
    fn close(&mut self, w: Opened) -> Result<Closed, MeterFailure>;
    /// Power now, W (for the peak), if it can be read.
    fn power_now(&mut self) -> Option<f64>;
    /// Compute processes on the GPU other than this one.
    fn other_processes(&mut self) -> Vec<u32>;
    /// Throttle reasons now that make a measurement untrustworthy.
    fn bad_throttle(&mut self) -> Vec<String>;
    /// Driver, CUDA, power limit, energy source and counter period.
    fn environment(&self) -> RunEnvironment;
}

/// NVML's counter, through the runner's measurement windows.
pub struct Nvml {
    meter: NvmlMeter,
    cuda: Option<String>,
}

impl Nvml {
    pub fn open(index: u32) -> Result<Nvml, MeterError> {
        let meter = NvmlMeter::open(index)?;
        // NVML's CUDA version is 1000 x major + 10 x minor (12040: 12.4).
        let cuda = runner::nvml::init()
            .ok()
            .and_then(|n| n.sys_cuda_driver_version().ok())
            .map(|v| format!("{}.{}", v / 1000, (v % 1000) / 10));
        Ok(Nvml { meter, cuda })
    }
}

impl JobMeter for Nvml {
    fn device_name(&self) -> String {
        self.meter.device().name.clone()
    }
    fn period_s(&self) -> f64 {
        self.meter.update_period().0
    }
    fn open(&mut self) -> Result<Opened, MeterFailure> {
        Ok(Opened(OpenedOn::Nvml(self.meter.begin()?)))
    }
    fn close(&mut self, w: Opened) -> Result<Closed, MeterFailure> {
        let Opened(OpenedOn::Nvml(w)) = w else {
            return Err(MeterFailure::NotOpen);
        };
        let m = self.meter.end(w)?;
        Ok(Closed {
            joules: m.energy.0,
            window_s: m.window.0,
        })
    }
    fn power_now(&mut self) -> Option<f64> {
        self.meter.power_now().ok().map(|w| w.0)
    }
    fn other_processes(&mut self) -> Vec<u32> {
        self.meter.other_processes().unwrap_or_default()
    }
    fn bad_throttle(&mut self) -> Vec<String> {
        self.meter
            .snapshot()
            .map(|s| {
                s.throttle_reasons
                    .into_iter()
                    .filter(|r| BAD_THROTTLE.contains(&r.as_str()))
                    .collect()
            })
            .unwrap_or_default()
    }
    fn environment(&self) -> RunEnvironment {
        let d = self.meter.device();
        RunEnvironment {
            driver: d.driver.clone(),
            cuda: self.cuda.clone(),
            power_limit_w: Some(d.power_limit_mw as f64 / 1000.0),
            energy_source: Some(self.meter.energy_source().as_str().to_string()),
            counter_update_period_s: Some(self.period_s()),
            ..RunEnvironment::default()
        }
    }
}

/// The test meter: a GPU that draws `watts` all the time, with a counter in
/// whole millijoules that advances every [`Fake::PERIOD_S`] on the wall
/// clock, so windows open and close on updates as NVML's do. Its runs say
/// `energy_source: fake`.
pub struct Fake {
    watts: f64,
    origin: Instant,
}

impl Fake {
    pub const PERIOD_S: f64 = 0.02;
    /// The NVML name it reports (an H100 SXM).
    pub const DEVICE: &'static str = "NVIDIA H100 80GB HBM3";
    /// The power limit it reports, W (the H100 SXM's board power).
    pub const POWER_LIMIT_W: f64 = 700.0;

    pub fn new(watts: f64) -> Fake {
        Fake {
            watts,
            origin: Instant::now(),
        }
    }

    /// The counter at update `k`: whole millijoules.
    fn counter_j(&self, k: u64) -> f64 {
        (self.watts * k as f64 * Self::PERIOD_S * 1000.0).floor() / 1000.0
    }

    /// Wait for the next update; its index.
    fn next_update(&self) -> u64 {
        let now = self.origin.elapsed().as_secs_f64();
        let k = (now / Self::PERIOD_S).floor() as u64 + 1;
        let at = self.origin + Duration::from_secs_f64(k as f64 * Self::PERIOD_S);
        if let Some(wait) = at.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        k
    }
}

impl JobMeter for Fake {
    fn device_name(&self) -> String {
        Self::DEVICE.into()
    }
    fn period_s(&self) -> f64 {
        Self::PERIOD_S
    }
    fn open(&mut self) -> Result<Opened, MeterFailure> {
        Ok(Opened(OpenedOn::Fake(self.next_update())))
    }
    fn close(&mut self, w: Opened) -> Result<Closed, MeterFailure> {
        let Opened(OpenedOn::Fake(k0)) = w else {
            return Err(MeterFailure::NotOpen);
        };
        let k1 = self.next_update();
        Ok(Closed {
            joules: self.counter_j(k1) - self.counter_j(k0),
            window_s: (k1 - k0) as f64 * Self::PERIOD_S,
        })
    }
    fn power_now(&mut self) -> Option<f64> {
        Some(self.watts)
    }
    fn other_processes(&mut self) -> Vec<u32> {
        vec![]
    }
    fn bad_throttle(&mut self) -> Vec<String> {
        vec![]
    }
    fn environment(&self) -> RunEnvironment {
        RunEnvironment {
            power_limit_w: Some(Self::POWER_LIMIT_W),
            energy_source: Some("fake".into()),
            counter_update_period_s: Some(Self::PERIOD_S),
            ..RunEnvironment::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fake_counts_its_power_over_whole_updates() {
        let mut f = Fake::new(300.0);
        let w = f.open().expect("open");
        std::thread::sleep(Duration::from_millis(70));
        let c = f.close(w).expect("close");
        // 70 ms rounded up to whole 20 ms updates: 4 or 5 of them (scheduling).
        let updates = (c.window_s / Fake::PERIOD_S).round();
        assert!((4.0..=6.0).contains(&updates), "{c:?}");
        assert!((c.window_s - updates * 0.02).abs() < 1e-9);
        // 300 W over the window, to a millijoule.
        assert!((c.joules - 300.0 * c.window_s).abs() <= 1e-3, "{c:?}");
    }
}
