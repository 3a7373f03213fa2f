//! On a GPU: `calibrate --quick` against the reference H100 measurements.
//!
//! Run on an NVIDIA host (driver, cuBLAS on LD_LIBRARY_PATH) with
//! `cargo test -p jouleprint --release --test calibrate_gpu -- --ignored`
//! (`scripts/gpu-check.sh` runs the binary instead). The simulated twins run
//! everywhere and check the same criteria on the simulated H100 and H200.
//!
//! Criteria (issue 13): on a GH100 part (H100, H200, GH200: the reference's
//! compute) the bf16 8192 GEMM rate within 10% of the reference's; the copy
//! bandwidth, as a fraction of the device's datasheet bandwidth, within 15% of
//! the reference's fraction; on the reference device itself (an H100 SXM) the
//! bf16 GEMM's total pJ/FLOP within 10% and the copy's pJ/byte within 15%.
//! Any other GPU: the record validates, derives a profile and is not flagged.

use runner::fake::{SimConfig, SimDevice};
use runner::{suite, KernelRunner, PowerMeter, SuiteOptions};
use shared::calibration::{profile_from_record, CalibrationRecord, Measurement, MeasurementKind};
use std::sync::atomic::AtomicBool;

fn reference() -> CalibrationRecord {
    serde_json::from_str(include_str!(
        "../../../shared/data/h100-sxm-calibration.json"
    ))
    .expect("checked")
}

fn get(r: &CalibrationRecord, f: impl Fn(&Measurement) -> bool) -> Measurement {
    r.micro.iter().find(|m| f(m)).cloned().expect("checked")
}

fn within(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        (got / want - 1.0).abs() < tol,
        "{what}: {got:.4} vs reference {want:.4} (tolerance {:.0}%)",
        tol * 100.0
    );
}

/// GH100 parts share the reference's compute.
fn is_gh100(name: &str) -> bool {
    ["H100", "H200", "GH200"].iter().any(|n| name.contains(n))
}

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
    assert!(rec.flags.is_empty(), "flagged: {:?}", rec.flags);
    let profile = profile_from_record(&rec).expect("a profile");
    println!("{profile:?}");
    let name = rec.device.name.clone();
    if !is_gh100(&name) {
        eprintln!("{name} is not a GH100 part: the reference's figures do not apply");
        return;
    }
    let refr = reference();
    let bf16 = |m: &Measurement| m.name == "gemm_bf16_8192";
    let copy = |m: &Measurement| m.kind == MeasurementKind::Memory;
    let (a, b) = (get(&rec, bf16), get(&refr, bf16));
    within(
        "bf16 8192 TFLOP/s",
        a.flop_rate().expect("checked"),
        b.flop_rate().expect("checked"),
        0.10,
    );
    let spec = shared::catalog::find(&name).expect("GH100 parts are in the catalog");
    let ref_spec = shared::catalog::find(&refr.device.name).expect("checked");
    let (ca, cb) = (get(&rec, copy), get(&refr, copy));
    within(
        "copy bandwidth / datasheet",
        ca.byte_rate().expect("checked") / (spec.mem_bw_gbs * 1e9),
        cb.byte_rate().expect("checked") / (ref_spec.mem_bw_gbs * 1e9),
        0.15,
    );
    if spec.id == ref_spec.id {
        let pj = |m: &Measurement, work: f64| m.joules / work / m.steps as f64 * 1e12;
        within(
            "bf16 8192 pJ/FLOP",
            pj(&a, a.flops_per_step.expect("checked")),
            b.pj_per_flop.expect("checked"),
            0.10,
        );
        within(
            "copy pJ/byte",
            pj(&ca, ca.bytes_per_step.expect("checked")),
            cb.pj_per_byte.expect("checked"),
            0.15,
        );
    }
}

#[test]
#[ignore = "requires NVIDIA GPU"]
fn quick_calibration_on_a_gpu_matches_the_reference() {
    let (mut meter, mut runner) = runner::open(0).expect("a GPU with its driver");
    check_against_reference(&mut meter, &mut runner);
}

#[test]
fn quick_calibration_on_the_simulated_h100_matches_the_reference() {
    let dev = SimDevice::h100();
    let (mut meter, mut runner) = (dev.meter(), dev.runner());
    check_against_reference(&mut meter, &mut runner);
}

#[test]
fn quick_calibration_on_the_simulated_h200_passes_the_gh100_checks() {
    let dev = SimDevice::new(SimConfig::h200());
    let (mut meter, mut runner) = (dev.meter(), dev.runner());
    check_against_reference(&mut meter, &mut runner);
}
