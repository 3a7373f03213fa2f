//! The reference calibration becomes the built-in H100 profile by the documented formulas.

#![allow(clippy::unwrap_used)]

use shared::calibration::{derive_profile, CalibrationRecord};
use shared::units::MathMode;

#[test]
fn reference_calibration_coefficients_by_hand() {
    let raw: serde_json::Value =
        serde_json::from_str(shared::catalog::H100_REFERENCE_CALIBRATION).unwrap();
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
    let builtin = shared::catalog::builtin_profile(spec);
    assert_eq!(builtin.source.kind, "measured");
    assert_eq!(builtin.pj_per_flop, p.pj_per_flop);
}

#[test]
fn with_floor_keeps_each_loop_power() {
    let spec = shared::catalog::find("h100-sxm").unwrap();
    let p = shared::catalog::builtin_profile(spec);
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
        serde_json::from_str(shared::catalog::H100_REFERENCE_CALIBRATION).unwrap();
    rec.micro[0].joules = f64::NAN;
    let e = rec.validate().unwrap_err().to_string();
    assert!(e.starts_with("micro[0].joules"), "{e}");
    let mut rec: CalibrationRecord =
        serde_json::from_str(shared::catalog::H100_REFERENCE_CALIBRATION).unwrap();
    rec.micro[0].joules = 1e6; // 230 kW: above 1.5x the power limit
    assert!(rec
        .validate()
        .unwrap_err()
        .to_string()
        .contains("power limit"));
}
