//! The built-in device catalog (datasheet values, each with its source) and
//! the profiles derived from it. See `docs/energy-model.md` for the assumptions.

use crate::device::{DeviceProfile, DeviceSpec, KernelModel, ProfileSource};
use crate::units::MathMode::{self, *};
use std::collections::BTreeMap;

/// Dense peaks of a GH100 in its SXM form, half the sparse figures of the H100
/// (2023) and H200 datasheets, which print the same ones: the H100 SXM, the
/// H800 (the same die with its NVLink cut) and the H200 (with HBM3e) share them.
const GH100_SXM_DENSE: &[(MathMode, f64)] = &[
    (Fp32, 66.9),
    (Tf32, 494.7),
    (Fp16, 989.4),
    (Bf16, 989.4),
    (Fp8, 1978.9),
    (Int8, 1978.9),
];

pub static CATALOG: &[DeviceSpec] = &[
    // ---- NVIDIA Volta ----
    DeviceSpec {
        id: "v100-sxm2-16gb",
        name: "NVIDIA Tesla V100 SXM2 16GB",
        vendor: "NVIDIA",
        nvml_names: &["Tesla V100-SXM2-16GB"],
        memory_gb: 16.0,
        mem_bw_gbs: 900.0,
        tdp_w: 300.0,
        dense_tflops: &[(Fp32, 15.7), (Fp16, 125.0)],
        host_w_per_device: 137.5,
        embodied_kgco2e: 90.0,
        service_years: 5.0,
        sources: "NVIDIA V100 Tensor Core GPU datasheet (2020), SXM2 column (FP16 = Tensor Performance; Volta has no TF32/BF16/FP8/INT8 tensor modes); host: DGX-1 (V100) rated 3.5 kW max for 8 x 300 W GPUs -> (3500-2400)/8 W; embodied: jouleprint scaling assumption 150 kg x (0.5 die/826 mm2 + 0.5 GB/80), GV100 815 mm2 (Volta whitepaper 2017), see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "v100-sxm2-32gb",
        name: "NVIDIA Tesla V100 SXM2 32GB",
        vendor: "NVIDIA",
        nvml_names: &["Tesla V100-SXM2-32GB"],
        memory_gb: 32.0,
        mem_bw_gbs: 900.0,
        tdp_w: 300.0,
        dense_tflops: &[(Fp32, 15.7), (Fp16, 125.0)],
        host_w_per_device: 137.5,
        embodied_kgco2e: 105.0,
        service_years: 5.0,
        sources: "NVIDIA V100 Tensor Core GPU datasheet (2020), SXM2 column (FP16 = Tensor Performance); host: DGX-1 (V100) rated 3.5 kW max for 8 x 300 W GPUs -> (3500-2400)/8 W; embodied: jouleprint scaling assumption 150 kg x (0.5 die/826 mm2 + 0.5 GB/80), GV100 815 mm2, see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "v100-pcie-16gb",
        name: "NVIDIA Tesla V100 PCIe 16GB",
        vendor: "NVIDIA",
        nvml_names: &["Tesla V100-PCIE-16GB"],
        memory_gb: 16.0,
        mem_bw_gbs: 900.0,
        tdp_w: 250.0,
        dense_tflops: &[(Fp32, 14.0), (Fp16, 112.0)],
        host_w_per_device: 250.0,
        embodied_kgco2e: 90.0,
        service_years: 5.0,
        sources: "NVIDIA V100 Tensor Core GPU datasheet (2020), PCIe column (FP16 = Tensor Performance); host: assumption, 8-GPU PCIe server with ~2 kW beyond the GPUs (2 CPUs, memory, NICs, fans) -> 250 W per GPU; embodied: jouleprint scaling assumption (GV100 815 mm2, 16 GB), see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "v100-pcie-32gb",
        name: "NVIDIA Tesla V100 PCIe 32GB",
        vendor: "NVIDIA",
        nvml_names: &["Tesla V100-PCIE-32GB"],
        memory_gb: 32.0,
        mem_bw_gbs: 900.0,
        tdp_w: 250.0,
        dense_tflops: &[(Fp32, 14.0), (Fp16, 112.0)],
        host_w_per_device: 250.0,
        embodied_kgco2e: 105.0,
        service_years: 5.0,
        sources: "NVIDIA V100 Tensor Core GPU datasheet (2020), PCIe column (FP16 = Tensor Performance); host: assumption, 8-GPU PCIe server, 250 W per GPU; embodied: jouleprint scaling assumption (GV100 815 mm2, 32 GB), see docs/devices-and-grid.md",
    },
    // ---- NVIDIA Turing ----
    DeviceSpec {
        id: "t4",
        name: "NVIDIA T4",
        vendor: "NVIDIA",
        nvml_names: &["Tesla T4"],
        memory_gb: 16.0,
        mem_bw_gbs: 320.0,
        tdp_w: 70.0,
        dense_tflops: &[(Fp32, 8.1), (Fp16, 65.0), (Int8, 130.0)],
        host_w_per_device: 100.0,
        embodied_kgco2e: 65.0,
        service_years: 5.0,
        sources: "NVIDIA T4 Tensor Core GPU datasheet (2019): FP32 8.1, mixed FP16/FP32 65, INT8 130 TOPS, 16 GB GDDR6 at 320+ GB/s, 70 W (Turing has no TF32/BF16/FP8); host: assumption, inference server with 4-8 T4 (e.g. AWS g4dn), ~100 W per card; embodied: jouleprint scaling assumption, TU104 545 mm2 (Turing whitepaper 2018), see docs/devices-and-grid.md",
    },
    // ---- NVIDIA Ampere ----
    DeviceSpec {
        id: "a10",
        name: "NVIDIA A10",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA A10"],
        memory_gb: 24.0,
        mem_bw_gbs: 600.0,
        tdp_w: 150.0,
        dense_tflops: &[(Fp32, 31.2), (Tf32, 62.5), (Fp16, 125.0), (Bf16, 125.0), (Int8, 250.0)],
        host_w_per_device: 150.0,
        embodied_kgco2e: 80.0,
        service_years: 5.0,
        sources: "NVIDIA A10 Tensor Core GPU datasheet (2021), dense = half the sparse figures; host: assumption, inference server with 4 A10 (~600 W beyond the GPUs) -> 150 W per card; embodied: jouleprint scaling assumption, GA102 628.4 mm2 (Ampere GA102 whitepaper 2020), see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "a10g",
        name: "NVIDIA A10G (AWS)",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA A10G"],
        memory_gb: 24.0,
        mem_bw_gbs: 600.0,
        tdp_w: 300.0,
        dense_tflops: &[(Fp32, 35.0), (Tf32, 35.0), (Fp16, 70.0), (Bf16, 70.0), (Int8, 140.0)],
        host_w_per_device: 150.0,
        embodied_kgco2e: 80.0,
        service_years: 5.0,
        sources: "ESTIMATE: NVIDIA publishes no A10G datasheet (AWS-specific GA102 part, EC2 G5); memory 24 GB GDDR6 / 600 GB/s from AWS G5 documentation; dense TFLOP/s as compiled by third parties (e.g. Baseten, 'NVIDIA A10 vs A10G for ML model inference', 2023) and power limit 300 W as nvidia-smi reports on g5 instances; host: assumption, g5.12xlarge/48xlarge-class host, 150 W per GPU; embodied: jouleprint scaling assumption, GA102 628.4 mm2, see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "a100-sxm-40gb",
        name: "NVIDIA A100 SXM4 40GB",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA A100-SXM4-40GB"],
        memory_gb: 40.0,
        mem_bw_gbs: 1555.0,
        tdp_w: 400.0,
        dense_tflops: &[(Fp32, 19.5), (Tf32, 156.0), (Fp16, 312.0), (Bf16, 312.0), (Int8, 624.0)],
        host_w_per_device: 412.5,
        embodied_kgco2e: 110.0,
        service_years: 5.0,
        sources: "NVIDIA A100 Tensor Core GPU datasheet (2021), A100 40GB SXM column, dense = half the sparse figures (no FP8 on Ampere); host: DGX A100 rated 6.5 kW max for 8 x 400 W GPUs -> (6500-3200)/8 W; embodied: jouleprint scaling assumption anchored on 150 kgCO2e per A100 80GB (Luccioni et al., 'Estimating the Carbon Footprint of BLOOM', 2022), GA100 826 mm2, see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "a100-sxm-80gb",
        name: "NVIDIA A100 SXM4 80GB",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA A100-SXM4-80GB"],
        memory_gb: 80.0,
        mem_bw_gbs: 2039.0,
        tdp_w: 400.0,
        dense_tflops: &[(Fp32, 19.5), (Tf32, 156.0), (Fp16, 312.0), (Bf16, 312.0), (Int8, 624.0)],
        host_w_per_device: 412.5,
        embodied_kgco2e: 150.0,
        service_years: 5.0,
        sources: "NVIDIA A100 Tensor Core GPU datasheet (2021), A100 80GB SXM column, dense = half the sparse figures; host: DGX A100 rated 6.5 kW max for 8 x 400 W GPUs -> (6500-3200)/8 W; embodied: 150 kgCO2e per GPU as estimated by Luccioni et al., 'Estimating the Carbon Footprint of BLOOM' (2022), the anchor of the scaling in docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "a100-pcie-40gb",
        name: "NVIDIA A100 PCIe 40GB",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA A100-PCIE-40GB"],
        memory_gb: 40.0,
        mem_bw_gbs: 1555.0,
        tdp_w: 250.0,
        dense_tflops: &[(Fp32, 19.5), (Tf32, 156.0), (Fp16, 312.0), (Bf16, 312.0), (Int8, 624.0)],
        host_w_per_device: 250.0,
        embodied_kgco2e: 110.0,
        service_years: 5.0,
        sources: "NVIDIA A100 Tensor Core GPU datasheet (2020), A100 40GB PCIe column, dense = half the sparse figures; host: assumption, 8-GPU PCIe server, 250 W per GPU; embodied: jouleprint scaling assumption (GA100 826 mm2, 40 GB), see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "a100-pcie-80gb",
        name: "NVIDIA A100 PCIe 80GB",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA A100 80GB PCIe"],
        memory_gb: 80.0,
        mem_bw_gbs: 1935.0,
        tdp_w: 300.0,
        dense_tflops: &[(Fp32, 19.5), (Tf32, 156.0), (Fp16, 312.0), (Bf16, 312.0), (Int8, 624.0)],
        host_w_per_device: 250.0,
        embodied_kgco2e: 150.0,
        service_years: 5.0,
        sources: "NVIDIA A100 Tensor Core GPU datasheet (2021), A100 80GB PCIe column, dense = half the sparse figures; host: assumption, 8-GPU PCIe server, 250 W per GPU; embodied: jouleprint scaling assumption (GA100 826 mm2, 80 GB), see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "rtx-3090",
        name: "NVIDIA GeForce RTX 3090",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA GeForce RTX 3090"],
        memory_gb: 24.0,
        mem_bw_gbs: 936.0,
        tdp_w: 350.0,
        dense_tflops: &[(Fp32, 35.6), (Tf32, 35.6), (Fp16, 71.0), (Bf16, 71.0), (Int8, 284.0)],
        host_w_per_device: 150.0,
        embodied_kgco2e: 80.0,
        service_years: 4.0,
        sources: "NVIDIA Ampere GA102 GPU Architecture whitepaper (2020), RTX 3090 column, dense figures with FP32 accumulate as deep-learning frameworks use (FP16 with FP16 accumulate: 142); 350 W total graphics power; host: assumption, single-GPU workstation ~150 W beyond the GPU; embodied: jouleprint scaling assumption, GA102 628.4 mm2; 4-year service life (consumer part), see docs/devices-and-grid.md",
    },
    // ---- NVIDIA Ada Lovelace ----
    DeviceSpec {
        id: "l4",
        name: "NVIDIA L4",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA L4"],
        memory_gb: 24.0,
        mem_bw_gbs: 300.0,
        tdp_w: 72.0,
        dense_tflops: &[(Fp32, 30.3), (Tf32, 60.0), (Fp16, 121.0), (Bf16, 121.0), (Fp8, 242.5), (Int8, 242.5)],
        host_w_per_device: 100.0,
        embodied_kgco2e: 50.0,
        service_years: 5.0,
        sources: "NVIDIA L4 Tensor Core GPU datasheet (2023), dense = half the sparse figures (TF32 120, FP16/BF16 242, FP8/INT8 485 sparse); host: assumption, inference server with 4-8 L4 (e.g. AWS g6, GCP g2), ~100 W per card; embodied: jouleprint scaling assumption, AD104 294.5 mm2 (Ada whitepaper 2022), see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "l40s",
        name: "NVIDIA L40S",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA L40S"],
        memory_gb: 48.0,
        mem_bw_gbs: 864.0,
        tdp_w: 350.0,
        dense_tflops: &[(Fp32, 91.6), (Tf32, 183.0), (Fp16, 362.05), (Bf16, 362.05), (Fp8, 733.0), (Int8, 733.0)],
        host_w_per_device: 250.0,
        embodied_kgco2e: 100.0,
        service_years: 5.0,
        sources: "NVIDIA L40S GPU datasheet (2023), dense column; host: assumption, 8-GPU PCIe server, 250 W per GPU; embodied: jouleprint scaling assumption, AD102 608.5 mm2 (Ada whitepaper 2022), see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "rtx-4090",
        name: "NVIDIA GeForce RTX 4090",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA GeForce RTX 4090"],
        memory_gb: 24.0,
        mem_bw_gbs: 1008.0,
        tdp_w: 450.0,
        dense_tflops: &[(Fp32, 82.6), (Tf32, 82.6), (Fp16, 165.2), (Bf16, 165.2), (Fp8, 330.3), (Int8, 660.6)],
        host_w_per_device: 150.0,
        embodied_kgco2e: 80.0,
        service_years: 4.0,
        sources: "NVIDIA Ada GPU Architecture whitepaper (2022), GeForce RTX 4090 column, dense figures with FP32 accumulate (FP16 with FP16 accumulate: 330.3); 450 W total graphics power; host: assumption, single-GPU workstation ~150 W beyond the GPU; embodied: jouleprint scaling assumption, AD102 608.5 mm2; 4-year service life (consumer part), see docs/devices-and-grid.md",
    },
    // ---- NVIDIA Hopper ----
    DeviceSpec {
        id: "h100-sxm",
        name: "NVIDIA H100 SXM5 80GB",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA H100 80GB HBM3", "NVIDIA H100 SXM5 80GB"],
        memory_gb: 80.0,
        mem_bw_gbs: 3350.0,
        tdp_w: 700.0,
        dense_tflops: GH100_SXM_DENSE,
        host_w_per_device: 575.0,
        embodied_kgco2e: 150.0,
        service_years: 5.0,
        sources: "NVIDIA H100 Tensor Core GPU datasheet (2023), SXM column, dense = half the sparse figures; host: DGX H100 rated 10.2 kW max for 8 x 700 W GPUs -> (10200-5600)/8 W; embodied: jouleprint scaling assumption (GH100 814 mm2, 80 GB), see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "h800",
        name: "NVIDIA H800 SXM5 80GB",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA H800", "NVIDIA H800 80GB HBM3"],
        memory_gb: 80.0,
        mem_bw_gbs: 3350.0,
        tdp_w: 700.0,
        dense_tflops: GH100_SXM_DENSE,
        host_w_per_device: 575.0,
        embodied_kgco2e: 150.0,
        service_years: 5.0,
        sources: "the H100 SXM5 with its NVLink cut to 400 GB/s (bidirectional) for export (DeepSeek-AI, 'Insights into DeepSeek-V3: Scaling Challenges and Reflections on Hardware for AI Architectures', ISCA 2025, arXiv:2505.09343: same compute and HBM3 as H100 SXM, NVLink 400 GB/s, eight 400 Gb/s InfiniBand NICs per node); compute, memory, power, host and embodied as the h100-sxm entry",
    },
    DeviceSpec {
        id: "h100-pcie",
        name: "NVIDIA H100 PCIe 80GB",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA H100 PCIe"],
        memory_gb: 80.0,
        mem_bw_gbs: 2000.0,
        tdp_w: 350.0,
        dense_tflops: &[(Fp32, 51.0), (Tf32, 378.0), (Fp16, 756.5), (Bf16, 756.5), (Fp8, 1513.0), (Int8, 1513.0)],
        host_w_per_device: 250.0,
        embodied_kgco2e: 150.0,
        service_years: 5.0,
        sources: "NVIDIA H100 Tensor Core GPU datasheet (2023), PCIe column (300-350 W configurable; the maximum is used), dense = half the sparse figures; host: assumption, 8-GPU PCIe server, 250 W per GPU; embodied: jouleprint scaling assumption (GH100 814 mm2, 80 GB), see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "h100-nvl",
        name: "NVIDIA H100 NVL 94GB",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA H100 NVL"],
        memory_gb: 94.0,
        mem_bw_gbs: 3900.0,
        tdp_w: 400.0,
        dense_tflops: &[(Fp32, 60.0), (Tf32, 417.5), (Fp16, 835.5), (Bf16, 835.5), (Fp8, 1670.5), (Int8, 1670.5)],
        host_w_per_device: 250.0,
        embodied_kgco2e: 160.0,
        service_years: 5.0,
        sources: "NVIDIA H100 Tensor Core GPU datasheet (2024 revision), H100 NVL column, per GPU (350-400 W configurable; the maximum is used), dense = half the sparse figures; host: assumption, 8-GPU PCIe server, 250 W per GPU; embodied: jouleprint scaling assumption (GH100 814 mm2, 94 GB), see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "h200-sxm",
        name: "NVIDIA H200 SXM 141GB",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA H200"],
        memory_gb: 141.0,
        mem_bw_gbs: 4800.0,
        tdp_w: 700.0,
        dense_tflops: GH100_SXM_DENSE,
        host_w_per_device: 575.0,
        embodied_kgco2e: 205.0,
        service_years: 5.0,
        sources: "NVIDIA H200 Tensor Core GPU datasheet (2024), SXM column (same GH100 compute as H100 SXM: 67 FP32, 989/1979/3958 sparse; the dense values use the H100 entry's unrounded halves); host: DGX H200 rated ~10.2 kW max for 8 x 700 W GPUs -> (10200-5600)/8 W; embodied: jouleprint scaling assumption (GH100 814 mm2, 141 GB), see docs/devices-and-grid.md",
    },
    // ---- NVIDIA Blackwell ----
    DeviceSpec {
        id: "b200",
        name: "NVIDIA B200 (HGX, 1000 W)",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA B200"],
        memory_gb: 180.0,
        mem_bw_gbs: 8000.0,
        tdp_w: 1000.0,
        dense_tflops: &[(Fp32, 80.0), (Tf32, 1100.0), (Fp16, 2250.0), (Bf16, 2250.0), (Fp8, 4500.0), (Int8, 4500.0)],
        host_w_per_device: 787.5,
        embodied_kgco2e: 315.0,
        service_years: 5.0,
        sources: "NVIDIA HGX B200 datasheet (2024/2025), per GPU, dense = half the sparse figures (TF32 2.2, FP16/BF16 4.5, FP8/INT8 9 PFLOPS sparse); FP32 80 TFLOPS per the 2025 datasheet (earlier revisions list 75, an uncertainty); 180 GB and 8 TB/s per GPU from DGX B200 (1,440 GB, 64 TB/s for 8 GPUs); host: DGX B200 rated ~14.3 kW max for 8 x 1000 W GPUs -> (14300-8000)/8 W; embodied: jouleprint scaling assumption, die area unpublished: two ~reticle-size dies assumed 2 x 814 mm2, see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "gb200",
        name: "NVIDIA GB200 (per Blackwell GPU)",
        vendor: "NVIDIA",
        nvml_names: &["NVIDIA GB200"],
        memory_gb: 186.0,
        mem_bw_gbs: 8000.0,
        tdp_w: 1200.0,
        dense_tflops: &[(Fp32, 80.0), (Tf32, 1250.0), (Fp16, 2500.0), (Bf16, 2500.0), (Fp8, 5000.0), (Int8, 5000.0)],
        host_w_per_device: 550.0,
        embodied_kgco2e: 320.0,
        service_years: 5.0,
        sources: "NVIDIA GB200 NVL72 datasheet (2024), rack figures / 72 GPUs, dense = half the sparse figures (TF32 180, FP16/BF16 360, FP8/INT8 720 PFLOPS sparse; FP32 5,760 TFLOPS; 13.4 TB HBM3e at 576 TB/s); ESTIMATE: per-GPU power 1200 W (NVIDIA publishes the 2,700 W superchip, 2 GPUs + Grace, not a per-GPU TDP) and host 550 W per GPU (half a Grace CPU, NVLink switch trays, NICs, fans; assumption from ~120-132 kW per NVL72 rack); embodied: jouleprint scaling assumption, two dies assumed 2 x 814 mm2, see docs/devices-and-grid.md",
    },
    // ---- AMD Instinct ----
    DeviceSpec {
        id: "mi250x",
        name: "AMD Instinct MI250X (OAM, both GCDs)",
        vendor: "AMD",
        nvml_names: &["AMD Instinct MI250X"],
        memory_gb: 128.0,
        mem_bw_gbs: 3276.8,
        tdp_w: 560.0,
        dense_tflops: &[(Fp32, 47.9), (Fp16, 383.0), (Bf16, 383.0), (Int8, 383.0)],
        host_w_per_device: 150.0,
        embodied_kgco2e: 265.0,
        service_years: 5.0,
        sources: "AMD Instinct MI250X accelerator data sheet (2021): FP32 vector 47.9 (matrix 95.7), FP16/BF16 383, INT8 383 TOPS, 128 GB HBM2e at 3.2768 TB/s, 560 W peak board power (500 W typical); no TF32/FP8; the OAM module holds two GCDs that ROCm shows as two devices (halve the figures per GCD); host: assumption, 4 MI250X per node with one EPYC CPU (HPE Cray EX235a class), ~150 W per module; embodied: jouleprint scaling assumption, die area unpublished: assumed 2 x 800 mm2, see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "mi300x",
        name: "AMD Instinct MI300X",
        vendor: "AMD",
        nvml_names: &["AMD Instinct MI300X"],
        memory_gb: 192.0,
        mem_bw_gbs: 5300.0,
        tdp_w: 750.0,
        dense_tflops: &[(Fp32, 163.4), (Tf32, 653.7), (Fp16, 1307.4), (Bf16, 1307.4), (Fp8, 2614.9), (Int8, 2614.9)],
        host_w_per_device: 575.0,
        embodied_kgco2e: 400.0,
        service_years: 5.0,
        sources: "AMD Instinct MI300X accelerator data sheet (2023), dense (without sparsity) figures, 192 GB HBM3 at 5.3 TB/s, 750 W; host: assumption, 8-GPU OAM platform with a host like DGX H100's -> 575 W per GPU; embodied: jouleprint scaling assumption, chiplet area unpublished: assumed ~2,400 mm2 (8 XCD + 4 IOD), see docs/devices-and-grid.md",
    },
    // ---- Google TPU ----
    DeviceSpec {
        id: "tpu-v4",
        name: "Google Cloud TPU v4 (per chip)",
        vendor: "Google",
        nvml_names: &[],
        memory_gb: 32.0,
        mem_bw_gbs: 1200.0,
        tdp_w: 192.0,
        dense_tflops: &[(Bf16, 275.0), (Int8, 275.0)],
        host_w_per_device: 120.0,
        embodied_kgco2e: 85.0,
        service_years: 5.0,
        sources: "Google Cloud TPU v4 documentation (2023): 275 TFLOPS bf16 and int8 per chip, 32 GiB HBM2 at 1,200 GB/s; 192 W maximum chip power from Jouppi et al., 'TPU v4: An Optically Reconfigurable Supercomputer for Machine Learning' (ISCA 2023); no published fp32/fp16 peaks, so those modes are absent; host: assumption, 4 chips per host, ~120 W per chip; embodied: jouleprint scaling assumption, die area assumed 600 mm2, see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "tpu-v5e",
        name: "Google Cloud TPU v5e (per chip)",
        vendor: "Google",
        nvml_names: &[],
        memory_gb: 16.0,
        mem_bw_gbs: 819.0,
        tdp_w: 200.0,
        dense_tflops: &[(Bf16, 197.0), (Int8, 393.0)],
        host_w_per_device: 60.0,
        embodied_kgco2e: 45.0,
        service_years: 5.0,
        sources: "Google Cloud TPU v5e documentation (2024): 197 TFLOPS bf16, 393 TOPS int8 per chip, 16 GB HBM2 at 819 GB/s; ESTIMATE: chip power 200 W (Google publishes none); host: assumption, 8 chips per host, ~60 W per chip; embodied: jouleprint scaling assumption, die area assumed 350 mm2, see docs/devices-and-grid.md",
    },
    DeviceSpec {
        id: "tpu-v5p",
        name: "Google Cloud TPU v5p (per chip)",
        vendor: "Google",
        nvml_names: &[],
        memory_gb: 95.0,
        mem_bw_gbs: 2765.0,
        tdp_w: 450.0,
        dense_tflops: &[(Bf16, 459.0), (Int8, 918.0)],
        host_w_per_device: 120.0,
        embodied_kgco2e: 145.0,
        service_years: 5.0,
        sources: "Google Cloud TPU v5p documentation (2024): 459 TFLOPS bf16, 918 TOPS int8 per chip, 95 GB HBM2e at 2,765 GB/s; ESTIMATE: chip power 450 W (Google publishes none); host: assumption, 4 chips per host, ~120 W per chip; embodied: jouleprint scaling assumption, die area assumed 600 mm2, see docs/devices-and-grid.md",
    },
];

pub mod arch;
pub mod network;

/// What a datasheet profile assumes beyond the architecture table (`arch`).
pub mod datasheet_assumptions {
    /// Active floor / power limit: the global constant of the energy model.
    pub const FLOOR_FRACTION: f64 = crate::tuning::TUNING.active_floor_fraction;
    pub const GEMM_LATENCY_US: f64 = 1.8;
    pub const KERNEL_LATENCY_US: f64 = 3.0;
    /// Relative uncertainty of a datasheet-derived profile.
    pub const UNCERTAINTY: f64 = 0.30;
}

impl DeviceSpec {
    /// The datasheet's dense 16-bit (bf16 or fp16) tensor rate, TFLOP/s; 0 without one.
    pub fn dense_16bit_tflops(&self) -> f64 {
        self.dense_tflops
            .iter()
            .filter(|(m, _)| matches!(m, MathMode::Bf16 | MathMode::Fp16))
            .map(|x| x.1)
            .fold(0.0, f64::max)
    }

    /// The profile derived from datasheet values and the architecture's public
    /// efficiency figures (`arch`); where an architecture has none, the
    /// reference H100's measured ratio, named in the profile's source.
    pub fn datasheet_profile(&self) -> DeviceProfile {
        let mut p = self.board_profile();
        // Moving a byte costs what the die and its memory cost at their clocks,
        // not a share of the board's power cap: a memory-bound kernel on a
        // capped board (A100 PCIe at 300 W, V100 PCIe at 250 W) runs at the
        // clocks of its uncapped sibling. Boards of one architecture whose
        // memory bandwidth is within 10% take the largest per-byte energy among
        // them, up to what this board's cap leaves for streaming.
        let Some(a) = arch::arch_of(self.id) else {
            return p;
        };
        let sibling = CATALOG
            .iter()
            .filter(|d| {
                d.id != self.id
                    && arch::arch_of(d.id).is_some_and(|b| b.id == a.id)
                    && (d.mem_bw_gbs / self.mem_bw_gbs - 1.0).abs() <= SAME_MEMORY
            })
            .map(|d| (d, d.board_profile().pj_per_byte))
            .max_by(|x, y| x.1.total_cmp(&y.1));
        if let Some((d, pj)) = sibling.filter(|s| s.1 > p.pj_per_byte) {
            let cap =
                (p.power_limit_w - p.idle_w - p.active_floor_w).max(0.0) / (p.mem_gbs * 1e9) * 1e12;
            let used = pj.min(cap).max(p.pj_per_byte);
            let held = if used < pj {
                ", held at what this board's power limit leaves for streaming"
            } else {
                ""
            };
            p.source.detail.push_str(&format!(
                "; energy per byte {used:.1} pJ: the {}'s {pj:.1} (same die and memory){held}, not the {:.1} its own power cap gives",
                d.name, p.pj_per_byte
            ));
            p.pj_per_byte = used;
        }
        p
    }

    /// The profile from this board's datasheet values alone.
    fn board_profile(&self) -> DeviceProfile {
        use arch::h100;
        use datasheet_assumptions::*;
        let a = arch::arch_of(self.id);
        let mut by_analogy: Vec<&str> = vec![];
        let mut pick = |v: Option<f64>, fallback: f64, what: &'static str| {
            v.unwrap_or_else(|| {
                by_analogy.push(what);
                fallback
            })
        };
        let measured_idle = a.and_then(|a| {
            a.device_idle_w
                .iter()
                .find(|(id, _)| *id == self.id)
                .map(|x| x.1)
        });
        let idle = match measured_idle {
            Some(w) => w.min(self.tdp_w),
            None => pick(a.and_then(|a| a.idle_fraction), h100::IDLE_FRACTION, "idle") * self.tdp_w,
        };
        let gemm_power = pick(
            a.and_then(|a| a.gemm_power_fraction),
            h100::GEMM_POWER_FRACTION,
            "GEMM power",
        ) * self.tdp_w;
        let bw = pick(
            a.and_then(|a| a.bw_fraction),
            h100::BANDWIDTH_FRACTION,
            "bandwidth",
        );
        let floor = FLOOR_FRACTION * self.tdp_w;
        let h100_fraction = |m: MathMode| match m {
            Fp32 => 50.91 / 66.9,
            Tf32 => 354.37 / 494.7,
            Fp16 => 655.28 / 989.4,
            Bf16 => 683.26 / 989.4,
            Fp8 | Int8 => 1230.9 / 1978.9,
        };
        let mut gemm = BTreeMap::new();
        let mut pj = BTreeMap::new();
        for &(m, peak) in self.dense_tflops {
            let f = pick(
                a.and_then(|a| a.gemm_for(self.id, m)),
                h100_fraction(m),
                "GEMM efficiency",
            );
            let rate = peak * f.min(1.0);
            gemm.insert(m, rate);
            pj.insert(
                m,
                (gemm_power - idle - floor).max(0.0) / (rate * 1e12) * 1e12,
            );
        }
        let mem = self.mem_bw_gbs * bw;
        // attention as a fraction of the large 16-bit GEMM's achieved rate
        let gemm16 = |a: &arch::Arch| a.gemm(Bf16).or_else(|| a.gemm(Fp16));
        let rel = |x: Option<(f64, f64)>, a: &arch::Arch| {
            x.zip(gemm16(a))
                .map(|((f, b), g)| [(f / g).min(1.0), (b / g).min(1.0)])
        };
        let kernels = a.map(|a| {
            let eager = rel(a.attention, a).unwrap_or(HALF_GEMM);
            KernelModel {
                sm_count: arch::sm_count(self.id),
                tiles: a.tiles.iter().map(|&(m, n)| [m, n]).collect(),
                attention: eager,
                attention_fused: rel(a.attention_fused, a).unwrap_or(eager),
            }
        });
        by_analogy.sort_unstable();
        by_analogy.dedup();
        let mut detail = self.sources.to_string();
        if let Some(a) = a {
            detail.push_str(&format!("; architecture {}: {}", a.id, a.sources));
        }
        if !by_analogy.is_empty() {
            detail.push_str(&format!(
                "; no public figure for {}: the reference H100's ratio is used",
                by_analogy.join(", ")
            ));
        }
        DeviceProfile {
            id: self.id.to_string(),
            name: self.name.to_string(),
            source: ProfileSource {
                kind: "datasheet".into(),
                detail,
                version: "datasheet-2".into(),
            },
            memory_gb: self.memory_gb,
            power_limit_w: self.tdp_w,
            idle_w: idle,
            active_floor_w: floor,
            gemm_tflops: gemm,
            gemm_latency_us: GEMM_LATENCY_US,
            pj_per_flop: pj,
            mem_gbs: mem,
            pj_per_byte: (h100::ELEMENTWISE_POWER_FRACTION * self.tdp_w - idle - floor).max(0.0)
                / (mem * 1e9)
                * 1e12,
            kernel_latency_us: KERNEL_LATENCY_US,
            uncertainty: UNCERTAINTY,
            kernels,
            links: network::links(self.id),
        }
    }
}

/// Boards whose memory bandwidth differs by at most this share carry the same
/// memory (A100 PCIe 80 GB at 1,935 GB/s beside the SXM's 2,039; H100 PCIe's
/// HBM2e at 2,000 against the SXM's HBM3 at 3,350 is another memory).
const SAME_MEMORY: f64 = 0.10;

/// Fused attention at half the large-GEMM rate: FlashAttention-2 on the
/// reference H100 (35% of peak against the GEMM's 69%), where nothing else is known.
pub const HALF_GEMM: [f64; 2] = [0.5, 0.5];

/// Find a catalog entry by id or NVML name (case-insensitive).
pub fn find(id_or_name: &str) -> Option<&'static DeviceSpec> {
    let q = id_or_name.trim().to_ascii_lowercase();
    CATALOG.iter().find(|d| {
        d.id == q
            || d.name.to_ascii_lowercase() == q
            || d.nvml_names.iter().any(|n| n.to_ascii_lowercase() == q)
    })
}
