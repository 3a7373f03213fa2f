//! The `jouleprint` binary's library: CLI, HTTP service, calibration runner.

pub mod calibrate;
pub mod cli;
pub mod config;
pub mod routes;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod token;
