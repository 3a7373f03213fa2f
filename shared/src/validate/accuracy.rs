//! The estimator's error on a measured case, and the accuracy of many: the
//! one computation behind the service's accuracy table (`GET /api/accuracy`),
//! the comparison `jouleprint measure` prints and `jouleprint validate`.
//!
//! Errors are `estimated / measured - 1` (energy and time of one step), and
//! whether the measured value lies inside the printed range `[low, high]`.
//! A summary over many runs counts **one vote per contributor** (a token):
//! each contributor's runs are collapsed to their median first, then the
//! figures are taken over contributors, so a contributor with a hundred runs
//! weighs what one with one run weighs (`docs/api.md`, "Accuracy").

use super::Case;
use crate::device::DeviceProfile;
use crate::error::{InputError, InputErrors};
use crate::stats::median;
use crate::units::Range;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The shortest measurement window `jouleprint measure` accepts, and the
/// service: one second...
pub const MIN_WINDOW_S: f64 = 1.0;
/// ...and at least this many updates of the energy counter. The window opens
/// and closes on counter updates, up to one update period after each marker,
/// and its energy is scaled from the window to the marked time: the error
/// left is the sliver after the end marker (at most one update) counted at
/// the window's average power, at most 1/49 of the relative difference
/// between the power in it and the steps' power at 50 updates (about 2% if
/// the GPU drew nothing, or twice as much, right after the last step).
pub const MIN_WINDOW_PERIODS: f64 = 50.0;

/// The estimator's error on one measured case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaseAccuracy {
    /// `shared::ESTIMATOR_VERSION` that computed it.
    pub estimator_version: String,
    /// The device profile the estimate used (`resolved.device.source.version`).
    pub profile_version: String,
    pub estimated_joules_per_step: Range,
    pub estimated_seconds_per_step: Range,
    /// Counted FLOPs of one step, as the core counts the workload.
    pub flops_per_step: f64,
    /// Estimated / measured joules per step, minus 1.
    pub energy_error: f64,
    /// Estimated / measured seconds per step, minus 1.
    pub time_error: f64,
    /// The measured joules per step lie within the estimate's range.
    pub energy_inside: bool,
    /// The measured seconds per step lie within the estimate's range.
    pub time_inside: bool,
}

/// A field path of [`scenario_accuracy`]'s errors (`stages[0].workload.batch`)
/// as the field of the case it comes from (`batch`); see [`Case::scenario`].
pub fn case_field(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("stages[0].workload.") {
        return rest.to_string();
    }
    match path {
        "hardware.device" => "device".into(),
        "software" => "framework".into(),
        // Already the case's own.
        "name" | "framework" => path.into(),
        p if p.starts_with("model") || p.starts_with("measured") => p.to_string(),
        p => format!("scenario.{p}"),
    }
}

fn case_errors(e: InputErrors) -> InputErrors {
    InputErrors(
        e.0.into_iter()
            .map(|x| InputError::new(case_field(&x.field), x.message))
            .collect(),
    )
}

/// The estimator's error on `c`, with `profiles` in place of the built-in
/// device profiles (none: the estimator as released). Refused, naming the
/// case's field (`batch`, `device`), when the measurement is not a positive
/// finite number or the workload does not pass the core's check (the core's
/// own messages).
pub fn case_accuracy(c: &Case, profiles: &[DeviceProfile]) -> Result<CaseAccuracy, InputErrors> {
    scenario_accuracy(c, profiles).map_err(case_errors)
}

/// [`case_accuracy`], its refusals naming the field of the one-step scenario
/// the case describes (`stages[0].workload.batch`, `hardware.device`), as
/// `jouleprint validate` reports them.
pub fn scenario_accuracy(
    c: &Case,
    profiles: &[DeviceProfile],
) -> Result<CaseAccuracy, InputErrors> {
    let m = &c.measured;
    let mut bad = vec![];
    for (field, v) in [
        ("measured.joules_per_step", m.joules_per_step),
        ("measured.seconds_per_step", m.seconds_per_step),
    ] {
        if !(v.is_finite() && v > 0.0) {
            bad.push(InputError::new(
                field,
                format!("must be a finite number above 0 (it is {v})"),
            ));
        }
    }
    if !bad.is_empty() {
        return Err(InputErrors(bad));
    }
    let s = c.scenario()?;
    // `estimate_core` runs the core's check first.
    let e = crate::estimate::estimate_core(&s, profiles)?;
    let j = e.joules_per_step;
    let t = e.seconds_per_step;
    let out = CaseAccuracy {
        estimator_version: crate::ESTIMATOR_VERSION.to_string(),
        profile_version: e.resolved.device.source.version.clone(),
        estimated_joules_per_step: j,
        estimated_seconds_per_step: t,
        flops_per_step: e.flops_per_step,
        energy_error: j.expected / m.joules_per_step - 1.0,
        time_error: t.expected / m.seconds_per_step - 1.0,
        energy_inside: j.low <= m.joules_per_step && m.joules_per_step <= j.high,
        time_inside: t.low <= m.seconds_per_step && m.seconds_per_step <= t.high,
    };
    if [
        out.energy_error,
        out.time_error,
        out.flops_per_step,
        j.low,
        j.high,
        t.low,
        t.high,
    ]
    .iter()
    .any(|x| !x.is_finite())
    {
        return Err(InputError::new(
            "measured",
            "the estimate of this workload is not a finite number: its numbers overflow together",
        )
        .into());
    }
    Ok(out)
}

/// The accuracy figures of a set of runs, each a fraction (0.09 is 9%).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccuracyFigures {
    /// Median over contributors of each contributor's median |energy error|.
    pub median_abs_energy_error: f64,
    /// The largest contributor median |energy error| (one contributor sets it).
    pub worst_abs_energy_error: f64,
    pub median_abs_time_error: f64,
    pub worst_abs_time_error: f64,
    /// Mean over contributors of the share of each one's runs whose measured
    /// energy lies inside the estimate's range.
    pub share_energy_inside: f64,
    pub share_time_inside: f64,
}

/// One run as the summary reads it: who contributed it, and its errors.
#[derive(Debug, Clone, PartialEq)]
pub struct Vote<K> {
    pub voter: K,
    pub energy_error: f64,
    pub time_error: f64,
    pub energy_inside: bool,
    pub time_inside: bool,
}

impl<K> Vote<K> {
    pub fn of(voter: K, a: &CaseAccuracy) -> Self {
        Vote {
            voter,
            energy_error: a.energy_error,
            time_error: a.time_error,
            energy_inside: a.energy_inside,
            time_inside: a.time_inside,
        }
    }
}

/// What a set of runs says, before and after the quorum.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    pub runs: usize,
    /// Distinct contributors.
    pub voters: usize,
    /// Runs (not contributors) whose measured energy or time lay inside the range.
    pub runs_energy_inside: usize,
    pub runs_time_inside: usize,
    /// None until `voters >= min_voters`.
    pub figures: Option<AccuracyFigures>,
}

/// Summarise `votes` with one vote per contributor: each contributor's runs
/// become the median of their |errors| and the share of them inside the
/// range; the figures are the median (and the largest) of those over
/// contributors, and the mean of the shares. No figures until at least
/// `min_voters` contributors.
pub fn tally<K: Ord + Clone>(votes: &[Vote<K>], min_voters: usize) -> Tally {
    let mut by: BTreeMap<K, Vec<&Vote<K>>> = BTreeMap::new();
    for v in votes {
        by.entry(v.voter.clone()).or_default().push(v);
    }
    let share = |vs: &[&Vote<K>], f: fn(&Vote<K>) -> bool| {
        vs.iter().filter(|v| f(v)).count() as f64 / vs.len() as f64
    };
    let (mut e, mut t, mut ei, mut ti) = (vec![], vec![], vec![], vec![]);
    for vs in by.values() {
        let abs = |f: fn(&Vote<K>) -> f64| vs.iter().map(|v| f(v).abs()).collect::<Vec<_>>();
        e.push(median(&abs(|v| v.energy_error)).unwrap_or(f64::NAN));
        t.push(median(&abs(|v| v.time_error)).unwrap_or(f64::NAN));
        ei.push(share(vs, |v| v.energy_inside));
        ti.push(share(vs, |v| v.time_inside));
    }
    let voters = by.len();
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len() as f64;
    let max = |xs: &[f64]| xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let figures = (voters >= min_voters.max(1)).then(|| AccuracyFigures {
        median_abs_energy_error: median(&e).unwrap_or(f64::NAN),
        worst_abs_energy_error: max(&e),
        median_abs_time_error: median(&t).unwrap_or(f64::NAN),
        worst_abs_time_error: max(&t),
        share_energy_inside: mean(&ei),
        share_time_inside: mean(&ti),
    });
    Tally {
        runs: votes.len(),
        voters,
        runs_energy_inside: votes.iter().filter(|v| v.energy_inside).count(),
        runs_time_inside: votes.iter().filter(|v| v.time_inside).count(),
        figures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(voter: u32, e: f64, inside: bool) -> Vote<u32> {
        Vote {
            voter,
            energy_error: e,
            time_error: -e / 2.0,
            energy_inside: inside,
            time_inside: !inside,
        }
    }

    #[test]
    fn one_vote_per_contributor() {
        // Contributors 1, 2, 3: |errors| 0.10, 0.20, 0.30 -> median 0.20.
        let mut v = vec![
            vote(1, 0.10, true),
            vote(2, -0.20, true),
            vote(3, 0.30, false),
        ];
        let t = tally(&v, 2);
        let f = t.figures.clone().expect("3 contributors");
        assert!((f.median_abs_energy_error - 0.20).abs() < 1e-12);
        assert!((f.worst_abs_energy_error - 0.30).abs() < 1e-12);
        assert!((f.median_abs_time_error - 0.10).abs() < 1e-12);
        assert!((f.share_energy_inside - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!((t.runs, t.voters, t.runs_energy_inside), (3, 3, 2));
        // Contributor 2 adds 40 runs at -0.9, all outside: its own median
        // becomes 0.9 (41 runs, 40 of them at 0.9); over contributors the
        // median is still the middle of 0.10, 0.30, 0.9: 0.30, not 0.9 as a
        // median over the 43 runs would be.
        for _ in 0..40 {
            v.push(vote(2, -0.9, false));
        }
        let f = tally(&v, 2).figures.expect("figures");
        assert!((f.median_abs_energy_error - 0.30).abs() < 1e-12);
        // Its share inside is 1/41; the mean over contributors moves by at most 1/3.
        let want = (1.0 + 1.0 / 41.0 + 0.0) / 3.0;
        assert!((f.share_energy_inside - want).abs() < 1e-12);
        let all: Vec<f64> = v.iter().map(|x| x.energy_error.abs()).collect();
        assert!((median(&all).expect("m") - 0.9).abs() < 1e-12);
    }

    #[test]
    fn no_figures_before_the_quorum() {
        let v: Vec<_> = (0..25).map(|_| vote(7, 0.05, true)).collect();
        let t = tally(&v, 2);
        assert_eq!((t.runs, t.voters), (25, 1));
        assert!(t.figures.is_none());
        assert!(tally(&v, 1).figures.is_some());
        assert!(tally::<u32>(&[], 1).figures.is_none());
    }

    #[test]
    fn scenario_paths_become_case_fields() {
        assert_eq!(case_field("stages[0].workload.batch"), "batch");
        assert_eq!(case_field("hardware.device"), "device");
        assert_eq!(case_field("software"), "framework");
        assert_eq!(case_field("model.preset"), "model.preset");
        assert_eq!(case_field("framework"), "framework");
        assert_eq!(
            case_field("measured.joules_per_step"),
            "measured.joules_per_step"
        );
        assert_eq!(
            case_field("infrastructure.pue"),
            "scenario.infrastructure.pue"
        );
    }
}
