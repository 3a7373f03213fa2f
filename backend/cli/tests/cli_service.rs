//! `jouleprint serve` and `jouleprint token` against Postgres.
//! Needs Postgres: run `scripts/test.sh` (it starts a local one and sets
//! JOULEPRINT_DATABASE_URL).

#[path = "../../service/tests/common/mod.rs"]
mod common;
use common::{error_of, record, TestApp};
use reqwest::StatusCode;

#[test]
fn serve_reports_an_unreachable_database_without_its_password() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jouleprint"))
        .args(["serve", "--port", "0"])
        .env(
            "JOULEPRINT_DATABASE_URL",
            "postgres://u:hunter2@127.0.0.1:1/db",
        )
        .env("JOULEPRINT_DB_ACQUIRE_TIMEOUT_MS", "500")
        .env_remove("JOULEPRINT_CONFIG")
        .output()
        .expect("run jouleprint serve");
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("database"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[tokio::test]
async fn token_cli_creates_lists_and_revokes() {
    let app = TestApp::spawn().await;
    let bin = env!("CARGO_BIN_EXE_jouleprint");
    let name = "gpu-7'; DROP TABLE api_tokens; --";
    let cli = |args: Vec<&str>| {
        std::process::Command::new(bin)
            .args(args)
            .env("JOULEPRINT_DATABASE_URL", &app.db_url)
            .env_remove("JOULEPRINT_CONFIG")
            .output()
            .expect("run jouleprint")
    };
    let out = cli(vec!["token", "create", "--name", name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(token.starts_with("jp_") && token.len() == 67, "{token}");
    // Only the hash is stored.
    let raw: i64 = app
        .count(&format!(
            "SELECT count(*) FROM api_tokens WHERE encode(token_hash, 'escape') LIKE '%{}%'",
            &token[3..20]
        ))
        .await;
    assert_eq!(raw, 0);
    assert_eq!(
        app.submit(&token, &record(uuid::Uuid::new_v4()))
            .await
            .status(),
        201
    );

    let out = cli(vec!["token", "list"]);
    assert!(out.status.success());
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        listed.contains(name) && listed.contains("active"),
        "{listed}"
    );
    assert!(!listed.contains(&token));

    let out = cli(vec!["token", "revoke", name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (s, b) = error_of(app.submit(&token, &record(uuid::Uuid::new_v4())).await).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("revoked_token"))
    );
    let out = cli(vec!["token", "revoke", "no-such-token"]);
    assert!(!out.status.success());
}
