//! Checks of the built-in device catalog and grid-intensity table
//! (see docs/devices-and-grid.md for how both are built).

use shared::catalog::{self, CATALOG};
use shared::grid::{self, GRID};
use shared::units::MathMode::{self, *};
use std::collections::HashSet;

fn peak(id: &str, m: MathMode) -> Option<f64> {
    let d = catalog::find(id).unwrap_or_else(|| panic!("{id} not in catalog"));
    d.dense_tflops
        .iter()
        .find(|(k, _)| *k == m)
        .map(|(_, v)| *v)
}

#[test]
fn catalog_has_the_required_devices() {
    assert!(CATALOG.len() >= 22, "only {} devices", CATALOG.len());
    for id in [
        "v100-sxm2-16gb",
        "v100-sxm2-32gb",
        "v100-pcie-16gb",
        "t4",
        "a10g",
        "a10",
        "l4",
        "l40s",
        "a100-sxm-40gb",
        "a100-sxm-80gb",
        "a100-pcie-80gb",
        "h100-sxm",
        "h100-pcie",
        "h100-nvl",
        "h200-sxm",
        "b200",
        "rtx-3090",
        "rtx-4090",
        "mi250x",
        "mi300x",
        "tpu-v4",
        "tpu-v5e",
        "tpu-v5p",
    ] {
        assert!(catalog::find(id).is_some(), "{id} missing");
    }
}

#[test]
fn every_device_is_well_formed() {
    for d in CATALOG {
        assert!(d.tdp_w > 0.0, "{}: tdp", d.id);
        assert!(d.mem_bw_gbs > 0.0, "{}: bandwidth", d.id);
        assert!(d.memory_gb > 0.0, "{}: memory", d.id);
        assert!(!d.dense_tflops.is_empty(), "{}: no math mode", d.id);
        assert!(d.host_w_per_device >= 0.0, "{}: host", d.id);
        assert!(
            d.embodied_kgco2e > 0.0 && d.service_years > 0.0,
            "{}: embodied",
            d.id
        );
        assert!(!d.sources.trim().is_empty(), "{}: sources", d.id);
        assert!(
            d.id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{}: id must be lowercase-kebab",
            d.id
        );
        let modes: HashSet<_> = d.dense_tflops.iter().map(|(m, _)| *m).collect();
        assert_eq!(modes.len(), d.dense_tflops.len(), "{}: repeated mode", d.id);
        for &(m, v) in d.dense_tflops {
            assert!(v > 0.0 && v.is_finite(), "{}: {m:?} peak {v}", d.id);
        }
        // Tensor modes are never slower than plain FP32 where both exist.
        if let Some(fp32) = peak(d.id, Fp32) {
            for &(m, v) in d.dense_tflops {
                assert!(v >= fp32, "{}: {m:?} {v} < fp32 {fp32}", d.id);
            }
        }
    }
}

#[test]
fn ids_and_nvml_names_are_unique_and_found_case_insensitively() {
    let mut keys = HashSet::new();
    for d in CATALOG {
        assert!(
            keys.insert(d.id.to_ascii_lowercase()),
            "duplicate id {}",
            d.id
        );
    }
    for d in CATALOG {
        for n in d.nvml_names {
            assert!(keys.insert(n.to_ascii_lowercase()), "duplicate name {n}");
        }
    }
    for d in CATALOG {
        assert_eq!(catalog::find(d.id).map(|x| x.id), Some(d.id));
        assert_eq!(
            catalog::find(&d.id.to_ascii_uppercase()).map(|x| x.id),
            Some(d.id)
        );
        for n in d.nvml_names {
            assert_eq!(catalog::find(n).map(|x| x.id), Some(d.id), "{n}");
            assert_eq!(
                catalog::find(&n.to_ascii_lowercase()).map(|x| x.id),
                Some(d.id)
            );
            assert_eq!(
                catalog::find(&format!("  {}  ", n.to_ascii_uppercase())).map(|x| x.id),
                Some(d.id)
            );
        }
    }
    assert!(catalog::find("no-such-gpu").is_none());
    assert_eq!(
        catalog::find("NVIDIA A100-SXM4-80GB").map(|d| d.id),
        Some("a100-sxm-80gb")
    );
    assert_eq!(
        catalog::find("tesla v100-sxm2-16gb").map(|d| d.id),
        Some("v100-sxm2-16gb")
    );
    assert_eq!(catalog::find("Tesla T4").map(|d| d.id), Some("t4"));
    assert_eq!(
        catalog::find("NVIDIA H100 80GB HBM3").map(|d| d.id),
        Some("h100-sxm")
    );
}

#[test]
fn datasheet_profiles_have_positive_coefficients() {
    for d in CATALOG {
        let p = d.datasheet_profile();
        assert_eq!(p.id, d.id);
        assert_eq!(p.source.kind, "datasheet");
        assert!(p.power_limit_w > 0.0);
        assert!(p.idle_w > 0.0 && p.idle_w < p.power_limit_w, "{}", d.id);
        assert!(p.active_floor_w > 0.0, "{}", d.id);
        assert!(p.mem_gbs > 0.0 && p.pj_per_byte > 0.0, "{}", d.id);
        assert!(p.gemm_latency_us > 0.0 && p.kernel_latency_us > 0.0);
        assert_eq!(p.gemm_tflops.len(), d.dense_tflops.len());
        for (m, r) in &p.gemm_tflops {
            assert!(*r > 0.0 && r.is_finite(), "{}: {m:?}", d.id);
            let pj = p.pj_per_flop[m];
            assert!(pj > 0.0 && pj.is_finite(), "{}: {m:?} pJ", d.id);
        }
        // Every device can run a bf16 or fp16 workload (with fallback).
        assert!(
            p.effective_math(Bf16).is_some() || p.effective_math(Fp16).is_some(),
            "{}",
            d.id
        );
        let b = shared::calibration::builtin_profile(d);
        assert!(b.power_limit_w > 0.0);
    }
}

/// Independently known datasheet figures (vendor datasheets, not this catalog).
#[test]
fn datasheet_spot_checks() {
    let a100 = catalog::find("a100-sxm-80gb").unwrap();
    assert_eq!(a100.tdp_w, 400.0);
    assert_eq!(a100.mem_bw_gbs, 2039.0);
    assert_eq!(peak("a100-sxm-80gb", Bf16), Some(312.0));
    assert_eq!(peak("a100-sxm-80gb", Tf32), Some(156.0));
    assert_eq!(peak("a100-sxm-80gb", Fp8), None);
    assert_eq!(catalog::find("a100-sxm-40gb").unwrap().mem_bw_gbs, 1555.0);
    assert_eq!(peak("h100-sxm", Bf16), Some(989.4));
    assert_eq!(catalog::find("h100-sxm").unwrap().tdp_w, 700.0);
    assert_eq!(catalog::find("l4").unwrap().tdp_w, 72.0);
    assert_eq!(catalog::find("t4").unwrap().tdp_w, 70.0);
    assert_eq!(peak("t4", Bf16), None);
    assert_eq!(peak("t4", Fp16), Some(65.0));
    for v in ["v100-sxm2-16gb", "v100-pcie-32gb"] {
        assert!(peak(v, Fp16).is_some());
        for m in [Tf32, Bf16, Fp8, Int8] {
            assert_eq!(peak(v, m), None, "{v} {m:?}");
        }
    }
    assert_eq!(peak("v100-sxm2-32gb", Fp16), Some(125.0));
    assert_eq!(catalog::find("h200-sxm").unwrap().memory_gb, 141.0);
    assert_eq!(catalog::find("h200-sxm").unwrap().mem_bw_gbs, 4800.0);
    assert_eq!(peak("mi300x", Bf16), Some(1307.4));
    assert_eq!(catalog::find("mi300x").unwrap().tdp_w, 750.0);
    assert_eq!(peak("tpu-v5p", Bf16), Some(459.0));
    assert_eq!(peak("tpu-v4", Bf16), Some(275.0));
    // DGX A100: 6.5 kW for 8 x 400 W.
    assert_eq!(a100.host_w_per_device, (6500.0 - 3200.0) / 8.0);
}

fn is_country(code: &str) -> bool {
    code.len() == 2 && code.chars().all(|c| c.is_ascii_uppercase())
}

#[test]
fn grid_table_is_well_formed() {
    let countries = GRID.iter().filter(|g| is_country(g.code)).count();
    assert!(countries >= 50, "only {countries} countries");
    let mut codes = HashSet::new();
    for g in GRID {
        assert!(
            codes.insert(g.code.to_ascii_lowercase()),
            "duplicate {}",
            g.code
        );
        assert!(
            (0.0..1200.0).contains(&g.gco2e_per_kwh),
            "{}: {}",
            g.code,
            g.gco2e_per_kwh
        );
        assert!(!g.source.is_empty() && !g.name.is_empty(), "{}", g.code);
        assert!((2009..=2030).contains(&g.year), "{}: {}", g.code, g.year);
        assert_eq!(grid::find(g.code).map(|x| x.code), Some(g.code));
        assert_eq!(
            grid::find(&g.code.to_ascii_lowercase()).map(|x| x.code),
            Some(g.code)
        );
        let v = g.value();
        assert_eq!(v.gco2e_per_kwh, g.gco2e_per_kwh);
        assert_eq!(v.year, Some(g.year));
    }
    assert!(grid::find("WORLD").is_some());
    assert!(grid::find("XX-nowhere").is_none());
    for provider in ["aws:", "gcp:", "azure:"] {
        let n = GRID.iter().filter(|g| g.code.starts_with(provider)).count();
        assert!(n >= 10, "{provider} {n} regions");
    }
    assert!(GRID.iter().filter(|g| g.code.contains(':')).count() >= 25);
    for g in GRID.iter().filter(|g| is_country(g.code)) {
        assert!(g.source.contains("Our World in Data") && g.source.contains("codecarbon"));
    }
}

#[test]
fn grid_spot_checks() {
    let v = |c: &str| grid::find(c).unwrap_or_else(|| panic!("{c}")).gco2e_per_kwh;
    // Plausibility against independently known grids.
    assert!(v("FR") < 100.0);
    assert!(v("PL") > 500.0);
    assert!(v("SE") < 100.0 && v("NO") < 100.0);
    assert!(v("IN") > 500.0 && v("ZA") > 500.0);
    assert!(v("CA-QC") < v("CA-AB"));
    // The generated constants (codecarbon 3.3.2 global_energy_mix.json, OWID 2023).
    assert_eq!(v("FR"), 56.039);
    assert_eq!(v("PL"), 661.926);
    assert_eq!(grid::find("FR").unwrap().year, 2023);
    assert_eq!(v("WORLD"), 475.0);
    // Cloud regions take their grid's value.
    assert_eq!(v("aws:us-east-1"), v("US-VA"));
    assert_eq!(v("azure:westeurope"), v("NL"));
    assert_eq!(v("aws:eu-west-3"), v("FR"));
    assert!(grid::find("aws:us-east-1")
        .unwrap()
        .source
        .contains("eGRID"));
    // GCP regions carry Google's own published 2023 figure.
    assert_eq!(v("gcp:europe-west9"), 34.0);
    assert_eq!(grid::find("gcp:europe-west1").unwrap().year, 2023);
    assert!(grid::find("gcp:me-central1").is_some());
}

/// A family member the same source measured on its own gets its own GEMM
/// fraction: Ada's family figure is the L40S's (bf16 269.15 of 362.05 TFLOPS,
/// 0.743); the 72 W L4 reached 0.586 of 121, the RTX 4090 its whole 165.2
/// (eight entries 160.5-173.3, capped at the peak). A100 PCIe 40 GB: gpu-fryer's
/// sustained 0.718 (bf16) and 0.679 (tf32) where the SXM part keeps 0.865/0.833.
#[test]
fn family_members_measured_on_their_own_keep_their_gemm_fraction() {
    let rate =
        |id: &str, m: MathMode| catalog::find(id).unwrap().datasheet_profile().gemm_tflops[&m];
    let close = |got: f64, want: f64| assert!((got / want - 1.0).abs() < 1e-12, "{got} vs {want}");
    close(rate("l40s", Bf16), 362.05 * 0.743);
    close(rate("l4", Bf16), 121.0 * 0.586);
    close(rate("l4", Fp16), 121.0 * 0.569);
    close(rate("rtx-4090", Bf16), 165.2);
    close(rate("rtx-4090", Fp32), 82.6 * 0.663);
    close(rate("a100-pcie-40gb", Bf16), 312.0 * 0.718);
    close(rate("a100-pcie-40gb", Tf32), 156.0 * 0.679);
    close(rate("a100-sxm-80gb", Bf16), 312.0 * 0.865);
}

/// Idle with a CUDA context is measured in watts where a source has it
/// (arXiv:2605.23918: A100 80 GB 80.0 W, L40S 102.1 W) and carries to both
/// 80 GB A100 boards, whatever their TDP; elsewhere (the 40 GB A100s' HBM2
/// included) it is the reference H100's share of the TDP (121.59 / 700),
/// named as taken by analogy.
#[test]
fn measured_idle_power_is_watts_for_the_measured_boards() {
    let profile = |id: &str| catalog::find(id).unwrap().datasheet_profile();
    for id in ["a100-sxm-80gb", "a100-pcie-80gb"] {
        let p = profile(id);
        assert_eq!(p.idle_w, 80.0, "{id}");
        assert!(
            !p.source.detail.contains("idle"),
            "{id}: {}",
            p.source.detail
        );
    }
    assert_eq!(profile("l40s").idle_w, 102.1);
    for (id, tdp) in [("l4", 72.0), ("a100-sxm-40gb", 400.0)] {
        let p = profile(id);
        assert!(
            (p.idle_w - tdp * 121.59 / 700.0).abs() < 1e-9,
            "{id}: {}",
            p.idle_w
        );
        assert!(
            p.source.detail.contains("idle"),
            "{id}: {}",
            p.source.detail
        );
    }
    // the GEMM power is unchanged: the dynamic energy per FLOP gives up what idle took
    let a = profile("a100-pcie-80gb");
    let gemm_w =
        a.idle_w + a.active_floor_w + a.pj_per_flop[&Bf16] * 1e-12 * a.gemm_tflops[&Bf16] * 1e12;
    assert!((gemm_w - 300.0).abs() < 1e-6, "{gemm_w}");
}

/// A capped board moves a byte for what its die and memory cost, not for a
/// share of its power cap. Worked from the datasheets: the A100 SXM 80 GB
/// streams at 562.41/700 of its 400 W (the reference H100's share), less 80 W
/// idle and the 0.29 x 400 W floor, over 2,039 x 0.834 GB/s: 73.7 pJ per byte;
/// the 300 W PCIe board, same die and HBM2e at 1,935 GB/s, takes it (its own
/// cap gave 45.9). The V100 PCIe (250 W) takes the SXM2's (300 W); the A10
/// (150 W) would take the A10G's (300 W) but is held at what its cap leaves
/// for streaming; the H100 PCIe's HBM2e (2,000 GB/s) is not the SXM's HBM3
/// (3,350 GB/s) and keeps its own.
#[test]
fn a_capped_board_moves_a_byte_for_its_siblings_energy() {
    let profile = |id: &str| catalog::find(id).unwrap().datasheet_profile();
    let close = |id: &str, want: f64| {
        let got = profile(id).pj_per_byte;
        assert!((got / want - 1.0).abs() < 1e-9, "{id}: {got} vs {want}");
    };
    let (stream, idle, floor) = (562.41 / 700.0, 121.59 / 700.0, 0.29);
    let a100 = (stream * 400.0 - 80.0 - floor * 400.0) / (2039.0 * 0.834) * 1e3;
    close("a100-sxm-80gb", a100);
    close("a100-pcie-80gb", a100);
    let v100 = (stream - idle - floor) * 300.0 / (900.0 * 0.851) * 1e3;
    close("v100-sxm2-32gb", v100);
    close("v100-pcie-32gb", v100);
    close("a10", (1.0 - idle - floor) * 150.0 / (600.0 * 0.782) * 1e3);
    close(
        "h100-pcie",
        (stream - idle - floor) * 350.0 / (2000.0 * 3124.8 / 3350.0) * 1e3,
    );
    assert!(profile("a100-pcie-80gb")
        .source
        .detail
        .contains("energy per byte"));
}
