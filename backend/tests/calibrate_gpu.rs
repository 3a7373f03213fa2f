//! On a GPU: `calibrate --quick` against the reference H100 measurements.
//!
//! Run on an NVIDIA host (driver, cuBLAS on LD_LIBRARY_PATH) with
//! `cargo test -p jouleprint --release --test calibrate_gpu -- --ignored`.
//! The simulated twin runs everywhere and checks the same criteria on the
//! simulated H100.

use backend::calibrate::fake::SimDevice;
use backend::calibrate::{suite, KernelRunner, PowerMeter, SuiteOptions};
use shared::calibration::{CalibrationRecord, MeasurementKind};
use std::sync::atomic::AtomicBool;

fn reference() -> CalibrationRecord {
    serde_json::from_str(include_str!("../../shared/data/h100-sxm-calibration.json"))
        .expect("checked")
}

/// Total pJ/FLOP (idle included) of the bf16 8192 GEMM within 10% of the
/// reference's, and the copy's pJ/byte within 15%.
fn check_against_reference(meter: &mut dyn PowerMeter, runner: &mut dyn KernelRunner) {
    let rec = suite::run(
        meter,
        runner,
        &SuiteOptions::quick(),
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .expect("checked");
    rec.validate().expect("checked");
    println!("{}", suite::summary(&rec));
    let refr = reference();
    let get = |r: &CalibrationRecord, f: &dyn Fn(&shared::calibration::Measurement) -> bool| {
        r.micro.iter().find(|m| f(m)).cloned().expect("checked")
    };
    let bf16 = |m: &shared::calibration::Measurement| m.name == "gemm_bf16_8192";
    let copy = |m: &shared::calibration::Measurement| m.kind == MeasurementKind::Memory;
    let (a, b) = (get(&rec, &bf16), get(&refr, &bf16));
    let (pa, pb) = (
        a.joules / a.flops_per_step.expect("checked") / a.steps as f64 * 1e12,
        b.pj_per_flop.expect("checked"),
    );
    assert!(
        (pa / pb - 1.0).abs() < 0.10,
        "bf16 8192: {pa:.3} pJ/FLOP vs reference {pb:.3}"
    );
    let (a, b) = (get(&rec, &copy), get(&refr, &copy));
    let (pa, pb) = (
        a.joules / a.bytes_per_step.expect("checked") / a.steps as f64 * 1e12,
        b.pj_per_byte.expect("checked"),
    );
    assert!(
        (pa / pb - 1.0).abs() < 0.15,
        "copy: {pa:.1} pJ/B vs reference {pb:.1}"
    );
}

#[test]
#[ignore = "requires NVIDIA GPU"]
fn quick_calibration_on_an_h100_matches_the_reference() {
    let (mut meter, mut runner) = backend::cli::calibrate::open(0).expect("a GPU with its driver");
    if !meter.device().name.contains("H100") {
        eprintln!(
            "not an H100 ({}): the reference does not apply",
            meter.device().name
        );
        return;
    }
    check_against_reference(&mut meter, &mut runner);
}

#[test]
fn quick_calibration_on_the_simulated_h100_matches_the_reference() {
    let dev = SimDevice::h100();
    let (mut meter, mut runner) = (dev.meter(), dev.runner());
    check_against_reference(&mut meter, &mut runner);
}
