//! `jouleprint estimate`, `validate`, `devices`, `presets`: the estimation core on the command line.

use anyhow::{anyhow, Context};
use clap::Args;
use shared::calibration::{profile_from_record, CalibrationRecord};
use shared::catalog;
use shared::device::DeviceProfile;
use shared::estimate::Estimate;
use shared::units::{sig3, Range};
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
    /// A JSONL file of measured cases (the reference case format).
    #[arg(required_unless_present = "from")]
    pub cases: Option<PathBuf>,
    #[command(flatten)]
    pub from: crate::runs::FromArgs,
    #[arg(long)]
    pub json: bool,
    #[arg(long)]
    pub calibration: Option<PathBuf>,
}

#[derive(Args)]
pub struct DevicesArgs {
    #[arg(long)]
    pub json: bool,
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
    let de = &mut serde_json::Deserializer::from_str(&text);
    let rec: CalibrationRecord = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        anyhow!("{}: {field}: {}", path.display(), e.into_inner())
    })?;
    if catalog::find(&rec.device.name).is_none() {
        return Err(anyhow!("{}: device.name `{}` is not in the catalog (`jouleprint devices` lists the NVML names)", path.display(), rec.device.name));
    }
    let p = profile_from_record(&rec).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(vec![p])
}

/// Read a scenario, resolving a `model.file` (ONNX, config.json, safetensors)
/// into the model itself; every problem of the file is reported at once.
pub fn read_scenario(path: &Path) -> anyhow::Result<shared::scenario::Scenario> {
    let text = read(path)?;
    let shown = if path.as_os_str() == "-" {
        "standard input".to_string()
    } else {
        path.display().to_string()
    };
    let (mut s, errors) =
        shared::check::parse_typed::<shared::scenario::Scenario>(&text, "scenario")
            .map_err(|e| anyhow!("{shown}: {e}"))?;
    if let Some(file) = s.model.file.take() {
        let base = path.parent().unwrap_or(Path::new("."));
        let fpath = base.join(&file);
        let bytes = std::fs::read(&fpath)
            .with_context(|| format!("model.file: cannot read {}", fpath.display()))?;
        let first = s.stages.first().map(|st| &st.workload);
        s.model = shared::import::model_from_file(&file, &bytes, first)
            .map_err(|e| anyhow!("{shown}: {e}"))?
            .into_source();
    }
    shared::check::checked(s, errors).map_err(|e| anyhow!("{shown}: {e}"))
}

fn fmt_range(r: &Range, unit: &str) -> String {
    format!(
        "{} {unit} (range {} - {})",
        sig3(r.expected),
        sig3(r.low),
        sig3(r.high)
    )
}

pub fn estimate(args: EstimateArgs) -> ExitCode {
    let run = || -> anyhow::Result<Estimate> {
        let profiles = load_calibration(args.calibration.as_deref())?;
        let s = read_scenario(&args.scenario)?;
        shared::estimate::estimate(&s, &profiles).map_err(|e| anyhow!("{e}"))
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
        shared::units::si(e.params),
        shared::units::si(e.active_params)
    );
    say!(
        "Device: {} [{}: {}]",
        d.name,
        d.source.kind,
        d.source.version
    );
    say!(
        "Grid: {} gCO2e/kWh ({}; {})",
        sig3(e.resolved.grid.gco2e_per_kwh),
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
        "{:<22} {:>12} {:>24} {:>14} {:>12}",
        "stage",
        "steps",
        "energy kWh (range)",
        "kgCO2e",
        "GPU-hours"
    );
    for s in &e.stages {
        say!(
            "{:<22} {:>12} {:>24} {:>14} {:>12}",
            s.name,
            sig3(s.steps),
            format!(
                "{} ({}-{})",
                sig3(s.energy_kwh.expected),
                sig3(s.energy_kwh.low),
                sig3(s.energy_kwh.high)
            ),
            sig3(s.co2e_kg.expected),
            sig3(s.device_hours.expected)
        );
        if let (Some(r), Some(t)) = (&s.wh_per_request, &s.wh_per_token) {
            say!(
                "{:<22} {} Wh per request, {} Wh per token",
                "",
                sig3(r.expected),
                sig3(t.expected)
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
        sig3(e.device_hours.expected),
        sig3(e.wall_hours.expected)
    );
    say!(
        "Memory: {:.1} GB needed per device of {:.0} GB{}",
        e.memory.required_gb,
        e.memory.available_gb,
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
    let any_error = report.cases.iter().any(|c| c.error.is_some());
    if args.json {
        say!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        let cases: Vec<_> = shared::validate::parse_cases(&text).into_iter().collect();
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
    if any_error {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
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
            "{:<16} {:<34} {:>6.0} {:>7.0} {:>9} {:>9.0}  {} ({})",
            spec.id,
            spec.name,
            spec.tdp_w,
            spec.memory_gb,
            bf16,
            p.mem_gbs,
            p.source.kind,
            p.source.version
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
