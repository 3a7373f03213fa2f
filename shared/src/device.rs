//! Device catalog (datasheet values with sources) and device profiles (the
//! coefficients the energy model uses, from a datasheet or a measured calibration).

use crate::units::MathMode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A catalog entry: what the vendor publishes, each value with its source.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSpec {
    pub id: &'static str,
    pub name: &'static str,
    pub vendor: &'static str,
    /// Names NVML (or the vendor's SMI) reports for this device.
    pub nvml_names: &'static [&'static str],
    pub memory_gb: f64,
    /// Peak memory bandwidth, GB/s.
    pub mem_bw_gbs: f64,
    /// Board power / TDP, W.
    pub tdp_w: f64,
    /// Dense (no sparsity) peak TFLOP/s (TOP/s for int8) per math mode; absent = unsupported.
    pub dense_tflops: &'static [(MathMode, f64)],
    /// Host power beyond the accelerators, per accelerator, W (CPUs, memory, fans, NICs).
    pub host_w_per_device: f64,
    /// Embodied emissions of one device, kgCO2e (manufacturing), and its service life in years.
    pub embodied_kgco2e: f64,
    pub service_years: f64,
    /// Where each value comes from.
    pub sources: &'static str,
}

/// Where a profile's coefficients come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProfileSource {
    /// `datasheet` or `measured`.
    pub kind: String,
    /// A citation, or the calibration run(s) it was derived from.
    pub detail: String,
    /// A version a scenario can pin (`datasheet-2`, `measured:<run uuid>`, or the backend's profile version).
    pub version: String,
}

impl ProfileSource {
    /// Where the profile comes from, in the words the CLI and the page use:
    /// `measured (reference-2026-11-27)`, `datasheet (datasheet-2)`.
    pub fn origin(&self) -> String {
        let v = self
            .version
            .strip_prefix(&format!("{}:", self.kind))
            .unwrap_or(&self.version);
        if v.is_empty() || v == self.kind {
            self.kind.clone()
        } else {
            format!("{} ({v})", self.kind)
        }
    }
}

/// The coefficients of the energy model for one device (see `docs/energy-model.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeviceProfile {
    pub id: String,
    pub name: String,
    pub source: ProfileSource,
    pub memory_gb: f64,
    pub power_limit_w: f64,
    /// Power with a CUDA context open and nothing running, W.
    pub idle_w: f64,
    /// Power above idle while a stream of kernels keeps the device busy, before any work, W.
    pub active_floor_w: f64,
    /// Achieved large-GEMM throughput per math mode, TFLOP/s.
    pub gemm_tflops: BTreeMap<MathMode, f64>,
    /// Fixed time of one GEMM kernel beyond its FLOPs (fill and drain), microseconds.
    pub gemm_latency_us: f64,
    /// Marginal energy per FLOP above idle and floor, per math mode, pJ.
    pub pj_per_flop: BTreeMap<MathMode, f64>,
    /// Achieved bandwidth of a large element-wise kernel, GB/s.
    pub mem_gbs: f64,
    /// Marginal energy per byte moved above idle and floor, pJ.
    pub pj_per_byte: f64,
    /// Minimum device time of one small kernel, microseconds.
    pub kernel_latency_us: f64,
    /// Relative uncertainty of the coefficients themselves: recorded with the
    /// profile; ranges come from measured residuals (`ranges`), not from it.
    pub uncertainty: f64,
    /// Shape-aware kernel rates; absent in profiles pinned before them (then
    /// every GEMM runs at the large-GEMM rate and attention at half of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernels: Option<KernelModel>,
    /// How devices of this kind talk (collectives of parallel training and
    /// serving); absent in profiles pinned before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub links: Option<Links>,
}

/// Interconnect of a device (`catalog::network`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Links {
    /// Devices joined by the fast fabric (NVLink/NVSwitch, Infinity Fabric, ICI).
    pub domain: u32,
    /// Large all-reduce bus bandwidth inside the domain, GB/s per device.
    pub intra_gbs: f64,
    /// Achieved network bandwidth to other domains, GB/s per device.
    pub network_gbs: f64,
    /// The fabric reduces in the switch (NVLink SHARP): its bandwidth curve.
    #[serde(default)]
    pub nvls: bool,
}

/// What shape-aware kernel rates need of a device (`docs/energy-model.md`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelModel {
    /// Streaming multiprocessors (compute units): GEMM tiles run in waves of this many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_count: Option<u32>,
    /// Output tiles the GEMM library chooses from ([rows, columns]).
    #[serde(default)]
    pub tiles: Vec<[u32; 2]>,
    /// Fused attention, forward and backward, as fractions of the large-GEMM
    /// rate: the kernel eager PyTorch runs (FlashAttention-2 where it runs)...
    pub attention: [f64; 2],
    /// ...and fused-kernel software (compiled, serving, Megatron-like).
    pub attention_fused: [f64; 2],
}

impl DeviceProfile {
    /// Devices per fast domain (NVLink/NVSwitch node): 8, a DGX node, for a
    /// profile pinned before it had `links`.
    pub fn domain(&self) -> u64 {
        self.links.map_or(8, |l| u64::from(l.domain.max(1)))
    }

    /// The math mode the device actually runs for a requested one (e.g. fp8 on a
    /// V100 falls back to fp16), or `None` when nothing close is supported.
    pub fn effective_math(&self, m: MathMode) -> Option<MathMode> {
        let chain: &[MathMode] = match m {
            MathMode::Fp8 => &[MathMode::Fp8, MathMode::Bf16, MathMode::Fp16],
            MathMode::Int8 => &[MathMode::Int8, MathMode::Fp16, MathMode::Bf16],
            MathMode::Bf16 => &[MathMode::Bf16, MathMode::Fp16],
            MathMode::Tf32 => &[MathMode::Tf32, MathMode::Fp32],
            MathMode::Fp16 => &[MathMode::Fp16],
            MathMode::Fp32 => &[MathMode::Fp32],
        };
        chain
            .iter()
            .copied()
            .find(|c| self.gemm_tflops.contains_key(c) && self.pj_per_flop.contains_key(c))
    }

    /// The fastest math mode the device has (e.g. bf16 on a TPU asked for fp32).
    pub fn best_math(&self) -> Option<MathMode> {
        self.gemm_tflops
            .iter()
            .filter(|(m, _)| self.pj_per_flop.contains_key(*m))
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(m, _)| *m)
    }

    /// The same device with another active floor: the marginal energies are
    /// re-derived so that each calibration loop's total power is unchanged.
    pub fn with_floor(&self, floor_w: f64) -> DeviceProfile {
        let d = self.active_floor_w - floor_w;
        let mut p = self.clone();
        p.active_floor_w = floor_w;
        for (m, pj) in p.pj_per_flop.iter_mut() {
            if let Some(r) = self.gemm_tflops.get(m) {
                *pj = (*pj + d / r).max(0.01);
            }
        }
        p.pj_per_byte = (p.pj_per_byte + d / self.mem_gbs * 1e3).max(0.01);
        p
    }
}
