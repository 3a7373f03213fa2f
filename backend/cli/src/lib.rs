//! Command line. One module per command; `run` dispatches.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod admin;
pub mod calibrate;
pub mod db;
pub mod estimate;
pub mod format;
pub mod inspect;
pub mod job_meter;
pub mod markers;
pub mod measure;
pub mod runs;
pub mod serve;
pub mod token;

#[derive(Parser)]
#[command(
    name = "jouleprint",
    version,
    about = "Energy and CO2 of deep-learning workloads, before they run"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Measure this GPU's idle watts, pJ per FLOP and per byte (microbenchmarks, NVML energy).
    Calibrate(calibrate::CalibrateArgs),
    /// Measure a command's GPU energy and time between its markers; prints a validation-case line, sends it with --submit.
    Measure(measure::MeasureArgs),
    /// Estimate a scenario: FLOPs, time, energy and CO2e with ranges.
    Estimate(estimate::EstimateArgs),
    /// Compare the estimator with measured cases (JSONL).
    Validate(estimate::ValidateArgs),
    /// List the device catalog with the source of each profile.
    Devices(estimate::DevicesArgs),
    /// List the built-in models.
    Presets,
    /// What the importer makes of an ONNX model, a config.json or a safetensors header.
    Inspect(inspect::InspectArgs),
    /// Run the HTTP service: the API under /api, the built frontend at /.
    Serve(serve::ServeArgs),
    /// Manage API tokens of calibration runners (create, list, revoke).
    Token(token::TokenArgs),
    /// Operate the service: quarantine calibration runs or tokens (and release them).
    Admin(admin::AdminArgs),
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Calibrate(args) => calibrate::run(args),
        Command::Measure(args) => measure::run(args),
        Command::Estimate(args) => estimate::estimate(args),
        Command::Validate(args) => estimate::validate(args),
        Command::Devices(args) => estimate::devices(args),
        Command::Presets => estimate::presets(),
        Command::Inspect(args) => inspect::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Token(args) => token::run(args),
        Command::Admin(args) => admin::run(args),
    }
}
