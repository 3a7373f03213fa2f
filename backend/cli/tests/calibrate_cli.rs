//! The calibrate and measure commands without a GPU: clear errors, the
//! simulated run end to end, atomic --out, the submission client's errors.

use cli::calibrate::write_record;
use runner::cuda::{self, CudaRunner};
use runner::nvml::NvmlMeter;
use runner::{submit, MeterError, RunnerError};
use shared::calibration::CalibrationRecord;
use std::process::Command;

fn jouleprint() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jouleprint"))
}

fn has_gpu() -> bool {
    nvml_wrapper::Nvml::init().is_ok()
}

#[test]
fn calibrate_without_a_gpu_exits_with_a_clear_message() {
    if has_gpu() {
        eprintln!("NVML loads here: the no-GPU path cannot be tested");
        return;
    }
    let dir = tempdir("nogpu");
    let out = dir.join("rec.json");
    let o = jouleprint()
        .args(["calibrate", "--quick", "--no-progress", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("NVIDIA"), "{err}");
    assert!(err.contains("nothing was measured"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists());

    let o = jouleprint()
        .args(["measure", "--", "true"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("NVIDIA") && !err.contains("panicked"), "{err}");
}

#[test]
fn the_real_meter_and_runner_report_a_missing_driver_as_an_error() {
    if has_gpu() {
        eprintln!("NVML loads here: the no-GPU path cannot be tested");
        return;
    }
    match NvmlMeter::open(0) {
        Err(MeterError::Unavailable(msg)) => assert!(msg.contains("driver"), "{msg}"),
        Err(e) => panic!("expected Unavailable, got {e}"),
        Ok(_) => panic!("NVML opened without a driver"),
    }
    // No libcuda here: checked before any cudarc call (which would panic).
    if cuda::libraries_present().is_err() {
        match CudaRunner::open(0) {
            Err(RunnerError::Unavailable(msg)) => assert!(msg.contains("CUDA"), "{msg}"),
            Err(e) => panic!("expected Unavailable, got {e}"),
            Ok(_) => panic!("CUDA opened without a driver"),
        }
    }
}

#[test]
fn simulated_quick_run_writes_a_valid_record_and_no_temp_file() {
    let dir = tempdir("sim");
    let out = dir.join("h100.json");
    let o = jouleprint()
        .args([
            "calibrate",
            "--simulate",
            "--quick",
            "--no-progress",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        stdout.contains("gemm_bf16_8192") && stdout.contains("derived:"),
        "{stdout}"
    );
    let rec: CalibrationRecord =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    rec.validate().unwrap();
    assert_eq!(rec.run.unwrap().suite, "quick");
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["h100.json".to_string()]);
}

#[test]
fn submit_without_a_token_is_refused_before_measuring() {
    let o = jouleprint()
        .env_remove("JOULEPRINT_TOKEN")
        .args([
            "calibrate",
            "--simulate",
            "--quick",
            "--submit",
            "http://127.0.0.1:9",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--token"));
}

#[test]
fn write_record_is_atomic() {
    let rec: CalibrationRecord = serde_json::from_str(include_str!(
        "../../../shared/data/h100-sxm-calibration.json"
    ))
    .unwrap();
    let dir = tempdir("atomic");
    let path = dir.join("r.json");
    std::fs::write(&path, "old").unwrap();
    write_record(&path, &rec).unwrap();
    let back: CalibrationRecord =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(back.micro.len(), rec.micro.len());
    // A directory that does not exist: an error, nothing left behind.
    let bad = dir.join("missing").join("r.json");
    assert!(write_record(&bad, &rec).is_err());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn submission_client_errors() {
    assert_eq!(
        submit::endpoint("http://h:1/"),
        "http://h:1/api/calibrations"
    );
    assert_eq!(
        submit::endpoint("http://h:1/api/calibrations"),
        "http://h:1/api/calibrations"
    );
    let mut rec: CalibrationRecord = serde_json::from_str(include_str!(
        "../../../shared/data/h100-sxm-calibration.json"
    ))
    .unwrap();
    assert!(matches!(
        submit::submit("http://127.0.0.1:9", "t", &rec, 0),
        Err(submit::SubmitError::NoRunId)
    ));
    rec.run_id = Some("7f1f4e0c-6f3b-4c59-9d0e-3a8f2b9c1d11".into());
    // Nothing listens on the discard port.
    match submit::submit("http://127.0.0.1:9", "t", &rec, 0) {
        Err(submit::SubmitError::Unreachable { url, .. }) => {
            assert_eq!(url, "http://127.0.0.1:9/api/calibrations")
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "jouleprint-calibrate-{tag}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

#[test]
fn measure_prints_a_case_line_that_parses_once_filled_in() {
    use cli::measure::{report, Measured};
    let m = Measured {
        device: "NVIDIA H100 80GB HBM3".into(),
        seconds: 20.0,
        joules: 9000.0,
        steps: 10,
        windows: 1,
        peak_w: Some(690.0),
        exit_ok: true,
    };
    let text = report(&m, "my run", None);
    assert!(text.contains("450.0 W average, 690 W peak"), "{text}");
    let line = text.lines().last().unwrap();
    let mut case: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(case["measured"]["joules_per_step"], 900.0);
    assert_eq!(case["measured"]["seconds_per_step"], 2.0);
    // The user fills in the workload; then it is a validation case.
    case["model"] = serde_json::json!({"preset": "resnet50"});
    case["phase"] = "train".into();
    case["precision"] = "bf16-amp".into();
    case["batch"] = 64.into();
    let parsed: shared::validate::Case = serde_json::from_value(case).unwrap();
    // The name is the user's (`--name`), never the command line.
    assert_eq!(parsed.name, "my run");
}
