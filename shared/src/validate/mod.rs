//! Validation cases (the JSONL format of the reference measurements, see
//! `docs/scenario.md#validation-cases`) and their evaluation against the estimator.

pub mod accuracy;
pub mod fit;
pub mod published;
pub mod widths;

use crate::device::DeviceProfile;
use crate::scenario::{
    Hardware, Infrastructure, ModelSource, Optimizer, Phase, Scenario, SoftwareClass, Stage,
    StageKind, Workload, SCENARIO_VERSION,
};
use crate::stats::median;
use crate::units::Precision;
use crate::InputError;
use serde::{Deserialize, Serialize};

/// One measured workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Case {
    pub name: String,
    /// NVML name or catalog id.
    pub device: String,
    #[serde(default = "eager")]
    pub framework: String,
    pub model: ModelSource,
    pub phase: Phase,
    pub precision: Precision,
    pub batch: u64,
    #[serde(default)]
    pub seq: Option<u64>,
    #[serde(default)]
    pub prompt: Option<u64>,
    #[serde(default)]
    pub new_tokens: Option<u64>,
    #[serde(default)]
    pub optimizer: Option<Optimizer>,
    #[serde(default)]
    pub image_size: Option<u64>,
    pub measured: Measured,
}

fn eager() -> String {
    "pytorch-eager".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Measured {
    pub joules_per_step: f64,
    pub seconds_per_step: f64,
    #[serde(default)]
    pub avg_power_w: Option<f64>,
    #[serde(default)]
    pub flops_per_step: Option<f64>,
    #[serde(default)]
    pub params: Option<f64>,
}

/// The result for one case; `error` is set when it could not be evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    pub name: String,
    pub estimated_joules_per_step: Option<f64>,
    pub measured_joules_per_step: Option<f64>,
    pub energy_rel_error: Option<f64>,
    pub estimated_seconds_per_step: Option<f64>,
    pub measured_seconds_per_step: Option<f64>,
    pub estimated_flops_per_step: Option<f64>,
    pub measured_flops_per_step: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub n: usize,
    pub median_abs_energy_error: Option<f64>,
    pub max_abs_energy_error: Option<f64>,
    pub median_abs_time_error: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Per-step measured cases (the reference format).
    pub cases: Vec<CaseResult>,
    pub summary: Summary,
    /// Scenario-level published cases, and their summary per group.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub published: Vec<published::PublishedResult>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<published::GroupSummary>,
}

/// A line holding a `scenario` is a published (scenario-level) case.
fn is_published(line: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(line)
        .ok()
        .is_some_and(|v| v.get("scenario").is_some())
}

impl Case {
    /// The one-step scenario this case describes.
    pub fn scenario(&self) -> Result<Scenario, InputError> {
        let software = match self.framework.as_str() {
            "pytorch-eager" => SoftwareClass::PytorchEager,
            "compiled" => SoftwareClass::Compiled,
            "serving" => SoftwareClass::Serving,
            other => {
                return Err(InputError::new(
                    "framework",
                    format!("unknown framework `{other}`; use pytorch-eager, compiled or serving"),
                ))
            }
        };
        Ok(Scenario {
            version: SCENARIO_VERSION,
            name: Some(self.name.clone()),
            model: self.model.clone(),
            stages: vec![Stage {
                name: None,
                kind: if self.phase == Phase::Train {
                    StageKind::FinalTraining
                } else {
                    StageKind::Evaluation
                },
                workload: Workload {
                    phase: self.phase,
                    precision: self.precision,
                    batch: self.batch,
                    seq: self.seq,
                    prompt: self.prompt,
                    new_tokens: self.new_tokens,
                    optimizer: self.optimizer,
                    image_size: self.image_size,
                    channels_last: None,
                    attention: None,
                },
                steps: Some(1.0),
                samples: None,
                tokens: None,
                epochs: None,
                runs: 1.0,
                requests_per_day: None,
                days: None,
                hardware: None,
                software: None,
                parallelism: None,
                serving: None,
                goodput: None,
            }],
            hardware: Hardware {
                device: self.device.clone(),
                count: 1,
            },
            software,
            infrastructure: Infrastructure::default(),
            host: None,
            resolved: None,
        })
    }
}

/// Parse a JSONL file of cases; a line that does not parse becomes an error result, not a failure.
pub fn parse_cases(text: &str) -> Vec<Result<Case, (String, String)>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !is_published(l))
        .map(|(i, l)| {
            let de = &mut serde_json::Deserializer::from_str(l);
            serde_path_to_error::deserialize::<_, Case>(de).map_err(|e| {
                let name = serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(String::from))
                    .unwrap_or_else(|| format!("line {}", i + 1));
                let path = e.path().to_string();
                (
                    name,
                    format!("line {}: {}: {}", i + 1, path, e.into_inner()),
                )
            })
        })
        .collect()
}

/// Evaluate every case; the others still run when one fails.
pub fn evaluate(text: &str, measured_profiles: &[DeviceProfile]) -> Report {
    let mut cases = vec![];
    for parsed in parse_cases(text) {
        let r = match parsed {
            Err((name, e)) => failed(name, None, e),
            Ok(c) => evaluate_case(&c, measured_profiles),
        };
        cases.push(r);
    }
    let summary = summarize(&cases);
    let mut published = vec![];
    for (i, l) in text.lines().enumerate().filter(|(_, l)| is_published(l)) {
        published.push(match published::parse_case(l) {
            Ok(c) => published::evaluate_case(&c, measured_profiles),
            Err(e) => published::PublishedResult {
                name: serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(String::from))
                    .unwrap_or_else(|| format!("line {}", i + 1)),
                group: "other".into(),
                quantity: String::new(),
                unit: String::new(),
                value: 0.0,
                estimate: None,
                ratio: None,
                inside: None,
                regime: None,
                naive: None,
                source: String::new(),
                error: Some(format!("line {}: {e}", i + 1)),
            },
        });
    }
    let groups = published::summarize_groups(&published);
    Report {
        cases,
        summary,
        published,
        groups,
    }
}

fn failed(name: String, c: Option<&Case>, e: String) -> CaseResult {
    CaseResult {
        name,
        estimated_joules_per_step: None,
        measured_joules_per_step: c.map(|c| c.measured.joules_per_step),
        energy_rel_error: None,
        estimated_seconds_per_step: None,
        measured_seconds_per_step: c.map(|c| c.measured.seconds_per_step),
        estimated_flops_per_step: None,
        measured_flops_per_step: c.and_then(|c| c.measured.flops_per_step),
        error: Some(e),
    }
}

pub fn evaluate_case(c: &Case, profiles: &[DeviceProfile]) -> CaseResult {
    // The error of one case is computed in one place (`accuracy`), for this
    // report, the service's accuracy table and `jouleprint measure` alike.
    match accuracy::scenario_accuracy(c, profiles) {
        Err(e) => failed(c.name.clone(), Some(c), e.to_string()),
        Ok(a) => CaseResult {
            name: c.name.clone(),
            estimated_joules_per_step: Some(a.estimated_joules_per_step.expected),
            measured_joules_per_step: Some(c.measured.joules_per_step),
            energy_rel_error: Some(a.energy_error),
            estimated_seconds_per_step: Some(a.estimated_seconds_per_step.expected),
            measured_seconds_per_step: Some(c.measured.seconds_per_step),
            estimated_flops_per_step: Some(a.flops_per_step),
            measured_flops_per_step: c.measured.flops_per_step,
            error: None,
        },
    }
}

pub fn summarize(cases: &[CaseResult]) -> Summary {
    let e: Vec<f64> = cases
        .iter()
        .filter_map(|c| c.energy_rel_error.map(f64::abs))
        .collect();
    let t: Vec<f64> = cases
        .iter()
        .filter_map(|c| {
            Some((c.estimated_seconds_per_step? / c.measured_seconds_per_step? - 1.0).abs())
        })
        .collect();
    Summary {
        n: cases.len(),
        max_abs_energy_error: e.iter().copied().reduce(f64::max),
        median_abs_energy_error: median(&e),
        median_abs_time_error: median(&t),
    }
}

/// The naive methods the README compares against, for one case:
/// TDP x measured time, and FLOPs / (datasheet peak x utilisation) x TDP at 30% and 40%.
pub fn naive_estimates(c: &Case) -> Option<(f64, f64, f64)> {
    let spec = crate::catalog::find(&c.device)?;
    let mode = c.precision.matmul_math();
    let peak = spec
        .dense_tflops
        .iter()
        .find(|(m, _)| *m == mode)
        .map(|x| x.1)?
        * 1e12;
    let flops = c.measured.flops_per_step?;
    Some((
        spec.tdp_w * c.measured.seconds_per_step,
        flops / (peak * 0.3) * spec.tdp_w,
        flops / (peak * 0.4) * spec.tdp_w,
    ))
}
