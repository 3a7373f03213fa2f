//! The range fitter: the width of the estimate's ranges per cell (software
//! and scale, energy and time) from measured residuals, and the leave-one-out
//! coverage it reaches (`shared/examples/ranges.rs` writes
//! `shared/data/uncertainty.json`; docs/energy-model.md, "Ranges").
//!
//! Residuals: ln(estimate / measured) of the reference cases' energy and time
//! (leave-one-out of the fitted constants) and of every public validation
//! case. A cell's width is the `QUANTILE` quantile of its absolute residuals
//! (of their distance from the cell's median residual where the cell is
//! centred on its residuals, `Cell::centred_on_residuals`; energy and time
//! pooled where one kind has fewer than `MIN_EMPIRICAL`; the Student-t bound
//! where the pool is still that small); a case's leave-one-out range uses the
//! width (and shift) fitted without it.

use super::fit::{fit, fit_set, FitCase};
use super::published::{evaluate_case, parse_case, Quantity};
use crate::ranges::{Cell, Widths};
use crate::scenario::SoftwareClass;
use std::collections::BTreeMap;

/// The quantile of the absolute log residuals a width is.
pub const QUANTILE: f64 = 0.9;
/// Cells with fewer residuals take the widest cell's width.
pub const MIN_CELL: usize = 3;
/// Below this many residuals of one kind (1 / (1 - `QUANTILE`)) the quantile
/// cannot be placed between order statistics: the cell pools its energy and
/// time residuals, and if still short takes the Student-t bound.
pub const MIN_EMPIRICAL: usize = 10;

/// Student's t, 0.95 quantile (two-sided 90%, `QUANTILE`), for `MIN_CELL`
/// (3) ..= 9 degrees of freedom (any statistics table, e.g. NIST/SEMATECH e-Handbook 1.3.6.7.2).
const T_095: [f64; 7] = [2.353, 2.132, 2.015, 1.943, 1.895, 1.860, 1.833];

/// The width of a cell with `MIN_CELL..MIN_EMPIRICAL` residuals (`None`
/// outside that): residuals taken as N(0, s^2), s their root mean square
/// about 0 (n degrees of freedom, no mean is estimated), so a new one lies
/// within t(0.95, n) s with probability 0.9.
pub fn small_sample_width(v: &[f64]) -> Option<f64> {
    let n = v.len();
    let t = T_095.get(n.checked_sub(MIN_CELL)?)?;
    let rms = (v.iter().map(|r| r * r).sum::<f64>() / n as f64).sqrt();
    Some(t * rms)
}

/// The public sets the widths are fitted on. `serving-held-out` is out of
/// sample for the model (the engine's constants are fitted on `serving`), not
/// for the ranges; likewise the step sets `training-at-scale` and
/// `training-fsdp`, the only residuals of multi-device steps (the `multi`
/// cell), while the campaigns' totals make the `campaign` cell.
pub fn sets() -> [(&'static str, &'static str); 6] {
    [
        (
            "single-device",
            include_str!("../../data/validation/single-device.jsonl"),
        ),
        (
            "pretraining",
            include_str!("../../data/validation/pretraining.jsonl"),
        ),
        (
            "serving",
            include_str!("../../data/validation/serving.jsonl"),
        ),
        (
            "serving-held-out",
            include_str!("../../data/validation/serving-held-out.jsonl"),
        ),
        (
            "training-at-scale",
            include_str!("../../data/validation/training-at-scale.jsonl"),
        ),
        (
            "training-fsdp",
            include_str!("../../data/validation/training-fsdp.jsonl"),
        ),
    ]
}

#[derive(Debug, Clone, PartialEq)]
pub struct Residual {
    pub name: String,
    /// `reference`, or the public set's name.
    pub set: String,
    pub cell: Cell,
    pub energy: bool,
    /// ln(estimate / measured).
    pub r: f64,
}

/// Every residual: the reference cases (leave-one-out) and the public cases.
pub fn residuals() -> Vec<Residual> {
    let mut out = vec![];
    let set = fit_set();
    let all: Vec<usize> = (0..set.len()).collect();
    for i in 0..set.len() {
        let rest: Vec<usize> = all.iter().copied().filter(|&j| j != i).collect();
        let t = fit(&set, &rest);
        if let (FitCase::Measured(c), Some((e, tm))) = (&set[i], set[i].errors(&t)) {
            if let Some(e) = e {
                out.push(Residual {
                    name: c.name.clone(),
                    set: "reference".into(),
                    cell: Cell::EagerMeasured,
                    energy: true,
                    r: e.ln_1p(),
                });
            }
            out.push(Residual {
                name: c.name.clone(),
                set: "reference".into(),
                cell: Cell::EagerMeasured,
                energy: false,
                r: tm.ln_1p(),
            });
        }
    }
    for (name, text) in sets() {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(c) = parse_case(line) else { continue };
            let r = evaluate_case(&c, &[]);
            let Some(ratio) = r.ratio.filter(|x| *x > 0.0 && x.is_finite()) else {
                continue;
            };
            let stage = c.scenario.stages.get(c.stage.unwrap_or(0));
            let sw = stage.map_or(c.scenario.software, |st| st.software(&c.scenario));
            let devices = stage.map_or(c.scenario.hardware.count, |st| {
                st.hardware(&c.scenario).count
            });
            let device = crate::resolve::resolve_device(&c.scenario, &[]).ok();
            let measured = device.as_ref().is_some_and(|d| d.source.kind == "measured");
            let mut cell = Cell::of(
                sw == SoftwareClass::PytorchEager,
                devices,
                measured,
                stage.is_some_and(|st| st.serving.is_some()),
            );
            // a multi-node training stage's totals take the campaign width
            // (`totals`: the stages a goodput applies to)
            let domain = device.as_ref().map_or(8, |d| d.domain());
            let training =
                stage.is_some_and(|st| st.workload.phase == crate::scenario::Phase::Train);
            if cell == Cell::Multi
                && training
                && devices > domain
                && c.quantity != Quantity::SecondsPerStep
            {
                cell = Cell::Campaign;
            }
            out.push(Residual {
                name: c.name.clone(),
                set: name.into(),
                cell,
                energy: c.quantity.is_energy(),
                r: ratio.ln(),
            });
        }
    }
    out
}

/// The `q` quantile of `v` (linear interpolation between order statistics).
pub fn quantile(v: &[f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q.clamp(0.0, 1.0) * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(v[lo] + (pos - lo as f64) * (v[hi] - v[lo]))
}

/// Widths from residuals, skipping the one at `skip`.
pub fn fit_widths(res: &[Residual], skip: Option<usize>) -> Widths {
    let mut energy = BTreeMap::new();
    let mut time = BTreeMap::new();
    // cells centred on their residuals: the median of energy and time together
    let mut shift = BTreeMap::new();
    for cell in Cell::ALL.into_iter().filter(|c| c.centred_on_residuals()) {
        let v: Vec<f64> = res
            .iter()
            .enumerate()
            .filter(|(i, r)| Some(*i) != skip && r.cell == cell)
            .map(|(_, r)| r.r)
            .collect();
        if v.len() >= MIN_CELL {
            if let Some(m) = crate::stats::median(&v) {
                shift.insert(cell.as_str().to_string(), m);
            }
        }
    }
    for (is_energy, map) in [(true, &mut energy), (false, &mut time)] {
        let mut widest: f64 = 0.0;
        let mut pending = vec![];
        for cell in Cell::ALL {
            let of = |both: bool| -> Vec<f64> {
                res.iter()
                    .enumerate()
                    .filter(|(i, r)| {
                        Some(*i) != skip && r.cell == cell && (both || r.energy == is_energy)
                    })
                    .map(|(_, r)| (r.r - shift.get(cell.as_str()).copied().unwrap_or(0.0)).abs())
                    .collect()
            };
            // too few of one kind: the cell's energy and time residuals
            // together (the same step model on the same cases)
            let mut v = of(false);
            if v.len() < MIN_EMPIRICAL {
                v = of(true);
            }
            let u = if v.len() >= MIN_EMPIRICAL {
                quantile(&v, QUANTILE)
            } else {
                small_sample_width(&v)
            };
            match u {
                Some(u) => {
                    widest = widest.max(u);
                    map.insert(cell.as_str().to_string(), u);
                }
                None => pending.push(cell),
            }
        }
        for cell in pending {
            map.insert(cell.as_str().to_string(), widest);
        }
    }
    Widths {
        fitted_on: "leave-one-out residuals of shared/data/h100-cases.jsonl and every case of shared/data/validation/{single-device,pretraining,serving,serving-held-out,training-at-scale,training-fsdp}.jsonl".into(),
        quantile: QUANTILE,
        energy,
        time,
        shift,
    }
}

/// A case's leave-one-out check: inside the range fitted without it, and that range's high/low.
#[derive(Debug, Clone, PartialEq)]
pub struct Loo {
    pub residual: Residual,
    pub inside: bool,
    pub width_ratio: f64,
}

pub fn leave_one_out(res: &[Residual]) -> Vec<Loo> {
    (0..res.len())
        .map(|i| {
            let w = fit_widths(res, Some(i));
            let m = if res[i].energy { &w.energy } else { &w.time };
            let u = m.get(res[i].cell.as_str()).copied().unwrap_or(0.0);
            let s = w.shift.get(res[i].cell.as_str()).copied().unwrap_or(0.0);
            Loo {
                residual: res[i].clone(),
                inside: (res[i].r - s).abs() <= u,
                width_ratio: (2.0 * u).exp(),
            }
        })
        .collect()
}
