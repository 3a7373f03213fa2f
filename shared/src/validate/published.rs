//! Scenario-level validation cases: a whole scenario, a quantity of its
//! estimate and a published (or measured) value with its source
//! (`shared/data/validation/*.jsonl`, format in `docs/scenario.md`).

use crate::device::DeviceProfile;
use crate::report::Estimate;
use crate::scenario::Scenario;
use crate::stats::median;
use crate::units::Range;
use serde::{Deserialize, Serialize};

crate::named_enum! {
    /// The quantities a case can check; each is a field of the estimate.
    pub enum Quantity {
        DeviceHours = "device_hours",
        WallHours = "wall_hours",
        DeviceKwh = "device_kwh",
        EnergyKwh = "energy_kwh",
        SecondsPerStep = "seconds_per_step",
        TokensPerSecond = "tokens_per_second",
        JoulesPerToken = "joules_per_token",
        JoulesPerRequest = "joules_per_request",
    }
}

impl Quantity {
    /// The unit a case must give its value in.
    pub fn unit(self) -> &'static str {
        match self {
            Self::DeviceHours | Self::WallHours => "h",
            Self::DeviceKwh | Self::EnergyKwh => "kWh",
            Self::SecondsPerStep => "s",
            Self::TokensPerSecond => "tokens/s",
            Self::JoulesPerToken => "J/token",
            Self::JoulesPerRequest => "J/request",
        }
    }

    /// Energy (`true`) or time; ranges of the two are fitted apart.
    pub fn is_energy(self) -> bool {
        matches!(
            self,
            Self::DeviceKwh | Self::EnergyKwh | Self::JoulesPerToken | Self::JoulesPerRequest
        )
    }

    /// The quantity in an estimate: of one stage, or of the whole lifecycle
    /// where the estimate has a total (hours and energies).
    pub fn of(self, e: &Estimate, stage: Option<usize>) -> Result<Range, String> {
        let st =
            match stage {
                Some(i) => Some(e.stages.get(i).ok_or_else(|| {
                    format!("stage {i}: the scenario has {} stages", e.stages.len())
                })?),
                None => None,
            };
        let first = || {
            e.stages
                .first()
                .ok_or_else(|| "the estimate has no stage".to_string())
        };
        Ok(match (self, st) {
            (Self::DeviceHours, Some(s)) => s.device_hours,
            (Self::DeviceHours, None) => e.device_hours,
            (Self::WallHours, Some(s)) => s.wall_hours,
            (Self::WallHours, None) => e.wall_hours,
            (Self::DeviceKwh, Some(s)) => s.device_kwh,
            (Self::DeviceKwh, None) => e.device_kwh,
            (Self::EnergyKwh, Some(s)) => s.energy_kwh,
            (Self::EnergyKwh, None) => e.energy_kwh,
            (Self::SecondsPerStep, s) => s.map_or_else(first, Ok)?.seconds_per_step,
            (Self::TokensPerSecond, s) => s.map_or_else(first, Ok)?.tokens_per_second,
            (Self::JoulesPerToken, s) => s.map_or_else(first, Ok)?.joules_per_token,
            (Self::JoulesPerRequest, s) => s
                .map_or_else(first, Ok)?
                .joules_per_request
                .ok_or("joules_per_request needs a deployment stage (requests_per_day)")?,
        })
    }
}

/// One published figure of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishedCase {
    pub name: String,
    /// `single-device`, `pretraining`, `serving`, `serving-held-out`, `training-at-scale`,
    /// `training-fsdp`, or the user's own.
    #[serde(default = "other")]
    pub group: String,
    pub scenario: Scenario,
    pub quantity: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<usize>,
    pub value: f64,
    pub unit: String,
    /// The figure as printed in the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<String>,
    /// How `value` follows from `published`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derivation: Option<String>,
    pub source: String,
    pub uncertain: String,
    /// Facts of the run a scenario does not express (yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<serde_json::Value>,
}

fn other() -> String {
    "other".into()
}

/// The estimate of one case against its published value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedResult {
    pub name: String,
    pub group: String,
    pub quantity: String,
    pub unit: String,
    pub value: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<Range>,
    /// estimate / published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    /// Whether the published value lies in the estimate's range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inside: Option<bool>,
    /// The case's regime, for the range fitter: software class, what bounds the
    /// step (`compute`, `memory`, `overhead`) and the scale (`single`, `multi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regime: Option<Regime>,
    /// What the usual back-of-envelope method gives for the same quantity:
    /// the counted FLOPs at 40% of the datasheet dense peak, each device at
    /// its TDP ([`naive_value`]). Only for training stages (where a
    /// model-FLOPs utilisation is defined) and time or device-energy quantities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub naive: Option<f64>,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The utilisation the naive baseline assumes (40% MFU, the figure large
/// training runs are usually planned at; e.g. PaLM reports 46%, Llama 3 38-43%).
pub const NAIVE_MFU: f64 = 0.4;

/// The naive estimate of `q` for one stage: time scaled from the estimate's
/// own to what 40% MFU would take (`time x mfu / 0.4`), energy as those
/// device-hours at TDP. `None` where the baseline is undefined (no MFU: not
/// training, or a device without a dense bf16 peak; wall energy with host
/// power and PUE; per-request serving quantities).
pub fn naive_value(q: Quantity, s: &crate::report::StageEstimate, tdp_w: f64) -> Option<f64> {
    let mfu = s.mfu.filter(|u| u.is_finite() && *u > 0.0)?;
    // The estimate's hours include the campaign goodput; the naive method has none.
    let k = mfu / NAIVE_MFU * s.goodput.unwrap_or(1.0);
    let v = match q {
        Quantity::DeviceHours => s.device_hours.expected * k,
        Quantity::WallHours => s.wall_hours.expected * k,
        Quantity::SecondsPerStep => s.seconds_per_step.expected * k,
        Quantity::TokensPerSecond => s.tokens_per_second.expected / k,
        Quantity::DeviceKwh => s.device_hours.expected * k * tdp_w / 1000.0,
        Quantity::JoulesPerToken => {
            tdp_w * s.device_hours.expected * k * 3600.0
                / (s.tokens_per_second.expected * s.wall_hours.expected * 3600.0)
        }
        Quantity::EnergyKwh | Quantity::JoulesPerRequest => return None,
    };
    (v.is_finite() && v > 0.0).then_some(v)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Regime {
    pub software: String,
    pub bound: String,
    pub scale: String,
}

/// A summary of one group of cases.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub group: String,
    /// Cases evaluated (errors excluded).
    pub n: usize,
    pub errors: usize,
    /// Median of estimate / published.
    pub median_ratio: Option<f64>,
    /// Median of |ln(estimate / published)|.
    pub median_abs_log_ratio: Option<f64>,
    pub max_abs_log_ratio: Option<f64>,
    /// Share of published values inside the estimate's range.
    pub coverage: Option<f64>,
    /// Median of high / low of the ranges.
    pub median_range_width: Option<f64>,
    /// Cases with a naive baseline ([`naive_value`]).
    #[serde(default)]
    pub naive_n: usize,
    /// Median |ln(naive / published)| over those cases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub naive_median_abs_log_ratio: Option<f64>,
    /// Median |ln(estimate / published)| over the same cases, to compare.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_median_abs_log_ratio_on_naive_cases: Option<f64>,
}

/// Parse one line of a case file as a published case.
pub fn parse_case(line: &str) -> Result<PublishedCase, String> {
    let (c, errors) =
        crate::check::parse_typed::<PublishedCase>(line, "case").map_err(|e| e.to_string())?;
    if !errors.is_empty() {
        return Err(crate::error::InputErrors(errors).to_string());
    }
    Ok(c)
}

/// Evaluate one case.
pub fn evaluate_case(c: &PublishedCase, profiles: &[DeviceProfile]) -> PublishedResult {
    let mut r = PublishedResult {
        name: c.name.clone(),
        group: c.group.clone(),
        quantity: c.quantity.as_str().into(),
        unit: c.unit.clone(),
        value: c.value,
        estimate: None,
        ratio: None,
        inside: None,
        regime: None,
        naive: None,
        source: c.source.clone(),
        error: None,
    };
    if c.unit != c.quantity.unit() {
        r.error = Some(format!(
            "unit: must be `{}` for {} (it is `{}`)",
            c.quantity.unit(),
            c.quantity.as_str(),
            c.unit
        ));
        return r;
    }
    if !(c.value.is_finite() && c.value > 0.0) {
        r.error = Some("value: must be a finite number above 0".into());
        return r;
    }
    let e = match crate::estimate::estimate_core(&c.scenario, profiles) {
        Ok(e) => e,
        Err(e) => {
            r.error = Some(e.to_string());
            return r;
        }
    };
    match c.quantity.of(&e, c.stage) {
        Err(why) => r.error = Some(why),
        Ok(q) => {
            r.ratio = Some(q.expected / c.value);
            r.inside = Some(q.low <= c.value && c.value <= q.high);
            r.estimate = Some(q);
            let st = c.stage.unwrap_or(0);
            if let (Some(s), Some(spec)) = (
                e.stages.get(st),
                crate::catalog::find(&stage_device(&c.scenario, st, &e)),
            ) {
                r.naive = naive_value(c.quantity, s, spec.tdp_w);
            }
            r.regime = Some(Regime {
                software: c.scenario.software.as_str().into(),
                bound: e
                    .stages
                    .get(st)
                    .map_or("compute".into(), |s| s.bound.clone()),
                scale: if c.scenario.hardware.count > 1 {
                    "multi".into()
                } else {
                    "single".into()
                },
            });
        }
    }
    r
}

/// The device id stage `i` runs on (its own hardware, else the scenario's).
fn stage_device(s: &Scenario, i: usize, e: &Estimate) -> String {
    s.stages.get(i).map_or_else(
        || e.resolved.device.id.clone(),
        |st| st.hardware(s).device.clone(),
    )
}

/// Summaries per group, in the order groups first appear.
pub fn summarize_groups(results: &[PublishedResult]) -> Vec<GroupSummary> {
    let mut groups: Vec<String> = vec![];
    for r in results {
        if !groups.contains(&r.group) {
            groups.push(r.group.clone());
        }
    }
    groups
        .into_iter()
        .map(|g| {
            let rs: Vec<&PublishedResult> = results.iter().filter(|r| r.group == g).collect();
            let ok: Vec<&PublishedResult> =
                rs.iter().copied().filter(|r| r.ratio.is_some()).collect();
            let ratios: Vec<f64> = ok.iter().filter_map(|r| r.ratio).collect();
            let logs: Vec<f64> = ratios.iter().map(|x| x.ln().abs()).collect();
            let inside = ok.iter().filter(|r| r.inside == Some(true)).count();
            let widths: Vec<f64> = ok
                .iter()
                .filter_map(|r| r.estimate)
                .filter(|q| q.low > 0.0)
                .map(|q| q.high / q.low)
                .collect();
            let with_naive: Vec<(f64, f64)> = ok
                .iter()
                .filter_map(|r| Some((r.ratio?, r.naive? / r.value)))
                .collect();
            let naive_logs: Vec<f64> = with_naive.iter().map(|x| x.1.ln().abs()).collect();
            let model_logs: Vec<f64> = with_naive.iter().map(|x| x.0.ln().abs()).collect();
            GroupSummary {
                group: g,
                n: ok.len(),
                errors: rs.len() - ok.len(),
                median_ratio: median(&ratios),
                median_abs_log_ratio: median(&logs),
                max_abs_log_ratio: logs.iter().copied().reduce(f64::max),
                coverage: (!ok.is_empty()).then(|| inside as f64 / ok.len() as f64),
                median_range_width: median(&widths),
                naive_n: with_naive.len(),
                naive_median_abs_log_ratio: median(&naive_logs),
                model_median_abs_log_ratio_on_naive_cases: median(&model_logs),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = r#"{"version":1,"model":{"preset":"gpt2"},"stages":[{"kind":"deployment","workload":{"phase":"decode","precision":"bf16","batch":8,"prompt":128,"new_tokens":128},"requests_per_day":800,"days":1}],"hardware":{"device":"h100-sxm","count":2},"infrastructure":{"pue":1.0,"host_watts_per_device":0}}"#;

    fn case(quantity: &str, unit: &str, value: f64) -> PublishedCase {
        parse_case(&format!(
            r#"{{"name":"t","group":"serving","scenario":{SCENARIO},"quantity":"{quantity}","value":{value},"unit":"{unit}","source":"test","uncertain":"none"}}"#
        ))
        .expect("case parses")
    }

    #[test]
    fn quantities_are_fields_of_the_estimate() {
        let s: Scenario = serde_json::from_str(SCENARIO).expect("scenario");
        let e = crate::estimate::estimate_core(&s, &[]).expect("estimate");
        let st = &e.stages[0];
        // tokens per second over both devices: 2 x 8 sequences x 128 tokens per step
        let tps = Quantity::TokensPerSecond.of(&e, None).expect("tps");
        assert!((tps.expected - 2.0 * 8.0 * 128.0 / st.seconds_per_step.expected).abs() < 1e-9);
        // the bounds of a rate swap with those of the time
        assert!((tps.low - 2048.0 / st.seconds_per_step.high).abs() < 1e-9);
        // joules per token: the accelerators' energy of a step over its tokens
        let jpt = Quantity::JoulesPerToken.of(&e, Some(0)).expect("jpt");
        assert!((jpt.expected - st.joules_per_step.expected / 2048.0).abs() < 1e-12);
        // per request: 16 requests per step
        let jpr = Quantity::JoulesPerRequest.of(&e, None).expect("jpr");
        assert!((jpr.expected - st.joules_per_step.expected / 16.0).abs() < 1e-12);
        // with PUE 1 and no host power, wall energy per token is the device's
        let wh = st.wh_per_token.expect("wh per token").expected;
        assert!((wh * 3600.0 / jpt.expected - 1.0).abs() < 1e-9);
        assert!(Quantity::SecondsPerStep.of(&e, Some(3)).is_err());
    }

    #[test]
    fn a_case_is_evaluated_against_its_value() {
        let r = evaluate_case(&case("device_hours", "h", 1e-3), &[]);
        assert!(r.error.is_none(), "{r:?}");
        let est = r.estimate.expect("estimate").expected;
        assert!((r.ratio.expect("ratio") - est / 1e-3).abs() < 1e-12);
        assert_eq!(r.regime.expect("regime").scale, "multi");
        let r = evaluate_case(&case("device_hours", "kWh", 1.0), &[]);
        assert!(r.error.expect("unit error").starts_with("unit:"));
        let r = evaluate_case(&case("energy_kwh", "kWh", -1.0), &[]);
        assert!(r.error.expect("value error").starts_with("value:"));
    }

    #[test]
    fn groups_summarise_ratios_and_coverage() {
        let mk = |g: &str, ratio: f64, inside: bool| PublishedResult {
            name: "x".into(),
            group: g.into(),
            quantity: "device_hours".into(),
            unit: "h".into(),
            value: 1.0,
            estimate: Some(Range {
                low: ratio / 2.0,
                expected: ratio,
                high: ratio * 2.0,
            }),
            ratio: Some(ratio),
            inside: Some(inside),
            regime: None,
            naive: None,
            source: String::new(),
            error: None,
        };
        let rs = [
            mk("a", 2.0, true),
            mk("a", 0.5, false),
            mk("a", 1.0, true),
            mk("b", 1.0, true),
        ];
        let g = summarize_groups(&rs);
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].n, 3);
        assert!((g[0].median_abs_log_ratio.expect("m") - 2f64.ln()).abs() < 1e-12);
        assert!((g[0].coverage.expect("c") - 2.0 / 3.0).abs() < 1e-12);
        assert!((g[0].median_range_width.expect("w") - 4.0).abs() < 1e-12);
    }
}
