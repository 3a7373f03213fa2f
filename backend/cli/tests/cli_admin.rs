//! `jouleprint admin quarantine|unquarantine|quarantined` against Postgres.
//! Needs Postgres: run `scripts/test.sh` (it starts a local one and sets
//! JOULEPRINT_DATABASE_URL).

#[path = "../../service/tests/common/mod.rs"]
mod common;
use common::{record, TestApp};
use serde_json::{json, Value};
use std::time::Duration;

async fn idle(app: &TestApp) -> Value {
    let d: Value = app
        .get("/api/devices/h100-sxm")
        .await
        .json()
        .await
        .expect("device");
    d["profile"]["idle_w"].clone()
}

/// The device's idle power once it is `want` (the servers reload on NOTIFY).
async fn idle_becomes(app: &TestApp, want: f64) {
    for _ in 0..50 {
        if idle(app).await == json!(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("idle_w stayed {}, not {want}", idle(app).await);
}

#[tokio::test]
async fn admin_quarantines_and_releases_runs_and_tokens() {
    // Two runs from two tokens make a profile (the test settings ask one of each).
    let app = TestApp::spawn().await;
    let (a, b) = (app.token("host-a").await, app.token("host-b").await);
    let mut ra = record(uuid::Uuid::new_v4());
    ra["idle"]["avg_power_w"] = json!(100.0);
    let mut rb = record(uuid::Uuid::new_v4());
    rb["idle"]["avg_power_w"] = json!(110.0);
    assert_eq!(app.submit(&a, &ra).await.status(), 201);
    assert_eq!(app.submit(&b, &rb).await.status(), 201);
    idle_becomes(&app, 105.0).await;

    let bin = env!("CARGO_BIN_EXE_jouleprint");
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(bin)
            .args(args)
            .env("JOULEPRINT_DATABASE_URL", &app.db_url)
            .env_remove("JOULEPRINT_CONFIG")
            .output()
            .expect("run jouleprint");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, text) = cli(&[
        "admin",
        "quarantine",
        "--token",
        "host-b",
        "--reason",
        "bad PSU",
    ]);
    assert!(ok, "{text}");
    assert!(text.contains("h100-sxm"), "{text}");
    idle_becomes(&app, 100.0).await;
    let (ok, text) = cli(&["admin", "quarantined"]);
    assert!(
        ok && text.contains("host-b") && text.contains("bad PSU"),
        "{text}"
    );

    let (ok, text) = cli(&["admin", "unquarantine", "--token", "host-b"]);
    assert!(ok, "{text}");
    idle_becomes(&app, 105.0).await;

    let run = ra["run_id"].as_str().expect("run id");
    let (ok, text) = cli(&["admin", "quarantine", "--run", run]);
    assert!(ok, "{text}");
    idle_becomes(&app, 110.0).await;
    // Nothing was deleted.
    assert_eq!(app.count("SELECT count(*) FROM calibration_runs").await, 2);
    assert_eq!(app.count("SELECT count(*) FROM quarantine_events").await, 3);

    // Mistakes are named.
    let (ok, text) = cli(&["admin", "quarantine", "--run", "not-a-uuid"]);
    assert!(!ok && text.contains("--run"), "{text}");
    let (ok, text) = cli(&["admin", "quarantine", "--token", "nobody"]);
    assert!(!ok && text.contains("nobody"), "{text}");
    let (ok, _) = cli(&["admin", "quarantine"]);
    assert!(!ok);
}
