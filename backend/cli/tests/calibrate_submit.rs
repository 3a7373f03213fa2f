//! The calibration pipeline end to end: a record from the simulated device,
//! submitted by the runner's client (and by `jouleprint calibrate --submit`)
//! to the real service on a fresh Postgres database.
//! Needs Postgres: run `scripts/test.sh` (it starts a local one and sets
//! JOULEPRINT_DATABASE_URL).

#[path = "../../service/tests/common/mod.rs"]
mod common;
use common::TestApp;
use runner::fake::SimDevice;
use runner::{submit, suite, SuiteOptions};
use shared::calibration::CalibrationRecord;
use std::sync::atomic::AtomicBool;

fn simulated_record() -> CalibrationRecord {
    let dev = SimDevice::h100();
    let (mut meter, mut runner) = (dev.meter(), dev.runner());
    suite::run(
        &mut meter,
        &mut runner,
        &SuiteOptions::quick(),
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .expect("simulated run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_calibration_is_accepted_by_the_service() {
    let app = TestApp::spawn().await;
    let (_, token) = service::store::tokens::create(&app.pool, "calibrate test")
        .await
        .expect("create token");
    let rec = simulated_record();
    let run_id = rec.run_id.clone().expect("run id");

    // The blocking client runs off the async runtime.
    let (base, tok, r) = (app.base.clone(), token.clone(), rec.clone());
    let (first, again, bad) = tokio::task::spawn_blocking(move || {
        (
            submit::submit(&base, &tok, &r, 2),
            submit::submit(&base, &tok, &r, 0),
            submit::submit(&base, "not-a-token", &r, 0),
        )
    })
    .await
    .expect("client thread");

    let first = first.expect("first submission");
    assert_eq!(first.run_id, run_id);
    assert_eq!(first.device, "h100-sxm");
    assert_eq!(
        first.status,
        shared::api::RunStatus::Accepted,
        "flags: {:?}",
        first.flags
    );
    assert!(!first.replayed);
    let again = again.expect("replay");
    assert!(again.replayed, "same run id and record: idempotent");
    match bad {
        Err(submit::SubmitError::Refused { status, .. }) => assert_eq!(status, 401),
        other => panic!("expected a 401, got {other:?}"),
    }

    // The command line does the same: run, write, submit.
    let dir = std::env::temp_dir().join(format!("jp-cal-submit-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("rec.json");
    let (base, tok, o2) = (app.base.clone(), token.clone(), out.clone());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_jouleprint"))
            .args(["calibrate", "--simulate", "--quick", "--no-progress"])
            .arg("--out")
            .arg(&o2)
            .args(["--submit", &base, "--token", &tok])
            .output()
            .expect("run jouleprint")
    })
    .await
    .expect("cli thread");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("submitted run"), "{stdout}");
    // A simulated run from the command line is flagged: stored, never used.
    assert!(stdout.contains("flagged"), "{stdout}");
    assert!(stdout.contains("simulated"), "{stdout}");
    let written: CalibrationRecord =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("record")).expect("json");
    written.validate().expect("valid");
    let _ = std::fs::remove_dir_all(&dir);

    let resp = reqwest::get(format!("{}/api/devices/h100-sxm/calibrations", app.base))
        .await
        .expect("GET runs");
    assert!(resp.status().is_success());
    let body = resp.text().await.expect("body");
    assert!(body.contains(&run_id), "{body}");
    drop(app); // drops the test database
}
