//! The reference calibration becomes the built-in H100 profile by the documented formulas.

#![allow(clippy::unwrap_used)]

use shared::calibration::{derive_profile, CalibrationRecord};
use shared::units::MathMode;

#[test]
fn reference_calibration_coefficients_by_hand() {
    let raw: serde_json::Value =
        serde_json::from_str(shared::calibration::H100_REFERENCE_CALIBRATION).unwrap();
    let rec: CalibrationRecord = serde_json::from_value(raw.clone()).unwrap();
    let spec = shared::catalog::find("NVIDIA H100 80GB HBM3").unwrap();
    let p = derive_profile(&rec, &spec.datasheet_profile()).unwrap();
    let idle = raw["idle"]["avg_power_w"].as_f64().unwrap();
    let floor = shared::tuning::TUNING.active_floor_fraction * 700.0;
    assert!((p.idle_w - idle).abs() < 1e-9);
    assert!((p.active_floor_w - floor).abs() < 1e-9);
    let row = |name: &str| {
        raw["micro"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap()
            .clone()
    };
    for (name, mode) in [
        ("gemm_bf16_8192", MathMode::Bf16),
        ("gemm_fp8_8192", MathMode::Fp8),
        ("gemm_fp32_8192", MathMode::Fp32),
    ] {
        let m = row(name);
        let (j, s, steps, f) = (
            m["joules"].as_f64().unwrap(),
            m["seconds"].as_f64().unwrap(),
            m["steps"].as_f64().unwrap(),
            m["flops_per_step"].as_f64().unwrap(),
        );
        let rate = f * steps / s;
        let pj = (j / s - idle - floor) / rate * 1e12;
        assert!(
            (p.pj_per_flop[&mode] - pj).abs() < 1e-9,
            "{name}: {} vs {pj}",
            p.pj_per_flop[&mode]
        );
        assert!((p.gemm_tflops[&mode] - rate / 1e12).abs() < 1e-6);
    }
    let fma = row("fma_bf16_2GiB");
    let rate = fma["bytes_per_step"].as_f64().unwrap() * fma["steps"].as_f64().unwrap()
        / fma["seconds"].as_f64().unwrap();
    let pj = (fma["joules"].as_f64().unwrap() / fma["seconds"].as_f64().unwrap() - idle - floor)
        / rate
        * 1e12;
    assert!((p.pj_per_byte - pj).abs() < 1e-9);
    // the built-in profile is this measured one
    let builtin = shared::calibration::builtin_profile(spec);
    assert_eq!(builtin.source.kind, "measured");
    assert_eq!(builtin.pj_per_flop, p.pj_per_flop);
}

#[test]
fn with_floor_keeps_each_loop_power() {
    let spec = shared::catalog::find("h100-sxm").unwrap();
    let p = shared::calibration::builtin_profile(spec);
    let q = p.with_floor(100.0);
    let bf16 = |x: &shared::device::DeviceProfile| {
        x.active_floor_w + x.pj_per_flop[&MathMode::Bf16] * x.gemm_tflops[&MathMode::Bf16]
    };
    assert!((bf16(&p) - bf16(&q)).abs() < 1e-9);
    let mem =
        |x: &shared::device::DeviceProfile| x.active_floor_w + x.pj_per_byte * x.mem_gbs * 1e-3;
    assert!((mem(&p) - mem(&q)).abs() < 1e-9);
}

#[test]
fn calibration_validation_names_the_field() {
    let mut rec: CalibrationRecord =
        serde_json::from_str(shared::calibration::H100_REFERENCE_CALIBRATION).unwrap();
    rec.micro[0].joules = f64::NAN;
    let e = rec.validate().unwrap_err().to_string();
    assert!(e.starts_with("micro[0].joules"), "{e}");
    let mut rec: CalibrationRecord =
        serde_json::from_str(shared::calibration::H100_REFERENCE_CALIBRATION).unwrap();
    rec.micro[0].joules = 1e6; // 230 kW: above 1.5x the power limit
    assert!(rec
        .validate()
        .unwrap_err()
        .to_string()
        .contains("power limit"));
}

fn reference() -> CalibrationRecord {
    serde_json::from_str(shared::calibration::H100_REFERENCE_CALIBRATION).unwrap()
}

/// A square GEMM row with step time `t` s, `steps` steps and power `w`.
fn gemm_row(dtype: &str, n: u64, t: f64, w: f64) -> shared::calibration::Measurement {
    let mut m = reference().micro[0].clone();
    let steps = (2.0 / t).ceil() as u64;
    m.name = format!("gemm_{dtype}_{n}");
    m.dtype = dtype.into();
    m.n = Some(n);
    m.mnk = None;
    m.steps = steps;
    m.seconds = t * steps as f64;
    m.joules = w * m.seconds;
    m.avg_power_w = Some(w);
    m.flops_per_step = Some(2.0 * (n * n * n) as f64);
    m.bytes_per_step = None;
    clear_derived(&mut m);
    m
}

/// Drop a loop's derived figures (the reference's no longer match once its raw ones change).
fn clear_derived(m: &mut shared::calibration::Measurement) {
    m.seconds_per_step = None;
    m.joules_per_step = None;
    m.tflops = None;
    m.gb_per_s = None;
    m.pj_per_flop = None;
    m.pj_per_byte = None;
}

#[test]
fn derived_loop_figures_must_match_the_raw_ones() {
    let rec = reference();
    let m = &rec.micro[0];
    // By hand from the raw figures: pJ/FLOP = joules / (FLOPs per step x steps) x 1e12.
    let pj = m.joules / (m.flops_per_step.unwrap() * m.steps as f64) * 1e12;
    assert!(rec.validate().is_ok());
    for (factor, ok) in [
        (1.0, true),
        (1.009, true),
        (0.991, true),
        (1.02, false),
        (1e30, false),
    ] {
        let mut r = rec.clone();
        r.micro[0].pj_per_flop = Some(pj * factor);
        let got = r.validate();
        assert_eq!(got.is_ok(), ok, "x{factor}: {got:?}");
        if !ok {
            assert!(got
                .unwrap_err()
                .to_string()
                .starts_with("micro[0].pj_per_flop:"));
        }
    }
    let mut r = rec.clone();
    r.micro[0].seconds_per_step = Some(f64::NAN);
    assert!(r
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("micro[0].seconds_per_step:"));
    // A byte rate on a loop without bytes cannot be checked: refused.
    let mut r = rec.clone();
    r.micro[0].bytes_per_step = None;
    r.micro[0].gb_per_s = Some(100.0);
    assert!(r
        .validate()
        .unwrap_err()
        .to_string()
        .starts_with("micro[0].gb_per_s:"));
}

#[test]
fn filled_derived_columns_are_the_hand_worked_ones() {
    // 4 steps of 2e12 FLOPs and 5e8 bytes in 2 s for 600 J, by hand:
    // 0.5 s and 150 J a step, 4 TFLOP/s, 1 GB/s, 75 pJ/FLOP, 3e5 pJ/byte.
    let mut m = reference().micro[0].clone();
    (m.steps, m.seconds, m.joules) = (4, 2.0, 600.0);
    (m.flops_per_step, m.bytes_per_step) = (Some(2e12), Some(5e8));
    m.fill_derived_columns();
    let got = [
        m.seconds_per_step,
        m.joules_per_step,
        m.tflops,
        m.gb_per_s,
        m.pj_per_flop,
        m.pj_per_byte,
    ];
    let want = [0.5, 150.0, 4.0, 1.0, 75.0, 3e5];
    for (g, w) in got.iter().zip(want) {
        let g = g.expect("filled");
        assert!((g - w).abs() <= 1e-12 * w, "{g} vs {w}");
    }
    // Without bytes the byte columns stay empty rather than made up.
    m.bytes_per_step = None;
    m.fill_derived_columns();
    assert_eq!((m.gb_per_s, m.pj_per_byte), (None, None));
    assert!(m.tflops.is_some());
}

#[test]
fn version_1_records_still_derive_and_version_2_is_written() {
    assert_eq!(shared::calibration::RECORD_SCHEMA_VERSION, 2);
    // The reference file has no schema_version: it is version 1.
    let rec = reference();
    assert_eq!(rec.schema_version, 1);
    let p = shared::calibration::profile_from_record(&rec).unwrap();
    assert_eq!(p.id, "h100-sxm");
    assert_eq!(p.source.kind, "measured");
    // The one entry point and the catalog's built-in profile agree on the numbers.
    let builtin = shared::calibration::builtin_profile(shared::catalog::find("h100-sxm").unwrap());
    assert_eq!(p.pj_per_flop, builtin.pj_per_flop);
    assert_eq!(p.gemm_latency_us, builtin.gemm_latency_us);

    // A version-1 record as the first runner wrote it: fp32 multiply-add,
    // host-driven launch loop, run metadata.
    let v1 = serde_json::json!({
        "schema_version": 1,
        "run_id": "7f1f4e0c-6f3b-4c59-9d0e-3a8f2b9c1d11",
        "device": {"name": "NVIDIA H100 80GB HBM3", "power_limit_mw": 700000, "sm_count": 132},
        "energy_source": "counter",
        "idle": {"avg_power_w": 120.0, "seconds": 3.0},
        "micro": [
            {"name": "gemm_bf16_8192", "kind": "gemm", "dtype": "bf16", "n": 8192, "steps": 1200,
             "seconds": 1.9, "joules": 1320.0, "flops_per_step": 1099511627776.0, "device_timed": true},
            {"name": "fma_fp32_2GiB", "kind": "elementwise", "dtype": "fp32", "steps": 700,
             "seconds": 2.0, "joules": 1100.0, "flops_per_step": 1073741824.0,
             "bytes_per_step": 8589934592.0, "device_timed": true},
            {"name": "launch_empty", "kind": "launch", "dtype": "fp32", "steps": 500000,
             "seconds": 2.25, "joules": 300.0, "device_timed": true}
        ],
        "flags": [],
        "run": {"suite": "quick", "repeats": 1, "min_loop_seconds": 2.0, "runner": "cuda", "skipped": []}
    });
    let rec: CalibrationRecord = serde_json::from_value(v1).unwrap();
    let d = shared::calibration::derived(&rec).unwrap();
    let p = &d.profile;
    // pJ/byte from the fp32 loop, by hand: (P - idle - floor) / byte rate.
    let floor = shared::tuning::TUNING.active_floor_fraction * 700.0;
    let rate = 8589934592.0 * 700.0 / 2.0;
    let pj = (1100.0 / 2.0 - 120.0 - floor) / rate * 1e12;
    assert!(
        (p.pj_per_byte - pj).abs() < 1e-9,
        "{} vs {pj}",
        p.pj_per_byte
    );
    // The host-driven launch loop timed the host: the kernel latency stays the datasheet's.
    let spec = shared::catalog::find("h100-sxm").unwrap();
    assert_eq!(
        p.kernel_latency_us,
        spec.datasheet_profile().kernel_latency_us
    );
    assert!(
        d.notes.iter().any(|n| n.contains("launch_empty")),
        "{:?}",
        d.notes
    );
    assert!(d.notes.iter().any(|n| n.contains("fp32")), "{:?}", d.notes);
    // One GEMM size: no latency fit, said so.
    assert!(
        d.notes.iter().any(|n| n.contains("GEMM latency")),
        "{:?}",
        d.notes
    );
    // A version-1 record has no sweeps beyond its GEMMs.
    let sw = d.sweeps.unwrap();
    assert_eq!(sw.gemm.len(), 1);
    assert!(sw.attention.is_empty() && sw.elementwise.is_empty() && sw.occupancy.is_empty());
    assert!(sw.active_floor_measured_w.is_none());

    let mut newer = reference();
    newer.schema_version = 3;
    let e = newer.validate().unwrap_err().to_string();
    assert!(e.starts_with("schema_version: must be 1 to 2"), "{e}");
}

#[test]
fn gemm_latency_is_the_intercept_of_the_square_family_and_never_dropped() {
    // Exact line t = F / R + t0 through three square sizes, R = 700 TFLOP/s, t0 = 2.5 us;
    // a transformer-shaped GEMM 3% faster per FLOP stays out of the fit.
    let (r, t0) = (700e12, 2.5e-6);
    let mut rec = reference();
    rec.micro
        .retain(|m| m.kind != shared::calibration::MeasurementKind::Gemm);
    for n in [2048u64, 4096, 8192] {
        let f = 2.0 * (n * n * n) as f64;
        rec.micro.push(gemm_row("bf16", n, f / r + t0, 690.0));
    }
    let mut big = gemm_row("bf16", 8192, 0.0021, 690.0);
    let f = 2.0 * 16384.0 * 14336.0 * 4096.0;
    big.name = "gemm_bf16_16384x14336x4096".into();
    big.n = None;
    big.mnk = Some([16384, 14336, 4096]);
    big.flops_per_step = Some(f);
    big.seconds = (f / (1.03 * r) + t0) * big.steps as f64;
    big.joules = 690.0 * big.seconds;
    clear_derived(&mut big);
    big.avg_power_w = Some(690.0);
    rec.micro.push(big);
    let d = shared::calibration::derived(&rec).unwrap();
    assert!(
        (d.profile.gemm_latency_us - 2.5).abs() < 1e-6,
        "{}",
        d.profile.gemm_latency_us
    );
    // The bf16 rate is the largest square GEMM's own: F / (F / R + t0).
    let f8 = 2.0 * 8192f64.powi(3);
    let want = f8 / (f8 / r + t0) / 1e12;
    assert!((d.profile.gemm_tflops[&MathMode::Bf16] - want).abs() < 1e-6);

    // Larger squares slower per FLOP: a negative intercept is clamped to 0 and noted.
    let mut rec = reference();
    rec.micro
        .retain(|m| m.kind != shared::calibration::MeasurementKind::Gemm);
    for (n, rate) in [(2048u64, 720e12), (4096, 700e12), (8192, 680e12)] {
        let f = 2.0 * (n * n * n) as f64;
        rec.micro.push(gemm_row("bf16", n, f / rate, 690.0));
    }
    let d = shared::calibration::derived(&rec).unwrap();
    assert_eq!(d.profile.gemm_latency_us, 0.0);
    assert!(
        d.notes.iter().any(|n| n.contains("clamped to 0")),
        "{:?}",
        d.notes
    );
}

#[test]
fn a_device_the_catalog_does_not_know_gets_a_profile_from_its_record() {
    let mut rec = reference();
    rec.device.name = "NVIDIA Example 9000".into();
    rec.device.memory_mib = Some(81920);
    let p = shared::calibration::profile_from_record(&rec).unwrap();
    assert_eq!(p.id, "nvidia-example-9000");
    assert!((p.memory_gb - 81920.0 * 1048576.0 / 1e9).abs() < 1e-9);
    // Only the measured modes: the reference has no int8 row.
    assert!(p.gemm_tflops.contains_key(&MathMode::Bf16));
    assert!(!p.gemm_tflops.contains_key(&MathMode::Int8));
}

/// The stored H100 profile is the derivation of the reference calibration
/// record, field for field (`UPDATE_PROFILE=1` rewrites the file after a
/// deliberate change of the datasheet or the derivation).
#[test]
fn the_stored_h100_profile_is_the_reference_derivation() {
    let spec = shared::catalog::find("h100-sxm").expect("h100");
    let derived = shared::calibration::reference_h100_profile(spec).expect("derives");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/h100-sxm-profile.json");
    if std::env::var_os("UPDATE_PROFILE").is_some() {
        let text = serde_json::to_string_pretty(&derived).expect("serialises") + "\n";
        std::fs::write(path, text).expect("writes");
    }
    let stored = shared::calibration::builtin_profile(spec);
    // exact: serde_json parses floats round-trip (feature float_roundtrip)
    assert_eq!(stored, derived);
    assert_eq!(stored.source.version, "measured:reference-2026-11-27");
}
