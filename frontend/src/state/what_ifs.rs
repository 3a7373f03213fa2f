//! The page's side of the what-ifs: which are ticked, the parameters as the
//! user edits them, and each row's change against the estimate. The changes,
//! their defaults and their estimates are the core's (`shared::what_if`).

use super::parse;
use shared::device::DeviceProfile;
use shared::estimate::{Estimate, WhatIfOutcome};
use shared::scenario::Scenario;
use shared::what_if::{self, Kind, Params};
use std::collections::BTreeSet;

/// A what-if row: the core's outcome, with its change of the whole estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct WhatIfRow {
    pub kind: Kind,
    pub enabled: bool,
    /// The change in words (`PUE 1.1 instead of 1.5`), when it applies.
    pub change: String,
    /// The change of the estimate, or why the what-if does not apply.
    pub delta: Result<Delta, String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delta {
    pub kwh: f64,
    pub co2e_kg: f64,
    pub base_kwh: f64,
    pub base_co2e_kg: f64,
}

impl WhatIfRow {
    pub fn from_outcome(kind: Kind, enabled: bool, o: WhatIfOutcome, base: &Estimate) -> Self {
        let delta = match (o.applies, o.energy_kwh, o.co2e_kg) {
            (true, Some(e), Some(c)) => Ok(Delta {
                kwh: e.expected - base.energy_kwh.expected,
                co2e_kg: c.expected - base.co2e_kg.expected,
                base_kwh: base.energy_kwh.expected,
                base_co2e_kg: base.co2e_kg.expected,
            }),
            _ => Err(o.reason),
        };
        WhatIfRow {
            kind,
            enabled,
            change: o.change,
            delta,
        }
    }

    /// A row when the inputs give no estimate to compare with.
    pub fn without_base(kind: Kind, enabled: bool) -> Self {
        WhatIfRow {
            kind,
            enabled,
            change: String::new(),
            delta: Err("fix the inputs first".into()),
        }
    }
}

/// The rows of every what-if against the estimate `base` of `s` (the core's
/// `evaluate_all`, at the user's parameters).
pub fn rows(
    s: &Scenario,
    base: &Result<Estimate, shared::InputErrors>,
    p: &Params,
    on: &BTreeSet<Kind>,
    measured: &[DeviceProfile],
) -> Vec<WhatIfRow> {
    match base {
        Err(_) => Kind::ALL
            .iter()
            .map(|k| WhatIfRow::without_base(*k, on.contains(k)))
            .collect(),
        Ok(b) => Kind::ALL
            .iter()
            .zip(what_if::evaluate_all(s, b, p, measured))
            .map(|(k, o)| WhatIfRow::from_outcome(*k, on.contains(k), o, b))
            .collect(),
    }
}

/// The scenario with the ticked what-ifs applied one after another (one that
/// does not apply is left out; its row says why).
pub fn effective(
    s: &Scenario,
    p: &Params,
    on: &BTreeSet<Kind>,
    measured: &[DeviceProfile],
) -> Scenario {
    let mut t = s.clone();
    for k in on {
        if let Ok((next, _)) = what_if::apply(*k, p, &t, measured) {
            t = next;
        }
    }
    t
}

/// The text a what-if's parameter shows.
pub fn param_value(p: &Params, k: Kind) -> String {
    match k {
        Kind::Pruning => p.sparsity.to_string(),
        Kind::EarlyStop => p.early_stop.to_string(),
        Kind::FewerTrials => p.trials.to_string(),
        Kind::Pue => p.pue.to_string(),
        Kind::Region => p.region.clone(),
        Kind::Gpu => p.gpu.clone(),
        Kind::Distill => p.distill_to.clone(),
        Kind::HalfPrecision | Kind::LowPrecision | Kind::RightSize => String::new(),
    }
}

/// The parameters with one changed, if the core takes the new value: a value
/// that makes the what-if stop applying is refused with the core's reason
/// (text that is not a number never reaches it).
pub fn set_param(
    p: &Params,
    k: Kind,
    raw: &str,
    s: &Scenario,
    measured: &[DeviceProfile],
) -> Result<Params, String> {
    let mut q = p.clone();
    match k {
        Kind::Pruning => q.sparsity = parse::number(raw)?,
        Kind::EarlyStop => q.early_stop = parse::number(raw)?,
        Kind::FewerTrials => q.trials = parse::number(raw)?,
        Kind::Pue => q.pue = parse::number(raw)?,
        Kind::Region => q.region = raw.to_string(),
        Kind::Gpu => q.gpu = raw.to_string(),
        Kind::Distill => q.distill_to = raw.to_string(),
        Kind::HalfPrecision | Kind::LowPrecision | Kind::RightSize => return Ok(q),
    }
    if let Err(why) = what_if::apply(k, &q, s, measured) {
        if what_if::apply(k, p, s, measured).is_ok() {
            return Err(why);
        }
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::example_scenario;

    #[test]
    fn parameters_the_core_refuses_keep_the_last_one() {
        let s = example_scenario();
        let p = Params::default();
        let e = set_param(&p, Kind::FewerTrials, "2", &s, &[]).expect_err("a share over 1");
        assert!(e.contains("between 0 and 1"), "{e}");
        let q = set_param(&p, Kind::FewerTrials, "0.25", &s, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(q.trials, 0.25);
        // the example runs at PUE 1.2: a what-if PUE of 1.5 is no saving
        let e = set_param(&p, Kind::Pue, "1.5", &s, &[]).expect_err("not better");
        assert!(e.contains("1.2"), "{e}");
        assert!(set_param(&p, Kind::Pue, "abc", &s, &[]).is_err_and(|e| e.contains("not a number")));
    }

    #[test]
    fn fewer_trials_scales_development_runs() {
        let s = example_scenario();
        let on = BTreeSet::from([Kind::FewerTrials]);
        let t = effective(&s, &Params::default(), &on, &[]);
        assert_eq!(t.stages[0].runs, s.stages[0].runs * 0.5);
        assert_eq!(t.stages[1].runs, s.stages[1].runs);
    }
}
