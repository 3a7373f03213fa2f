//! The `jouleprint` binary's library: CLI, HTTP service, calibration runner.

pub mod calibrate;
pub mod cli;
