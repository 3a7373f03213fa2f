//! Command line. One module per command; `run` dispatches.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod calibrate;
pub mod measure;
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
    /// Measure a command's GPU energy and time; prints a validation-case line.
    Measure(measure::MeasureArgs),
    /// Run the HTTP service: the API under /api, the built frontend at /.
    Serve(serve::ServeArgs),
    /// Manage API tokens of calibration runners (create, list, revoke).
    Token(token::TokenArgs),
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Calibrate(args) => calibrate::run(args),
        Command::Measure(args) => measure::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Token(args) => token::run(args),
    }
}
