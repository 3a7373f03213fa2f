//! Measured runs end to end: `jouleprint measure` (the real binary, on the
//! fake meter, around a shell command that prints the markers) submits to a
//! `jouleprint serve` process on a fresh Postgres database, and
//! `GET /api/accuracy` reports the error this test computes itself from the
//! fake meter's power, the marked time and the core's estimate. Also the
//! command's refusals without a server, `validate --from`, and the runner's
//! client waiting out a 429.
//! The tests with a server need Postgres: run `scripts/test.sh` (it starts a
//! local one and sets JOULEPRINT_DATABASE_URL).

#[path = "../../service/tests/common/mod.rs"]
mod common;
use serde_json::{json, Value};
use sqlx::{Connection, Executor};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn jouleprint() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jouleprint"));
    c.env_remove("JOULEPRINT_CONFIG")
        .env_remove("JOULEPRINT_TOKEN");
    c
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("jp-runs-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// The workload flags: GPT-2 small, a training step of 8 x 1024 tokens in bf16 with AdamW.
const WORKLOAD: &[&str] = &[
    "--model",
    "gpt2",
    "--phase",
    "train",
    "--precision",
    "bf16",
    "--batch",
    "8",
    "--seq",
    "1024",
    "--optimizer",
    "adamw",
];

/// A shell command: start-up outside the window, `marked_s` seconds of
/// `steps` steps inside it, then saving outside it again.
fn job(marked_s: f64, steps: u64) -> String {
    format!(
        "echo loading; sleep 0.3; echo jouleprint:begin; sleep {marked_s}; echo jouleprint:end steps={steps}; echo saved; sleep 0.2"
    )
}

/// A `jouleprint serve` process on its own database; killed and the database dropped on drop.
struct Server {
    child: std::process::Child,
    base: String,
    db: String,
    db_url: String,
}

impl Server {
    async fn start() -> Server {
        let db = format!("jp_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = common::admin().await;
        conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
            .await
            .expect("create the test database");
        conn.close().await.ok();
        let db_url = common::with_database(&common::database_url(), &db);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = tempdir("serve");
        let child = jouleprint()
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--static-dir", "/nonexistent/jouleprint-frontend"])
            .env("JOULEPRINT_DATABASE_URL", &db_url)
            .env("JOULEPRINT_WORKERS", "2")
            // these tests score two contributors; the default quorum is three tokens
            .env("JOULEPRINT_PROFILE_MIN_TOKENS", "2")
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start jouleprint serve");
        let base = format!("http://127.0.0.1:{port}");
        let s = Server {
            child,
            base,
            db,
            db_url,
        };
        let start = Instant::now();
        loop {
            if let Ok(r) = reqwest::get(format!("{}/api/health", s.base)).await {
                if r.status() == 200 {
                    break;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "jouleprint serve did not answer within a minute"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        s
    }

    fn token(&self, name: &str) -> String {
        let o = jouleprint()
            .args(["token", "create", "--name", name])
            .env("JOULEPRINT_DATABASE_URL", &self.db_url)
            .output()
            .expect("jouleprint token create");
        assert!(o.status.success(), "{:?}", text(&o));
        text(&o).0.trim().to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        common::drop_database(self.db.clone());
    }
}

async fn get(url: String, token: Option<&str>) -> Value {
    let mut r = reqwest::Client::new().get(&url);
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.expect("GET");
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.expect("json")
}

/// Run a blocking command off the async runtime.
async fn output(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().expect("run jouleprint"))
        .await
        .expect("thread")
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measure_submit_is_scored_by_the_accuracy_table() {
    let server = Server::start().await;
    let est = common::gpt2_step_estimate();
    let (ej, es) = (est.joules_per_step.expected, est.seconds_per_step.expected);
    // Two contributors (the server above lowers the quorum to two tokens), each with the
    // fake meter at its own power: 1.5 s of 30 marked steps.
    let (marked, steps) = (1.5, 30u64);
    let runs = [("alice", 300.0), ("bob", 330.0)];
    let mut tokens = vec![];
    let work = tempdir("measure");
    for (who, watts) in runs {
        let token = server.token(who);
        let mut c = jouleprint();
        c.arg("measure")
            .args(["--fake-meter", &watts.to_string()])
            .args(WORKLOAD)
            .args(["--name", "gpt2 e2e", "--framework-version", "torch=2.4.0"])
            .args(["--submit", &server.base, "--token", &token])
            .args(["--", "sh", "-c", &job(marked, steps)])
            .current_dir(&work);
        let o = output(c).await;
        let (out, err) = text(&o);
        assert!(o.status.success(), "{out}\n{err}");
        assert!(
            out.contains("submitted run") && out.contains(": accepted"),
            "{out}"
        );
        // The command's output passes through; the command line does not.
        assert!(
            out.contains("loading\n") && out.contains("saved\n"),
            "{out}"
        );
        assert!(
            !out.contains("sleep") && !err.contains("sleep"),
            "{out}\n{err}"
        );
        tokens.push((token, watts));
    }

    let list = get(format!("{}/api/runs?device=h100-sxm", server.base), None).await;
    let listed = list["runs"].as_array().expect("runs");
    assert_eq!(listed.len(), 2);
    let mut energy = vec![];
    let mut time = vec![];
    let mut inside = vec![];
    for (_, watts) in &tokens {
        let r = listed
            .iter()
            .find(|r| {
                let m = &r["case"]["measured"];
                (f(&m["joules_per_step"]) / f(&m["seconds_per_step"]) / watts - 1.0).abs() < 1e-4
            })
            .unwrap_or_else(|| panic!("no run at {watts} W: {list}"));
        assert_eq!(r["redacted"], true);
        assert!(r.get("environment").is_none(), "{r}");
        assert_eq!(r["case"]["name"], "gpt2 e2e");
        assert_eq!(r["steps"], steps);
        // The marked time: the sleep, within a quarter second of pipe
        // latency. The window runs from when each marker is read, so a
        // begin marker read late (a loaded machine) shortens it as an end
        // marker read late lengthens it (CI measured 1.4938 s of 1.5 once).
        let s = f(&r["case"]["measured"]["seconds_per_step"]);
        assert!(
            s >= (marked - 0.25) / steps as f64 && s <= (marked + 0.25) / steps as f64,
            "{s} s per step"
        );
        // The fake meter's energy: its power times the marked time (to the
        // millijoule it counts in).
        let j = f(&r["case"]["measured"]["joules_per_step"]);
        assert!(
            (j - watts * s).abs() <= 2e-3 / steps as f64 + 1e-9 * j,
            "{j} vs {watts} x {s}"
        );
        // The error, from the known power and duration and the core's estimate.
        let e = ej / (watts * s) - 1.0;
        let t = es / s - 1.0;
        assert!((f(&r["errors"]["energy_error"]) - e).abs() < 1e-6, "{r}");
        assert!((f(&r["errors"]["time_error"]) - t).abs() < 1e-6, "{r}");
        // And within the bounds the sleep and the pipe latency allow.
        let bound = |s: f64| ej / (watts * s) - 1.0;
        assert!(
            e <= bound((marked - 0.25) / steps as f64)
                && e >= bound((marked + 0.25) / steps as f64)
        );
        energy.push(e.abs());
        time.push(t.abs());
        let jm = watts * s;
        inside.push((est.joules_per_step.low <= jm && jm <= est.joules_per_step.high) as u8 as f64);
    }

    let acc = get(
        format!("{}/api/accuracy?device=h100-sxm", server.base),
        None,
    )
    .await;
    let o = &acc["overall"];
    assert_eq!(
        (o["runs"].as_i64(), o["tokens"].as_i64()),
        (Some(2), Some(2)),
        "{acc}"
    );
    assert_eq!(o["met"], true);
    let a = &o["accuracy"];
    // Two contributors: the median of their errors is the mean of the two.
    assert!(
        (f(&a["median_abs_energy_error"]) - (energy[0] + energy[1]) / 2.0).abs() < 1e-6,
        "{acc}"
    );
    assert!((f(&a["worst_abs_energy_error"]) - energy[0].max(energy[1])).abs() < 1e-6);
    assert!((f(&a["median_abs_time_error"]) - (time[0] + time[1]) / 2.0).abs() < 1e-6);
    assert!((f(&a["share_energy_inside"]) - (inside[0] + inside[1]) / 2.0).abs() < 1e-12);
    assert_eq!(acc["groups"][0]["software"], "pytorch-eager");
    assert_eq!(acc["groups"][0]["phase"], "train");
    assert_eq!(acc["estimator_version"], shared::ESTIMATOR_VERSION);
    let summary = acc["summary"].as_str().expect("summary");
    assert!(
        summary.starts_with("On 2 measured runs from 2 contributors"),
        "{summary}"
    );

    // The submitter sees its environment: NVML's fields and the framework versions.
    let mine = get(
        format!("{}/api/runs?device=h100-sxm", server.base),
        Some(&tokens[0].0),
    )
    .await;
    let own = mine["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .find(|r| r["redacted"] == false)
        .expect("alice's run, not redacted");
    assert_eq!(own["environment"]["frameworks"]["torch"], "2.4.0");
    assert_eq!(own["environment"]["energy_source"], "fake");

    // validate --from pulls them as cases and evaluates them with the same core.
    let save = work.join("runs.jsonl");
    let mut c = jouleprint();
    c.args([
        "validate",
        "--json",
        "--from",
        &server.base,
        "--device",
        "h100-sxm",
        "--save",
    ])
    .arg(&save);
    let o = output(c).await;
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    let report: Value = serde_json::from_str(&out).expect("one JSON report");
    let cases = report["cases"].as_array().expect("cases");
    assert_eq!(cases.len(), 2);
    let mut from_cli: Vec<f64> = cases
        .iter()
        .map(|c| f(&c["energy_rel_error"]).abs())
        .collect();
    from_cli.sort_by(f64::total_cmp);
    let mut want = energy.clone();
    want.sort_by(f64::total_cmp);
    for (a, b) in from_cli.iter().zip(&want) {
        assert!((a - b).abs() < 1e-6, "{from_cli:?} vs {want:?}");
    }
    let saved = std::fs::read_to_string(&save).expect("saved cases");
    assert_eq!(saved.lines().count(), 2);
    assert!(shared::validate::parse_cases(&saved)
        .iter()
        .all(Result::is_ok));

    // A run out of reach for the device is refused, and kept to look at.
    let mut c = jouleprint();
    c.arg("measure")
        .args(["--fake-meter", "2000"])
        .args(WORKLOAD)
        .args([
            "--name",
            "too hot",
            "--submit",
            &server.base,
            "--token",
            &tokens[0].0,
        ])
        .args(["--", "sh", "-c", &job(1.1, 10)])
        .current_dir(&work);
    let o = output(c).await;
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    assert!(
        err.contains("implausible") && err.contains("W on average"),
        "{err}"
    );
    assert!(err.contains("will refuse it again"), "{err}");
    let kept = std::fs::read_dir(&work)
        .expect("dir")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("jouleprint-run-")
        })
        .count();
    assert_eq!(kept, 1);
    let again = get(format!("{}/api/runs?device=h100-sxm", server.base), None).await;
    assert_eq!(again["runs"].as_array().map(Vec::len), Some(2));
    let _ = std::fs::remove_dir_all(&work);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_waits_out_a_429_and_gives_up_on_a_refusal() {
    let app = common::TestApp::spawn_with(|s| {
        s.rate_limits = true;
        s.rate_write_per_minute = 60;
        s.rate_write_burst = 1;
    })
    .await;
    let token = app.token("alice").await;
    let est = common::gpt2_step_estimate();
    let run = |joules: f64| {
        let mut case = json!({"name": "x", "device": "h100-sxm", "model": {"preset": "gpt2"},
            "phase": "train", "precision": "bf16", "batch": 8, "seq": 1024, "optimizer": "adamw",
            "measured": {"joules_per_step": joules, "seconds_per_step": 0.1}});
        case["framework"] = json!("pytorch-eager");
        serde_json::from_value::<shared::api::RunSubmission>(json!({
            "run_id": uuid::Uuid::new_v4().to_string(), "case": case, "steps": 20, "window_s": 2.0
        }))
        .expect("run")
    };
    let url = runner::submit::endpoint_for(&app.base, "/api/runs");
    let (u, t) = (url.clone(), token.clone());
    let (first, second, third, hot) = tokio::task::spawn_blocking(move || {
        use runner::submit::post;
        let first = post::<_, shared::api::RunReceipt>(&u, &t, &run(40.0), 0);
        let started = Instant::now();
        // The budget is spent: a 429 with Retry-After 1, waited out.
        let second = post::<_, shared::api::RunReceipt>(&u, &t, &run(41.0), 2);
        let waited = started.elapsed();
        // Without retries the 429 is the answer.
        let third = post::<_, shared::api::RunReceipt>(&u, &t, &run(42.0), 0);
        std::thread::sleep(Duration::from_millis(1100));
        // 100 J in 0.1 s is 1000 W on a 700 W board: refused, once, not retried.
        let hot = post::<_, shared::api::RunReceipt>(&u, &t, &run(100.0), 3);
        (first, (second, waited), third, hot)
    })
    .await
    .expect("client thread");
    let first = first.expect("first run");
    let e = est.joules_per_step.expected / 40.0 - 1.0;
    let got = first.errors.expect("errors").energy_error;
    assert!((got - e).abs() < 1e-9, "{got} vs {e}");
    let (second, waited) = second;
    assert!(second.is_ok(), "{second:?}");
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(
        matches!(third, Err(runner::submit::SubmitError::RateLimited { retry_after_s }) if retry_after_s >= 1),
        "{third:?}"
    );
    match hot {
        Err(runner::submit::SubmitError::Implausible { code, field, .. }) => {
            assert_eq!(code, "implausible_run");
            assert_eq!(field.as_deref(), Some("case.measured.joules_per_step"));
        }
        other => panic!("expected an implausible refusal, got {other:?}"),
    }
    assert_eq!(app.count("SELECT count(*) FROM measured_runs").await, 2);
}

#[test]
fn without_markers_the_whole_command_is_measured_and_flagged() {
    let o = jouleprint()
        .args([
            "measure",
            "--fake-meter",
            "250",
            "--steps",
            "4",
            "--",
            "sh",
            "-c",
            "sleep 1.2",
        ])
        .output()
        .expect("run");
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(err.contains("warning: no jouleprint:begin"), "{err}");
    assert!(out.contains("flags: whole_command"), "{out}");
    assert!(out.contains("(4 steps, the whole command)"), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("a case line");
    let v: Value = serde_json::from_str(line).expect("json");
    let s = f(&v["measured"]["seconds_per_step"]);
    // 1.2 s of sleep in 4 steps, the counter's edges and the start-up around it.
    assert!((0.3..0.45).contains(&s), "{s}");
    assert!((f(&v["measured"]["joules_per_step"]) / s - 250.0).abs() < 0.1);
    assert_eq!(v["name"], "measured run");
}

#[test]
fn bad_markers_and_short_windows_are_refused() {
    let run = |script: &str| {
        let o = jouleprint()
            .args(["measure", "--fake-meter", "250", "--", "sh", "-c", script])
            .output()
            .expect("run");
        (o.status.code(), text(&o).1)
    };
    let (code, err) = run("echo jouleprint:begin; sleep 0.3; echo jouleprint:end steps=3");
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("shorter than the 1.00 s") && err.contains("run more steps"),
        "{err}"
    );
    let (code, err) = run("echo jouleprint:end steps=3; echo jouleprint:begin");
    assert_eq!(code, Some(2));
    assert!(
        err.contains("line 1: `jouleprint:end` before any `jouleprint:begin`"),
        "{err}"
    );
    let (code, err) = run("echo jouleprint:begin; sleep 1.1; echo jouleprint:end");
    assert_eq!(code, Some(2));
    assert!(err.contains("steps=N"), "{err}");
    let (code, err) = run("echo jouleprint:begin; sleep 1.1");
    assert_eq!(code, Some(2));
    assert!(err.contains("ended inside the window"), "{err}");
    // Two windows of 0.6 s: summed, 1.2 s of 12 steps.
    let o = jouleprint()
        .args(["measure", "--fake-meter", "250", "--", "sh", "-c"])
        .arg("echo jouleprint:begin; sleep 0.6; echo jouleprint:end steps=6; sleep 0.3; echo jouleprint:begin; sleep 0.6; echo jouleprint:end steps=6")
        .output()
        .expect("run");
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}\n{err}");
    assert!(out.contains("(12 steps, 2 marked windows)"), "{out}");
    let line = out.lines().find(|l| l.starts_with('{')).expect("case");
    let v: Value = serde_json::from_str(line).expect("json");
    let s = f(&v["measured"]["seconds_per_step"]);
    // 1.2 s over 12 steps; the 0.3 s between the windows is left out.
    assert!((0.1..0.12).contains(&s), "{s}");
}

#[test]
fn submit_needs_a_name_a_token_and_a_valid_workload_before_the_command_runs() {
    let marker = tempdir("never-run").join("ran");
    let touch = format!("touch {}", marker.display());
    let run = |extra: &[&str]| {
        let o = jouleprint()
            .args([
                "measure",
                "--fake-meter",
                "250",
                "--submit",
                "http://127.0.0.1:9",
            ])
            .args(extra)
            .args(["--", "sh", "-c", &touch])
            .output()
            .expect("run");
        (o.status.code(), text(&o).1)
    };
    let (code, err) = run(&["--token", "t"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--name"), "{err}");
    let (code, err) = run(&["--name", "x"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--token"), "{err}");
    let (code, err) = run(&["--name", "x", "--token", "t"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("needs the workload"), "{err}");
    let mut decode: Vec<&str> = WORKLOAD.to_vec();
    decode[3] = "decode";
    let mut args = vec!["--name", "x", "--token", "t"];
    args.extend(decode);
    let (code, err) = run(&args);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("--prompt: is required for phase decode"),
        "{err}"
    );
    let (code, err) = run(&["--name", "x", "--token", "t", "--model", "gpt2"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--phase is needed"), "{err}");
    let (code, err) = run(&[
        "--name",
        "x",
        "--token",
        "t",
        "--framework-version",
        "torch",
    ]);
    assert_eq!(code, Some(2));
    assert!(err.contains("NAME=VERSION"), "{err}");
    assert!(
        !marker.exists(),
        "the command ran before its workload was checked"
    );
}
