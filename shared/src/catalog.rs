//! The built-in device catalog (datasheet values, each with its source) and
//! the profiles derived from it. See `docs/energy-model.md` for the assumptions.

use crate::calibration::{derive_profile, CalibrationRecord};
use crate::device::{DeviceProfile, DeviceSpec, ProfileSource};
use crate::units::MathMode::{self, *};
use std::collections::BTreeMap;

/// The reference calibration of an H100 SXM, built in (see `shared/data/PROVENANCE.md`).
pub const H100_REFERENCE_CALIBRATION: &str = include_str!("../data/h100-sxm-calibration.json");

pub static CATALOG: &[DeviceSpec] = &[
    DeviceSpec {
        id: "h100-sxm",
        name: "NVIDIA H100 SXM5 80GB",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM5 80GB"],
        memory_gb: 80.0,
        mem_bw_gbs: 3350.0,
        tdp_w: 700.0,
        dense_tflops: &[(Fp32, 66.9), (Tf32, 494.7), (Fp16, 989.4), (Bf16, 989.4), (Fp8, 1978.9), (Int8, 1978.9)],
        host_w_per_device: 575.0,
        embodied_kgco2e: 150.0,
        service_years: 5.0,
        sources: "NVIDIA H100 Tensor Core GPU datasheet (2023), SXM column, dense = half the sparse figures; host: DGX H100 rated 10.2 kW max for 8 x 700 W GPUs -> (10200-5600)/8 W; embodied: assumption, see docs/energy-model.md",
    },
];

/// Fractions of datasheet peak reached by a large GEMM, per math mode, from the
/// reference H100 calibration (achieved / datasheet dense peak).
fn achieved_fraction(m: MathMode) -> f64 {
    match m {
        Fp32 => 50.91 / 66.9,
        Tf32 => 354.37 / 494.7,
        Fp16 => 655.28 / 989.4,
        Bf16 => 683.26 / 989.4,
        Fp8 => 1230.9 / 1978.9,
        Int8 => 1230.9 / 1978.9,
    }
}

/// Ratios from the reference H100 (700 W limit) applied to other devices' TDP.
pub mod datasheet_assumptions {
    /// Idle with a context open / power limit: 121.6 W / 700 W.
    pub const IDLE_FRACTION: f64 = 121.59 / 700.0;
    /// Active floor / power limit: 39.7 W / 700 W (from the 512 vs 8192 GEMM loops).
    pub const FLOOR_FRACTION: f64 = 0.057;
    /// A large element-wise kernel's power / power limit: 562.4 W / 700 W.
    pub const ELEMENTWISE_POWER_FRACTION: f64 = 562.41 / 700.0;
    /// Achieved / datasheet memory bandwidth: 3124.8 / 3350 GB/s.
    pub const BANDWIDTH_FRACTION: f64 = 3124.8 / 3350.0;
    pub const GEMM_LATENCY_US: f64 = 1.8;
    pub const KERNEL_LATENCY_US: f64 = 3.0;
    /// Relative uncertainty of a datasheet-derived profile.
    pub const UNCERTAINTY: f64 = 0.30;
}

impl DeviceSpec {
    /// The profile derived from datasheet values alone: a large GEMM is assumed to
    /// run at the power limit, as the reference H100's did (695-710 W at 700 W).
    pub fn datasheet_profile(&self) -> DeviceProfile {
        use datasheet_assumptions::*;
        let idle = IDLE_FRACTION * self.tdp_w;
        let floor = FLOOR_FRACTION * self.tdp_w;
        let mut gemm = BTreeMap::new();
        let mut pj = BTreeMap::new();
        for &(m, peak) in self.dense_tflops {
            let rate = peak * achieved_fraction(m);
            gemm.insert(m, rate);
            pj.insert(m, (self.tdp_w - idle - floor) / (rate * 1e12) * 1e12);
        }
        let mem = self.mem_bw_gbs * BANDWIDTH_FRACTION;
        DeviceProfile {
            id: self.id.to_string(),
            name: self.name.to_string(),
            source: ProfileSource {
                kind: "datasheet".into(),
                detail: self.sources.to_string(),
                version: "datasheet-1".into(),
            },
            memory_gb: self.memory_gb,
            power_limit_w: self.tdp_w,
            idle_w: idle,
            active_floor_w: floor,
            gemm_tflops: gemm,
            gemm_latency_us: GEMM_LATENCY_US,
            pj_per_flop: pj,
            mem_gbs: mem,
            pj_per_byte: (ELEMENTWISE_POWER_FRACTION * self.tdp_w - idle - floor) / (mem * 1e9)
                * 1e12,
            kernel_latency_us: KERNEL_LATENCY_US,
            uncertainty: UNCERTAINTY,
        }
    }
}

/// Find a catalog entry by id or NVML name (case-insensitive).
pub fn find(id_or_name: &str) -> Option<&'static DeviceSpec> {
    let q = id_or_name.trim().to_ascii_lowercase();
    CATALOG.iter().find(|d| {
        d.id == q
            || d.name.to_ascii_lowercase() == q
            || d.nvml_names.iter().any(|n| n.to_ascii_lowercase() == q)
    })
}

/// The built-in profile of a device: the measured one where the project ships a
/// calibration (H100 SXM), else the datasheet one.
pub fn builtin_profile(spec: &DeviceSpec) -> DeviceProfile {
    let base = spec.datasheet_profile();
    if spec.id == "h100-sxm" {
        if let Ok(rec) = serde_json::from_str::<CalibrationRecord>(H100_REFERENCE_CALIBRATION) {
            if let Ok(mut p) = derive_profile(&rec, &base) {
                p.source.detail = format!("reference calibration of 2026-11-27 (shared/data/h100-sxm-calibration.json): {}", p.source.detail);
                p.source.version = "measured:reference-2026-11-27".into();
                return p;
            }
        }
    }
    base
}
