//! Support shared by the integration tests that need Postgres: the service's
//! own (`tests/api.rs`) and the command line's (`backend/cli/tests`, which
//! include this file by path). Each test crate uses a part of it.

#![allow(dead_code)]

use reqwest::StatusCode;
use serde_json::{json, Value};
use service::config::Settings;
use service::startup::Application;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};
use std::str::FromStr;
use std::time::Duration;

pub fn database_url() -> String {
    std::env::var("JOULEPRINT_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| {
            panic!(
                "these tests need Postgres: run scripts/test.sh (it starts a local one), \
                 or set JOULEPRINT_DATABASE_URL to a server where this user may create databases"
            )
        })
}

/// The same URL with another database name.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host_part}/{db}{query}")
}

pub async fn admin() -> PgConnection {
    let url = with_database(&database_url(), "postgres");
    PgConnectOptions::from_str(&url)
        .expect("database URL")
        .connect()
        .await
        .expect("connect to the maintenance database (is Postgres running? use scripts/test.sh)")
}

pub struct TestApp {
    pub base: String,
    pub db: String,
    pub db_url: String,
    pub pool: sqlx::PgPool,
    pub client: reqwest::Client,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    pub async fn spawn_with(f: impl FnOnce(&mut Settings)) -> TestApp {
        let db = format!("jp_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin().await;
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
            .await
            .expect("create the test database");
        conn.close().await.ok();
        Self::spawn_on(db, f).await
    }

    /// Another server process on an existing test database.
    pub async fn spawn_on(db: String, f: impl FnOnce(&mut Settings)) -> TestApp {
        let db_url = with_database(&database_url(), &db);
        let mut settings = Settings::for_tests(&db_url);
        settings.static_dir = std::path::PathBuf::from("/nonexistent/jouleprint-frontend");
        f(&mut settings);
        Self::start(db, db_url, settings).await
    }

    /// A server on a new database, configured as the settings file would be:
    /// `config` holds keys of `configuration/jouleprint.toml` over the test defaults.
    pub async fn spawn_config(config: Value) -> TestApp {
        let db = format!("jp_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin().await;
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
            .await
            .expect("create the test database");
        conn.close().await.ok();
        Self::spawn_config_on(db, config).await
    }

    /// Another server, configured by `config`, on an existing test database.
    pub async fn spawn_config_on(db: String, config: Value) -> TestApp {
        let db_url = with_database(&database_url(), &db);
        let mut v = json!({
            "host": "127.0.0.1", "port": 0, "database_url": db_url,
            "static_dir": "/nonexistent/jouleprint-frontend",
            "db_max_connections": 8, "workers": 2,
        });
        if let (Some(o), Some(extra)) = (v.as_object_mut(), config.as_object()) {
            for (k, x) in extra {
                o.insert(k.clone(), x.clone());
            }
        }
        let settings: Settings = serde_json::from_value(v).expect("settings");
        Self::start(db, db_url, settings).await
    }

    async fn start(db: String, db_url: String, settings: Settings) -> TestApp {
        let app = Application::build(settings).await.expect("build the app");
        let base = format!("http://127.0.0.1:{}", app.port());
        let pool = app.pool().clone();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            base,
            db,
            db_url,
            pool,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("client"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn submit(&self, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url("/api/calibrations"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("POST calibration")
    }

    pub async fn token(&self, name: &str) -> String {
        service::store::tokens::create(&self.pool, name)
            .await
            .expect("create token")
            .1
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop_database(self.db.clone());
    }
}

/// Best effort: drop a test database (FORCE ends the connections still open to
/// it), on a thread of its own so that a `Drop` inside a runtime can block on it.
pub fn drop_database(db: String) {
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        if let Ok(rt) = rt {
            rt.block_on(async move {
                let mut conn = admin().await;
                let _ = conn
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
                    )))
                    .await;
            });
        }
    })
    .join();
}

/// One eager GPT-2 small training step (8 x 1,024 tokens, bf16, AdamW) on an
/// H100, estimated by the core from a scenario written out here, not through
/// any conversion under test.
pub fn gpt2_step_estimate() -> shared::estimate::Estimate {
    let s = json!({
        "version": 1, "model": {"preset": "gpt2"},
        "stages": [{"kind": "final_training", "steps": 1,
                    "workload": {"phase": "train", "precision": "bf16", "batch": 8, "seq": 1024, "optimizer": "adamw"}}],
        "hardware": {"device": "h100-sxm", "count": 1}
    });
    shared::estimate::estimate_json(&s.to_string(), &[]).expect("the GPT-2 step estimates")
}

pub async fn error_of(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body: Value = r.json().await.expect("a JSON error body");
    assert!(ct.starts_with("application/json"), "content type {ct}");
    assert!(body["code"].is_string(), "no code in {body}");
    assert!(body["message"].is_string(), "no message in {body}");
    (status, body)
}

/// The reference H100 record, with run metadata.
pub fn record(run_id: uuid::Uuid) -> Value {
    let mut v: Value =
        serde_json::from_str(shared::calibration::H100_REFERENCE_CALIBRATION).expect("reference");
    v["run_id"] = json!(run_id.to_string());
    v["host"] = json!("gpu-host-1");
    v["tool_version"] = json!("jouleprint 0.1.0");
    v["started_at"] = json!("2026-11-27T20:00:00Z");
    v["finished_at"] = json!("2026-11-27T20:05:00Z");
    v["device"]["uuid"] = json!("GPU-1234");
    v["conditions"] = json!({"temperature_before_c": 35.0, "temperature_after_c": 61.0});
    v
}

/// Recompute a loop's derived figures from its raw ones, as the runner writes
/// them (the server refuses a record whose figures disagree); a non-finite
/// one is left out.
pub fn rederive(m: &mut Value) {
    let loop_: shared::calibration::Measurement =
        serde_json::from_value(m.clone()).expect("a loop of the reference record");
    let obj = m.as_object_mut().expect("a loop is an object");
    for (k, v, _) in loop_.derived_columns() {
        match v.filter(|v| v.is_finite()) {
            Some(v) => obj.insert(k.into(), json!(v)),
            None => obj.remove(k),
        };
    }
}

/// A GPT-2 deployment scenario the API tests store and estimate.
pub fn scenario() -> Value {
    json!({"version":1,"model":{"preset":"gpt2"},"stages":[{"kind":"deployment","workload":{"phase":"decode","precision":"bf16","batch":8,"prompt":128,"new_tokens":128},"requests_per_day":10000,"days":30}],"hardware":{"device":"h100-sxm","count":1},"infrastructure":{"pue":1.2,"region":"FR"}})
}

/// The scenario with its resolved values given (the built-in H100 profile, a
/// pinned grid), so storing it needs no estimate.
pub fn pinned_scenario() -> Value {
    let mut s = scenario();
    let spec = shared::catalog::find("h100-sxm").expect("h100");
    s["resolved"] = json!({
        "estimator_version": shared::ESTIMATOR_VERSION,
        "device": shared::calibration::builtin_profile(spec),
        "grid": {"gco2e_per_kwh": 56.0, "region": "FR", "source": "test"}
    });
    s
}
