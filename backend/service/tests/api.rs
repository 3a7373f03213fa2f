//! Integration tests of the HTTP service: each test spawns the app on port 0
//! against a fresh Postgres database and calls it over HTTP.
//! Needs Postgres: run `scripts/test.sh` (it starts a local one and sets
//! JOULEPRINT_DATABASE_URL).

#[path = "../../../shared/tests/support/bad_scenarios.rs"]
mod bad_scenarios;
mod common;
use common::{admin, error_of, pinned_scenario, record, scenario, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Executor;
use std::time::Duration;

// ---------------------------------------------------------------- support

// ---------------------------------------------------------------- health

#[tokio::test]
async fn health_reports_the_database() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/health").await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["status"], "ok");
    assert_eq!(b["database"], "ok");
}

#[tokio::test]
async fn database_outage_gives_503_and_the_server_recovers() {
    let app = TestApp::spawn_with(|s| s.db_acquire_timeout_ms = 500).await;
    let token = app.token("host").await;
    assert_eq!(app.get("/api/health").await.status(), 200);

    // Stop the database: no new connections, existing ones killed.
    let mut conn = admin().await;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {} WITH ALLOW_CONNECTIONS false",
        app.db
    )))
    .await
    .expect("disallow");
    conn.execute(sqlx::AssertSqlSafe(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
        app.db
    )))
    .await
    .expect("terminate");

    let (s, b) = error_of(app.get("/api/health").await).await;
    assert_eq!(s, 503);
    assert_eq!(b["code"], "database_unavailable");
    assert!(!b["message"].as_str().unwrap_or("").contains(&app.db));
    let (s, b) = error_of(app.submit(&token, &record(uuid::Uuid::new_v4())).await).await;
    assert_eq!(s, 503, "{b}");
    let (s, _) = error_of(app.post_json("/api/estimates", &pinned_scenario()).await).await;
    assert_eq!(s, 503);
    let (s, _) = error_of(app.get("/api/estimates/abcdefghij").await).await;
    assert_eq!(s, 503);

    // The database returns: the same process serves again.
    conn.execute(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {} WITH ALLOW_CONNECTIONS true",
        app.db
    )))
    .await
    .expect("allow");
    let mut ok = false;
    for _ in 0..50 {
        if app.get("/api/health").await.status() == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "the server did not recover");
    let r = app.submit(&token, &record(uuid::Uuid::new_v4())).await;
    assert_eq!(r.status(), 201);
}

// ---------------------------------------------------------------- devices

#[tokio::test]
async fn devices_list_the_catalog_with_value_sources() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/devices").await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.expect("json");
    let devices = b["devices"].as_array().expect("devices");
    assert_eq!(devices.len(), shared::catalog::CATALOG.len());
    let h100 = devices
        .iter()
        .find(|d| d["id"] == "h100-sxm")
        .expect("h100");
    assert_eq!(h100["profile_origin"], "builtin");
    assert_eq!(h100["runs"]["accepted"], 0);
    let values = h100["values"].as_object().expect("values");
    assert!(values.values().any(|v| v["source"] == "measured"));
    assert!(values.values().any(|v| v["source"] == "datasheet"));
    assert_eq!(values["memory_gb"]["source"], "datasheet");

    let r = app.get("/api/devices/h100-sxm").await;
    assert_eq!(r.status(), 200);
    let one: Value = r.json().await.expect("json");
    assert_eq!(&one, h100);
    // NVML names work too.
    let r = app.get("/api/devices/NVIDIA%20H100%2080GB%20HBM3").await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn device_errors() {
    let app = TestApp::spawn().await;
    let (s, b) = error_of(app.get("/api/devices/nope").await).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_device"))
    );
    let (s, b) = error_of(app.get("/api/devices/h100-sxm?version=7").await).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_version"))
    );
    let (s, b) = error_of(app.get("/api/devices/h100-sxm?version=x").await).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
    assert_eq!(b["field"], "version", "{b}");
    assert_eq!(
        b["message"], "the query parameter `version` must be a whole number",
        "{b}"
    );
    let (s, b) = error_of(
        app.get("/api/devices/h100-sxm/calibrations?limit=abc")
            .await,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(
        (b["code"].as_str(), b["field"].as_str()),
        (Some("invalid_query"), Some("limit")),
        "{b}"
    );
    let (s, b) = error_of(app.get("/api/devices/h100-sxm?colour=red").await).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["field"], "colour", "{b}");
    let (s, b) = error_of(app.get("/api/devices/h100-sxm/calibrations?limit=0").await).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_query"))
    );
    let (s, _) = error_of(app.get("/api/devices/nope/calibrations").await).await;
    assert_eq!(s, 404);
    let r = app.get("/api/devices/h100-sxm/calibrations").await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["runs"], json!([]));
    let (s, b) = error_of(app.get("/api/nothing-here").await).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let r = app
        .client
        .delete(app.url("/api/devices"))
        .send()
        .await
        .expect("DELETE");
    let (s, b) = error_of(r).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
}

// ---------------------------------------------------------------- calibrations

#[tokio::test]
async fn an_accepted_run_becomes_the_device_profile() {
    let app = TestApp::spawn().await;
    let token = app.token("gpu-host-1").await;
    // Warm the cache: it must be dropped when the run is accepted.
    assert_eq!(app.get("/api/devices").await.status(), 200);

    let id = uuid::Uuid::new_v4();
    let rec = record(id);
    let r = app.submit(&token, &rec).await;
    assert_eq!(r.status(), 201);
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["status"], "accepted");
    assert_eq!(b["replayed"], false);
    assert_eq!(b["profile_version"], 1);
    assert_eq!(b["device"], "h100-sxm");

    let micro = rec["micro"].as_array().expect("micro").len() as i64;
    assert_eq!(app.count("SELECT count(*) FROM calibration_runs").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM calibration_measurements")
            .await,
        micro
    );

    let d: Value = app
        .get("/api/devices/h100-sxm")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(d["profile_origin"], "measured");
    assert_eq!(d["measured_version"], 1);
    assert_eq!(d["profile_version"], "measured:h100-sxm:v1");
    assert_eq!(d["runs"]["accepted"], 1);
    assert_eq!(d["runs"]["in_profile"], 1);
    assert_eq!(d["values"]["idle_w"]["source"], "measured");
    assert_eq!(d["values"]["idle_w"]["spread"], 0.0);
    let list: Value = app.get("/api/devices").await.json().await.expect("json");
    let h100 = list["devices"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["id"] == "h100-sxm"))
        .expect("h100 listed");
    assert_eq!(h100["measured_version"], 1);

    // The profile equals the one derived from the record alone (median of one).
    let parsed: shared::calibration::CalibrationRecord =
        serde_json::from_value(rec.clone()).expect("record");
    let spec = shared::catalog::find("h100-sxm").expect("h100");
    let derived =
        shared::calibration::derive_profile(&parsed, &spec.datasheet_profile()).expect("derive");
    assert_eq!(d["profile"]["idle_w"].as_f64(), Some(derived.idle_w));
    assert_eq!(
        d["profile"]["pj_per_byte"].as_f64(),
        Some(derived.pj_per_byte)
    );

    // The submitting token sees its runner's details (others do not: tests/public.rs).
    let runs: Value = app
        .client
        .get(app.url("/api/devices/h100-sxm/calibrations"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(runs["runs"][0]["run_id"], id.to_string());
    assert_eq!(runs["runs"][0]["host"], "gpu-host-1");
    assert_eq!(runs["runs"][0]["measurements"], micro);
    assert_eq!(runs["runs"][0]["power_limit_w"], 700.0);

    let v1: Value = app
        .get("/api/devices/h100-sxm?version=1")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v1["profile"], d["profile"]);

    // The bodies are the contract's types, the ones the page deserialises into.
    let typed: shared::api::DeviceList = serde_json::from_value(list.clone()).expect("DeviceList");
    let h = typed
        .devices
        .iter()
        .find(|d| d.id == "h100-sxm")
        .expect("h100");
    assert!(h.is_measured());
    assert_eq!(h.runs.in_profile, 1);
    let made: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("SELECT created_at FROM device_profiles WHERE device_id = 'h100-sxm'")
            .fetch_one(&app.pool)
            .await
            .expect("profile row");
    let at = h.measured_at.as_deref().expect("measured_at");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(at).expect("RFC 3339"),
        made
    );
    let other = typed
        .devices
        .iter()
        .find(|d| d.id != "h100-sxm")
        .expect("another device");
    assert_eq!(other.profile_origin, shared::api::ProfileOrigin::Builtin);
    assert_eq!(other.measured_at, None);
    let typed: shared::api::RunList = serde_json::from_value(runs.clone()).expect("RunList");
    assert_eq!(typed.runs[0].status, shared::api::RunStatus::Accepted);
    assert_eq!(typed.runs[0].made_at(), "2026-11-27T20:05:00Z");
    let _: shared::api::DeviceView = serde_json::from_value(v1).expect("DeviceView");

    // A token's use is recorded.
    assert_eq!(
        app.count("SELECT count(*) FROM api_tokens WHERE last_used_at IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn estimates_use_the_measured_profile() {
    let app = TestApp::spawn().await;
    let token = app.token("h").await;
    let mut rec = record(uuid::Uuid::new_v4());
    rec["idle"]["avg_power_w"] = json!(90.0);
    assert_eq!(app.submit(&token, &rec).await.status(), 201);
    let d: Value = app
        .get("/api/devices/h100-sxm")
        .await
        .json()
        .await
        .expect("json");
    let profile: shared::device::DeviceProfile =
        serde_json::from_value(d["profile"].clone()).expect("profile");
    let s = shared::estimate::parse_scenario(&scenario().to_string()).expect("scenario");
    let r = app.post_json("/api/estimate", &scenario()).await;
    match shared::estimate::estimate(&s, &[profile]) {
        Ok(expected) => {
            assert_eq!(r.status(), 200);
            let got = r.text().await.expect("text");
            let expected = shared::api::EstimateAnswer {
                estimate: expected,
                profile_verified: true,
            };
            assert_eq!(got, serde_json::to_string(&expected).expect("json"));
        }
        Err(e) => {
            let (s, b) = error_of(r).await;
            assert_eq!(s, 422, "{e}");
            assert_eq!(b["code"], "invalid_scenario");
        }
    }
}

#[tokio::test]
async fn a_flagged_run_is_stored_not_used() {
    let app = TestApp::spawn().await;
    let token = app.token("h").await;
    let mut rec = record(uuid::Uuid::new_v4());
    rec["flags"] = json!(["throttled: SW power cap"]);
    let r = app.submit(&token, &rec).await;
    assert_eq!(r.status(), 201);
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["status"], "flagged");
    assert!(b.get("profile_version").is_none());
    let mut rec = record(uuid::Uuid::new_v4());
    rec["conditions"]["other_processes"] = json!(2);
    let b: Value = app.submit(&token, &rec).await.json().await.expect("json");
    assert_eq!(b["status"], "flagged");
    assert_eq!(b["flags"], json!(["other_processes:2"]));

    assert_eq!(app.count("SELECT count(*) FROM calibration_runs").await, 2);
    assert_eq!(app.count("SELECT count(*) FROM device_profiles").await, 0);
    let d: Value = app
        .get("/api/devices/h100-sxm")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(d["profile_origin"], "builtin");
    assert_eq!(d["runs"]["flagged"], 2);
}

#[tokio::test]
async fn a_replayed_run_is_idempotent() {
    let app = TestApp::spawn().await;
    let token = app.token("h").await;
    let id = uuid::Uuid::new_v4();
    let rec = record(id);
    assert_eq!(app.submit(&token, &rec).await.status(), 201);
    let r = app.submit(&token, &rec).await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.expect("json");
    assert_eq!(b["replayed"], true);
    assert_eq!(b["status"], "accepted");
    assert_eq!(app.count("SELECT count(*) FROM calibration_runs").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM device_profiles").await, 1);
    let n = rec["micro"].as_array().expect("micro").len() as i64;
    assert_eq!(
        app.count("SELECT count(*) FROM calibration_measurements")
            .await,
        n
    );

    // The same run id with another record: a conflict, nothing written.
    let mut other = rec.clone();
    other["host"] = json!("another-host");
    let (s, b) = error_of(app.submit(&token, &other).await).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::CONFLICT, Some("run_conflict"))
    );
    assert_eq!(app.count("SELECT count(*) FROM calibration_runs").await, 1);
}

#[tokio::test]
async fn calibrations_need_a_valid_token() {
    let app = TestApp::spawn().await;
    let rec = record(uuid::Uuid::new_v4());
    let r = app
        .client
        .post(app.url("/api/calibrations"))
        .json(&rec)
        .send()
        .await
        .expect("POST");
    assert_eq!(
        r.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    let (s, b) = error_of(r).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("missing_token"))
    );

    let (s, b) = error_of(app.submit("jp_wrong", &rec).await).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );

    let r = app
        .client
        .post(app.url("/api/calibrations"))
        .basic_auth("user", Some("pass"))
        .json(&rec)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 401);

    let token = app.token("to-revoke").await;
    assert_eq!(
        service::store::tokens::revoke(&app.pool, "to-revoke")
            .await
            .expect("revoke"),
        1
    );
    let (s, b) = error_of(app.submit(&token, &rec).await).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("revoked_token"))
    );
    assert_eq!(app.count("SELECT count(*) FROM calibration_runs").await, 0);
}

#[tokio::test]
async fn a_missing_record_field_is_named_by_its_path() {
    let app = TestApp::spawn().await;
    let token = app.token("h").await;
    for (parent, key, field) in [
        ("device", "power_limit_mw", "device.power_limit_mw"),
        ("idle", "avg_power_w", "idle.avg_power_w"),
        ("", "run_id", "run_id"),
    ] {
        let mut r = record(uuid::Uuid::new_v4());
        let obj = if parent.is_empty() {
            &mut r
        } else {
            &mut r[parent]
        };
        obj.as_object_mut().expect("object").remove(key);
        let (s, b) = error_of(app.submit(&token, &r).await).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {b}");
        assert_eq!(b["code"], "invalid_record", "{field}: {b}");
        assert_eq!(b["field"], field, "{b}");
        if key != "run_id" {
            assert_eq!(
                b["message"],
                format!("{field}: missing field `{key}`"),
                "{b}"
            );
        }
    }
    let (_, b) = error_of(app.submit(&token, &json!({})).await).await;
    assert_eq!(b["code"], "invalid_record", "{b}");
    assert!(
        !b["field"].as_str().unwrap_or("record").eq("record"),
        "the first missing key, not the record: {b}"
    );
}

#[tokio::test]
async fn bad_calibration_records_are_refused_with_the_field() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 256 * 1024).await;
    let token = app.token("h").await;
    let base = record(uuid::Uuid::new_v4());

    // Wrong content type.
    let r = app
        .client
        .post(app.url("/api/calibrations"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(base.to_string())
        .send()
        .await
        .expect("POST");
    let (s, b) = error_of(r).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );

    // Oversized body, with and without a Content-Length.
    let mut big = base.clone();
    big["what"] = json!("x".repeat(300 * 1024));
    let (s, b) = error_of(app.submit(&token, &big).await).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..40).map(|_| Ok(vec![b' '; 10 * 1024])).collect();
    let r = app
        .client
        .post(app.url("/api/calibrations"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("POST");
    let (s, _) = error_of(r).await;
    assert_eq!(s, 413);

    // Not JSON; NaN and infinities are not JSON either.
    for text in [
        "{".to_string(),
        base.to_string().replace("121.5909267311176", "NaN"),
        base.to_string().replace("121.5909267311176", "1e999"),
    ] {
        let r = app
            .client
            .post(app.url("/api/calibrations"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(text)
            .send()
            .await
            .expect("POST");
        let (s, b) = error_of(r).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_json")),
            "{b}"
        );
    }

    type Change = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Change, &str)> = vec![
        (
            "unknown field",
            Box::new(|v| v["colour"] = json!("red")),
            "colour",
        ),
        (
            "nested unknown field",
            Box::new(|v| v["micro"][0]["extra"] = json!(1)),
            "micro[0].extra",
        ),
        (
            "negative joules",
            Box::new(|v| v["micro"][0]["joules"] = json!(-1.0)),
            "micro[0].joules",
        ),
        (
            "zero seconds",
            Box::new(|v| v["micro"][0]["seconds"] = json!(0.0)),
            "micro[0].seconds",
        ),
        (
            "negative steps",
            Box::new(|v| v["micro"][0]["steps"] = json!(-5)),
            "micro[0].steps",
        ),
        (
            "string number",
            Box::new(|v| v["idle"]["avg_power_w"] = json!("100")),
            "idle.avg_power_w",
        ),
        (
            "negative idle",
            Box::new(|v| v["idle"]["avg_power_w"] = json!(-3.0)),
            "idle.avg_power_w",
        ),
        (
            "unknown precision",
            Box::new(|v| v["micro"][0]["dtype"] = json!("fp64")),
            "micro[0].dtype",
        ),
        (
            "power above 1.5x the limit",
            Box::new(|v| {
                let s = v["micro"][0]["seconds"].as_f64().unwrap_or(1.0);
                v["micro"][0]["joules"] = json!(s * 2000.0);
                v["micro"][0]["avg_power_w"] = json!(2000.0);
            }),
            "micro[0].joules",
        ),
        (
            "inconsistent power",
            Box::new(|v| v["micro"][0]["avg_power_w"] = json!(1.0)),
            "micro[0].avg_power_w",
        ),
        (
            "no run id",
            Box::new(|v| {
                v.as_object_mut().map(|o| o.remove("run_id"));
            }),
            "run_id",
        ),
        (
            "bad run id",
            Box::new(|v| v["run_id"] = json!("'; DROP TABLE calibration_runs; --")),
            "run_id",
        ),
        (
            "bad time",
            Box::new(|v| v["started_at"] = json!("yesterday")),
            "started_at",
        ),
        (
            "end before start",
            Box::new(|v| v["finished_at"] = json!("2026-11-27T19:00:00Z")),
            "finished_at",
        ),
        (
            "too hot",
            Box::new(|v| v["conditions"]["temperature_after_c"] = json!(900.0)),
            "conditions.temperature_after_c",
        ),
        (
            "long host",
            Box::new(|v| v["host"] = json!("h".repeat(1000))),
            "host",
        ),
        (
            "NUL in text",
            Box::new(|v| v["host"] = json!("a\u{0}b")),
            "host",
        ),
        (
            "unknown device",
            Box::new(|v| v["device"]["name"] = json!("Imaginary GPU 9000")),
            "device.name",
        ),
    ];
    for (what, change, field) in cases {
        let mut v = base.clone();
        change(&mut v);
        let (s, b) = error_of(app.submit(&token, &v).await).await;
        assert_eq!(s, 422, "{what}: {b}");
        assert_eq!(b["field"], field, "{what}: {b}");
    }
    assert_eq!(app.count("SELECT count(*) FROM calibration_runs").await, 0);
}

#[tokio::test]
async fn sql_metacharacters_are_stored_verbatim() {
    let app = TestApp::spawn().await;
    let token = app.token("x'); DROP TABLE api_tokens; --").await;
    let nasty = "Robert'); DROP TABLE calibration_runs;-- \" \\ % _ $1 ; /* */";
    let mut rec = record(uuid::Uuid::new_v4());
    for f in ["host", "tool_version", "what", "measured_on", "framework"] {
        rec[f] = json!(nasty);
    }
    rec["device"]["uuid"] = json!(nasty);
    rec["device"]["driver"] = json!(nasty);
    rec["idle"]["note"] = json!(nasty);
    rec["micro"][0]["name"] = json!(nasty);
    rec["flags"] = json!([nasty]);
    let r = app.submit(&token, &rec).await;
    assert_eq!(r.status(), 201);
    let runs: Value = app
        .client
        .get(app.url("/api/devices/h100-sxm/calibrations"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    let run = &runs["runs"][0];
    for f in ["host", "tool_version", "device_uuid", "driver"] {
        assert_eq!(run[f], nasty, "{f}");
    }
    assert_eq!(run["flags"][0], nasty);
    let n: i64 = app
        .count("SELECT count(*) FROM calibration_measurements WHERE name LIKE 'Robert%'")
        .await;
    assert_eq!(n, 1);
    // Replaying the same nasty record is still a replay.
    assert_eq!(app.submit(&token, &rec).await.status(), 200);

    // In paths and queries.
    let (s, _) = error_of(app.get("/api/devices/h100'%20OR%20'1'='1").await).await;
    assert_eq!(s, 404);
    let (s, _) = error_of(app.get("/api/estimates/'%20OR%201=1--").await).await;
    assert_eq!(s, 404);
    // In a shared scenario.
    let mut sc = pinned_scenario();
    sc["name"] = json!(nasty);
    let r = app.post_json("/api/estimates", &sc).await;
    assert_eq!(r.status(), 201);
    let b: Value = r.json().await.expect("json");
    let got: Value = app
        .get(&format!("/api/estimates/{}", b["id"].as_str().expect("id")))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(got["scenario"]["name"], nasty);
    assert_eq!(app.count("SELECT count(*) FROM api_tokens").await, 1);
}

#[tokio::test]
async fn concurrent_submissions_land_exactly_once() {
    let app = TestApp::spawn_with(|s| {
        s.db_max_connections = 20;
        s.db_acquire_timeout_ms = 60_000;
        s.workers = Some(4);
    })
    .await;
    let token = app.token("h").await;
    let ids: Vec<uuid::Uuid> = (0..100).map(|_| uuid::Uuid::new_v4()).collect();
    let mut tasks = Vec::new();
    // 100 runs, and 20 of them sent twice at the same time.
    for (i, id) in ids.iter().chain(ids.iter().take(20)).enumerate() {
        let client = app.client.clone();
        let url = app.url("/api/calibrations");
        let mut rec = record(*id);
        // Vary the runs a little so the median is a real one.
        rec["idle"]["avg_power_w"] = json!(100.0 + (i % 100) as f64 * 0.1);
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(token)
                .json(&rec)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }));
    }
    let mut created = 0;
    let mut replayed = 0;
    for t in tasks {
        match t.await.expect("task") {
            201 => created += 1,
            200 => replayed += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((created, replayed), (100, 20));
    assert_eq!(
        app.count("SELECT count(*) FROM calibration_runs").await,
        100
    );
    assert_eq!(
        app.count("SELECT count(DISTINCT run_id) FROM calibration_runs")
            .await,
        100
    );
    assert_eq!(app.count("SELECT count(*) FROM device_profiles").await, 100);
    assert_eq!(
        app.count("SELECT max(version)::int8 FROM device_profiles")
            .await,
        100
    );
    let d: Value = app
        .get("/api/devices/h100-sxm")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(d["runs"]["accepted"], 100);
    // One token: one vote (its newest run).
    assert_eq!(d["runs"]["in_profile"], 1);
    assert_eq!(d["measured_version"], 100);
}

#[tokio::test]
async fn every_process_sees_an_accepted_run_at_once() {
    // Two server processes on one database, as behind a load balancer; long
    // cache lifetimes, so only the cross-process invalidation can refresh B.
    let a = TestApp::spawn_with(|s| s.devices_cache_ms = 600_000).await;
    let b = TestApp::spawn_on(a.db.clone(), |s| s.devices_cache_ms = 600_000).await;
    let before = b.get("/api/devices").await;
    let etag = before.headers()["etag"].to_str().expect("etag").to_string();
    let r = b
        .client
        .get(b.url("/api/devices"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 304);
    // Let B's listener start.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let token = a.token("h").await;
    assert_eq!(
        a.submit(&token, &record(uuid::Uuid::new_v4()))
            .await
            .status(),
        201
    );
    let mut seen = false;
    for _ in 0..100 {
        let d: Value = b
            .get("/api/devices/h100-sxm")
            .await
            .json()
            .await
            .expect("json");
        if d["measured_version"] == 1 {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "process B still serves the old device list");
    let r = b
        .client
        .get(b.url("/api/devices"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200);
    // B must not drop the shared database when it ends: only A does.
    std::mem::forget(b);
}

// ---------------------------------------------------------------- estimates

#[tokio::test]
async fn estimate_equals_the_core() {
    let app = TestApp::spawn().await;
    let s = shared::estimate::parse_scenario(&scenario().to_string()).expect("scenario");
    let r = app.post_json("/api/estimate", &scenario()).await;
    match shared::estimate::estimate(&s, &[]) {
        Ok(expected) => {
            assert_eq!(r.status(), 200);
            assert!(r.headers()["content-type"]
                .to_str()
                .unwrap_or("")
                .starts_with("application/json"));
            // Byte for byte what the core computes (and nothing pinned to verify).
            let got = r.text().await.expect("text");
            let expected = shared::api::EstimateAnswer {
                estimate: expected,
                profile_verified: true,
            };
            assert_eq!(got, serde_json::to_string(&expected).expect("json"));
        }
        Err(e) => {
            // The estimator is not built yet: the error is the client's kind.
            let (s, b) = error_of(r).await;
            assert_eq!(s, 422, "{e}");
            assert_eq!(b["code"], "invalid_scenario");
        }
    }
}

#[tokio::test]
async fn bad_scenarios_are_refused_with_the_field() {
    let app = TestApp::spawn_with(|s| s.max_body_bytes = 64 * 1024).await;
    for path in ["/api/estimate", "/api/estimates"] {
        let r = app
            .client
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("a=b")
            .send()
            .await
            .expect("POST");
        let (s, _) = error_of(r).await;
        assert_eq!(s, 415);
        let r = app
            .client
            .post(app.url(path))
            .header("content-type", "application/json")
            .body("{\"version\": ")
            .send()
            .await
            .expect("POST");
        let (s, b) = error_of(r).await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_json"))
        );
        let mut big = scenario();
        big["name"] = json!("n".repeat(100 * 1024));
        let (s, _) = error_of(app.post_json(path, &big).await).await;
        assert_eq!(s, 413);
        let mut v = scenario();
        v["hardware"]["colour"] = json!("red");
        let (s, b) = error_of(app.post_json(path, &v).await).await;
        assert_eq!(s, 422);
        assert_eq!(b["code"], "invalid_scenario");
        assert!(
            b["field"].as_str().unwrap_or("").starts_with("hardware"),
            "{b}"
        );
        let mut v = scenario();
        v["stages"][0]["workload"]["batch"] = json!(-8);
        let (s, b) = error_of(app.post_json(path, &v).await).await;
        assert_eq!(s, 422);
        assert_eq!(b["field"], "stages[0].workload.batch");
    }
}

#[tokio::test]
async fn the_bad_scenario_table_is_refused_with_its_fields() {
    let app = TestApp::spawn().await;
    for b in bad_scenarios::table() {
        for path in ["/api/estimate", "/api/estimates"] {
            let r = app
                .client
                .post(app.url(path))
                .header("content-type", "application/json")
                .body(b.text.clone())
                .send()
                .await
                .expect("POST");
            let (status, body) = error_of(r).await;
            // 400 for text that is not JSON, 422 for JSON that is not a scenario
            assert!(
                [400, 422].contains(&status.as_u16()),
                "{}: {status} {body}",
                b.name
            );
            let errors: shared::api::ErrorBody =
                serde_json::from_value(body.clone()).expect("an ErrorBody");
            let got = bad_scenarios::sorted(errors.errors.iter().map(|e| e.field.clone()));
            assert_eq!(got, b.fields, "{} at {path}: {body}", b.name);
            assert_eq!(
                errors.field.as_deref(),
                errors.errors.first().map(|e| e.field.as_str()),
                "{}: `field` is the first of `errors[]`",
                b.name
            );
            for e in &errors.errors {
                bad_scenarios::check_words(&b.name, &e.message);
            }
        }
    }
}

#[tokio::test]
async fn the_estimate_carries_the_what_ifs() {
    let app = TestApp::spawn().await;
    let mut s = scenario();
    s["infrastructure"]["pue"] = json!(1.5);
    let r = app.post_json("/api/estimate", &s).await;
    assert_eq!(r.status(), 200);
    let e: shared::api::Estimate = r.json().await.expect("an Estimate");
    let ids: Vec<&str> = e.what_ifs.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "half-precision",
            "low-precision",
            "pruning",
            "distill",
            "early-stop",
            "fewer-trials",
            "region",
            "pue",
            "gpu",
            "right-size"
        ]
    );
    // Wall energy is (accelerators + host) x PUE: PUE 1.1 instead of 1.5 scales it by 1.1/1.5.
    let pue = e.what_ifs.iter().find(|w| w.id == "pue").expect("pue row");
    assert!(pue.applies, "{pue:?}");
    let got = pue.energy_kwh.expect("energy").expected;
    let want = e.energy_kwh.expected * 1.1 / 1.5;
    assert!((got / want - 1.0).abs() < 1e-9, "{got} vs {want}");
}

#[tokio::test]
async fn shared_estimates_round_trip() {
    let app = TestApp::spawn().await;
    let r = app.post_json("/api/estimates", &pinned_scenario()).await;
    assert_eq!(r.status(), 201);
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .expect("location");
    let b: Value = r.json().await.expect("json");
    let id = b["id"].as_str().expect("id").to_string();
    assert_eq!(id.len(), 10);
    assert_eq!(b["url"], location);
    assert!(location.ends_with(&format!("/api/estimates/{id}")));
    let got: Value = app
        .client
        .get(&location)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("json");
    assert_eq!(got["id"], id);
    // Stored as the core reads it (defaults filled in).
    let normalized = serde_json::to_value(
        shared::estimate::parse_scenario(&pinned_scenario().to_string()).expect("scenario"),
    )
    .expect("value");
    assert_eq!(got["scenario"], normalized);
    assert_eq!(got["scenario"], b["scenario"]);

    // Without resolved values: pinned by the server when the core can estimate it.
    let s = shared::estimate::parse_scenario(&scenario().to_string()).expect("scenario");
    let r = app.post_json("/api/estimates", &scenario()).await;
    match shared::estimate::estimate(&s, &[]) {
        Ok(expected) => {
            assert_eq!(r.status(), 201);
            let b: Value = r.json().await.expect("json");
            assert_eq!(
                b["scenario"]["resolved"],
                serde_json::to_value(&expected.resolved).expect("value")
            );
            let got: Value = app
                .get(&format!("/api/estimates/{}", b["id"].as_str().expect("id")))
                .await
                .json()
                .await
                .expect("json");
            assert_eq!(
                got["estimate"],
                serde_json::to_value(&expected).expect("value")
            );
            let typed: shared::api::StoredEstimate =
                serde_json::from_value(got).expect("StoredEstimate");
            assert_eq!(typed.estimate, Some(expected));
            assert!(chrono::DateTime::parse_from_rfc3339(&typed.created_at).is_ok());
        }
        Err(_) => assert_eq!(r.status(), 422),
    }

    let (s, b) = error_of(app.get("/api/estimates/0000000000").await).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (s, _) = error_of(app.get("/api/estimates/short").await).await;
    assert_eq!(s, 404);
}

// ---------------------------------------------------------------- page, headers, CORS, OpenAPI

#[tokio::test]
async fn serves_the_frontend_with_security_headers() {
    let dir = std::env::temp_dir().join(format!("jp-static-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("dir");
    let inline =
        "import init from '/app-0123456789abcdef.js'; init('/app-0123456789abcdef_bg.wasm');";
    std::fs::write(
        dir.join("index.html"),
        format!("<!doctype html><html><head><script type=\"module\">{inline}</script></head><body></body></html>"),
    )
    .expect("index");
    std::fs::write(dir.join("app-0123456789abcdef_bg.wasm"), b"\0asm\x01\0\0\0").expect("wasm");
    std::fs::write(
        dir.join("app-0123456789abcdef.js"),
        "export default function(){}",
    )
    .expect("js");
    let d2 = dir.clone();
    let app = TestApp::spawn_with(move |s| s.static_dir = d2).await;

    let r = app.get("/").await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    let get = |k: &str| {
        h.get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    assert!(get("content-type").starts_with("text/html"));
    assert_eq!(get("cache-control"), "no-cache");
    let csp = get("content-security-policy");
    use base64::Engine;
    use sha2::Digest;
    let hash =
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(inline.as_bytes()));
    assert!(
        csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert!(csp.contains(&format!("'sha256-{hash}'")), "{csp}");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(csp.contains("object-src 'none'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("unsafe-inline") && !csp.contains("'unsafe-eval'") && !csp.contains('*'));
    assert!(!csp.contains("http:") && !csp.contains("https:"));
    assert_eq!(get("x-content-type-options"), "nosniff");
    assert_eq!(get("x-frame-options"), "DENY");
    assert_eq!(get("referrer-policy"), "no-referrer");

    let r = app.get("/app-0123456789abcdef_bg.wasm").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/wasm");
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    let r = app
        .client
        .get(app.url("/app-0123456789abcdef_bg.wasm"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let r = app.get("/app-0123456789abcdef.js").await;
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/javascript")
            || r.headers()["content-type"]
                .to_str()
                .unwrap_or("")
                .starts_with("application/javascript")
    );
    // Client-side routes get the page; missing files do not.
    let r = app.get("/some/page").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap_or_default().contains("<script"));
    assert_eq!(app.get("/missing.js").await.status(), 404);
    // The API carries the headers too.
    let r = app.get("/api/health").await;
    assert!(r.headers().contains_key("content-security-policy"));
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn cors_is_limited_to_configured_origins() {
    let app = TestApp::spawn_with(|s| s.allowed_origins = vec!["https://app.example".into()]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/estimate"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let r = preflight("https://app.example").await.expect("OPTIONS");
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    assert!(r.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap_or("")
        .contains("POST"));
    let r = preflight("https://evil.example").await.expect("OPTIONS");
    assert!(!r.headers().contains_key("access-control-allow-origin"));
    let (s, b) = error_of(r).await;
    assert_eq!(
        (s, b["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("origin_not_allowed"))
    );

    let r = app
        .client
        .get(app.url("/api/devices"))
        .header("origin", "https://app.example")
        .send()
        .await
        .expect("GET");
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let r = app
        .client
        .get(app.url("/api/devices"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200);
    assert!(!r.headers().contains_key("access-control-allow-origin"));
    // Same-origin requests (the server's own page) work without configuration.
    let own = app.base.clone();
    let r = app
        .client
        .post(app.url("/api/estimates"))
        .header("origin", own)
        .json(&pinned_scenario())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn openapi_document_is_served_and_committed() {
    let app = TestApp::spawn().await;
    let r = app.get("/api/openapi.json").await;
    assert_eq!(r.status(), 200);
    let served: Value = r.json().await.expect("json");
    let generated: Value = serde_json::from_str(&service::routes::openapi::json()).expect("json");
    assert_eq!(served, generated);
    let paths: Vec<&String> = served["paths"].as_object().expect("paths").keys().collect();
    // Operation ids are unique (client generators need them).
    let mut ids: Vec<&str> = served["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|p| p.as_object().into_iter().flat_map(|m| m.values()))
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "duplicate operation ids");
    // Every JSON body has a real schema: a component of `shared::api` with its fields, never a bare object.
    let schemas = served["components"]["schemas"]
        .as_object()
        .expect("schemas");
    let mut bodies = 0;
    for (path, ops) in served["paths"].as_object().expect("paths") {
        for (method, op) in ops.as_object().expect("operations") {
            let contents = op["requestBody"]["content"].as_object().into_iter().chain(
                op["responses"]
                    .as_object()
                    .expect("responses")
                    .values()
                    .filter_map(|r| r["content"].as_object()),
            );
            for (ct, c) in contents.flat_map(|m| m.iter()) {
                if path == "/api/openapi.json" {
                    continue;
                }
                let r = c["schema"]["$ref"].as_str().unwrap_or_else(|| {
                    panic!("{method} {path} {ct}: the body has no named schema: {c}")
                });
                let name = r.trim_start_matches("#/components/schemas/");
                let schema = &schemas[name];
                // A type that extends another (`#[serde(flatten)]`): all of its parts are named or have fields.
                let parts = match schema["allOf"].as_array() {
                    Some(all) => all.clone(),
                    None => vec![schema.clone()],
                };
                for part in parts {
                    assert!(
                        part["properties"].is_object() || part["$ref"].is_string(),
                        "{method} {path}: {name} has no fields: {schema}"
                    );
                }
                bodies += 1;
            }
        }
    }
    // 4 request bodies and 67 responses with a body, counted in the handlers'
    // annotations (POST /api/runs: 1 and 11, GET /api/runs: 6, GET /api/accuracy: 5).
    assert_eq!(bodies, 71);
    for t in [
        "Estimate",
        "WhatIfOutcome",
        "Scenario",
        "DeviceProfile",
        "CalibrationRecord",
        "RunSubmission",
        "Case",
        "AccuracyReport",
        "AccuracyFigures",
    ] {
        assert!(schemas[t]["properties"].is_object(), "{t} has no schema");
    }
    assert_eq!(
        schemas["ErrorBody"]["properties"]["errors"]["items"]["$ref"],
        "#/components/schemas/InputError"
    );
    for p in [
        "/api/health",
        "/api/devices",
        "/api/devices/{id}",
        "/api/devices/{id}/calibrations",
        "/api/calibrations",
        "/api/runs",
        "/api/accuracy",
        "/api/estimate",
        "/api/estimates",
        "/api/estimates/{id}",
        "/api/openapi.json",
    ] {
        assert!(
            paths.iter().any(|x| x.as_str() == p),
            "{p} missing from the document"
        );
        let concrete = p.replace("{id}", "h100-sxm");
        let r = if served["paths"][p].get("get").is_some() {
            app.get(&concrete).await
        } else {
            app.client
                .post(app.url(&concrete))
                .json(&json!({}))
                .send()
                .await
                .expect("POST")
        };
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        assert!(
            !(status == 404 && body["code"] == "not_found" && !p.contains("estimates/")),
            "{p} is documented but not routed"
        );
    }
    let committed =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let pretty = service::routes::openapi::json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&committed, format!("{pretty}\n")).expect("write docs/openapi.json");
    }
    let on_disk: Value = serde_json::from_str(
        &std::fs::read_to_string(&committed).expect("docs/openapi.json exists"),
    )
    .expect("docs/openapi.json is JSON");
    assert!(
        on_disk == generated,
        "docs/openapi.json is out of date: run UPDATE_OPENAPI=1 scripts/test.sh (or cargo test -p jouleprint-service --test api openapi)"
    );
}
