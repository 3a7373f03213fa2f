//! The widths of the estimate's ranges, from measured residuals (issue 14):
//! `shared/data/uncertainty.json`, written by the range fitter
//! (`validate::widths`, `shared/examples/ranges.rs`) from the leave-one-out
//! residuals of the reference cases and the public validation sets. A range
//! is `[v e^-u, v e^u]` with `u` the cell's width, or, for a cell whose
//! residuals lean one way (`Cell::centred_on_residuals`), `[v e^(-s-u),
//! v e^(-s+u)]` with `s` their median; a test keeps the committed file equal
//! to the fitter's output.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// Which residuals a stage's range is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cell {
    /// Eager PyTorch on one device with a measured profile.
    EagerMeasured,
    /// Eager PyTorch on one device with a datasheet profile.
    EagerSingle,
    /// Compiled, serving or Megatron-style software on one device.
    FusedSingle,
    /// A step on several devices (data, tensor, pipeline parallel).
    Multi,
    /// The totals of a training stage on more devices than one fast domain
    /// (device-hours, wall-hours, energy): its steps plus what a campaign
    /// adds to them (restarts, stalls, evaluation; the software of each run),
    /// fitted on the published campaigns.
    Campaign,
    /// A deployment under a continuous-batching engine (a stage's `serving`):
    /// its own residuals, since the engine's CPU-side scheduling is not modelled.
    Engine,
}

impl Cell {
    pub const ALL: [Cell; 6] = [
        Cell::EagerMeasured,
        Cell::EagerSingle,
        Cell::FusedSingle,
        Cell::Multi,
        Cell::Campaign,
        Cell::Engine,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Cell::EagerMeasured => "eager-measured",
            Cell::EagerSingle => "eager-single",
            Cell::FusedSingle => "fused-single",
            Cell::Multi => "multi",
            Cell::Campaign => "campaign",
            Cell::Engine => "engine",
        }
    }
    /// Whether the cell's ranges sit where its published values fall (its
    /// median residual `s`) rather than around the estimate: the campaign
    /// cell, whose cases are all times and energies of whole runs and lean
    /// one way (published runs take longer than their steps need: what each
    /// run adds is not in its sources, docs/energy-model.md, "Ranges"). The
    /// estimate itself stays the model's.
    pub fn centred_on_residuals(self) -> bool {
        self == Cell::Campaign
    }
    pub fn of(eager: bool, devices: u64, measured: bool, engine: bool) -> Cell {
        if engine {
            return Cell::Engine;
        }
        match (devices > 1, eager, measured) {
            (true, _, _) => Cell::Multi,
            (false, true, true) => Cell::EagerMeasured,
            (false, true, false) => Cell::EagerSingle,
            (false, false, _) => Cell::FusedSingle,
        }
    }
}

/// The committed widths: per cell, of energy and of time, in natural log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Widths {
    /// What the widths were fitted on, for the reader.
    pub fitted_on: String,
    /// The quantile of the absolute log residuals a width is.
    pub quantile: f64,
    pub energy: BTreeMap<String, f64>,
    pub time: BTreeMap<String, f64>,
    /// Per cell centred on its residuals: their median ln(estimate /
    /// published), energy and time together; the widths above are then
    /// quantiles of the residuals' distance from it.
    #[serde(default)]
    pub shift: BTreeMap<String, f64>,
}

/// Used where a cell has too few residuals (under 3): the widest cell's width.
fn fallback(m: &BTreeMap<String, f64>) -> f64 {
    m.values().copied().fold(0.0, f64::max)
}

static WIDTHS: LazyLock<Option<Widths>> =
    LazyLock::new(|| serde_json::from_str(include_str!("../data/uncertainty.json")).ok());

/// The committed widths (none if the file does not parse: a test forbids it).
pub fn widths() -> Option<&'static Widths> {
    WIDTHS.as_ref()
}

/// The (energy, time) log widths of a cell.
pub fn width(cell: Cell) -> (f64, f64) {
    match widths() {
        Some(w) => {
            let get = |m: &BTreeMap<String, f64>| {
                m.get(cell.as_str()).copied().unwrap_or_else(|| fallback(m))
            };
            (get(&w.energy), get(&w.time))
        }
        None => (0.15f64.ln_1p(), 0.15f64.ln_1p()),
    }
}

/// The median residual a cell's ranges are centred on (0 for a cell centred
/// on the estimate).
pub fn shift(cell: Cell) -> f64 {
    widths()
        .and_then(|w| w.shift.get(cell.as_str()).copied())
        .filter(|s| s.is_finite())
        .unwrap_or(0.0)
}
