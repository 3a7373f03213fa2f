//! jouleprint's estimation core: pure (no I/O, clock or randomness), so the
//! browser, the CLI and the server compute the same numbers from the same scenario.

pub mod calibration;
pub mod catalog;
pub mod device;
pub mod energy;
pub mod error;
pub mod estimate;
pub mod grid;
pub mod import;
pub mod model;
pub mod scenario;
pub mod units;
pub mod validate;

pub use error::InputError;

/// Bumped whenever a formula or a built-in coefficient changes the numbers.
pub const ESTIMATOR_VERSION: &str = concat!(
    "jouleprint-estimator/",
    env!("CARGO_PKG_VERSION"),
    "+model-1"
);
