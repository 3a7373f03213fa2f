//! Pipeline stage 6, what-ifs: the savings approaches of the energy-efficient
//! deep-learning literature, each a change to the scenario that is estimated
//! again by the same pipeline. The core owns their default parameters, so the
//! CLI, the API and the page show the same rows for the same scenario.

use crate::catalog;
use crate::check::thousands;
use crate::device::DeviceProfile;
use crate::grid;
use crate::model::presets::{self, Preset};
use crate::report::{Estimate, Saving, WhatIfOutcome};
use crate::resolve::device_profile;
use crate::scenario::{ModelSource, Phase, Scenario, SoftwareClass, StageKind};
use crate::totals::estimate_core;
use crate::units::Precision;

/// The what-ifs, in the order they are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    HalfPrecision,
    LowPrecision,
    Pruning,
    Distill,
    EarlyStop,
    FewerTrials,
    Region,
    Pue,
    Gpu,
    RightSize,
}

impl Kind {
    pub const ALL: [Kind; 10] = [
        Self::HalfPrecision,
        Self::LowPrecision,
        Self::Pruning,
        Self::Distill,
        Self::EarlyStop,
        Self::FewerTrials,
        Self::Region,
        Self::Pue,
        Self::Gpu,
        Self::RightSize,
    ];

    /// A stable id (JSON, the DOM, the tests).
    pub fn id(self) -> &'static str {
        match self {
            Self::HalfPrecision => "half-precision",
            Self::LowPrecision => "low-precision",
            Self::Pruning => "pruning",
            Self::Distill => "distill",
            Self::EarlyStop => "early-stop",
            Self::FewerTrials => "fewer-trials",
            Self::Region => "region",
            Self::Pue => "pue",
            Self::Gpu => "gpu",
            Self::RightSize => "right-size",
        }
    }

    pub fn parse(id: &str) -> Option<Kind> {
        Self::ALL.into_iter().find(|k| k.id() == id)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::HalfPrecision => "bf16/fp16 instead of fp32",
            Self::LowPrecision => "fp8 training, int8 inference",
            Self::Pruning => "Structured pruning",
            Self::Distill => "Distil to a smaller model",
            Self::EarlyStop => "Early stopping",
            Self::FewerTrials => "Fewer hyper-parameter trials",
            Self::Region => "Another region",
            Self::Pue => "A better PUE",
            Self::Gpu => "Another GPU",
            Self::RightSize => "Right-size the serving replicas",
        }
    }

    /// What the change does, in a line.
    pub fn blurb(self) -> &'static str {
        match self {
            Self::HalfPrecision => "Mixed precision for training, 16-bit weights for inference, where a stage runs fp32 or tf32.",
            Self::LowPrecision => "Transformer-Engine style fp8 matmuls for training; int8 weights for inference (devices without them fall back).",
            Self::Pruning => "Removes this share of the MLP channels (or of the counted FLOPs and parameters).",
            Self::Distill => "Train and serve a smaller student model instead (the distillation run itself is not counted).",
            Self::EarlyStop => "Stop training stages after this fraction of the epochs.",
            Self::FewerTrials => "Keep this fraction of the development stage's runs (e.g. successive halving, a smaller grid).",
            Self::Region => "Run in another grid region.",
            Self::Pue => "A data centre with this PUE.",
            Self::Gpu => "Another accelerator from the catalog.",
            Self::RightSize => "Keep up only the replicas the peak load needs, or scale them to zero when idle.",
        }
    }
}

/// The parameter of each what-if.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Share removed, 0..1.
    pub sparsity: f64,
    /// A preset id; empty when no smaller preset takes these stages.
    pub distill_to: String,
    /// Share of the epochs kept, 0..1.
    pub early_stop: f64,
    /// Share of the development runs kept, 0..1.
    pub trials: f64,
    pub region: String,
    pub pue: f64,
    pub gpu: String,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            sparsity: 0.3,
            distill_to: String::new(),
            early_stop: 0.7,
            trials: 0.5,
            region: String::new(),
            pue: 1.1,
            gpu: String::new(),
        }
    }
}

/// Low-carbon grids offered first (the first that is not the scenario's region).
const LOW_CARBON_REGIONS: [&str; 7] = ["SE", "FR", "NO", "CH", "CA", "US", "WORLD"];
/// A newer generation first (or the previous one, from the newest).
const GPU_CHOICES: [&str; 4] = ["b200", "h200-sxm", "h100-sxm", "a100-sxm-80gb"];

impl Params {
    /// The parameters the core proposes for a scenario and its estimate.
    pub fn defaults(s: &Scenario, base: &Estimate) -> Params {
        let mut p = Params::default();
        p.fill(s, base);
        p
    }

    /// Fill the choices that are empty or no longer apply (the region or the
    /// GPU the scenario already uses, a student that is not smaller).
    pub fn fill(&mut self, s: &Scenario, base: &Estimate) {
        let cur_region = s.infrastructure.region.clone().unwrap_or_default();
        if self.region.is_empty() || self.region.eq_ignore_ascii_case(&cur_region) {
            self.region = LOW_CARBON_REGIONS
                .iter()
                .filter(|c| !c.eq_ignore_ascii_case(&cur_region))
                .find_map(|c| grid::find(c).map(|g| g.code.to_string()))
                .unwrap_or_default();
        }
        let cur_gpu =
            catalog::find(&s.hardware.device).map_or(s.hardware.device.as_str(), |d| d.id);
        if self.gpu.is_empty() || self.gpu == cur_gpu {
            self.gpu = GPU_CHOICES
                .iter()
                .filter(|d| **d != cur_gpu)
                .find_map(|d| catalog::find(d).map(|s| s.id))
                .unwrap_or_default()
                .to_string();
        }
        if !students(s, base).any(|p| p.id == self.distill_to) {
            self.distill_to = default_student(s, base).unwrap_or_default();
        }
    }
}

/// Presets smaller than the model (under 90% of its parameters), of the same
/// kind of input (images or tokens), largest first.
pub fn students<'a>(
    s: &'a Scenario,
    base: &'a Estimate,
) -> impl Iterator<Item = &'static Preset> + 'a {
    let vision = is_vision_model(&s.model);
    let mut v: Vec<&'static Preset> = presets::PRESETS
        .iter()
        .filter(move |p| {
            vision.is_some()
                && Some(p.is_vision()) == vision
                && p.params() < 0.9 * base.params
                && s.model.preset.as_deref() != Some(p.id)
        })
        .collect();
    v.sort_by(|a, b| b.params().total_cmp(&a.params()));
    v.into_iter()
}

/// Whether a model source takes images (`Some(true)`), tokens (`Some(false)`),
/// or cannot tell (an imported graph, FLOPs only).
fn is_vision_model(m: &ModelSource) -> Option<bool> {
    if let Some(id) = &m.preset {
        return presets::PRESETS
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.is_vision());
    }
    m.hf_config
        .as_ref()
        .map(|c| c.get("model_type").and_then(|t| t.as_str()) == Some("vit"))
}

/// The largest smaller preset the estimator accepts for these stages that
/// also costs less energy: fewer parameters need not mean less work (a
/// ResNet-152 student of a ViT-B/16 spends more, in convolutions and
/// element-wise passes), and a what-if that costs more is no saving to offer.
fn default_student(s: &Scenario, base: &Estimate) -> Option<String> {
    students(s, base)
        .find(|p| {
            let params = Params {
                distill_to: p.id.to_string(),
                ..Params::default()
            };
            apply(Kind::Distill, &params, s, &[])
                .ok()
                .and_then(|(t, _)| estimate_core(&t, &[]).ok())
                .is_some_and(|e| e.energy_kwh.expected < base.energy_kwh.expected)
        })
        .map(|p| p.id.to_string())
}

/// The scenario with one what-if applied, and the change in words; or why it does not apply.
pub fn apply(
    k: Kind,
    p: &Params,
    s: &Scenario,
    measured: &[DeviceProfile],
) -> Result<(Scenario, String), String> {
    let mut t = s.clone();
    let change = match k {
        Kind::HalfPrecision => {
            let mut changed = 0;
            for st in &mut t.stages {
                if matches!(st.workload.precision, Precision::Fp32 | Precision::Tf32) {
                    st.workload.precision = if st.workload.phase == Phase::Train {
                        Precision::Bf16Amp
                    } else {
                        Precision::Bf16
                    };
                    changed += 1;
                }
            }
            if changed == 0 {
                return Err("every stage already runs in 16 bits or fewer".into());
            }
            format!("{changed} stage(s) in bf16 instead of fp32/tf32")
        }
        Kind::LowPrecision => {
            let mut changed = 0;
            for st in &mut t.stages {
                let to = if st.workload.phase == Phase::Train {
                    Precision::Fp8
                } else {
                    Precision::Int8
                };
                if st.workload.precision != to {
                    st.workload.precision = to;
                    changed += 1;
                }
            }
            if changed == 0 {
                return Err("every stage already runs in 8 bits".into());
            }
            format!("{changed} stage(s) in fp8 (training) or int8 (inference)")
        }
        Kind::Pruning => {
            if !(p.sparsity > 0.0 && p.sparsity < 1.0) {
                return Err("the share removed must be between 0 and 1".into());
            }
            prune(&mut t, p.sparsity)?;
            format!("{:.0}% of the MLP channels removed", p.sparsity * 100.0)
        }
        Kind::Distill => {
            if p.distill_to.is_empty() {
                return Err(
                    "no smaller preset of the same kind takes these stages for less energy".into(),
                );
            }
            if s.model.preset.as_deref() == Some(p.distill_to.as_str()) {
                return Err("that is the model already".into());
            }
            if presets::architecture(&p.distill_to).is_none() {
                return Err(format!("unknown preset `{}`", p.distill_to));
            }
            // the same data: a vision stage counted in tokens (a ViT's patches
            // per image, one per image for a CNN) is restated in images
            if is_vision_model(&s.model) == Some(true) {
                let arch = crate::resolve::architecture(s).map_err(|e| e.to_string())?;
                for st in t.stages.iter_mut().filter(|st| st.tokens.is_some()) {
                    let pl =
                        crate::plan::plan(&arch, &st.workload, SoftwareClass::PytorchEager, "")
                            .map_err(|e| e.to_string())?;
                    let per_sample = pl.tokens / pl.samples.max(1e-30);
                    st.samples = st.tokens.take().map(|n| n / per_sample.max(1e-30));
                }
            }
            t.model = ModelSource {
                preset: Some(p.distill_to.clone()),
                ..Default::default()
            };
            format!("student {}", p.distill_to)
        }
        Kind::EarlyStop => {
            if !(p.early_stop > 0.0 && p.early_stop < 1.0) {
                return Err("the share of epochs kept must be between 0 and 1".into());
            }
            let mut changed = false;
            for st in &mut t.stages {
                if matches!(st.kind, StageKind::Development | StageKind::FinalTraining) {
                    if let Some(e) = st.epochs.as_mut() {
                        *e *= p.early_stop;
                        changed = true;
                    } else if let Some(n) = st.steps.as_mut() {
                        *n *= p.early_stop;
                        changed = true;
                    }
                }
            }
            if !changed {
                return Err("no training stage with epochs or steps".into());
            }
            format!(
                "training stopped after {:.0}% of its epochs",
                p.early_stop * 100.0
            )
        }
        Kind::FewerTrials => {
            if !(p.trials > 0.0 && p.trials < 1.0) {
                return Err("the share of runs kept must be between 0 and 1".into());
            }
            let mut changed = false;
            for st in &mut t.stages {
                if st.kind == StageKind::Development {
                    st.runs *= p.trials;
                    changed = true;
                }
            }
            if !changed {
                return Err("no development (hyper-parameter search) stage".into());
            }
            format!("{:.0}% of the development runs", p.trials * 100.0)
        }
        Kind::Region => {
            let g = grid::find(&p.region)
                .map(|e| e.value())
                .ok_or("choose a region")?;
            if s.infrastructure.grid_gco2e_per_kwh.is_none()
                && s.infrastructure
                    .region
                    .as_deref()
                    .is_some_and(|r| r.eq_ignore_ascii_case(&g.region))
            {
                return Err("that is the region already".into());
            }
            t.infrastructure.region = Some(g.region.clone());
            t.infrastructure.grid_gco2e_per_kwh = None;
            let words = format!("region {} ({} gCO2e/kWh)", g.region, g.gco2e_per_kwh);
            if let Some(r) = t.resolved.as_mut() {
                r.grid = g;
            }
            words
        }
        Kind::Pue => {
            if p.pue.is_nan() || p.pue < 1.0 {
                return Err("a PUE is at least 1".into());
            }
            if p.pue >= s.infrastructure.pue {
                return Err(format!("the PUE is {} already", s.infrastructure.pue));
            }
            t.infrastructure.pue = p.pue;
            format!("PUE {} instead of {}", p.pue, s.infrastructure.pue)
        }
        Kind::Gpu => {
            let cur =
                catalog::find(&s.hardware.device).map_or(s.hardware.device.as_str(), |d| d.id);
            if p.gpu.is_empty() || p.gpu == cur || p.gpu == s.hardware.device {
                return Err("choose another device".into());
            }
            let prof = device_profile(&p.gpu, measured).ok_or("unknown device")?;
            t.hardware.device = p.gpu.clone();
            let words = format!("{} instead of {}", prof.name, s.hardware.device);
            if let Some(r) = t.resolved.as_mut() {
                r.device = prof;
            }
            words
        }
        Kind::RightSize => {
            let mut changed = vec![];
            for (i, st) in t.stages.iter_mut().enumerate() {
                if let Some(sv) = st.serving.as_mut() {
                    if sv.saturated == Some(true) {
                        continue;
                    }
                    if sv.replicas.is_some() {
                        sv.replicas = None;
                        changed.push(format!("stage {}: replicas sized for the peak load", i + 1));
                    } else if sv.always_on != Some(false) {
                        sv.always_on = Some(false);
                        changed.push(format!("stage {}: replicas scale to zero when idle", i + 1));
                    }
                }
            }
            if changed.is_empty() {
                return Err("no deployment served by an engine with replicas to right-size".into());
            }
            changed.join("; ")
        }
    };
    Ok((t, change))
}

/// Keys of a Hugging Face config that hold the MLP width.
const MLP_KEYS: &[&str] = &[
    "intermediate_size",
    "n_inner",
    "ffn_dim",
    "d_ff",
    "ffn_hidden_size",
];

fn prune(t: &mut Scenario, s: f64) -> Result<(), String> {
    let keep = 1.0 - s;
    let m = &mut t.model;
    if let Some(g) = m.graph.as_mut() {
        for n in &mut g.nodes {
            if n.flops > 0.0 {
                n.flops *= keep;
                n.params *= keep;
                n.elements *= keep;
            }
        }
        g.params *= keep;
        return Ok(());
    }
    if m.flops_per_sample.is_some() || m.flops_per_step.is_some() {
        for v in [
            &mut m.flops_per_sample,
            &mut m.flops_per_step,
            &mut m.params,
        ] {
            if let Some(x) = v.as_mut() {
                *x *= keep;
            }
        }
        return Ok(());
    }
    let cfg = match (&m.hf_config, &m.preset) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(p)) => presets::hf_config(p),
        _ => None,
    };
    let Some(mut cfg) = cfg else {
        return Err(match &m.preset {
            Some(p) => format!("the preset {p} is not a transformer with an MLP width to prune"),
            None => "this model source has no MLP width to prune".into(),
        });
    };
    let mut changed = false;
    if let Some(o) = cfg.as_object_mut() {
        for k in MLP_KEYS {
            if let Some(v) = o.get_mut(*k) {
                if let Some(w) = v.as_u64() {
                    *v = serde_json::json!(((w as f64) * keep).round().max(1.0) as u64);
                    changed = true;
                }
            }
        }
        if !changed {
            // GPT-2's config leaves n_inner null: the width is 4 x n_embd
            if let Some(h) = o.get("n_embd").and_then(|v| v.as_u64()) {
                o.insert(
                    "n_inner".into(),
                    serde_json::json!(((4 * h) as f64 * keep).round().max(1.0) as u64),
                );
                changed = true;
            }
        }
    }
    if !changed {
        return Err("the config has no MLP width (intermediate_size) to prune".into());
    }
    *m = ModelSource {
        hf_config: Some(cfg),
        ..Default::default()
    };
    Ok(())
}

/// Every what-if of a scenario, against its estimate `base`.
pub fn evaluate_all(
    s: &Scenario,
    base: &Estimate,
    p: &Params,
    measured: &[DeviceProfile],
) -> Vec<WhatIfOutcome> {
    Kind::ALL
        .iter()
        .map(|&k| evaluate(k, s, base, p, measured))
        .collect()
}

/// One what-if against the estimate `base` of `s`.
pub fn evaluate(
    k: Kind,
    s: &Scenario,
    base: &Estimate,
    p: &Params,
    measured: &[DeviceProfile],
) -> WhatIfOutcome {
    let mut out = WhatIfOutcome {
        id: k.id().into(),
        label: k.label().into(),
        change: String::new(),
        applies: false,
        reason: String::new(),
        energy_kwh: None,
        co2e_kg: None,
        saving: None,
    };
    match apply(k, p, s, measured) {
        Err(why) => out.reason = why,
        Ok((t, change)) => {
            out.change = change;
            match estimate_core(&t, measured) {
                Err(e) => out.reason = format!("the changed scenario is refused: {e}"),
                Ok(e) => {
                    out.applies = true;
                    let frac = |new: f64, old: f64| {
                        if old > 0.0 && new.is_finite() {
                            1.0 - new / old
                        } else {
                            0.0
                        }
                    };
                    out.saving = Some(Saving {
                        energy: frac(e.energy_kwh.expected, base.energy_kwh.expected),
                        co2e: frac(e.co2e_kg.expected, base.co2e_kg.expected),
                    });
                    out.energy_kwh = Some(e.energy_kwh);
                    out.co2e_kg = Some(e.co2e_kg);
                }
            }
        }
    }
    out
}

/// `12345.6` kWh in words for the CLI summary (`12,346`).
pub fn rounded(v: f64) -> String {
    if v.is_finite() && v.abs() < 1e15 && v.abs() >= 1000.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        format!("{sign}{}", thousands(v.abs().round() as u64))
    } else {
        crate::units::sig3(v)
    }
}
