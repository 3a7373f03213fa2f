//! The fitter of the model's global constants (`crate::tuning`): coordinate
//! descent on the reference cases, and the leave-one-out error it reports
//! (`shared/examples/fit.rs`; docs/energy-model.md, "Fitted constants").

use super::Case;
use crate::plan::plan;
use crate::resolve::{architecture, resolve_device};
use crate::step::step_cost_tuned;
use crate::tuning::{Tuning, PRIOR};

/// The reference cases shipped with the project (shared/data/h100-cases.jsonl).
pub fn reference_cases() -> &'static str {
    include_str!("../../data/h100-cases.jsonl")
}

/// Relative (energy, time) error of one case under a tuning.
pub fn case_errors(c: &Case, t: &Tuning) -> Option<(f64, f64)> {
    let s = c.scenario().ok()?;
    let arch = architecture(&s).ok()?;
    let dev = resolve_device(&s, &[]).ok()?;
    let dev = if dev.source.kind == "measured" || dev.source.kind == "datasheet" {
        dev.with_floor(t.active_floor_fraction * dev.power_limit_w)
    } else {
        dev
    };
    let pl = plan(&arch, &s.stages[0].workload, s.software, "workload").ok()?;
    let cost = step_cost_tuned(&pl, &dev, s.software, t);
    Some((
        cost.joules / c.measured.joules_per_step - 1.0,
        cost.seconds / c.measured.seconds_per_step - 1.0,
    ))
}

/// Fit [`Tuning`] on the cases `idx` by coordinate descent over log-spaced grids.
pub fn fit_cases(cases: &[Case], idx: &[usize]) -> Tuning {
    let objective = |t: &Tuning| -> f64 {
        let mut s = 0.0;
        for &i in idx {
            match case_errors(&cases[i], t) {
                Some((e, tm)) => s += (1.0 + e).ln().powi(2) + (1.0 + tm).ln().powi(2),
                None => s += 10.0,
            }
        }
        let pull = |v: f64, p: f64| (v / p).ln().powi(2);
        s + 2e-2
            * (pull(t.eager_python_us, PRIOR.eager_python_us)
                + pull(t.active_floor_fraction, PRIOR.active_floor_fraction)
                + pull(t.elementwise_bw_fraction, PRIOR.elementwise_bw_fraction))
    };
    let mut best = PRIOR;
    let mut best_v = objective(&best);
    for round in 0..6 {
        let span = 0.5f64.powi(round);
        for k in 0..3 {
            for step in -10..=10 {
                let f = (span * step as f64 / 10.0).exp();
                let mut t = best;
                match k {
                    0 => t.eager_python_us = (best.eager_python_us * f).clamp(1.0, 100.0),
                    1 => t.active_floor_fraction = (best.active_floor_fraction * f).clamp(0.0, 0.7),
                    _ => {
                        t.elementwise_bw_fraction =
                            (best.elementwise_bw_fraction * f).clamp(0.1, 1.0)
                    }
                }
                let v = objective(&t);
                if v < best_v {
                    best_v = v;
                    best = t;
                }
            }
        }
    }
    best
}
