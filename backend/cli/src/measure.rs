//! `jouleprint measure [WORKLOAD] [--name NAME] [--submit URL] -- COMMAND...`:
//! the GPU energy and time of a real job's steady state from NVML's energy
//! counter, printed as a line in the validation case format, compared with
//! the estimate of its workload, and optionally sent to a jouleprint service
//! (`POST /api/runs`, `docs/measuring.md`).
//!
//! The command's standard output is read line by line and passed through;
//! `jouleprint:begin` and `jouleprint:end steps=N` mark the measured steps
//! (`markers`). Without markers the whole command is measured, start-up
//! included, and the run is flagged. The command line is never printed nor
//! sent: the run's name is `--name`.

use crate::job_meter::{Closed, Fake, JobMeter, MeterFailure, Nvml, Opened};
use crate::markers::{parse_line, MarkerError, Step, Windows};
use runner::MeterError;
use shared::api::{RunEnvironment, RunReceipt, RunSubmission};
use shared::scenario::{ModelSource, Optimizer, Phase, SoftwareClass};
use shared::units::Precision;
use shared::validate::accuracy::{case_accuracy, MIN_WINDOW_PERIODS, MIN_WINDOW_S};
use shared::validate::{Case, Measured as CaseMeasured};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A named enum's names as a clap value parser (`--phase`, `--precision`, ...).
macro_rules! names {
    ($t:ty) => {{
        use clap::builder::TypedValueParser;
        clap::builder::PossibleValuesParser::new(<$t>::NAMES)
            .try_map(|s| <$t>::parse(&s).ok_or("not one of the names"))
    }};
}

/// The workload the command runs: a scenario file, or flags.
#[derive(clap::Args, Debug, Default, Clone)]
pub struct WorkloadArgs {
    /// A scenario (JSON, docs/scenario.md): its model, its first stage's
    /// workload and its software class describe the measured step.
    #[arg(long, conflicts_with_all = ["model", "hf_config", "phase", "precision", "batch", "seq", "prompt", "new_tokens", "optimizer", "image_size", "software"])]
    pub scenario: Option<PathBuf>,
    /// A built-in model (`jouleprint presets`).
    #[arg(long, conflicts_with = "hf_config")]
    pub model: Option<String>,
    /// A Hugging Face config.json.
    #[arg(long)]
    pub hf_config: Option<PathBuf>,
    #[arg(long, value_parser = names!(Phase))]
    pub phase: Option<Phase>,
    #[arg(long, value_parser = names!(Precision))]
    pub precision: Option<Precision>,
    /// Samples per step.
    #[arg(long)]
    pub batch: Option<u64>,
    /// Sequence length (train, inference, prefill).
    #[arg(long)]
    pub seq: Option<u64>,
    /// Prompt tokens (decode).
    #[arg(long)]
    pub prompt: Option<u64>,
    /// Generated tokens (decode).
    #[arg(long)]
    pub new_tokens: Option<u64>,
    #[arg(long, value_parser = names!(Optimizer))]
    pub optimizer: Option<Optimizer>,
    /// Image side (vision models).
    #[arg(long)]
    pub image_size: Option<u64>,
    /// How the job runs: pytorch-eager (default), compiled, serving.
    #[arg(long, value_parser = names!(SoftwareClass))]
    pub software: Option<SoftwareClass>,
}

#[derive(clap::Args, Debug, Default)]
pub struct MeasureArgs {
    /// Index of the GPU (NVML's).
    #[arg(long, default_value_t = 0)]
    pub device: u32,
    /// Steps the whole command runs, when it prints no markers (with markers
    /// the markers count the steps).
    #[arg(long, default_value_t = 1)]
    pub steps: u64,
    #[command(flatten)]
    pub workload: WorkloadArgs,
    /// The run's name (needed with --submit). The command line is never sent.
    #[arg(long)]
    pub name: Option<String>,
    /// A framework's version, sent with the run: `--framework-version torch=2.4.0` (repeat it).
    #[arg(long = "framework-version", value_name = "NAME=VERSION")]
    pub framework_versions: Vec<String>,
    /// Send the run to this jouleprint service (base URL): POST /api/runs.
    #[arg(long)]
    pub submit: Option<String>,
    /// Bearer token for --submit (`jouleprint token create`); default: $JOULEPRINT_TOKEN.
    #[arg(long)]
    pub token: Option<String>,
    /// Measure even if other processes use the GPU (their energy is counted: the run is flagged).
    #[arg(long)]
    pub allow_other_processes: bool,
    /// Tests: a fake meter drawing this many watts on the wall clock, no GPU.
    #[arg(long, hide = true, value_name = "WATTS")]
    pub fake_meter: Option<f64>,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error(transparent)]
    Meter(#[from] MeterError),
    #[error("{0}")]
    Window(#[from] MeterFailure),
    #[error("could not start the command: {0}")]
    Spawn(std::io::Error),
    #[error("{0} (nothing was measured)")]
    Markers(#[from] MarkerError),
    #[error("the marked steps lasted {got:.3} s, shorter than the {min:.2} s the energy counter needs (it updates every {period_ms:.0} ms): run more steps between jouleprint:begin and jouleprint:end")]
    WindowTooShort { got: f64, min: f64, period_ms: f64 },
    #[error("the command ran {got:.3} s, shorter than the {min:.2} s the energy counter needs (it updates every {period_ms:.0} ms): run more steps")]
    CommandTooShort { got: f64, min: f64, period_ms: f64 },
}

/// What `measure` found.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub device: String,
    /// Seconds of the measured steps: the marked time, or the whole command's.
    pub seconds: f64,
    pub joules: f64,
    pub steps: u64,
    /// Marked windows; 0 when the whole command was measured.
    pub windows: usize,
    pub peak_w: Option<f64>,
    pub exit_ok: bool,
}

/// One marked window: its steps, the time between its markers, and its
/// energy scaled from the counter's window (update to update) to that time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Marked {
    pub steps: u64,
    pub marked_s: f64,
    pub closed: Closed,
}

impl Marked {
    /// The energy of the marked time: the window's average power times it.
    pub fn joules(&self) -> f64 {
        if self.closed.window_s > 0.0 {
            self.closed.joules * self.marked_s / self.closed.window_s
        } else {
            self.closed.joules
        }
    }
}

/// The shortest window the counter allows: [`MIN_WINDOW_S`] and
/// [`MIN_WINDOW_PERIODS`] updates.
pub fn min_window_s(period_s: f64) -> f64 {
    MIN_WINDOW_S.max(MIN_WINDOW_PERIODS * period_s)
}

/// The marked windows summed (several windows: their steps, seconds and
/// energy added), or why they cannot be used.
pub fn combine(windows: &[Marked], period_s: f64) -> Result<(u64, f64, f64), MeasureError> {
    let steps = windows.iter().map(|w| w.steps).sum();
    let seconds: f64 = windows.iter().map(|w| w.marked_s).sum();
    let joules = windows.iter().map(Marked::joules).sum();
    // Each window spans the counter's own minimum; all of them together the documented one.
    let each = runner::MIN_PERIODS_PER_WINDOW * period_s;
    let short = windows.iter().find(|w| w.marked_s < each);
    let min = min_window_s(period_s);
    match short {
        Some(w) => Err(MeasureError::WindowTooShort {
            got: w.marked_s,
            min: each,
            period_ms: period_s * 1e3,
        }),
        None if seconds < min => Err(MeasureError::WindowTooShort {
            got: seconds,
            min,
            period_ms: period_s * 1e3,
        }),
        None => Ok((steps, seconds, joules)),
    }
}

/// What running the command gave.
pub struct Outcome {
    /// The marked windows, or the marker error.
    pub windows: Result<Vec<Marked>, MeasureError>,
    /// The whole command's window.
    pub whole: Result<Closed, MeasureError>,
    pub peak_w: Option<f64>,
    pub exit_ok: bool,
}

/// Run `command`, passing its standard output through, opening and closing
/// windows at its markers, and one window around the whole command.
pub fn run_command(meter: &mut dyn JobMeter, command: &[String]) -> Result<Outcome, MeasureError> {
    let (prog, rest) = command
        .split_first()
        .ok_or_else(|| MeasureError::Spawn(std::io::Error::other("no command after --")))?;
    let whole = meter.open()?;
    let mut child = Command::new(prog)
        .args(rest)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(MeasureError::Spawn)?;
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    if let Some(out) = child.stdout.take() {
        // Each line with the time it arrived: the markers' times.
        std::thread::spawn(move || {
            let mut r = std::io::BufReader::new(out);
            loop {
                let mut buf = Vec::new();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if tx.send((Instant::now(), buf)).is_err() {
                            break;
                        }
                    }
                }
            }
        });
    }
    let mut state = Windows::default();
    let mut open: Option<(Instant, Opened)> = None;
    let mut marked = vec![];
    let mut failed: Option<MeasureError> = None;
    let mut peak: Option<f64> = None;
    let mut n = 0usize;
    let stdout = std::io::stdout();
    loop {
        let (t, line) = match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(x) => x,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(p) = meter.power_now() {
                    peak = Some(peak.map_or(p, |x: f64| x.max(p)));
                }
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        n += 1;
        {
            let mut o = stdout.lock();
            let _ = o.write_all(&line);
            let _ = o.flush();
        }
        if failed.is_some() {
            continue;
        }
        let text = String::from_utf8_lossy(&line);
        let Some(m) = parse_line(&text, n) else {
            continue;
        };
        let step = m.and_then(|m| state.feed(n, m));
        match step {
            Err(e) => failed = Some(e.into()),
            Ok(Step::Open) => match meter.open() {
                Ok(w) => open = Some((t, w)),
                Err(e) => failed = Some(e.into()),
            },
            Ok(Step::Close { steps }) => {
                if let Some((t0, w)) = open.take() {
                    match meter.close(w) {
                        Ok(closed) => marked.push(Marked {
                            steps,
                            marked_s: t.duration_since(t0).as_secs_f64(),
                            closed,
                        }),
                        Err(e) => failed = Some(e.into()),
                    }
                }
            }
        }
    }
    let exit_ok = child.wait().map(|s| s.success()).unwrap_or(false);
    let whole = meter.close(whole).map_err(MeasureError::from);
    if failed.is_none() {
        if let Err(e) = state.finish() {
            failed = Some(e.into());
        }
    }
    Ok(Outcome {
        windows: match failed {
            Some(e) => Err(e),
            None => Ok(marked),
        },
        whole,
        peak_w: peak,
        exit_ok,
    })
}

impl WorkloadArgs {
    fn any_flag(&self) -> bool {
        self.model.is_some()
            || self.hf_config.is_some()
            || self.phase.is_some()
            || self.precision.is_some()
            || self.batch.is_some()
            || self.seq.is_some()
            || self.prompt.is_some()
            || self.new_tokens.is_some()
            || self.optimizer.is_some()
            || self.image_size.is_some()
            || self.software.is_some()
    }

    /// The workload as a validation case on `device` named `name` (its
    /// measurement still zero), or `None` when none was given.
    pub fn case(&self, device: &str, name: &str) -> Result<Option<Case>, String> {
        let empty = CaseMeasured {
            joules_per_step: 0.0,
            seconds_per_step: 0.0,
            avg_power_w: None,
            flops_per_step: None,
            params: None,
        };
        if let Some(path) = &self.scenario {
            let s =
                crate::estimate::read_scenario(path).map_err(|e| format!("--scenario: {e:#}"))?;
            let st = s
                .stages
                .first()
                .ok_or_else(|| format!("--scenario {}: has no stage", path.display()))?;
            if s.stages.len() > 1 {
                eprintln!(
                    "jouleprint measure: the scenario has {} stages: the first one's workload is the measured step",
                    s.stages.len()
                );
            }
            let hw = st.hardware(&s);
            if shared::catalog::find(&hw.device).map(|d| d.id)
                != shared::catalog::find(device).map(|d| d.id)
            {
                eprintln!(
                    "jouleprint measure: the scenario names the device {:?}; the measured device is {device:?}, and the run is of that one",
                    hw.device
                );
            }
            let w = &st.workload;
            return Ok(Some(Case {
                name: name.into(),
                device: device.into(),
                framework: st.software(&s).as_str().into(),
                model: s.model.clone(),
                phase: w.phase,
                precision: w.precision,
                batch: w.batch,
                seq: w.seq,
                prompt: w.prompt,
                new_tokens: w.new_tokens,
                optimizer: w.optimizer,
                image_size: w.image_size,
                measured: empty,
            }));
        }
        if !self.any_flag() {
            return Ok(None);
        }
        let model = match (&self.model, &self.hf_config) {
            (Some(p), _) => ModelSource {
                preset: Some(p.clone()),
                ..ModelSource::default()
            },
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("--hf-config {}: {e}", path.display()))?;
                let v: serde_json::Value = serde_json::from_str(&text)
                    .map_err(|e| format!("--hf-config {}: not JSON: {e}", path.display()))?;
                ModelSource {
                    hf_config: Some(v),
                    ..ModelSource::default()
                }
            }
            (None, None) => {
                return Err("--model PRESET or --hf-config FILE is needed with the workload flags (jouleprint presets lists the models)".into())
            }
        };
        let need =
            |flag: &str, what: &str| format!("--{flag} is needed with the workload flags: {what}");
        Ok(Some(Case {
            name: name.into(),
            device: device.into(),
            framework: self.software.unwrap_or_default().as_str().into(),
            model,
            phase: self
                .phase
                .ok_or_else(|| need("phase", &Phase::NAMES.join(", ")))?,
            precision: self
                .precision
                .ok_or_else(|| need("precision", &Precision::NAMES.join(", ")))?,
            batch: self
                .batch
                .ok_or_else(|| need("batch", "the samples per step"))?,
            seq: self.seq,
            prompt: self.prompt,
            new_tokens: self.new_tokens,
            optimizer: self.optimizer,
            image_size: self.image_size,
            measured: empty,
        }))
    }

    /// The flag (or scenario field) a case field comes from.
    fn source_of(&self, case_field: &str) -> String {
        if let Some(p) = &self.scenario {
            let f = match case_field {
                "framework" => "software".to_string(),
                "device" => "hardware.device".to_string(),
                f if f.starts_with("model") => f.to_string(),
                f => format!("stages[0].workload.{f}"),
            };
            return format!("--scenario {}: {f}", p.display());
        }
        match case_field {
            "framework" => "--software".into(),
            f if f.starts_with("model") => {
                if self.model.is_some() {
                    "--model".into()
                } else {
                    format!("--hf-config ({f})")
                }
            }
            f => format!("--{}", f.replace('_', "-")),
        }
    }

    /// Refuse a workload the core would refuse, before the command runs,
    /// naming the flag (a placeholder measurement stands in).
    pub fn check(&self, case: &Case) -> Result<(), String> {
        let mut c = case.clone();
        c.measured.joules_per_step = 1.0;
        c.measured.seconds_per_step = 1.0;
        case_accuracy(&c, &[]).map(|_| ()).map_err(|e| {
            e.iter()
                .map(|x| format!("{}: {}", self.source_of(&x.field), x.message))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

/// `name=version` pairs.
fn framework_versions(v: &[String]) -> Result<std::collections::BTreeMap<String, String>, String> {
    v.iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
                Ok((k.trim().to_string(), v.trim().to_string()))
            }
            _ => Err(format!(
                "--framework-version {s:?}: give NAME=VERSION, e.g. torch=2.4.0"
            )),
        })
        .collect()
}

fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("jouleprint measure: {msg}");
    ExitCode::from(2)
}

pub fn run(mut args: MeasureArgs) -> ExitCode {
    // Ctrl-C reaches the command (same process group); keep running to report
    // what was measured until it exits.
    let _ = ctrlc::set_handler(|| {});
    if args.token.is_none() {
        args.token = std::env::var("JOULEPRINT_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
    }
    if args.submit.is_some() {
        if args.token.is_none() {
            return fail("--submit needs --token (or JOULEPRINT_TOKEN): jouleprint token create");
        }
        if args.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return fail(
                "--submit needs --name NAME: the run's name (the command line is never sent)",
            );
        }
    }
    let frameworks = match framework_versions(&args.framework_versions) {
        Ok(f) => f,
        Err(e) => return fail(e),
    };
    let mut meter: Box<dyn JobMeter> = match args.fake_meter {
        Some(w) if w.is_finite() && w > 0.0 => Box::new(Fake::new(w)),
        Some(w) => return fail(format!("--fake-meter {w}: give watts above 0")),
        None => match Nvml::open(args.device) {
            Ok(m) => Box::new(m),
            Err(e) => return fail(e),
        },
    };
    let device = meter.device_name();
    let name = args.name.clone().unwrap_or_else(|| "measured run".into());
    let case = match args.workload.case(&device, &name) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Some(c) = &case {
        if let Err(e) = args.workload.check(c) {
            return fail(format!("the workload: {e}"));
        }
    } else if args.submit.is_some() {
        return fail("--submit needs the workload: --scenario FILE, or --model PRESET (or --hf-config FILE) with --phase, --precision, --batch and its lengths");
    }
    let mut flags = vec![];
    let others = meter.other_processes();
    if !others.is_empty() {
        if !args.allow_other_processes {
            return fail(format!(
                "other compute processes use the GPU (pids {others:?}); their energy would be counted. Stop them or pass --allow-other-processes"
            ));
        }
        flags.push(format!("other_processes:{}", others.len()));
    }

    let out = match run_command(meter.as_mut(), &args.command) {
        Ok(o) => o,
        Err(e) => return fail(e),
    };
    let period = meter.period_s();
    let measured = match out.windows {
        Err(e) => return fail(e),
        Ok(w) if w.is_empty() => {
            let whole = match out.whole {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            let min = min_window_s(period);
            if whole.window_s < min {
                return fail(MeasureError::CommandTooShort {
                    got: whole.window_s,
                    min,
                    period_ms: period * 1e3,
                });
            }
            eprintln!(
                "jouleprint measure: warning: no jouleprint:begin / jouleprint:end markers: the whole command was measured, start-up and loading included, as {} step{} (--steps); the run is flagged whole_command (mark the steady state: docs/measuring.md)",
                args.steps.max(1),
                if args.steps.max(1) == 1 { "" } else { "s" }
            );
            flags.push("whole_command".into());
            Measured {
                device: device.clone(),
                // From the update before the start to the one after the exit:
                // at most one update period of idle is included.
                seconds: whole.window_s,
                joules: whole.joules,
                steps: args.steps.max(1),
                windows: 0,
                peak_w: out.peak_w,
                exit_ok: out.exit_ok,
            }
        }
        Ok(w) => {
            let (steps, seconds, joules) = match combine(&w, period) {
                Ok(x) => x,
                Err(e) => return fail(e),
            };
            if args.steps != 1 {
                eprintln!("jouleprint measure: --steps is ignored: the markers count the steps");
            }
            Measured {
                device: device.clone(),
                seconds,
                joules,
                steps,
                windows: w.len(),
                peak_w: out.peak_w,
                exit_ok: out.exit_ok,
            }
        }
    };
    for r in meter.bad_throttle() {
        flags.push(format!("throttle:{r}"));
    }
    let case = case.map(|mut c| {
        c.measured = case_measured(&measured);
        c
    });
    println!("{}", report(&measured, &name, case.as_ref()));
    if let Some(c) = &case {
        println!("{}", comparison(c));
    }
    if !flags.is_empty() {
        println!("flags: {}", flags.join(", "));
    }
    if !measured.exit_ok {
        eprintln!(
            "jouleprint measure: the command failed; its measurement is above{}",
            if args.submit.is_some() {
                " and was not sent"
            } else {
                ""
            }
        );
        return ExitCode::from(1);
    }
    let (Some(url), Some(token), Some(case)) = (&args.submit, &args.token, case) else {
        return ExitCode::SUCCESS;
    };
    let mut environment: RunEnvironment = meter.environment();
    environment.frameworks = frameworks;
    environment.tool_version = Some(concat!("jouleprint ", env!("CARGO_PKG_VERSION")).into());
    let sub = RunSubmission {
        run_id: uuid::Uuid::new_v4().to_string(),
        case,
        steps: measured.steps,
        window_s: measured.seconds,
        environment,
        flags,
        measured_at: Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    };
    submit(url, token, &sub)
}

/// Send a run; on failure keep it in a file that can be sent again.
fn submit(url: &str, token: &str, sub: &RunSubmission) -> ExitCode {
    let endpoint = runner::submit::endpoint_for(url, "/api/runs");
    match runner::submit::post::<_, RunReceipt>(&endpoint, token, sub, 3) {
        Ok(r) => {
            println!(
                "submitted run {} for {}: {}{}{}",
                r.run_id,
                r.device,
                r.status,
                if r.replayed { " (already there)" } else { "" },
                if r.flags.is_empty() {
                    String::new()
                } else {
                    format!(" (flags: {}; stored, not scored)", r.flags.join(", "))
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            let file = format!("jouleprint-run-{}.json", sub.run_id);
            let kept = serde_json::to_string_pretty(sub)
                .map_err(std::io::Error::other)
                .and_then(|j| std::fs::write(&file, j + "\n"));
            eprintln!("jouleprint measure: the run was not stored: {e}");
            match (kept, &e) {
                (Ok(()), runner::submit::SubmitError::Implausible { .. }) => eprintln!(
                    "(the run is in {file}; the service will refuse it again as it is)"
                ),
                (Ok(()), _) => eprintln!(
                    "(the run is in {file}; send it again later, it is idempotent by run_id:\n curl -H \"Authorization: Bearer $JOULEPRINT_TOKEN\" -H 'Content-Type: application/json' --data @{file} {endpoint})"
                ),
                (Err(w), _) => eprintln!("(and it could not be kept in {file}: {w})"),
            }
            ExitCode::from(1)
        }
    }
}

/// The measurement per step, as a case holds it.
pub fn case_measured(m: &Measured) -> CaseMeasured {
    let steps = m.steps.max(1) as f64;
    CaseMeasured {
        joules_per_step: m.joules / steps,
        seconds_per_step: m.seconds / steps,
        avg_power_w: Some(m.joules / m.seconds),
        flops_per_step: None,
        params: None,
    }
}

/// The validation-case line: the case when the workload is known, else one
/// to fill in (model, phase, precision, batch). Its name is `name`, never
/// the command line.
pub fn case_line(m: &Measured, name: &str, case: Option<&Case>) -> String {
    match case.and_then(|c| serde_json::to_string(c).ok()) {
        Some(line) => line,
        None => serde_json::json!({
            "name": name,
            "device": m.device,
            "framework": "pytorch-eager",
            "model": null,
            "phase": null,
            "precision": null,
            "batch": null,
            "measured": case_measured(m),
        })
        .to_string(),
    }
}

/// The human line and the validation-case line.
pub fn report(m: &Measured, name: &str, case: Option<&Case>) -> String {
    let avg = m.joules / m.seconds;
    let what = if m.windows == 0 {
        "the whole command".to_string()
    } else {
        format!(
            "{} marked window{}",
            m.windows,
            if m.windows == 1 { "" } else { "s" }
        )
    };
    format!(
        "measured {:.3} s, {:.1} J, {:.1} W average{} on {} ({} step{}, {what})\n{}\n{}",
        m.seconds,
        m.joules,
        avg,
        m.peak_w
            .map(|p| format!(", {p:.0} W peak"))
            .unwrap_or_default(),
        m.device,
        m.steps,
        if m.steps == 1 { "" } else { "s" },
        if case.is_some() {
            "case:"
        } else {
            "case (fill in model, phase, precision, batch):"
        },
        case_line(m, name, case)
    )
}

/// The estimate of the case beside its measurement: the same computation as
/// the service's accuracy table (`shared::validate::accuracy`).
pub fn comparison(c: &Case) -> String {
    match case_accuracy(c, &[]) {
        Err(e) => format!("estimate: {e}"),
        Ok(a) => {
            let j = a.estimated_joules_per_step;
            let t = a.estimated_seconds_per_step;
            format!(
                "estimate: {:.4} J/step (range {:.4} - {:.4}), {:.5} s/step (range {:.5} - {:.5}); measured {:.4} J/step, {:.5} s/step; estimate/measured - 1: energy {:+.1}%, time {:+.1}%; the measured energy is {} the range",
                j.expected,
                j.low,
                j.high,
                t.expected,
                t.low,
                t.high,
                c.measured.joules_per_step,
                c.measured.seconds_per_step,
                a.energy_error * 100.0,
                a.time_error * 100.0,
                if a.energy_inside { "inside" } else { "outside" }
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(steps: u64, marked_s: f64, joules: f64, window_s: f64) -> Marked {
        Marked {
            steps,
            marked_s,
            closed: Closed { joules, window_s },
        }
    }

    #[test]
    fn windows_are_scaled_to_the_marked_time_and_summed() {
        // A window of 2.02 s (counter updates) around 2.00 s of marked steps
        // at 404 J: 200 W over the window, 400 J over the marked time.
        let w = marked(100, 2.0, 404.0, 2.02);
        assert!((w.joules() - 400.0).abs() < 1e-9);
        let (steps, s, j) = combine(&[w, marked(50, 1.0, 300.0, 1.0)], 0.02).expect("ok");
        assert_eq!(steps, 150);
        assert!((s - 3.0).abs() < 1e-12);
        assert!((j - 700.0).abs() < 1e-9);
    }

    #[test]
    fn short_windows_are_refused_asking_for_more_steps() {
        // 20 ms updates: each window at least 10 of them (0.2 s), all together
        // at least max(1 s, 50 x 20 ms) = 1 s.
        assert!((min_window_s(0.02) - 1.0).abs() < 1e-12);
        assert!((min_window_s(0.1) - 5.0).abs() < 1e-12);
        let e = combine(&[marked(10, 0.9, 90.0, 0.9)], 0.02).expect_err("short");
        assert!(e.to_string().contains("run more steps"), "{e}");
        let e = combine(
            &[marked(10, 0.15, 9.0, 0.16), marked(90, 2.0, 200.0, 2.0)],
            0.02,
        )
        .expect_err("one short window");
        assert!(
            matches!(e, MeasureError::WindowTooShort { got, .. } if (got - 0.15).abs() < 1e-12)
        );
        assert!(combine(
            &[marked(10, 0.5, 9.0, 0.5), marked(10, 0.5, 9.0, 0.5)],
            0.02
        )
        .is_ok());
    }

    #[test]
    fn framework_versions_parse() {
        let v =
            framework_versions(&["torch=2.4.0".into(), " cuda-python = 12.4 ".into()]).expect("ok");
        assert_eq!(v["torch"], "2.4.0");
        assert_eq!(v["cuda-python"], "12.4");
        assert!(framework_versions(&["torch".into()]).is_err());
        assert!(framework_versions(&["=1".into()]).is_err());
    }

    #[test]
    fn workload_flags_make_a_case_and_name_the_flag_at_fault() {
        let w = WorkloadArgs {
            model: Some("gpt2".into()),
            phase: Some(Phase::Decode),
            precision: Some(Precision::Bf16),
            batch: Some(8),
            ..WorkloadArgs::default()
        };
        let c = w
            .case("NVIDIA H100 80GB HBM3", "run")
            .expect("flags")
            .expect("a case");
        assert_eq!(c.framework, "pytorch-eager");
        let e = w.check(&c).expect_err("decode needs a prompt");
        assert!(e.starts_with("--prompt: "), "{e}");
        let w = WorkloadArgs {
            new_tokens: Some(0),
            prompt: Some(16),
            ..w
        };
        let e = w
            .check(&w.case("h100-sxm", "run").expect("f").expect("c"))
            .expect_err("0");
        assert!(e.starts_with("--new-tokens: "), "{e}");
        let w = WorkloadArgs { model: None, ..w };
        assert!(w
            .case("h100-sxm", "run")
            .expect_err("no model")
            .contains("--model"));
        assert_eq!(WorkloadArgs::default().case("x", "y"), Ok(None));
    }
}
