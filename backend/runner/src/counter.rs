//! Window logic shared by every meter built on a monotonic energy counter
//! (NVML's, the integrated power samples, the simulated one): open and close
//! windows on counter update edges, measure the update period.

use super::traits::{MeterError, Window, WindowMeasurement, MIN_PERIODS_PER_WINDOW};
use shared::units::{Joules, Seconds, Watts};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A monotonic energy counter and the clock it is read against.
pub(crate) trait EnergyCounter {
    fn read(&mut self) -> Result<Joules, MeterError>;
    /// Seconds on the meter's clock.
    fn now(&self) -> f64;
    /// Wait `s` seconds (the fake advances its simulated clock).
    fn pause(&mut self, s: f64);
}

/// Poll interval while waiting for an edge.
pub(crate) const POLL_S: f64 = 0.0005;

/// Wait until the counter changes; return its new value and the time it was seen.
pub(crate) fn wait_edge(
    c: &mut dyn EnergyCounter,
    timeout_s: f64,
) -> Result<(Joules, f64), MeterError> {
    let v0 = c.read()?;
    let t0 = c.now();
    loop {
        c.pause(POLL_S);
        let v = c.read()?;
        let t = c.now();
        if v != v0 {
            return Ok((v, t));
        }
        if t - t0 > timeout_s {
            return Err(MeterError::CounterStuck(t - t0));
        }
    }
}

/// Median interval between counter updates over `edges` edges.
pub(crate) fn estimate_period(
    c: &mut dyn EnergyCounter,
    edges: usize,
) -> Result<Seconds, MeterError> {
    let (_, mut last) = wait_edge(c, 2.0)?;
    let mut gaps = Vec::with_capacity(edges);
    for _ in 0..edges {
        let (_, t) = wait_edge(c, 2.0)?;
        gaps.push(t - last);
        last = t;
    }
    let median = shared::stats::median(&gaps).unwrap_or(POLL_S);
    Ok(Seconds(median.max(POLL_S)))
}

pub(crate) fn begin(c: &mut dyn EnergyCounter, period: Seconds) -> Result<Window, MeterError> {
    let (e, t) = wait_edge(c, timeout(period))?;
    Ok(Window {
        start_energy: e,
        start_s: t,
    })
}

pub(crate) fn end(
    c: &mut dyn EnergyCounter,
    w: Window,
    period: Seconds,
) -> Result<WindowMeasurement, MeterError> {
    let called = c.now();
    let active = called - w.start_s;
    let min = period.0 * MIN_PERIODS_PER_WINDOW;
    if active < min {
        return Err(MeterError::WindowTooShort {
            got: active,
            min,
            period: period.0,
        });
    }
    let (e, t) = wait_edge(c, timeout(period))?;
    Ok(WindowMeasurement {
        energy: Joules(e.0 - w.start_energy.0),
        window: Seconds(t - w.start_s),
        active: Seconds(active),
    })
}

fn timeout(period: Seconds) -> f64 {
    4.0 * period.0 + 0.2
}

/// A software energy counter for GPUs without one: a thread samples power
/// every `period` and integrates it (trapezoid rule). The counter advances
/// once per sample, so windows on it work like windows on NVML's.
pub(crate) struct PowerIntegrator {
    joules: Arc<Mutex<f64>>,
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl PowerIntegrator {
    /// `read` returns the power now, or `None` when a reading failed (the last one is kept).
    pub(crate) fn start(
        period: Duration,
        mut read: impl FnMut() -> Option<Watts> + Send + 'static,
    ) -> Self {
        let joules = Arc::new(Mutex::new(0.0));
        let stop = Arc::new(AtomicBool::new(false));
        let (j, s) = (joules.clone(), stop.clone());
        let handle = std::thread::spawn(move || {
            let mut last = Instant::now();
            let mut last_w = read().map(|w| w.0).unwrap_or(0.0);
            while !s.load(Ordering::SeqCst) {
                std::thread::sleep(period);
                let now = Instant::now();
                let w = read().map(|w| w.0).unwrap_or(last_w);
                let dt = now.duration_since(last).as_secs_f64();
                if let Ok(mut total) = j.lock() {
                    *total += 0.5 * (w + last_w) * dt;
                }
                last = now;
                last_w = w;
            }
        });
        PowerIntegrator {
            joules,
            stop,
            handle: Some(handle),
        }
    }

    pub(crate) fn energy(&self) -> Joules {
        Joules(self.joules.lock().map(|j| *j).unwrap_or(0.0))
    }
}

impl Drop for PowerIntegrator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integrated_power_is_a_counter_with_edges() {
        let p = PowerIntegrator::start(Duration::from_millis(5), || Some(Watts(100.0)));
        let t0 = Instant::now();
        let e0 = p.energy().0;
        std::thread::sleep(Duration::from_millis(300));
        let (e1, dt) = (p.energy().0, t0.elapsed().as_secs_f64());
        let w = (e1 - e0) / dt;
        assert!((70.0..=110.0).contains(&w), "{w} W from a 100 W source");
    }
}
