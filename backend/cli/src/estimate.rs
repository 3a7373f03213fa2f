//! `jouleprint estimate`, `validate`, `devices`, `presets`: the estimation core on the command line.

use crate::format::{count, num, params};
use anyhow::{anyhow, Context};
use clap::Args;
use shared::calibration::{profile_from_record, CalibrationRecord};
use shared::catalog;
use shared::device::DeviceProfile;
use shared::estimate::Estimate;
use shared::units::{sig3, Range};
use shared::{InputError, InputErrors};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// println! that ignores a closed stdout (`jouleprint validate | head`) instead of panicking.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

#[derive(Args)]
pub struct EstimateArgs {
    /// A scenario JSON file (docs/scenario.md); `-` reads standard input.
    pub scenario: PathBuf,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Use this calibration record (JSON) in place of the built-in profile of its device.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
}

#[derive(Args)]
pub struct ValidateArgs {
    /// A JSONL file of cases: measured steps (the reference format) and
    /// published scenario-level figures (docs/scenario.md, "Validation cases").
    #[arg(required_unless_present = "from")]
    pub cases: Option<PathBuf>,
    #[command(flatten)]
    pub from: crate::runs::FromArgs,
    /// Print one JSON object (every case, the summary and the group summaries) instead of the tables.
    #[arg(long)]
    pub json: bool,
    /// Use this calibration record (JSON) in place of the built-in profile of its device.
    #[arg(long)]
    pub calibration: Option<PathBuf>,
}

#[derive(Args)]
pub struct DevicesArgs {
    /// Print the profiles as one JSON array instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Every problem of one scenario, printed one per line as `field: message`.
#[derive(Debug)]
pub struct ScenarioErrors {
    /// The file, or `standard input`.
    pub origin: String,
    pub errors: Vec<InputError>,
}

impl std::fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.errors.len();
        write!(
            f,
            "{} has {n} problem{}:",
            self.origin,
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.errors {
            write!(f, "\n  {}: {}", e.field, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

impl ScenarioErrors {
    fn error(origin: &str, errors: impl Into<InputErrors>) -> anyhow::Error {
        anyhow::Error::new(ScenarioErrors {
            origin: origin.to_string(),
            errors: errors.into().0,
        })
    }
}

/// How a path is named in messages: `-` is standard input.
fn shown(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "standard input".to_string()
    } else {
        path.display().to_string()
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)?;
        return Ok(s);
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A calibration file turned into the profile of its device (a catalog device:
/// a scenario names its device by catalog id or NVML name).
pub fn load_calibration(path: Option<&Path>) -> anyhow::Result<Vec<DeviceProfile>> {
    let Some(path) = path else { return Ok(vec![]) };
    let text = read(path)?;
    // the scenario's reading: every problem at once, in plain words
    let origin = shown(path);
    let (rec, errors) = shared::check::parse_typed::<CalibrationRecord>(&text, "record")
        .map_err(|e| ScenarioErrors::error(&origin, e))?;
    if !errors.is_empty() {
        return Err(ScenarioErrors::error(&origin, InputErrors(errors)));
    }
    if catalog::find(&rec.device.name).is_none() {
        return Err(anyhow!("{}: device.name `{}` is not in the catalog (`jouleprint devices` lists the NVML names)", shown(path), rec.device.name));
    }
    let p = profile_from_record(&rec).map_err(|e| anyhow!("{}: {e}", shown(path)))?;
    Ok(vec![p])
}

/// Read a scenario, resolving a `model.file` (ONNX, config.json, safetensors)
/// into the model itself; every problem of the file is reported at once
/// (a [`ScenarioErrors`]).
pub fn read_scenario(path: &Path) -> anyhow::Result<shared::scenario::Scenario> {
    let text = read(path)?;
    let origin = shown(path);
    let (mut s, mut errors) =
        shared::check::parse_typed::<shared::scenario::Scenario>(&text, "scenario")
            .map_err(|e| ScenarioErrors::error(&origin, e))?;
    if let Some(file) = s.model.file.take() {
        let base = if path.as_os_str() == "-" {
            Path::new(".")
        } else {
            path.parent().unwrap_or(Path::new("."))
        };
        let fpath = base.join(&file);
        let read = std::fs::read(&fpath).map_err(|e| {
            InputError::new(
                "model.file",
                format!(
                    "cannot read {} ({e}); a relative path is read from the scenario's folder",
                    fpath.display()
                ),
            )
        });
        let first = s.stages.first().map(|st| &st.workload);
        match read.and_then(|bytes| shared::import::model_from_file(&file, &bytes, first)) {
            Ok(m) => s.model = m.into_source(),
            Err(e) => {
                // the other fields are still checked; the model stands for nothing
                errors.push(e);
                s.model.preset = Some("gpt2".into());
            }
        }
    }
    shared::check::checked(s, errors).map_err(|e| ScenarioErrors::error(&origin, e))
}

fn fmt_range(r: &Range, unit: &str) -> String {
    format!(
        "{} {unit} (range {} - {})",
        num(r.expected),
        num(r.low),
        num(r.high)
    )
}

pub fn estimate(args: EstimateArgs) -> ExitCode {
    let run = || -> anyhow::Result<Estimate> {
        let profiles = load_calibration(args.calibration.as_deref())?;
        let s = read_scenario(&args.scenario)?;
        shared::estimate::estimate(&s, &profiles)
            .map_err(|e| ScenarioErrors::error(&shown(&args.scenario), e))
    };
    match run() {
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Ok(e) if args.json => {
            say!("{}", serde_json::to_string_pretty(&e).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Ok(e) => {
            print_summary(&e);
            ExitCode::SUCCESS
        }
    }
}

fn print_summary(e: &Estimate) {
    let d = &e.resolved.device;
    say!(
        "Model: {} parameters ({} active)",
        params(e.params),
        params(e.active_params)
    );
    say!("Device: {} [{}]", d.name, d.source.origin());
    say!(
        "Grid: {} gCO2e/kWh ({}; {})",
        num(e.resolved.grid.gco2e_per_kwh),
        e.resolved.grid.region,
        e.resolved.grid.source
    );
    say!();
    say!(
        "One step (first stage): {} FLOPs counted, {}",
        shared::units::si(e.flops_per_step),
        fmt_range(&e.seconds_per_step, "s")
    );
    say!(
        "  accelerator energy: {}",
        fmt_range(&e.joules_per_step, "J")
    );
    say!();
    say!(
        "{:<22} {:>12} {:>34} {:>10} {:>10}",
        "stage",
        "steps",
        "energy kWh (range)",
        "kgCO2e",
        "GPU-hours"
    );
    for s in &e.stages {
        say!(
            "{:<22} {:>12} {:>34} {:>10} {:>10}",
            s.name,
            count(s.steps),
            format!(
                "{} ({} - {})",
                num(s.energy_kwh.expected),
                num(s.energy_kwh.low),
                num(s.energy_kwh.high)
            ),
            num(s.co2e_kg.expected),
            num(s.device_hours.expected)
        );
        if let (Some(r), Some(t)) = (&s.wh_per_request, &s.wh_per_token) {
            say!(
                "{:<22} {} Wh per request, {} Wh per token",
                "",
                num(r.expected),
                num(t.expected)
            );
        }
    }
    say!();
    say!(
        "Total energy at the wall: {}",
        fmt_range(&e.energy_kwh, "kWh")
    );
    say!("Total emissions: {}", fmt_range(&e.co2e_kg, "kgCO2e"));
    say!(
        "Accelerator-hours: {}, wall-clock hours: {}",
        num(e.device_hours.expected),
        num(e.wall_hours.expected)
    );
    say!(
        "Memory: {} GB needed per device of {} GB{}",
        num(e.memory.required_gb),
        num(e.memory.available_gb),
        if e.memory.fits { "" } else { " (does NOT fit)" }
    );
    say!();
    say!("Where one step's energy goes:");
    for o in e.top_ops.iter().take(8) {
        say!(
            "  {:<36} {:>6.1}%  {:<8} {}",
            o.name,
            o.fraction * 100.0,
            o.bound,
            o.kind
        );
    }
    for n in &e.notes {
        say!("note: {n}");
    }
    for w in &e.warnings {
        say!("warning: {w}");
    }
    say!("Range: low-high bounds the plausible value (docs/energy-model.md, 'Ranges').");
}

pub fn validate(args: ValidateArgs) -> ExitCode {
    let profiles = match load_calibration(args.calibration.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let text = match args
        .cases
        .as_deref()
        .map_or_else(|| crate::runs::pull(&args.from), read)
    {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let report = shared::validate::evaluate(&text, &profiles);
    let any_error = report.cases.iter().any(|c| c.error.is_some())
        || report.published.iter().any(|c| c.error.is_some());
    if args.json {
        say!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        // the per-step table as it always was; published cases get their own
        if !report.cases.is_empty() || report.published.is_empty() {
            print_steps(&report, &text);
        }
        if !report.published.is_empty() {
            if !report.cases.is_empty() {
                say!();
            }
            print_published(&report);
        }
    }
    if any_error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Measured per-step cases against the estimate and the naive methods.
fn print_steps(report: &shared::validate::Report, text: &str) {
    {
        let cases: Vec<_> = shared::validate::parse_cases(text).into_iter().collect();
        say!(
            "{:<36} {:>10} {:>10} {:>8} {:>10} {:>10} {:>8} {:>8} | {:>8} {:>8} {:>8}",
            "case",
            "est J",
            "meas J",
            "err",
            "est s",
            "meas s",
            "t err",
            "FLOP err",
            "TDPxT",
            "30%util",
            "40%util"
        );
        for (c, parsed) in report.cases.iter().zip(cases.iter()) {
            if let Some(e) = &c.error {
                say!("{:<36} error: {e}", c.name);
                continue;
            }
            let pct = |x: Option<f64>| {
                x.map(|v| format!("{:+.1}%", v * 100.0))
                    .unwrap_or_else(|| "-".into())
            };
            let terr = match (c.estimated_seconds_per_step, c.measured_seconds_per_step) {
                (Some(a), Some(b)) => Some(a / b - 1.0),
                _ => None,
            };
            let ferr = match (c.estimated_flops_per_step, c.measured_flops_per_step) {
                (Some(a), Some(b)) => Some(a / b - 1.0),
                _ => None,
            };
            let naive = parsed
                .as_ref()
                .ok()
                .and_then(shared::validate::naive_estimates);
            let meas = c.measured_joules_per_step.unwrap_or(f64::NAN);
            let nv = |x: Option<f64>| pct(x.map(|v| v / meas - 1.0));
            say!(
                "{:<36} {:>10} {:>10} {:>8} {:>10} {:>10} {:>8} {:>8} | {:>8} {:>8} {:>8}",
                c.name,
                sig3(c.estimated_joules_per_step.unwrap_or(f64::NAN)),
                sig3(meas),
                pct(c.energy_rel_error),
                sig3(c.estimated_seconds_per_step.unwrap_or(f64::NAN)),
                sig3(c.measured_seconds_per_step.unwrap_or(f64::NAN)),
                pct(terr),
                pct(ferr),
                nv(naive.map(|n| n.0)),
                nv(naive.map(|n| n.1)),
                nv(naive.map(|n| n.2)),
            );
        }
        let s = &report.summary;
        let pct = |x: Option<f64>| {
            x.map(|v| format!("{:.1}%", v * 100.0))
                .unwrap_or_else(|| "-".into())
        };
        say!(
            "summary: {} cases, median |energy error| {}, max {}, median |time error| {}",
            s.n,
            pct(s.median_abs_energy_error),
            pct(s.max_abs_energy_error),
            pct(s.median_abs_time_error)
        );
    }
}

/// Published scenario-level cases: the estimate's range against the published
/// value, then one summary per group.
fn print_published(report: &shared::validate::Report) {
    let rows: Vec<_> = report
        .published
        .iter()
        .map(|c| {
            let quantity = format!("{} [{}]", c.quantity, c.unit);
            let est = c.estimate.map_or_else(
                || "-".to_string(),
                |r| format!("{} ({} - {})", num(r.expected), num(r.low), num(r.high)),
            );
            (c, quantity, est)
        })
        .collect();
    // columns as wide as their longest entry
    let w_name = rows.iter().map(|r| r.0.name.len()).fold(14, usize::max);
    let w_q = rows.iter().map(|r| r.1.len()).fold(8, usize::max);
    let w_est = rows.iter().map(|r| r.2.len()).fold(16, usize::max);
    say!(
        "{:<w_name$} {:<w_q$} {:>w_est$} {:>10} {:>6} {:>8}",
        "published case",
        "quantity",
        "estimate (range)",
        "published",
        "ratio",
        "in range"
    );
    for (c, quantity, est) in &rows {
        if let Some(e) = &c.error {
            say!("{:<w_name$} error: {e}", c.name);
            continue;
        }
        say!(
            "{:<w_name$} {:<w_q$} {:>w_est$} {:>10} {:>6} {:>8}",
            c.name,
            quantity,
            est,
            num(c.value),
            c.ratio.map_or_else(|| "-".into(), |r| format!("{r:.2}")),
            match c.inside {
                Some(true) => "yes",
                Some(false) => "no",
                None => "-",
            }
        );
    }
    say!("ratio = estimate / published; in range: the published value lies within the estimate's range.");
    say!();
    say!(
        "{:<16} {:>4} {:>7} {:>13} {:>18} {:>15} {:>9} {:>13}",
        "group",
        "n",
        "errors",
        "median ratio",
        "median |ln ratio|",
        "max |ln ratio|",
        "coverage",
        "median width"
    );
    let f2 = |x: Option<f64>| x.map_or_else(|| "-".into(), |v| format!("{v:.2}"));
    for g in &report.groups {
        say!(
            "{:<16} {:>4} {:>7} {:>13} {:>18} {:>15} {:>9} {:>13}",
            g.group,
            g.n,
            g.errors,
            f2(g.median_ratio),
            f2(g.median_abs_log_ratio),
            f2(g.max_abs_log_ratio),
            g.coverage
                .map_or_else(|| "-".into(), |v| format!("{:.0}%", v * 100.0)),
            g.median_range_width
                .map_or_else(|| "-".into(), |v| format!("{v:.2}x"))
        );
    }
    say!("coverage: share of published values inside the range; width: high / low of the range.");
}

pub fn devices(args: DevicesArgs) -> ExitCode {
    let profiles: Vec<DeviceProfile> = catalog::CATALOG
        .iter()
        .map(shared::calibration::builtin_profile)
        .collect();
    if args.json {
        say!(
            "{}",
            serde_json::to_string_pretty(&profiles).unwrap_or_default()
        );
        return ExitCode::SUCCESS;
    }
    say!(
        "{:<16} {:<34} {:>6} {:>7} {:>9} {:>9}  profile",
        "id",
        "name",
        "W",
        "GB",
        "bf16 TF",
        "GB/s"
    );
    for (spec, p) in catalog::CATALOG.iter().zip(&profiles) {
        let bf16 = p
            .gemm_tflops
            .get(&shared::units::MathMode::Bf16)
            .map(|x| format!("{x:.0}"))
            .unwrap_or_else(|| "-".into());
        say!(
            "{:<16} {:<34} {:>6.0} {:>7.0} {:>9} {:>9.0}  {}",
            spec.id,
            spec.name,
            spec.tdp_w,
            spec.memory_gb,
            bf16,
            p.mem_gbs,
            p.source.origin()
        );
        say!(
            "{:<16} NVML: {}; sources: {}",
            "",
            spec.nvml_names.join(" | "),
            spec.sources
        );
    }
    say!("Achieved throughput shown (datasheet peak x achieved fraction, or measured).");
    ExitCode::SUCCESS
}

pub fn presets() -> ExitCode {
    for p in shared::model::presets::PRESETS {
        say!("{:<14} {:<52} {}", p.id, p.description, p.published_params);
    }
    ExitCode::SUCCESS
}
