//! Per-architecture efficiency and power: what a datasheet device reaches of
//! its peaks, from public measurements (`shared/data/architectures.json` holds
//! every figure with its source and the alternatives; `architectures.md` the
//! references). The H100 reference calibration applies to GH100 parts only;
//! where nothing public exists for an architecture, the H100's measured ratio
//! is used and the profile says so (`by_analogy`).

use crate::units::MathMode::{self, *};

/// Measured ratios of the reference H100 SXM (700 W): the fallback.
pub mod h100 {
    /// Idle with a context open / power limit: 121.6 W / 700 W.
    pub const IDLE_FRACTION: f64 = 121.59 / 700.0;
    /// A large element-wise kernel's power / power limit: 562.4 W / 700 W.
    pub const ELEMENTWISE_POWER_FRACTION: f64 = 562.41 / 700.0;
    /// Achieved / datasheet memory bandwidth: 3124.8 / 3350 GB/s.
    pub const BANDWIDTH_FRACTION: f64 = 3124.8 / 3350.0;
    /// Large GEMMs ran at the power limit (695-710 W at 700 W).
    pub const GEMM_POWER_FRACTION: f64 = 1.0;
}

/// One architecture family.
#[derive(Debug, Clone, PartialEq)]
pub struct Arch {
    pub id: &'static str,
    /// Catalog ids and their streaming multiprocessors (compute units on AMD);
    /// `None` where the unit is not an SM (TPU MXUs).
    pub devices: &'static [(&'static str, Option<u32>)],
    /// Sustained large-GEMM throughput / datasheet dense peak, per math mode.
    pub gemm_fraction: &'static [(MathMode, f64)],
    /// A member's own measurement by the same source as `gemm_fraction`,
    /// where it differs from the family's (a power-capped or boosting part).
    pub device_gemm: &'static [(&'static str, MathMode, f64)],
    /// Streaming bandwidth / datasheet bandwidth.
    pub bw_fraction: Option<f64>,
    /// Idle power with a context open / TDP.
    pub idle_fraction: Option<f64>,
    /// A member's measured idle power with a context open, in watts: it is set
    /// by the die's clock and voltage state, not the board's power limit
    /// (arXiv:2605.23918), so it carries to the family's other boards as watts.
    pub device_idle_w: &'static [(&'static str, f64)],
    /// Power of a large GEMM / TDP.
    pub gemm_power_fraction: Option<f64>,
    /// Fused attention (forward, backward) / dense peak, for the kernel eager
    /// PyTorch's SDPA runs on this architecture (FlashAttention-2 where it
    /// runs); `None`: half the GEMM rate (the reference H100's FA2 ratio).
    pub attention: Option<(f64, f64)>,
    /// The same for fused-kernel software (compiled, serving, Megatron-like)
    /// where a newer kernel exists (FlashAttention-3 on Hopper).
    pub attention_fused: Option<(f64, f64)>,
    /// Output tiles the GEMM libraries choose from, largest first.
    pub tiles: &'static [(u32, u32)],
    pub sources: &'static str,
}

/// cuBLAS/CUTLASS tile menu of the NVIDIA guide (sec. 2.3) for Volta to Blackwell.
const NV_TILES: &[(u32, u32)] = &[
    (256, 128),
    (128, 256),
    (128, 128),
    (128, 64),
    (64, 128),
    (64, 64),
];
const AMD_TILES: &[(u32, u32)] = &[(256, 256), (256, 128), (128, 128), (128, 64), (64, 64)];

pub static ARCHS: &[Arch] = &[
    Arch {
        id: "volta-gv100",
        devices: &[
            ("v100-sxm2-16gb", Some(80)),
            ("v100-sxm2-32gb", Some(80)),
            ("v100-pcie-16gb", Some(80)),
            ("v100-pcie-32gb", Some(80)),
        ],
        gemm_fraction: &[(Fp16, 0.759), (Fp32, 0.892)],
        device_gemm: &[],
        bw_fraction: Some(0.851),
        idle_fraction: None,
        device_idle_w: &[],
        gemm_power_fraction: None,
        attention: None,
        attention_fused: None,
        tiles: NV_TILES,
        sources: "fp16 0.759: community torch.mm database (zzc0721/torch-performance-test-data), V100-SXM2; fp32 0.892: gpu-fryer PR #9 (Jean Zay, 3 x 10 min); bandwidth 0.851: device-benchmarks (chsasank) torch copy_; 80 SMs: device properties",
    },
    Arch {
        id: "turing-tu104",
        devices: &[("t4", Some(40))],
        gemm_fraction: &[(Fp16, 0.645), (Fp32, 0.537)],
        device_gemm: &[],
        bw_fraction: Some(0.75),
        idle_fraction: None,
        device_idle_w: &[],
        gemm_power_fraction: None,
        attention: None,
        attention_fused: None,
        tiles: NV_TILES,
        sources: "fp16 0.645, fp32 0.537: community torch.mm database (T4); bandwidth 0.75: device-benchmarks torch copy_ (240 of 320 GB/s); 40 SMs: device properties",
    },
    Arch {
        id: "ampere-ga100",
        devices: &[
            ("a100-sxm-40gb", Some(108)),
            ("a100-sxm-80gb", Some(108)),
            ("a100-pcie-40gb", Some(108)),
            ("a100-pcie-80gb", Some(108)),
        ],
        gemm_fraction: &[(Bf16, 0.865), (Fp16, 0.822), (Tf32, 0.833), (Fp32, 0.984)],
        // gpu-fryer's sustained runs (the family's source) on the 250 W PCIe 40 GB card
        device_gemm: &[("a100-pcie-40gb", Bf16, 0.718), ("a100-pcie-40gb", Tf32, 0.679)],
        bw_fraction: Some(0.834),
        idle_fraction: None,
        // "A100 (HBM2e, 80 GB)", CUDA-context idle 80.0 W (bare 53.7 W): arXiv:2605.23918
        // as its author tabulates it in sgl-project/sglang#27567; the same table's
        // H100 reads 121.7 W, the reference calibration's 121.59 W. The board is not
        // named, so both 80 GB boards; the 40 GB parts (HBM2) were not measured
        device_idle_w: &[("a100-sxm-80gb", 80.0), ("a100-pcie-80gb", 80.0)],
        gemm_power_fraction: None,
        attention: Some((0.73, 0.63)),
        attention_fused: None,
        tiles: NV_TILES,
        sources: "bf16 0.865: gpu-fryer sustained and Bekman's MAMF table; fp16 0.822: Azure AI-benchmarking-guide (ND A100 v4); tf32 0.833: gpu-fryer; fp32 0.984: community database; bandwidth 0.834: Azure triad 1.70 of 2.039 TB/s; attention: FlashAttention-2 (Dao 2023) up to 73% of peak forward, 63% backward on A100; 108 SMs",
    },
    Arch {
        id: "ampere-ga10x",
        devices: &[("a10", Some(72)), ("a10g", Some(80)), ("rtx-3090", Some(82))],
        gemm_fraction: &[(Fp16, 1.0), (Bf16, 0.992), (Tf32, 0.992), (Fp32, 0.641)],
        device_gemm: &[("rtx-3090", Fp32, 0.687), ("a10g", Fp32, 0.668)],
        bw_fraction: Some(0.782),
        idle_fraction: None,
        device_idle_w: &[],
        gemm_power_fraction: None,
        attention: None,
        attention_fused: None,
        tiles: NV_TILES,
        sources: "community torch.mm database (A10G, RTX 3090; GeForce boost clocks exceed the datasheet peak: capped at 1.0); fp32 0.641: CUTLASS maintainer on A10; bandwidth 0.782: device-benchmarks torch copy_ on A10 (0.888 on RTX 3090); SMs: A10 72 (datasheet cores / 128), A10G 80 and RTX 3090 82 (device properties)",
    },
    Arch {
        id: "ada-ad10x",
        devices: &[("l4", Some(58)), ("l40s", Some(142)), ("rtx-4090", Some(128))],
        gemm_fraction: &[(Bf16, 0.743), (Fp16, 0.729), (Tf32, 0.531), (Fp32, 0.512)],
        // the same database's entries for the 72 W L4 and the boosting RTX 4090
        // (bf16 160.5-173.3 TFLOPS over eight entries against 165.2: capped at 1)
        device_gemm: &[
            ("l4", Bf16, 0.586),
            ("l4", Fp16, 0.569),
            ("l4", Fp32, 0.508),
            ("rtx-4090", Bf16, 1.0),
            ("rtx-4090", Fp16, 1.0),
            ("rtx-4090", Tf32, 1.0),
            ("rtx-4090", Fp32, 0.663),
        ],
        bw_fraction: Some(0.783),
        idle_fraction: None,
        // L40S, CUDA-context idle 102.1 W (bare 35.6 W): the same table (arXiv:2605.23918)
        device_idle_w: &[("l40s", 102.1)],
        gemm_power_fraction: None,
        attention: None,
        attention_fused: None,
        tiles: NV_TILES,
        sources: "community torch.mm database (L40S bf16 0.743, fp16 0.729, tf32 0.531, fp32 0.512; L4 0.59 and RTX 4090 ~1.0 vary around it); bandwidth 0.783: device-benchmarks torch copy_ on L4 (0.905 on RTX 4090); SMs: L4 58, L40S 142 (datasheet cores / 128), RTX 4090 128 (device properties)",
    },
    Arch {
        id: "hopper-gh100",
        devices: &[
            ("h100-sxm", Some(132)),
            ("h800", Some(132)),
            ("h100-pcie", Some(114)),
            ("h100-nvl", Some(132)),
            ("h200-sxm", Some(132)),
        ],
        gemm_fraction: &[(Bf16, 0.691), (Fp16, 0.662), (Tf32, 0.716), (Fp32, 0.761), (Fp8, 0.622)],
        device_gemm: &[],
        bw_fraction: Some(h100::BANDWIDTH_FRACTION),
        idle_fraction: Some(h100::IDLE_FRACTION),
        device_idle_w: &[],
        gemm_power_fraction: Some(h100::GEMM_POWER_FRACTION),
        attention: Some((0.35, 0.30)),
        attention_fused: Some((0.66, 0.45)),
        tiles: NV_TILES,
        sources: "the project's H100 SXM reference calibration (shared/data/h100-sxm-calibration.json: GEMM fractions at the 700 W limit, bandwidth, idle, power); attention: FlashAttention-3 paper (Shah et al. 2024): FA2 reaches 35% of H100 peak (forward; backward assumed 30%), FA3 up to 75% forward, 661 TFLOP/s (0.67) at its ablation point, backward 1.5-1.75x FA2's (0.45 taken); 132 SMs (114 on PCIe)",
    },
    Arch {
        id: "blackwell-gb100",
        devices: &[("b200", Some(148)), ("gb200", Some(148))],
        gemm_fraction: &[(Bf16, 0.776), (Fp16, 0.723), (Fp8, 0.763), (Tf32, 0.632), (Fp32, 0.828)],
        device_gemm: &[],
        bw_fraction: None,
        idle_fraction: Some(0.137),
        device_idle_w: &[],
        gemm_power_fraction: None,
        attention: None,
        attention_fused: Some((0.71, 0.5)),
        tiles: NV_TILES,
        sources: "Bekman's MAMF table (B200 bf16 0.776, fp8 0.763) and Azure (GB200 tf32, fp32); idle 0.137: one B200 reading (ROCm issue 5219); attention: FlashAttention-4 up to 71% forward on B200 (backward assumed 0.5); 148 SMs (device properties; GB200's 152 is unconfirmed)",
    },
    Arch {
        id: "cdna2-mi250x",
        devices: &[("mi250x", Some(220))],
        gemm_fraction: &[(Bf16, 0.768)],
        device_gemm: &[],
        bw_fraction: None,
        idle_fraction: None,
        device_idle_w: &[],
        gemm_power_fraction: None,
        attention: None,
        attention_fused: None,
        tiles: AMD_TILES,
        sources: "bf16 0.768: Bekman's older MAMF table (no cache flush between iterations: optimistic); 220 CUs (110 per GCD)",
    },
    Arch {
        id: "cdna3-mi300x",
        devices: &[("mi300x", Some(304))],
        gemm_fraction: &[(Bf16, 0.542), (Fp16, 0.5), (Fp8, 0.487)],
        device_gemm: &[],
        bw_fraction: Some(0.772),
        idle_fraction: Some(0.255),
        device_idle_w: &[],
        gemm_power_fraction: None,
        attention: Some((0.251, 0.2)),
        attention_fused: None,
        tiles: AMD_TILES,
        sources: "AMD ROCm blog 'Measuring Max-Achievable FLOPs' part 2 (2025), table 1 (bf16 0.542, fp16 0.5, fp8 0.487); bandwidth 0.772: Azure ND MI300X v5 triad; idle 0.255: one rocm-smi reading (ROCm issue 5231); attention: Azure FA2 0.251 forward (backward assumed 0.2); 304 CUs",
    },
    Arch {
        id: "google-tpu",
        devices: &[("tpu-v4", None), ("tpu-v5e", None), ("tpu-v5p", None)],
        gemm_fraction: &[],
        device_gemm: &[],
        bw_fraction: None,
        idle_fraction: Some(0.469),
        device_idle_w: &[],
        gemm_power_fraction: None,
        attention: None,
        attention_fused: None,
        tiles: &[],
        sources: "TPU v4 paper (Jouppi et al. 2023), table 4: idle 90 W of a 192 W measured maximum; no public GEMM fraction (only whole-model utilisation, PaLM 0.46, MaxText 0.67-0.71); MXUs are 128x128 systolic arrays, not SMs",
    },
];

/// The architecture of a catalog device.
pub fn arch_of(device_id: &str) -> Option<&'static Arch> {
    ARCHS
        .iter()
        .find(|a| a.devices.iter().any(|(d, _)| *d == device_id))
}

/// Streaming multiprocessors (compute units) of a catalog device.
pub fn sm_count(device_id: &str) -> Option<u32> {
    arch_of(device_id)?
        .devices
        .iter()
        .find(|(d, _)| *d == device_id)
        .and_then(|(_, n)| *n)
}

impl Arch {
    /// The sustained GEMM fraction of a math mode; int8 takes fp8's where the
    /// device has fp8, else fp16's (no public int8 GEMM figure).
    pub fn gemm(&self, m: MathMode) -> Option<f64> {
        self.gemm_for("", m)
    }

    /// [`Arch::gemm`] for one member: its own measurement where the source has one.
    pub fn gemm_for(&self, device_id: &str, m: MathMode) -> Option<f64> {
        let get = |m: MathMode| {
            self.device_gemm
                .iter()
                .find(|x| x.0 == device_id && x.1 == m)
                .map(|x| x.2)
                .or_else(|| self.gemm_fraction.iter().find(|x| x.0 == m).map(|x| x.1))
        };
        match m {
            Int8 => get(Int8).or_else(|| get(Fp8)).or_else(|| get(Fp16)),
            Fp16 => get(Fp16).or_else(|| get(Bf16)),
            Bf16 => get(Bf16).or_else(|| get(Fp16)),
            m => get(m),
        }
    }
}
