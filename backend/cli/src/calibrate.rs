//! `jouleprint calibrate`: run the calibration suite on one GPU, print the
//! summary, write the record (atomically) and optionally submit it.

use runner::fake::{SimDevice, SimModel};
use runner::suite::{self, Progress};
use runner::{submit, KernelRunner, PowerMeter, SuiteError, SuiteOptions};
use shared::calibration::CalibrationRecord;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(clap::Args, Debug)]
pub struct CalibrateArgs {
    /// Index of the GPU (NVML's; CUDA's ordinal must name the same device).
    #[arg(long, default_value_t = 0)]
    pub device: u32,
    /// A dozen kernels, one repeat: under 60 s (the full suite with its sweeps: about 7 min).
    #[arg(long)]
    pub quick: bool,
    /// Where to write the record (default: calibration-<run id>.json).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Send the record to this jouleprint service (base URL).
    #[arg(long)]
    pub submit: Option<String>,
    /// Bearer token for --submit (`jouleprint token create`); default: $JOULEPRINT_TOKEN.
    #[arg(long)]
    pub token: Option<String>,
    /// Run even if other processes use the GPU (their energy is counted: the record is flagged).
    #[arg(long)]
    pub allow_other_processes: bool,
    /// Run on a simulated device (no GPU needed): to try the command and in tests.
    #[arg(long)]
    pub simulate: bool,
    /// Which simulated device: `h100` (the reference's profile) or `h200`
    /// (datasheet profile, power-cap clock transient).
    #[arg(long, default_value = "h100", value_parser = sim_model())]
    pub simulate_device: SimModel,
    /// Print the plan (kernels, loop lengths, planned duration) and exit; needs no GPU.
    #[arg(long)]
    pub plan: bool,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

/// Exit codes: 0 done, 1 submission failed (record written), 2 no GPU/driver or
/// a measurement error, 130 stopped with Ctrl-C.
/// `--simulate-device`: the names of [`SimModel`], listed in `--help`.
fn sim_model() -> impl clap::builder::TypedValueParser<Value = SimModel> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(SimModel::NAMES)
        .try_map(|s| SimModel::parse(&s).ok_or("not a simulated device"))
}

pub fn run(mut args: CalibrateArgs) -> ExitCode {
    if args.token.is_none() {
        args.token = std::env::var("JOULEPRINT_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
    }
    if args.submit.is_some() && args.token.is_none() {
        eprintln!("jouleprint calibrate: --submit needs --token (or JOULEPRINT_TOKEN)");
        return ExitCode::from(2);
    }
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let c = cancel.clone();
        // A second handler cannot be installed; the run then just cannot be stopped cleanly.
        let _ = ctrlc::set_handler(move || {
            if c.swap(true, Ordering::SeqCst) {
                eprintln!("\nstopping at the end of the current loop...");
            } else {
                eprintln!("\nstopping after the current loop; nothing will be written");
            }
        });
    }
    let mut opts = if args.quick {
        SuiteOptions::quick()
    } else {
        SuiteOptions::full()
    };
    opts.allow_other_processes = args.allow_other_processes;
    if args.plan {
        print!("{}", plan_text(&opts));
        return ExitCode::SUCCESS;
    }

    let result = if args.simulate {
        let dev = SimDevice::new(args.simulate_device.config());
        let (mut meter, mut runner) = (dev.meter(), dev.runner());
        measure(&mut meter, &mut runner, &opts, &cancel, &args)
    } else {
        match runner::open(args.device) {
            Ok((mut meter, mut runner)) => measure(&mut meter, &mut runner, &opts, &cancel, &args),
            Err(msg) => {
                eprintln!("jouleprint calibrate: {msg}");
                return ExitCode::from(2);
            }
        }
    };
    let rec = match result {
        Ok(mut rec) => {
            if args.simulate {
                // Never let a simulated run refine a real device's profile:
                // the service stores flagged runs without using them.
                rec.flags.push("simulated".into());
            }
            rec
        }
        Err(SuiteError::Cancelled) => {
            eprintln!("jouleprint calibrate: stopped; nothing was written");
            return ExitCode::from(130);
        }
        Err(e) => {
            eprintln!("jouleprint calibrate: {e}");
            return ExitCode::from(2);
        }
    };
    print!("{}", suite::summary(&rec));

    let path = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "calibration-{}.json",
            rec.run_id.as_deref().unwrap_or("run")
        ))
    });
    if let Err(e) = write_record(&path, &rec) {
        eprintln!(
            "jouleprint calibrate: could not write {}: {e}",
            path.display()
        );
        return ExitCode::from(2);
    }
    println!("record written to {}", path.display());

    if let (Some(url), Some(token)) = (&args.submit, &args.token) {
        match submit::submit(url, token, &rec, 3) {
            Ok(s) => {
                println!(
                    "submitted run {} for {}: {}{}{}",
                    s.run_id,
                    s.device,
                    s.status,
                    if s.replayed { " (already there)" } else { "" },
                    s.profile_version
                        .map(|v| format!(", profile version {v}"))
                        .unwrap_or_default()
                );
                if !s.flags.is_empty() {
                    println!("flags: {}", s.flags.join(", "));
                }
            }
            Err(e) => {
                let advice = match e {
                    // the same record would be refused again: measure again
                    runner::submit::SubmitError::Implausible { .. } => {
                        "a run the service finds implausible stays so: check the GPU (clocks, power limit, other processes) and calibrate again"
                    }
                    _ => "submit it again later, it is idempotent by run_id",
                };
                eprintln!(
                    "jouleprint calibrate: submission failed: {e}\n(the record is in {}; {advice})",
                    path.display()
                );
                return ExitCode::from(1);
            }
        }
    }
    ExitCode::SUCCESS
}

/// The plan of a run on an H100/H200-shaped device, with its upper bound in
/// time for a counter that updates every 100 ms (real ones update faster).
pub fn plan_text(opts: &SuiteOptions) -> String {
    use std::fmt::Write;
    let kernels = suite::plan(opts.quick, suite::DeviceShape::GH100);
    let period = shared::units::Seconds(0.1);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} suite: {} kernels; core loops >= {} s x {} repeat(s), sweep loops >= {} s x 1; idle {} s before and after; heat-up {}-{} s; warm-up {}-{} s per kernel",
        if opts.quick { "quick" } else { "full" },
        kernels.len(),
        opts.min_loop_s,
        opts.repeats,
        opts.sweep_loop_s,
        opts.idle_s,
        opts.heat_up_s.0,
        opts.heat_up_s.1,
        opts.warmup_s.0,
        opts.warmup_s.1
    );
    for p in &kernels {
        let _ = writeln!(
            s,
            "  {:<36} {:<6} <= {:.1} s",
            p.kernel.name(),
            if p.sweep { "sweep" } else { "core" },
            suite::planned_kernel_s(p, opts, period)
        );
    }
    let _ = writeln!(
        s,
        "planned at most {:.0} s (counter period 100 ms)",
        suite::planned_duration(&kernels, opts, period).0
    );
    s
}

fn measure(
    meter: &mut dyn PowerMeter,
    runner: &mut dyn KernelRunner,
    opts: &SuiteOptions,
    cancel: &AtomicBool,
    args: &CalibrateArgs,
) -> Result<CalibrationRecord, SuiteError> {
    let info = meter.device().clone();
    eprintln!(
        "calibrating {} (index {}, {} W limit, energy from the {} update every {:.0} ms){}",
        info.name,
        info.index,
        info.power_limit_mw / 1000,
        meter.energy_source().as_str(),
        meter.update_period().0 * 1e3,
        if args.simulate { " [simulated]" } else { "" }
    );
    let bar = if args.no_progress {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {msg} (about {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let r = suite::run(meter, runner, opts, cancel, &mut |p| match p {
        Progress::Start { planned_s, .. } => bar.set_length((planned_s * 1000.0) as u64),
        Progress::Kernel { name, .. } => bar.set_message(name),
        Progress::Skipped { name } => bar.println(format!("skipped {name}: not supported here")),
        Progress::Done { planned_s } => bar.inc((planned_s * 1000.0) as u64),
    });
    bar.finish_and_clear();
    r
}

/// Write `rec` to `path` through a temporary file in the same directory and a
/// rename: a reader never sees a half-written record.
pub fn write_record(path: &Path, rec: &CalibrationRecord) -> std::io::Result<()> {
    let json = serde_json::to_string_pretty(rec).map_err(std::io::Error::other)?;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "calibration.json".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(json.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}
