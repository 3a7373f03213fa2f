//! From a scenario to an estimate: the public entry point of the core.
//!
//! scenario -> `check` -> `resolve` -> `plan` -> `step` -> `totals` -> `what_if`.
//! The CLI, the API and the page call [`estimate`] (or [`estimate_json`]);
//! none of them re-implements a piece of it.

use crate::device::DeviceProfile;
use crate::error::InputErrors;
use crate::scenario::Scenario;
pub use crate::totals::estimate_core;
use crate::what_if;

pub use crate::check::parse_scenario;
pub use crate::report::{Estimate, MemoryCheck, OpShare, Saving, StageEstimate, WhatIfOutcome};

/// Estimate a scenario with its what-ifs (at their default parameters).
/// `measured` holds device profiles that replace the built-in ones (a
/// calibration file, the service's measured profiles); a scenario's own
/// `resolved` values win over both.
pub fn estimate(scenario: &Scenario, measured: &[DeviceProfile]) -> Result<Estimate, InputErrors> {
    let mut e = estimate_core(scenario, measured)?;
    let params = what_if::Params::defaults(scenario, &e);
    e.what_ifs = what_if::evaluate_all(scenario, &e, &params, measured);
    Ok(e)
}

/// Parse and estimate scenario JSON, with errors that name the field.
pub fn estimate_json(json: &str, measured: &[DeviceProfile]) -> Result<Estimate, InputErrors> {
    let s = parse_scenario(json)?;
    estimate(&s, measured)
}
