//! The calibration runner: NVML-measured microbenchmarks that yield idle watts,
//! joules per FLOP per precision and joules per byte of one GPU
//! (`docs/calibration.md`). Hardware sits behind [`PowerMeter`] and
//! [`KernelRunner`]; [`fake`] simulates a device so the whole pipeline runs in CI.
//!
//! The one crate of the workspace allowed `unsafe`, and only in [`cuda`]
//! (cuBLAS calls and kernel launches are FFI on raw device pointers).

#![deny(unsafe_code)]

pub(crate) mod counter;
#[allow(unsafe_code)]
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

use cuda::CudaRunner;
use nvml::NvmlMeter;

/// The real meter and runner for GPU `index`, or why not.
pub fn open(index: u32) -> Result<(NvmlMeter, CudaRunner), String> {
    let meter = NvmlMeter::open(index).map_err(|e| e.to_string())?;
    let runner = CudaRunner::open(index as usize).map_err(|e| e.to_string())?;
    let Some(want) = meter.device().uuid.clone() else {
        return Ok((meter, runner));
    };
    let same = |r: &CudaRunner| r.uuid().is_none_or(|u| u.eq_ignore_ascii_case(&want));
    if same(&runner) {
        return Ok((meter, runner));
    }
    // CUDA numbers devices differently (CUDA_VISIBLE_DEVICES, CUDA_DEVICE_ORDER):
    // find the ordinal with NVML's UUID.
    drop(runner);
    let count = cudarc::driver::CudaContext::device_count().map_err(|e| e.to_string())?;
    for ordinal in 0..count.max(0) as usize {
        if ordinal == index as usize {
            continue;
        }
        let r = CudaRunner::open(ordinal).map_err(|e| e.to_string())?;
        if same(&r) {
            return Ok((meter, r));
        }
    }
    Err(format!(
        "NVML device {index} ({want}) is not visible to CUDA (CUDA_VISIBLE_DEVICES?)"
    ))
}
