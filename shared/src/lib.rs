//! jouleprint's estimation core: pure (no I/O, clock or randomness), so the
//! browser, the CLI and the server compute the same numbers from the same scenario.
//!
//! Modules from the bottom up; each imports only modules listed above it
//! (`scripts/check-module-cycles.py` keeps it so):
//! - foundations: `error`, `units`, `stats`, `tuning` (the fitted constants),
//!   `ranges` (the fitted range widths);
//! - data and formats: `device`, `catalog` (datasheets, architectures),
//!   `calibration` (records, measured and built-in profiles), `grid`, `model`
//!   (architectures, presets, Hugging Face configs, op types), `scenario`,
//!   `import` (ONNX, safetensors, model files), `report` (the estimate's types);
//! - the pipeline: `check` -> `resolve` -> `plan` -> `step` -> `schedule`, `serving` -> `totals` ->
//!   `what_if`, run by `estimate`;
//! - on top: `validate` (cases, the fitter) and `api` (HTTP bodies).

pub mod error;
pub mod ranges;
pub mod stats;
pub mod tuning;
pub mod units;

pub mod calibration;
pub mod catalog;
pub mod device;
pub mod grid;
pub mod import;
pub mod model;
pub mod report;
pub mod scenario;

pub mod check;
pub mod estimate;
pub mod plan;
pub mod resolve;
pub mod schedule;
pub mod serving;
pub mod step;
pub mod totals;
pub mod what_if;

pub mod validate;

pub mod api;

pub use error::{InputError, InputErrors};

/// Bumped whenever a formula or a built-in coefficient changes the numbers.
pub const ESTIMATOR_VERSION: &str = concat!(
    "jouleprint-estimator/",
    env!("CARGO_PKG_VERSION"),
    "+model-12"
);
