//! `jouleprint measure [--device N] [--steps N] [--scenario FILE] -- COMMAND...`:
//! the GPU energy and time of a real job from the same NVML counter as the
//! calibration, printed with a line in the validation case format.

use runner::nvml::NvmlMeter;
use runner::{MeterError, PowerMeter, WindowMeasurement};
use std::process::{Command, ExitCode};
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct MeasureArgs {
    /// Index of the GPU (NVML's).
    #[arg(long, default_value_t = 0)]
    pub device: u32,
    /// Steps the command runs (to report joules and seconds per step).
    #[arg(long, default_value_t = 1)]
    pub steps: u64,
    /// A scenario (JSON) to estimate beside the measurement.
    #[arg(long)]
    pub scenario: Option<std::path::PathBuf>,
    /// Measure even if other processes use the GPU (their energy is counted).
    #[arg(long)]
    pub allow_other_processes: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// What `measure` found.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    pub device: String,
    pub seconds: f64,
    pub joules: f64,
    pub peak_w: Option<f64>,
    pub exit_ok: bool,
}

pub fn run(args: MeasureArgs) -> ExitCode {
    // Ctrl-C reaches the command (same process group); keep running to report
    // what was measured until it exits.
    let _ = ctrlc::set_handler(|| {});
    let mut meter = match NvmlMeter::open(args.device) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("jouleprint measure: {e}");
            return ExitCode::from(2);
        }
    };
    match meter.other_processes() {
        Ok(p) if !p.is_empty() && !args.allow_other_processes => {
            eprintln!(
                "jouleprint measure: other compute processes use the GPU (pids {p:?}); their energy would be counted. Stop them or pass --allow-other-processes"
            );
            return ExitCode::from(2);
        }
        _ => {}
    }
    let m = match measure_command(&mut meter, &args.command) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("jouleprint measure: {e}");
            return ExitCode::from(2);
        }
    };
    println!("{}", report(&m, &args));
    if let Some(path) = &args.scenario {
        match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|s| shared::estimate::estimate_json(&s, &[]).map_err(|e| e.to_string()))
        {
            Ok(est) => {
                let mj = m.joules / args.steps.max(1) as f64;
                let ms = m.seconds / args.steps.max(1) as f64;
                println!(
                    "estimate: {:.4} J/step ({:.4} - {:.4}), {:.5} s/step; measured {:.4} J/step, {:.5} s/step; estimate/measured = {:.2}",
                    est.joules_per_step.expected,
                    est.joules_per_step.low,
                    est.joules_per_step.high,
                    est.seconds_per_step.expected,
                    mj,
                    ms,
                    est.joules_per_step.expected / mj
                );
            }
            Err(e) => {
                eprintln!("jouleprint measure: scenario {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    if m.exit_ok {
        ExitCode::SUCCESS
    } else {
        eprintln!("jouleprint measure: the command failed; its measurement is above");
        ExitCode::from(1)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error(transparent)]
    Meter(#[from] MeterError),
    #[error("could not run {0}: {1}")]
    Spawn(String, std::io::Error),
    #[error("the command ran {got:.2} s, shorter than the {min:.2} s the counter needs for a trustworthy reading: loop it longer")]
    TooShort { got: f64, min: f64 },
}

/// Run `command` inside one measurement window; sample power for the peak.
pub fn measure_command(
    meter: &mut NvmlMeter,
    command: &[String],
) -> Result<Measured, MeasureError> {
    let (prog, rest) = command
        .split_first()
        .ok_or_else(|| MeasureError::Spawn(String::new(), std::io::Error::other("no command")))?;
    let w = meter.begin()?;
    let mut child = Command::new(prog)
        .args(rest)
        .spawn()
        .map_err(|e| MeasureError::Spawn(prog.clone(), e))?;
    let mut peak: Option<f64> = None;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s.success(),
            Ok(None) => {}
            Err(_) => break false,
        }
        if let Ok(p) = meter.power_now() {
            peak = Some(peak.map_or(p.0, |x: f64| x.max(p.0)));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let m: WindowMeasurement = match meter.end(w) {
        Ok(m) => m,
        Err(MeterError::WindowTooShort { got, min, .. }) => {
            return Err(MeasureError::TooShort { got, min })
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Measured {
        device: meter.device().name.clone(),
        // The window runs from the counter edge before the start to the one
        // after the exit: at most one update period of idle is included.
        seconds: m.window.0,
        joules: m.energy.0,
        peak_w: peak,
        exit_ok: status,
    })
}

/// The human line and the validation-case line.
pub fn report(m: &Measured, args: &MeasureArgs) -> String {
    let steps = args.steps.max(1) as f64;
    let avg = m.joules / m.seconds;
    let case = serde_json::json!({
        "name": args.command.join(" "),
        "device": m.device,
        "framework": "pytorch-eager",
        "model": null,
        "phase": null,
        "precision": null,
        "batch": null,
        "measured": {
            "joules_per_step": m.joules / steps,
            "seconds_per_step": m.seconds / steps,
            "avg_power_w": avg,
        }
    });
    format!(
        "measured {:.3} s, {:.1} J, {:.1} W average{} on {} ({} step{})\n\
         case (fill in model, phase, precision, batch):\n{}",
        m.seconds,
        m.joules,
        avg,
        m.peak_w
            .map(|p| format!(", {p:.0} W peak"))
            .unwrap_or_default(),
        m.device,
        args.steps,
        if args.steps == 1 { "" } else { "s" },
        case
    )
}
