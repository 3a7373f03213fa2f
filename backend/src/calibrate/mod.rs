//! Calibration runner: NVML-measured microbenchmarks that yield idle watts,
//! joules per FLOP per precision and joules per byte of one GPU
//! (`docs/calibration.md`). Hardware sits behind [`PowerMeter`] and
//! [`KernelRunner`]; [`fake`] simulates a device so the whole pipeline runs in CI.

pub(crate) mod counter;
pub mod cuda;
pub mod fake;
pub mod nvml;
pub mod procs;
pub mod ptx;
pub mod stats;
pub mod submit;
pub mod suite;
pub mod traits;

pub use suite::{plan, planned_duration, run, DeviceShape, Planned, SuiteError, SuiteOptions};
pub use traits::*;
