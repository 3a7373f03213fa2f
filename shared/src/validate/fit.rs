//! The fitter of the model's global constants (`crate::tuning`): coordinate
//! descent on the measured reference cases (energy and time), and the
//! leave-one-out error it reports (`shared/examples/fit.rs`;
//! docs/energy-model.md, "Fitted constants").
//!
//! The host-bound published cases (every single-device eager PyTorch case of
//! the public sets whose step the model finds bound by the host at the
//! priors) can enter a fit too (`FitCase::Published`), but the committed
//! constants are fitted on the reference cases alone: the published ones ran
//! older PyTorch and transformers on other hosts (2021-2023), whose host costs
//! are about 1.5x the reference host's; they are reported out of sample.

use super::published::{PublishedCase, Quantity};
use super::Case;
use crate::device::DeviceProfile;
use crate::plan::plan;
use crate::resolve::{architecture, resolve_device};
use crate::scenario::{Scenario, SoftwareClass};
use crate::serving::EngineHost;
use crate::step::step_cost_tuned;
use crate::tuning::{Tuning, PRIOR};

/// The reference cases shipped with the project (shared/data/h100-cases.jsonl).
pub fn reference_cases() -> &'static str {
    include_str!("../../data/h100-cases.jsonl")
}

/// The public sets the fitter reads host-bound cases from.
pub fn published_sets() -> [&'static str; 2] {
    [
        include_str!("../../data/validation/single-device.jsonl"),
        include_str!("../../data/validation/serving.jsonl"),
    ]
}

/// One case the fitter uses.
#[derive(Debug, Clone)]
pub enum FitCase {
    /// Measured energy and time of one step (the reference cases).
    Measured(Box<Case>),
    /// A published time of a host-bound eager step.
    Published(Box<PublishedCase>),
}

impl FitCase {
    pub fn name(&self) -> &str {
        match self {
            FitCase::Measured(c) => &c.name,
            FitCase::Published(c) => &c.name,
        }
    }

    /// Relative (energy, time) errors under a tuning; energy is `None` for a published time.
    pub fn errors(&self, t: &Tuning) -> Option<(Option<f64>, f64)> {
        match self {
            FitCase::Measured(c) => {
                let s = c.scenario().ok()?;
                let (joules, seconds, _) = step(&s, t)?;
                Some((
                    Some(joules / c.measured.joules_per_step - 1.0),
                    seconds / c.measured.seconds_per_step - 1.0,
                ))
            }
            FitCase::Published(c) => {
                let (_, seconds, tokens) = step(&c.scenario, t)?;
                let ratio = match c.quantity {
                    Quantity::SecondsPerStep => seconds / c.value,
                    // a rate: the estimate's tokens per second against the published
                    Quantity::TokensPerSecond => tokens / seconds / c.value,
                    _ => return None,
                };
                // a rate too high is a time too short: errors of time
                let time_ratio = if c.quantity == Quantity::TokensPerSecond {
                    1.0 / ratio
                } else {
                    ratio
                };
                Some((None, time_ratio - 1.0))
            }
        }
    }
}

/// Joules, seconds and tokens of the first stage's step on one device under `t`.
fn step(s: &Scenario, t: &Tuning) -> Option<(f64, f64, f64)> {
    let arch = architecture(s).ok()?;
    let dev = with_tuned_floor(resolve_device(s, &[]).ok()?, t);
    let st = s.stages.first()?;
    let pl = plan(&arch, &st.workload, s.software, "workload").ok()?;
    let cost = step_cost_tuned(&pl, &dev, s.software, &s.host.unwrap_or_default(), t);
    Some((cost.joules, cost.seconds, pl.tokens))
}

fn with_tuned_floor(dev: DeviceProfile, t: &Tuning) -> DeviceProfile {
    if dev.source.kind == "measured" || dev.source.kind == "datasheet" {
        dev.with_floor(t.active_floor_fraction * dev.power_limit_w)
    } else {
        dev
    }
}

/// Relative (energy, time) error of one measured case under a tuning.
pub fn case_errors(c: &Case, t: &Tuning) -> Option<(f64, f64)> {
    let (e, tm) = FitCase::Measured(Box::new(c.clone())).errors(t)?;
    Some((e?, tm))
}

/// The published cases the rule admits (see the module's documentation).
pub fn host_bound_published(texts: &[&str]) -> Vec<PublishedCase> {
    let mut out = vec![];
    for text in texts {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(c) = super::published::parse_case(line) else {
                continue;
            };
            let s = &c.scenario;
            if s.software != SoftwareClass::PytorchEager
                || s.hardware.count != 1
                || s.stages.len() != 1
                || !matches!(
                    c.quantity,
                    Quantity::SecondsPerStep | Quantity::TokensPerSecond
                )
            {
                continue;
            }
            let Some(arch) = architecture(s).ok() else {
                continue;
            };
            let Some(dev) = resolve_device(s, &[]).ok() else {
                continue;
            };
            let Some(pl) = plan(&arch, &s.stages[0].workload, s.software, "workload").ok() else {
                continue;
            };
            let cost = step_cost_tuned(
                &pl,
                &with_tuned_floor(dev, &PRIOR),
                s.software,
                &s.host.unwrap_or_default(),
                &PRIOR,
            );
            if cost.bound == "overhead" {
                out.push(c);
            }
        }
    }
    out
}

/// The fitter's cases: the reference measurements.
pub fn fit_set() -> Vec<FitCase> {
    super::parse_cases(reference_cases())
        .into_iter()
        .filter_map(Result::ok)
        .map(|c| FitCase::Measured(Box::new(c)))
        .collect()
}

/// The host-bound published cases, for the out-of-sample report.
pub fn host_bound_set() -> Vec<FitCase> {
    host_bound_published(&published_sets())
        .into_iter()
        .map(|c| FitCase::Published(Box::new(c)))
        .collect()
}

/// Fit [`Tuning`] on the measured cases `idx` (energy and time).
pub fn fit_cases(cases: &[Case], idx: &[usize]) -> Tuning {
    let set: Vec<FitCase> = cases
        .iter()
        .cloned()
        .map(|c| FitCase::Measured(Box::new(c)))
        .collect();
    fit(&set, idx)
}

/// Fit [`Tuning`] on the cases `idx` of `set` by coordinate descent over
/// log-spaced grids: the sum of squared log errors (energy and time of a
/// measured case, time of a published one), plus a weak pull toward the priors
/// so that a constant no remaining case informs keeps its prior.
pub fn fit(set: &[FitCase], idx: &[usize]) -> Tuning {
    let objective = |t: &Tuning| -> f64 {
        let mut s = 0.0;
        for &i in idx {
            match set[i].errors(t) {
                Some((e, tm)) => {
                    s += e.map_or(0.0, |e| (1.0 + e).ln().powi(2)) + (1.0 + tm).ln().powi(2)
                }
                None => s += 10.0,
            }
        }
        let pull = |v: f64, p: f64| (v / p).ln().powi(2);
        s + 2e-2
            * (pull(t.active_floor_fraction, PRIOR.active_floor_fraction)
                + pull(t.elementwise_bw_fraction, PRIOR.elementwise_bw_fraction))
    };
    let mut best = PRIOR;
    let mut best_v = objective(&best);
    for round in 0..6 {
        let span = 0.5f64.powi(round);
        for k in 0..2 {
            for step in -10..=10 {
                let f = (span * step as f64 / 10.0).exp();
                let mut t = best;
                match k {
                    0 => t.active_floor_fraction = (best.active_floor_fraction * f).clamp(0.0, 0.7),
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

/// The pre-training runs the campaign goodput is fitted on.
pub fn pretraining_set() -> &'static str {
    include_str!("../../data/validation/pretraining.jsonl")
}

/// One campaign the goodput fitter uses: its name and estimate / published
/// device-hours (or wall-hours) with the goodput held at 1.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub name: String,
    pub ratio_at_full_goodput: f64,
}

/// The multi-node training cases of `text` whose quantity is a time, each
/// estimated with every device-hour productive (goodput 1).
pub fn campaigns(text: &str) -> Vec<Campaign> {
    let mut out = vec![];
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(mut c) = super::published::parse_case(line) else {
            continue;
        };
        if !matches!(c.quantity, Quantity::DeviceHours | Quantity::WallHours) {
            continue;
        }
        let i = c.stage.unwrap_or(0);
        let Some(st) = c.scenario.stages.get_mut(i) else {
            continue;
        };
        if st.workload.phase != crate::scenario::Phase::Train {
            continue;
        }
        st.goodput = Some(1.0);
        let Ok(e) = crate::estimate::estimate_core(&c.scenario, &[]) else {
            continue;
        };
        // Only stages the goodput applies to (more devices than one node).
        if e.stages.get(i).and_then(|s| s.goodput).is_none() {
            continue;
        }
        let Ok(q) = c.quantity.of(&e, c.stage) else {
            continue;
        };
        let r = q.expected / c.value;
        if r.is_finite() && r > 0.0 {
            out.push(Campaign {
                name: c.name,
                ratio_at_full_goodput: r,
            });
        }
    }
    out
}

/// The goodput that makes the geometric median of estimate / published 1 on
/// the campaigns `idx` (the median, not the mean: a few runs report hours of
/// other work too), clamped to the range a stage may give (0.05-1).
pub fn fit_goodput(set: &[Campaign], idx: &[usize]) -> f64 {
    let logs: Vec<f64> = idx
        .iter()
        .map(|&i| set[i].ratio_at_full_goodput.ln())
        .collect();
    crate::stats::median(&logs).map_or(crate::tuning::GOODPUT_PRIOR, |m| m.exp().clamp(0.05, 1.0))
}

/// The smallest median |ln(k x ratio)| any one factor `k` applied to every
/// case can reach, and that `k`: the floor a campaign-wide correction (a
/// goodput, an efficiency) cannot get under, in sample. The minimiser of a
/// median of absolute deviations is the midpoint of the shortest interval
/// holding the middle order statistics, so the candidates are every value and
/// every midpoint of two values. `None` for no finite positive ratio.
pub fn best_factor_floor(ratios: &[f64]) -> Option<(f64, f64)> {
    let logs: Vec<f64> = ratios
        .iter()
        .filter(|r| r.is_finite() && **r > 0.0)
        .map(|r| r.ln())
        .collect();
    let mut best: Option<(f64, f64)> = None;
    for (i, a) in logs.iter().enumerate() {
        for b in &logs[i..] {
            let c = (a + b) / 2.0;
            let dev: Vec<f64> = logs.iter().map(|x| (x - c).abs()).collect();
            let m = crate::stats::median(&dev)?;
            if best.is_none_or(|(_, f)| m < f) {
                best = Some(((-c).exp(), m));
            }
        }
    }
    best
}

/// One vLLM 0.5 configuration of the serving set, for the fit of the engine's
/// host time: the published seconds per generated token of the whole server,
/// the model's with no host time, and the devices of its replica.
#[derive(Debug, Clone)]
pub struct EngineCase {
    pub name: String,
    pub published_s_per_token: f64,
    pub gpu_s_per_token: f64,
    pub devices: u64,
    /// Sequences running per step (the engine's bound, or the KV cache's).
    pub sequences: f64,
}

impl EngineCase {
    /// Host ms per running sequence per step that `host` gives this case.
    pub fn host_ms_per_sequence(&self, host: &EngineHost) -> f64 {
        host.ms_per_step(self.devices, self.sequences) / self.sequences
    }
    /// Host milliseconds per running sequence per step this case implies:
    /// each step generates one token per running sequence, so the host's
    /// share of a token's time is the host time per sequence.
    pub fn implied_ms(&self) -> f64 {
        (self.published_s_per_token - self.gpu_s_per_token) * 1e3
    }
}

/// The `tokens_per_second` cases of `text` served by `vllm-0.5`, each
/// estimated with no host time.
pub fn engine_cases(text: &str) -> Vec<EngineCase> {
    let mut out = vec![];
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(mut c) = super::published::parse_case(line) else {
            continue;
        };
        if c.quantity != Quantity::TokensPerSecond {
            continue;
        }
        let i = c.stage.unwrap_or(0);
        let Some(sv) = c
            .scenario
            .stages
            .get_mut(i)
            .and_then(|s| s.serving.as_mut())
        else {
            continue;
        };
        if sv.engine != Some(crate::scenario::Engine::Vllm05) {
            continue;
        }
        sv.host_ms_per_sequence = Some(0.0);
        let Ok(e) = crate::estimate::estimate_core(&c.scenario, &[]) else {
            continue;
        };
        let (Ok(q), Some((devices, sequences))) = (
            c.quantity.of(&e, c.stage),
            e.stages
                .get(i)
                .and_then(|s| s.serving.as_ref())
                .map(|s| (s.tensor, s.concurrency)),
        ) else {
            continue;
        };
        if q.expected > 0.0 && c.value > 0.0 && sequences > 0.0 {
            out.push(EngineCase {
                name: c.name,
                published_s_per_token: 1.0 / c.value,
                gpu_s_per_token: 1.0 / q.expected,
                devices,
                sequences,
            });
        }
    }
    out
}

/// Least squares of the implied host time per sequence against
/// (1 / sequences, 1, devices - 1) over the cases `idx`. A regressor without
/// spread in them gets 0.
pub fn fit_engine(set: &[EngineCase], idx: &[usize]) -> EngineHost {
    let rows: Vec<([f64; 3], f64)> = idx
        .iter()
        .map(|&i| {
            let c = &set[i];
            (
                [1.0 / c.sequences, 1.0, (c.devices.max(1) - 1) as f64],
                c.implied_ms(),
            )
        })
        .collect();
    // columns with spread enter the normal equations; the others stay 0
    let spread = |j: usize| {
        let v: Vec<f64> = rows.iter().map(|r| r.0[j]).collect();
        v.iter().any(|x| (x - v[0]).abs() > 1e-12)
    };
    let cols: Vec<usize> = [0usize, 1, 2]
        .into_iter()
        .filter(|&j| j == 1 || spread(j))
        .collect();
    let k = cols.len();
    let mut a = vec![vec![0.0; k + 1]; k];
    for (x, y) in &rows {
        for (r, &i) in cols.iter().enumerate() {
            for (col, &j) in cols.iter().enumerate() {
                a[r][col] += x[i] * x[j];
            }
            a[r][k] += x[i] * y;
        }
    }
    let sol = solve(a).unwrap_or_else(|| vec![0.0; k]);
    let mut out = [0.0; 3];
    for (r, &j) in cols.iter().enumerate() {
        out[j] = sol[r];
    }
    EngineHost {
        per_step: out[0],
        per_sequence: out[1],
        per_extra_device: out[2],
    }
}

/// Gauss-Jordan with partial pivoting on an augmented k x (k + 1) matrix.
fn solve(mut a: Vec<Vec<f64>>) -> Option<Vec<f64>> {
    let k = a.len();
    for i in 0..k {
        let p = (i..k).max_by(|&x, &y| a[x][i].abs().total_cmp(&a[y][i].abs()))?;
        a.swap(i, p);
        if a[i][i].abs() < 1e-300 {
            return None;
        }
        let pivot = a[i].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != i {
                let f = row[i] / pivot[i];
                for (x, p) in row.iter_mut().zip(&pivot).skip(i) {
                    *x -= f * p;
                }
            }
        }
    }
    Some((0..k).map(|i| a[i][k] / a[i][i]).collect())
}

/// A configuration's energy per token with a given host time per sequence:
/// (estimate, published, the active floor of its devices in W), from its
/// `joules_per_token` line in `text`.
pub fn engine_joules(text: &str, case: &EngineCase, host_ms: f64) -> Option<(f64, f64, f64)> {
    let key = format!(
        "{}_joules_per_token",
        case.name.strip_suffix("_tokens_per_second")?
    );
    let line = text.lines().find(|l| l.contains(&format!("\"{key}\"")))?;
    let mut c = super::published::parse_case(line).ok()?;
    let i = c.stage.unwrap_or(0);
    c.scenario
        .stages
        .get_mut(i)?
        .serving
        .as_mut()?
        .host_ms_per_sequence = Some(host_ms);
    let e = crate::estimate::estimate_core(&c.scenario, &[]).ok()?;
    let q = c.quantity.of(&e, c.stage).ok()?;
    Some((q.expected, c.value, e.resolved.device.active_floor_w))
}

/// The share of the active floor a waiting device draws that makes each
/// configuration `idx`'s energy per token the published one, with its host
/// time from `host`; their median. The estimate's energy grows by
/// `host time x (share - the code's share) x floor x devices` per token.
pub fn fit_wait_share(set: &[EngineCase], text: &str, idx: &[usize], host: EngineHost) -> f64 {
    let shares: Vec<f64> = idx
        .iter()
        .filter_map(|&i| {
            let c = &set[i];
            let ms = c.host_ms_per_sequence(&host);
            let (est, published, floor) = engine_joules(text, c, ms)?;
            let per_share = ms * 1e-3 * floor * c.devices.max(1) as f64;
            (per_share > 0.0)
                .then(|| crate::serving::WAIT_FLOOR_SHARE + (published - est) / per_share)
        })
        .collect();
    crate::stats::median(&shares).unwrap_or(crate::serving::WAIT_FLOOR_SHARE)
}
