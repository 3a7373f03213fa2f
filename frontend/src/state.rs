//! The page's state: the scenario being edited, what the user typed that is not
//! valid yet, the what-ifs, and the estimates computed from them. A `Reducible`
//! with an `Action` enum (as in Yew's function_todomvc example). Pure apart
//! from the clock: every test runs natively.

use crate::clock;
use crate::defaults;
use crate::import::Imported;
use crate::profiles::{current_profile, grid_value, MeasuredDevice};
use crate::whatif::{self, WhatIf, WhatIfParams};
use shared::device::DeviceProfile;
use shared::estimate::Estimate;
use shared::model::graph::ForwardGraph;
use shared::scenario::{ModelSource, Optimizer, Phase, Scenario, SoftwareClass, StageKind};
use shared::units::Precision;
use shared::{InputError, InputErrors};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use yew::Reducible;

/// How the model is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ModelTab {
    #[default]
    Preset,
    Config,
    File,
    Flops,
}

impl ModelTab {
    pub const ALL: [ModelTab; 4] = [Self::Preset, Self::Config, Self::File, Self::Flops];
    pub fn id(self) -> &'static str {
        match self {
            Self::Preset => "preset",
            Self::Config => "config",
            Self::File => "file",
            Self::Flops => "flops",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Self::Preset => "Preset",
            Self::Config => "config.json",
            Self::File => "ONNX / safetensors file",
            Self::Flops => "FLOPs and parameters",
        }
    }
}

/// What the model inputs hold, per tab, so switching tabs loses nothing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelInputs {
    pub tab: ModelTab,
    pub preset: String,
    pub hf_text: String,
    pub graph: Option<ForwardGraph>,
    pub file_name: Option<String>,
    pub flops_per_sample: String,
    pub params: String,
    /// What the last dropped file gave, when it is not a graph.
    pub import_note: Option<String>,
}

impl ModelInputs {
    pub fn from_model(m: &ModelSource) -> Self {
        let mut i = ModelInputs::default();
        if let Some(p) = &m.preset {
            i.tab = ModelTab::Preset;
            i.preset = p.clone();
        } else if let Some(c) = &m.hf_config {
            i.tab = ModelTab::Config;
            i.hf_text = serde_json::to_string_pretty(c).unwrap_or_default();
        } else if let Some(g) = &m.graph {
            i.tab = ModelTab::File;
            i.graph = Some(g.clone());
            i.file_name = Some(g.source.clone());
        } else {
            i.tab = ModelTab::Flops;
        }
        if let Some(f) = m.flops_per_sample {
            i.flops_per_sample = f.to_string();
        }
        if let Some(p) = m.params {
            i.params = p.to_string();
        }
        i
    }
}

/// A form field. `path()` is its JSON path in the scenario, so an estimator
/// error about that path is shown next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Name,
    Preset,
    HfConfig,
    File,
    FlopsPerSample,
    Params,
    Device,
    DeviceCount,
    Software,
    Region,
    GridCustom,
    Pue,
    Embodied,
    Stage(usize, StageField),
    WhatIf(WhatIf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StageField {
    Kind,
    Phase,
    Precision,
    Batch,
    Seq,
    Prompt,
    NewTokens,
    Optimizer,
    Steps,
    Samples,
    Tokens,
    Epochs,
    Runs,
    RequestsPerDay,
    Days,
}

impl Field {
    pub fn path(self) -> String {
        match self {
            Field::Name => "name".into(),
            Field::Preset => "model.preset".into(),
            Field::HfConfig => "model.hf_config".into(),
            Field::File => "model.graph".into(),
            Field::FlopsPerSample => "model.flops_per_sample".into(),
            Field::Params => "model.params".into(),
            Field::Device => "hardware.device".into(),
            Field::DeviceCount => "hardware.count".into(),
            Field::Software => "software".into(),
            Field::Region => "infrastructure.region".into(),
            Field::GridCustom => "infrastructure.grid_gco2e_per_kwh".into(),
            Field::Pue => "infrastructure.pue".into(),
            Field::Embodied => "infrastructure.embodied".into(),
            Field::WhatIf(w) => format!("whatif.{}", w.id()),
            Field::Stage(i, f) => {
                let leaf = match f {
                    StageField::Kind => "kind",
                    StageField::Phase => "workload.phase",
                    StageField::Precision => "workload.precision",
                    StageField::Batch => "workload.batch",
                    StageField::Seq => "workload.seq",
                    StageField::Prompt => "workload.prompt",
                    StageField::NewTokens => "workload.new_tokens",
                    StageField::Optimizer => "workload.optimizer",
                    StageField::Steps => "steps",
                    StageField::Samples => "samples",
                    StageField::Tokens => "tokens",
                    StageField::Epochs => "epochs",
                    StageField::Runs => "runs",
                    StageField::RequestsPerDay => "requests_per_day",
                    StageField::Days => "days",
                };
                format!("stages[{i}].{leaf}")
            }
        }
    }

    /// A DOM id for the input (labels, tests, error association).
    pub fn dom_id(self) -> String {
        format!(
            "f-{}",
            self.path()
                .replace(['[', '.'], "-")
                .replace(']', "")
                .replace('_', "-")
        )
    }
}

fn opt_num(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}
fn opt_int(v: Option<u64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// Parse a positive number, allowing `1e9`, `1_000` and `1,000`.
pub fn parse_number(raw: &str) -> Result<f64, String> {
    let t: String = raw
        .trim()
        .chars()
        .filter(|c| *c != '_' && *c != ',')
        .collect();
    if t.is_empty() {
        return Err("required".into());
    }
    let v: f64 = t
        .parse()
        .map_err(|_| format!("\u{201c}{}\u{201d} is not a number", raw.trim()))?;
    if !v.is_finite() {
        return Err("must be a finite number".into());
    }
    Ok(v)
}
fn positive(raw: &str) -> Result<f64, String> {
    let v = parse_number(raw)?;
    if v <= 0.0 {
        return Err("must be greater than 0".into());
    }
    Ok(v)
}
fn non_negative(raw: &str) -> Result<f64, String> {
    let v = parse_number(raw)?;
    if v < 0.0 {
        return Err("must not be negative".into());
    }
    Ok(v)
}
fn whole(raw: &str) -> Result<u64, String> {
    let v = positive(raw)?;
    if v.fract() != 0.0 || v > 1e15 {
        return Err("must be a whole number of at least 1".into());
    }
    Ok(v as u64)
}
fn opt<T>(raw: &str, f: impl Fn(&str) -> Result<T, String>) -> Result<Option<T>, String> {
    if raw.trim().is_empty() {
        Ok(None)
    } else {
        f(raw).map(Some)
    }
}

pub fn phase_from(s: &str) -> Option<Phase> {
    [
        Phase::Train,
        Phase::Inference,
        Phase::Prefill,
        Phase::Decode,
    ]
    .into_iter()
    .find(|p| p.as_str() == s)
}
pub fn kind_from(s: &str) -> Option<StageKind> {
    STAGE_KINDS.into_iter().find(|p| p.as_str() == s)
}
pub const STAGE_KINDS: [StageKind; 4] = [
    StageKind::Development,
    StageKind::FinalTraining,
    StageKind::Evaluation,
    StageKind::Deployment,
];
pub const OPTIMIZERS: [(Optimizer, &str); 4] = [
    (Optimizer::Sgd, "sgd"),
    (Optimizer::SgdMomentum, "sgd-momentum"),
    (Optimizer::Adamw, "adamw"),
    (Optimizer::Adam, "adam"),
];
pub const SOFTWARE: [SoftwareClass; 3] = [
    SoftwareClass::PytorchEager,
    SoftwareClass::Compiled,
    SoftwareClass::Serving,
];
pub fn stage_kind_label(k: StageKind) -> &'static str {
    match k {
        StageKind::Development => "Development (hyper-parameter trials)",
        StageKind::FinalTraining => "Final training",
        StageKind::Evaluation => "Evaluation",
        StageKind::Deployment => "Deployment",
    }
}

/// The value a field shows for a scenario (when the user has no invalid draft).
pub fn field_value(f: Field, s: &Scenario) -> String {
    match f {
        Field::Name => s.name.clone().unwrap_or_default(),
        Field::Device => s.hardware.device.clone(),
        Field::DeviceCount => s.hardware.count.to_string(),
        Field::Software => s.software.as_str().into(),
        Field::Region => match (
            &s.infrastructure.grid_gco2e_per_kwh,
            &s.infrastructure.region,
        ) {
            (Some(_), _) => "custom".into(),
            (None, Some(r)) => r.clone(),
            (None, None) => String::new(),
        },
        Field::GridCustom => opt_num(s.infrastructure.grid_gco2e_per_kwh),
        Field::Pue => s.infrastructure.pue.to_string(),
        Field::Embodied => s.infrastructure.embodied.to_string(),
        Field::Stage(i, sf) => {
            let Some(st) = s.stages.get(i) else {
                return String::new();
            };
            let w = &st.workload;
            match sf {
                StageField::Kind => st.kind.as_str().into(),
                StageField::Phase => w.phase.as_str().into(),
                StageField::Precision => w.precision.as_str().into(),
                StageField::Batch => w.batch.to_string(),
                StageField::Seq => opt_int(w.seq),
                StageField::Prompt => opt_int(w.prompt),
                StageField::NewTokens => opt_int(w.new_tokens),
                StageField::Optimizer => OPTIMIZERS
                    .iter()
                    .find(|(o, _)| Some(*o) == w.optimizer)
                    .map(|(_, n)| n.to_string())
                    .unwrap_or_default(),
                StageField::Steps => opt_num(st.steps),
                StageField::Samples => opt_num(st.samples),
                StageField::Tokens => opt_num(st.tokens),
                StageField::Epochs => opt_num(st.epochs),
                StageField::Runs => st.runs.to_string(),
                StageField::RequestsPerDay => opt_num(st.requests_per_day),
                StageField::Days => opt_num(st.days),
            }
        }
        // Model fields live in `ModelInputs`; what-if parameters in `WhatIfParams`.
        _ => String::new(),
    }
}

/// Apply a typed value to the scenario, or say why it is not valid. Hardware
/// and region changes re-pin the resolved values of a loaded link.
pub fn set_field(
    f: Field,
    raw: &str,
    s: &mut Scenario,
    measured: &[DeviceProfile],
) -> Result<(), String> {
    match f {
        Field::Name => s.name = Some(raw.to_string()).filter(|n| !n.trim().is_empty()),
        Field::Device => {
            let p = current_profile(raw, measured).ok_or("not a device of the catalog")?;
            s.hardware.device = raw.to_string();
            if let Some(r) = s.resolved.as_mut() {
                r.device = p;
            }
        }
        Field::DeviceCount => {
            let n = whole(raw)?;
            if n > 100_000 {
                return Err("at most 100,000 devices".into());
            }
            s.hardware.count = n;
        }
        Field::Software => {
            s.software = SOFTWARE
                .into_iter()
                .find(|c| c.as_str() == raw)
                .ok_or("unknown software class")?
        }
        Field::Region => {
            if raw == "custom" {
                if s.infrastructure.grid_gco2e_per_kwh.is_none() {
                    let cur = s
                        .resolved
                        .as_ref()
                        .map(|r| r.grid.gco2e_per_kwh)
                        .or_else(|| {
                            s.infrastructure
                                .region
                                .as_deref()
                                .and_then(grid_value)
                                .map(|g| g.gco2e_per_kwh)
                        })
                        .unwrap_or(400.0);
                    s.infrastructure.grid_gco2e_per_kwh = Some(cur);
                }
            } else {
                let g = grid_value(raw).ok_or("not a region of the grid table")?;
                s.infrastructure.region = Some(g.region.clone());
                s.infrastructure.grid_gco2e_per_kwh = None;
                if let Some(r) = s.resolved.as_mut() {
                    r.grid = g;
                }
            }
        }
        Field::GridCustom => {
            let v = non_negative(raw)?;
            if v > 2000.0 {
                return Err("no grid emits more than about 1,200 gCO2e/kWh; check the unit".into());
            }
            s.infrastructure.grid_gco2e_per_kwh = Some(v);
        }
        Field::Pue => {
            let v = parse_number(raw)?;
            if !(1.0..=3.0).contains(&v) {
                return Err("a PUE is between 1.0 (no overhead) and about 3".into());
            }
            s.infrastructure.pue = v;
        }
        Field::Embodied => s.infrastructure.embodied = raw == "true",
        Field::Stage(i, sf) => {
            let st = s.stages.get_mut(i).ok_or("no such stage")?;
            let w = &mut st.workload;
            match sf {
                StageField::Kind => st.kind = kind_from(raw).ok_or("unknown stage kind")?,
                StageField::Phase => w.phase = phase_from(raw).ok_or("unknown phase")?,
                StageField::Precision => {
                    w.precision = Precision::parse(raw).ok_or("unknown precision")?
                }
                StageField::Batch => {
                    let b = whole(raw)?;
                    if b > 1_000_000 {
                        return Err("at most 1,000,000 per device".into());
                    }
                    w.batch = b;
                }
                StageField::Seq => w.seq = opt(raw, whole)?,
                StageField::Prompt => w.prompt = opt(raw, whole)?,
                StageField::NewTokens => w.new_tokens = opt(raw, whole)?,
                StageField::Optimizer => {
                    w.optimizer = if raw.is_empty() {
                        None
                    } else {
                        Some(
                            OPTIMIZERS
                                .iter()
                                .find(|(_, n)| *n == raw)
                                .map(|(o, _)| *o)
                                .ok_or("unknown optimizer")?,
                        )
                    }
                }
                StageField::Steps => st.steps = opt(raw, positive)?,
                StageField::Samples => st.samples = opt(raw, positive)?,
                StageField::Tokens => st.tokens = opt(raw, positive)?,
                StageField::Epochs => st.epochs = opt(raw, positive)?,
                StageField::Runs => st.runs = positive(raw)?,
                StageField::RequestsPerDay => st.requests_per_day = opt(raw, positive)?,
                StageField::Days => st.days = opt(raw, positive)?,
            }
        }
        Field::Preset
        | Field::HfConfig
        | Field::File
        | Field::FlopsPerSample
        | Field::Params
        | Field::WhatIf(_) => return Err("internal: not a scenario field".into()),
    }
    Ok(())
}

/// Build the model source from the inputs of the active tab.
pub fn build_model(i: &ModelInputs) -> Result<ModelSource, (Field, String)> {
    match i.tab {
        ModelTab::Preset => {
            let p = i.preset.trim();
            if p.is_empty() {
                return Err((Field::Preset, "choose a preset".into()));
            }
            if !crate::profiles::is_preset(p) {
                return Err((
                    Field::Preset,
                    format!("no preset \u{201c}{p}\u{201d}; pick one from the list"),
                ));
            }
            Ok(ModelSource {
                preset: Some(p.to_string()),
                ..Default::default()
            })
        }
        ModelTab::Config => {
            let v: serde_json::Value = serde_json::from_str(&i.hf_text)
                .map_err(|e| (Field::HfConfig, format!("not valid JSON: {e}")))?;
            if !v.is_object() {
                return Err((
                    Field::HfConfig,
                    "a config.json is a JSON object ({ ... })".into(),
                ));
            }
            Ok(ModelSource {
                hf_config: Some(v),
                ..Default::default()
            })
        }
        ModelTab::File => match &i.graph {
            Some(g) => Ok(ModelSource {
                graph: Some(g.clone()),
                ..Default::default()
            }),
            None => Err((
                Field::File,
                "drop or choose an ONNX or safetensors file".into(),
            )),
        },
        ModelTab::Flops => {
            let f = positive(&i.flops_per_sample).map_err(|e| (Field::FlopsPerSample, e))?;
            let p = positive(&i.params).map_err(|e| (Field::Params, e))?;
            Ok(ModelSource {
                flops_per_sample: Some(f),
                params: Some(p),
                ..Default::default()
            })
        }
    }
}

/// A what-if row: its change of the whole estimate, or why it does not apply.
#[derive(Debug, Clone, PartialEq)]
pub struct WhatIfRow {
    pub kind: WhatIf,
    pub enabled: bool,
    pub delta: Result<Delta, String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Delta {
    pub kwh: f64,
    pub co2e_kg: f64,
    pub base_kwh: f64,
    pub base_co2e_kg: f64,
}

/// Where measured calibrations stand.
#[derive(Debug, Clone, PartialEq)]
pub enum MeasuredStatus {
    Loading,
    Loaded,
    Unavailable(String),
}

/// The short link's state.
#[derive(Debug, Clone, PartialEq)]
pub enum ShortLink {
    None,
    Creating,
    Ready(String),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Banner {
    pub kind: BannerKind,
    pub text: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BannerKind {
    Error,
    Info,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppState {
    /// The scenario as the form edits it.
    pub scenario: Scenario,
    pub model: ModelInputs,
    /// What the user typed that is not valid, and why (the scenario keeps the last valid value).
    pub drafts: BTreeMap<Field, (String, String)>,
    pub whatifs: BTreeSet<WhatIf>,
    pub whatif_params: WhatIfParams,
    pub measured: Vec<MeasuredDevice>,
    pub measured_status: MeasuredStatus,
    pub banner: Option<Banner>,
    pub short_link: ShortLink,
    pub copied: bool,
    // Computed by `recompute`.
    /// The estimate of the scenario with the enabled what-ifs applied.
    pub result: Result<Estimate, InputErrors>,
    /// The estimate of the scenario as edited (what-ifs off).
    pub base: Result<Estimate, InputErrors>,
    pub rows: Vec<WhatIfRow>,
    /// Milliseconds the last recompute took (all estimates).
    pub recompute_ms: f64,
    /// Milliseconds of the main estimate alone.
    pub estimate_ms: f64,
}

// Dispatched once per user action: the size of `Load` does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Action {
    /// A form field changed (text as typed, or a select's value).
    Set(Field, String),
    ModelTab(ModelTab),
    Imported(String, crate::import::Imported),
    ImportFailed(String, String),
    ToggleWhatIf(WhatIf, bool),
    AddStage(StageKind),
    RemoveStage(usize),
    /// A scenario from a link (and, for a damaged link, the reason).
    Load(Scenario, Option<Banner>),
    ShowBanner(Banner),
    DismissBanner,
    MeasuredLoaded(Vec<MeasuredDevice>),
    MeasuredUnavailable(String),
    /// Replace the pinned device profile by today's.
    UseCurrentCalibration,
    ShortLink(ShortLink),
    Copied(bool),
}

impl Default for AppState {
    fn default() -> Self {
        Self::with_scenario(defaults::example_scenario())
    }
}

impl AppState {
    pub fn with_scenario(s: Scenario) -> Self {
        let mut st = AppState {
            model: ModelInputs::from_model(&s.model),
            scenario: s,
            drafts: BTreeMap::new(),
            whatifs: BTreeSet::new(),
            whatif_params: WhatIfParams::default(),
            measured: Vec::new(),
            measured_status: MeasuredStatus::Loading,
            banner: None,
            short_link: ShortLink::None,
            copied: false,
            result: Err(InputError::new("scenario", "not computed yet").into()),
            base: Err(InputError::new("scenario", "not computed yet").into()),
            rows: Vec::new(),
            recompute_ms: 0.0,
            estimate_ms: 0.0,
        };
        st.fill_whatif_defaults();
        st.recompute();
        st
    }

    pub fn measured_profiles(&self) -> Vec<DeviceProfile> {
        self.measured.iter().map(|m| m.profile.clone()).collect()
    }

    /// The scenario with the enabled what-ifs applied.
    pub fn effective_scenario(&self) -> Scenario {
        let measured = self.measured_profiles();
        let mut s = self.scenario.clone();
        for k in &self.whatifs {
            if let Ok(t) = whatif::apply(*k, &self.whatif_params, &s, &measured) {
                s = t;
            }
        }
        s
    }

    /// The scenario a share link or an export carries: the effective one, with
    /// the values it was computed with pinned.
    pub fn shared_scenario(&self) -> Scenario {
        let mut s = self.effective_scenario();
        if let Ok(e) = &self.result {
            s.resolved = Some(e.resolved.clone());
        }
        s
    }

    /// Today's profile differs from the one a link pinned: the version of today's.
    pub fn newer_calibration(&self) -> Option<String> {
        let r = self.scenario.resolved.as_ref()?;
        let cur = current_profile(&self.scenario.hardware.device, &self.measured_profiles())?;
        (cur.source.version != r.device.source.version).then_some(cur.source.version)
    }

    fn fill_whatif_defaults(&mut self) {
        let p = &mut self.whatif_params;
        if p.region.is_empty() || Some(&p.region) == self.scenario.infrastructure.region.as_ref() {
            // A well-known low-carbon grid that is not the current region.
            let cur = self
                .scenario
                .infrastructure
                .region
                .clone()
                .unwrap_or_default();
            p.region = ["SE", "FR", "NO", "CH", "CA", "US", "WORLD"]
                .iter()
                .filter(|c| !c.eq_ignore_ascii_case(&cur))
                .find_map(|c| shared::grid::find(c).map(|g| g.code.to_string()))
                .unwrap_or_default();
        }
        if p.gpu.is_empty() || p.gpu == self.scenario.hardware.device {
            // A newer generation (or the previous one, from the newest).
            let cur = self.scenario.hardware.device.clone();
            p.gpu = ["b200", "h200-sxm", "h100-sxm", "a100-sxm-80gb"]
                .iter()
                .filter(|d| **d != cur)
                .find_map(|d| shared::catalog::find(d).map(|s| s.id))
                .or_else(|| {
                    shared::catalog::CATALOG
                        .iter()
                        .map(|d| d.id)
                        .find(|d| *d != cur)
                })
                .unwrap_or_default()
                .to_string();
        }
        if p.distill_to.is_empty() || Some(&p.distill_to) == self.scenario.model.preset.as_ref() {
            // The largest smaller preset the estimator accepts for these stages
            // (same sequence lengths).
            let presets = crate::profiles::presets();
            let cur = self.scenario.model.preset.clone();
            let upto = cur
                .as_ref()
                .and_then(|c| presets.iter().position(|p| &p.id == c))
                .unwrap_or(presets.len());
            p.distill_to = presets[..upto]
                .iter()
                .rev()
                .find(|c| {
                    let mut t = self.scenario.clone();
                    t.model = ModelSource {
                        preset: Some(c.id.clone()),
                        ..Default::default()
                    };
                    shared::estimate::estimate(&t, &[]).is_ok()
                })
                .map(|c| c.id.clone())
                .unwrap_or_default();
        }
    }

    /// Run the estimator on the scenario, the effective scenario and each what-if.
    pub fn recompute(&mut self) {
        let t0 = clock::now_ms();
        let measured = self.measured_profiles();
        let base = shared::estimate::estimate(&self.scenario, &measured);
        self.estimate_ms = clock::now_ms() - t0;
        self.result = if self.whatifs.is_empty() {
            base.clone()
        } else {
            shared::estimate::estimate(&self.effective_scenario(), &measured)
        };
        self.rows = WhatIf::ALL
            .iter()
            .map(|&k| {
                let delta = match &base {
                    Err(_) => Err("fix the inputs first".to_string()),
                    Ok(b) => whatif::apply(k, &self.whatif_params, &self.scenario, &measured)
                        .and_then(|t| {
                            shared::estimate::estimate(&t, &measured)
                                .map(|e| Delta {
                                    kwh: e.energy_kwh.expected - b.energy_kwh.expected,
                                    co2e_kg: e.co2e_kg.expected - b.co2e_kg.expected,
                                    base_kwh: b.energy_kwh.expected,
                                    base_co2e_kg: b.co2e_kg.expected,
                                })
                                .map_err(|e| e.to_string())
                        }),
                };
                WhatIfRow {
                    kind: k,
                    enabled: self.whatifs.contains(&k),
                    delta,
                }
            })
            .collect();
        self.base = base;
        self.recompute_ms = clock::now_ms() - t0;
    }

    fn set_whatif_param(&mut self, k: WhatIf, raw: &str) -> Result<(), String> {
        let p = &mut self.whatif_params;
        let frac = |raw: &str| -> Result<f64, String> {
            let v = parse_number(raw)?;
            if v <= 0.0 || v >= 1.0 {
                return Err("a share between 0 and 1 (e.g. 0.5)".into());
            }
            Ok(v)
        };
        match k {
            WhatIf::Pruning => p.sparsity = frac(raw)?,
            WhatIf::EarlyStop => p.early_stop = frac(raw)?,
            WhatIf::FewerTrials => p.trials = frac(raw)?,
            WhatIf::Pue => {
                let v = parse_number(raw)?;
                if !(1.0..=3.0).contains(&v) {
                    return Err("a PUE is between 1.0 and about 3".into());
                }
                p.pue = v;
            }
            WhatIf::Region => p.region = raw.to_string(),
            WhatIf::Gpu => p.gpu = raw.to_string(),
            WhatIf::Distill => p.distill_to = raw.to_string(),
            WhatIf::HalfPrecision | WhatIf::LowPrecision => {}
        }
        Ok(())
    }

    /// The value a what-if's parameter input shows.
    pub fn whatif_param_value(&self, k: WhatIf) -> String {
        if let Some((raw, _)) = self.drafts.get(&Field::WhatIf(k)) {
            return raw.clone();
        }
        let p = &self.whatif_params;
        match k {
            WhatIf::Pruning => p.sparsity.to_string(),
            WhatIf::EarlyStop => p.early_stop.to_string(),
            WhatIf::FewerTrials => p.trials.to_string(),
            WhatIf::Pue => p.pue.to_string(),
            WhatIf::Region => p.region.clone(),
            WhatIf::Gpu => p.gpu.clone(),
            WhatIf::Distill => p.distill_to.clone(),
            WhatIf::HalfPrecision | WhatIf::LowPrecision => String::new(),
        }
    }

    /// The text an input shows: what the user typed if invalid, else the scenario's value.
    pub fn value(&self, f: Field) -> String {
        if let Some((raw, _)) = self.drafts.get(&f) {
            return raw.clone();
        }
        match f {
            Field::Preset => self.model.preset.clone(),
            Field::HfConfig => self.model.hf_text.clone(),
            Field::FlopsPerSample => self.model.flops_per_sample.clone(),
            Field::Params => self.model.params.clone(),
            Field::WhatIf(k) => self.whatif_param_value(k),
            _ => field_value(f, &self.scenario),
        }
    }

    /// Why a field is invalid: the form's own check, else the estimator's.
    pub fn error(&self, f: Field) -> Option<String> {
        if let Some((_, e)) = self.drafts.get(&f) {
            return Some(e.clone());
        }
        let Err(errors) = &self.base else { return None };
        let p = f.path();
        errors
            .iter()
            .find(|e| {
                e.field == p
                    || e.field.starts_with(&format!("{p}."))
                    || e.field.starts_with(&format!("{p}["))
            })
            .map(|e| e.message.clone())
    }

    /// An estimator error that no field shows.
    pub fn general_error(&self) -> Option<String> {
        let Err(e) = &self.base else { return None };
        let shown = self
            .visible_fields()
            .into_iter()
            .any(|f| self.error(f).is_some());
        (!shown).then(|| e.to_string())
    }

    fn visible_fields(&self) -> Vec<Field> {
        let mut v = vec![
            Field::Name,
            Field::Device,
            Field::DeviceCount,
            Field::Software,
            Field::Region,
            Field::GridCustom,
            Field::Pue,
        ];
        v.push(match self.model.tab {
            ModelTab::Preset => Field::Preset,
            ModelTab::Config => Field::HfConfig,
            ModelTab::File => Field::File,
            ModelTab::Flops => Field::FlopsPerSample,
        });
        if self.model.tab == ModelTab::Flops {
            v.push(Field::Params);
        }
        for i in 0..self.scenario.stages.len() {
            for sf in [
                StageField::Kind,
                StageField::Phase,
                StageField::Precision,
                StageField::Batch,
                StageField::Seq,
                StageField::Prompt,
                StageField::NewTokens,
                StageField::Optimizer,
                StageField::Steps,
                StageField::Samples,
                StageField::Tokens,
                StageField::Epochs,
                StageField::Runs,
                StageField::RequestsPerDay,
                StageField::Days,
            ] {
                v.push(Field::Stage(i, sf));
            }
        }
        v
    }

    fn rebuild_model(&mut self) {
        for f in [
            Field::Preset,
            Field::HfConfig,
            Field::File,
            Field::FlopsPerSample,
            Field::Params,
        ] {
            self.drafts.remove(&f);
        }
        match build_model(&self.model) {
            Ok(m) => self.scenario.model = m,
            Err((f, e)) => {
                let raw = self.value(f);
                self.drafts.insert(f, (raw, e));
            }
        }
    }

    /// Apply an action without the `Rc` (what `reduce` does; tests call it).
    pub fn apply(&mut self, action: Action) {
        let mut recompute = true;
        match action {
            Action::Set(f, raw) => match f {
                Field::Preset => {
                    self.model.preset = raw;
                    self.rebuild_model();
                    self.fill_whatif_defaults();
                }
                Field::HfConfig => {
                    self.model.hf_text = raw;
                    self.rebuild_model();
                }
                Field::FlopsPerSample => {
                    self.model.flops_per_sample = raw;
                    self.rebuild_model();
                }
                Field::Params => {
                    self.model.params = raw;
                    self.rebuild_model();
                }
                Field::File => {}
                Field::WhatIf(k) => match self.set_whatif_param(k, &raw) {
                    Ok(()) => {
                        self.drafts.remove(&f);
                    }
                    Err(e) => {
                        self.drafts.insert(f, (raw, e));
                    }
                },
                _ => {
                    let measured = self.measured_profiles();
                    match set_field(f, &raw, &mut self.scenario, &measured) {
                        Ok(()) => {
                            self.drafts.remove(&f);
                            if matches!(f, Field::Device | Field::Region) {
                                self.fill_whatif_defaults();
                            }
                            if f == Field::Region && raw == "custom" {
                                self.drafts.remove(&Field::GridCustom);
                            }
                        }
                        Err(e) => {
                            self.drafts.insert(f, (raw, e));
                        }
                    }
                }
            },
            Action::ModelTab(t) => {
                self.model.tab = t;
                self.rebuild_model();
            }
            Action::Imported(name, imported) => {
                self.model.import_note = None;
                match imported {
                    Imported::Graph(g) => {
                        self.model.tab = ModelTab::File;
                        self.model.file_name = Some(name);
                        self.model.graph = Some(g);
                    }
                    Imported::Config(text) => {
                        self.model.tab = ModelTab::Config;
                        self.model.hf_text = text;
                    }
                    Imported::Params {
                        params,
                        flops_per_sample,
                        note,
                    } => {
                        self.model.tab = ModelTab::Flops;
                        self.model.params = params.to_string();
                        self.model.flops_per_sample = flops_per_sample.to_string();
                        self.model.import_note = Some(note);
                    }
                }
                self.rebuild_model();
            }
            Action::ImportFailed(name, why) => {
                self.model.tab = ModelTab::File;
                self.model.file_name = Some(name.clone());
                self.model.graph = None;
                self.drafts.insert(Field::File, (name, why));
                recompute = false;
            }
            Action::ToggleWhatIf(k, on) => {
                if on {
                    self.whatifs.insert(k);
                } else {
                    self.whatifs.remove(&k);
                }
            }
            Action::AddStage(kind) => self.scenario.stages.push(defaults::new_stage(kind)),
            Action::RemoveStage(i) => {
                if i < self.scenario.stages.len() && self.scenario.stages.len() > 1 {
                    self.scenario.stages.remove(i);
                    // Drafts of stages after it would point at the wrong stage.
                    self.drafts.retain(|f, _| !matches!(f, Field::Stage(..)));
                }
            }
            Action::Load(s, banner) => {
                let measured = std::mem::take(&mut self.measured);
                let status = self.measured_status.clone();
                *self = AppState::with_scenario(s);
                self.measured = measured;
                self.measured_status = status;
                self.banner = banner;
            }
            Action::ShowBanner(b) => {
                self.banner = Some(b);
                recompute = false;
            }
            Action::DismissBanner => {
                self.banner = None;
                recompute = false;
            }
            Action::MeasuredLoaded(m) => {
                self.measured = m;
                self.measured_status = MeasuredStatus::Loaded;
            }
            Action::MeasuredUnavailable(why) => {
                self.measured_status = MeasuredStatus::Unavailable(why);
                recompute = false;
            }
            Action::UseCurrentCalibration => {
                let measured = self.measured_profiles();
                if let (Some(r), Some(p)) = (
                    self.scenario.resolved.as_mut(),
                    current_profile(&self.scenario.hardware.device, &measured),
                ) {
                    r.device = p;
                }
            }
            Action::ShortLink(l) => {
                self.short_link = l;
                recompute = false;
            }
            Action::Copied(c) => {
                self.copied = c;
                recompute = false;
            }
        }
        if recompute {
            self.short_link = ShortLink::None;
            self.copied = false;
            self.recompute();
        }
    }
}

impl Reducible for AppState {
    type Action = Action;
    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = (*self).clone();
        s.apply(action);
        Rc::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st() -> AppState {
        AppState::default()
    }

    #[test]
    fn valid_edit_changes_the_scenario() {
        let mut s = st();
        s.apply(Action::Set(Field::Stage(1, StageField::Batch), "16".into()));
        assert_eq!(s.scenario.stages[1].workload.batch, 16);
        assert!(s.error(Field::Stage(1, StageField::Batch)).is_none());
        s.apply(Action::Set(Field::Pue, "1.5".into()));
        assert_eq!(s.scenario.infrastructure.pue, 1.5);
    }

    #[test]
    fn invalid_edit_keeps_the_last_valid_value_and_says_why() {
        let mut s = st();
        s.apply(Action::Set(
            Field::Stage(0, StageField::Batch),
            "abc".into(),
        ));
        assert_eq!(s.scenario.stages[0].workload.batch, 1);
        assert_eq!(s.value(Field::Stage(0, StageField::Batch)), "abc");
        assert!(s
            .error(Field::Stage(0, StageField::Batch))
            .unwrap_or_default()
            .contains("not a number"));
        s.apply(Action::Set(
            Field::Stage(0, StageField::Batch),
            "2.5".into(),
        ));
        assert!(s.error(Field::Stage(0, StageField::Batch)).is_some());
        s.apply(Action::Set(Field::Pue, "0.9".into()));
        assert!(s.error(Field::Pue).unwrap_or_default().contains("PUE"));
        assert_eq!(s.scenario.infrastructure.pue, 1.2);
        s.apply(Action::Set(Field::Stage(0, StageField::Batch), "4".into()));
        assert!(s.error(Field::Stage(0, StageField::Batch)).is_none());
        assert_eq!(s.scenario.stages[0].workload.batch, 4);
    }

    #[test]
    fn optional_fields_clear_when_empty() {
        let mut s = st();
        s.apply(Action::Set(Field::Stage(0, StageField::Seq), "".into()));
        assert_eq!(s.scenario.stages[0].workload.seq, None);
        s.apply(Action::Set(
            Field::Stage(0, StageField::Epochs),
            "1e1".into(),
        ));
        assert_eq!(s.scenario.stages[0].epochs, Some(10.0));
        s.apply(Action::Set(
            Field::Stage(0, StageField::Samples),
            "1,000".into(),
        ));
        assert_eq!(s.scenario.stages[0].samples, Some(1000.0));
    }

    #[test]
    fn model_tabs() {
        let mut s = st();
        s.apply(Action::ModelTab(ModelTab::Flops));
        assert!(s.error(Field::FlopsPerSample).is_some());
        s.apply(Action::Set(Field::FlopsPerSample, "8.2e9".into()));
        s.apply(Action::Set(Field::Params, "25.6e6".into()));
        assert_eq!(s.scenario.model.flops_per_sample, Some(8.2e9));
        assert_eq!(s.scenario.model.params, Some(25.6e6));
        s.apply(Action::ModelTab(ModelTab::Config));
        s.apply(Action::Set(Field::HfConfig, "{ not json".into()));
        assert!(s
            .error(Field::HfConfig)
            .unwrap_or_default()
            .contains("JSON"));
        s.apply(Action::Set(
            Field::HfConfig,
            r#"{"model_type":"llama"}"#.into(),
        ));
        assert!(!s.drafts.contains_key(&Field::HfConfig));
        assert!(s.scenario.model.hf_config.is_some());
        s.apply(Action::ModelTab(ModelTab::Preset));
        assert_eq!(s.scenario.model.preset.as_deref(), Some("llama-2-13b"));
    }

    #[test]
    fn stages_add_and_remove() {
        let mut s = st();
        let n = s.scenario.stages.len();
        s.apply(Action::AddStage(StageKind::Evaluation));
        assert_eq!(s.scenario.stages.len(), n + 1);
        s.apply(Action::RemoveStage(n));
        assert_eq!(s.scenario.stages.len(), n);
    }

    #[test]
    fn whatif_toggle_and_parameter() {
        let mut s = st();
        s.apply(Action::Set(Field::WhatIf(WhatIf::FewerTrials), "2".into()));
        assert!(s.error(Field::WhatIf(WhatIf::FewerTrials)).is_some());
        s.apply(Action::Set(
            Field::WhatIf(WhatIf::FewerTrials),
            "0.25".into(),
        ));
        assert_eq!(s.whatif_params.trials, 0.25);
        s.apply(Action::ToggleWhatIf(WhatIf::FewerTrials, true));
        assert_eq!(
            s.effective_scenario().stages[0].runs,
            s.scenario.stages[0].runs * 0.25
        );
        s.apply(Action::ToggleWhatIf(WhatIf::FewerTrials, false));
        assert_eq!(s.effective_scenario(), s.scenario);
        assert_eq!(s.rows.len(), WhatIf::ALL.len());
    }

    #[test]
    fn load_keeps_measured_and_sets_banner() {
        let mut s = st();
        let mut sc = defaults::example_scenario();
        sc.hardware.count = 2;
        s.apply(Action::Load(
            sc.clone(),
            Some(Banner {
                kind: BannerKind::Info,
                text: "x".into(),
            }),
        ));
        assert_eq!(s.scenario, sc);
        assert!(s.banner.is_some());
        s.apply(Action::DismissBanner);
        assert!(s.banner.is_none());
    }

    #[test]
    fn field_paths_and_ids() {
        assert_eq!(
            Field::Stage(2, StageField::Batch).path(),
            "stages[2].workload.batch"
        );
        assert_eq!(
            Field::Stage(2, StageField::Batch).dom_id(),
            "f-stages-2-workload-batch"
        );
        assert_eq!(Field::Pue.dom_id(), "f-infrastructure-pue");
    }
}

#[cfg(test)]
mod estimate_tests {
    use super::*;

    /// The example at first load is a complete estimate, and each what-if has a row.
    #[test]
    fn example_estimates() {
        let s = AppState::default();
        let e = s.result.as_ref().unwrap_or_else(|e| panic!("{e}"));
        assert!(e.energy_kwh.expected > 0.0);
        assert_eq!(e.stages.len(), 3);
        assert!(e.memory.fits, "{:?}", e.memory);
        assert!(e.warnings.is_empty(), "{:?}", e.warnings);
        assert_eq!(s.whatif_params.distill_to, "llama-3-8b");
        assert_eq!(s.whatif_params.gpu, "b200");
        assert!(
            s.rows.iter().filter(|r| r.delta.is_ok()).count() >= 5,
            "{:?}",
            s.rows
        );
        eprintln!(
            "example: {} kWh, recompute {:.2} ms",
            e.energy_kwh.expected, s.recompute_ms
        );
    }

    /// Closed-form what-ifs: PUE scales wall energy, trials scale the development stage.
    #[test]
    fn whatif_closed_forms() {
        let mut s = AppState::default();
        s.apply(Action::Set(Field::Pue, "1.5".into()));
        let base = s.result.clone().unwrap_or_else(|e| panic!("{e}"));
        s.apply(Action::Set(Field::WhatIf(WhatIf::Pue), "1.1".into()));
        s.apply(Action::ToggleWhatIf(WhatIf::Pue, true));
        let e = s.result.clone().unwrap_or_else(|e| panic!("{e}"));
        let r = e.energy_kwh.expected / base.energy_kwh.expected;
        assert!((r - 1.1 / 1.5).abs() < 1e-9, "{r}");
        s.apply(Action::ToggleWhatIf(WhatIf::Pue, false));
        s.apply(Action::ToggleWhatIf(WhatIf::FewerTrials, true));
        let e = s.result.clone().unwrap_or_else(|e| panic!("{e}"));
        let r = e.stages[0].energy_kwh.expected / base.stages[0].energy_kwh.expected;
        assert!((r - 0.5).abs() < 1e-9, "{r}");
    }

    /// A link pins the profile it was computed with; a newer one is noticed and can be taken.
    #[test]
    fn pinned_profile_and_newer_calibration() {
        let first = AppState::default();
        let mut pinned = first.shared_scenario();
        let r = pinned
            .resolved
            .as_mut()
            .unwrap_or_else(|| panic!("resolved"));
        r.device.source.version = "measured:old".into();
        r.device.idle_w *= 2.0;
        let mut s = AppState::with_scenario(pinned);
        assert!(s.newer_calibration().is_some());
        let e_pinned = s.result.clone().unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(
            e_pinned.energy_kwh.expected,
            first
                .result
                .clone()
                .map(|e| e.energy_kwh.expected)
                .unwrap_or_default()
        );
        s.apply(Action::UseCurrentCalibration);
        assert!(s.newer_calibration().is_none());
        let now = s.result.clone().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            now.energy_kwh.expected,
            first
                .result
                .clone()
                .map(|e| e.energy_kwh.expected)
                .unwrap_or_default()
        );
    }

    #[test]
    fn exports_of_the_example() {
        let s = AppState::default();
        let e = s.result.clone().unwrap_or_else(|e| panic!("{e}"));
        let sc = s.shared_scenario();
        let md = crate::export::markdown(&sc, &e);
        assert!(md.contains("| **Total** |"));
        let tex = crate::export::latex(&sc, &e);
        assert!(tex.contains("\\begin{tabular}") && tex.contains("\\label{tab:energy}"));
        assert!(!tex.contains("final_training"), "underscores are escaped");
        let csv = crate::export::csv(&e);
        assert_eq!(csv.lines().count(), 1 + e.stages.len() + 1);
        let json = crate::export::scenario_json(&sc);
        assert_eq!(shared::estimate::parse_scenario(&json), Ok(sc));
    }

    #[test]
    fn llama_70b_recompute_time() {
        let mut s = AppState::default();
        s.apply(Action::Set(Field::Preset, "llama-2-70b".into()));
        assert!(s.result.is_ok(), "{:?}", s.result);
        s.apply(Action::Set(Field::Stage(1, StageField::Batch), "4".into()));
        eprintln!(
            "llama-2-70b: estimate {:.2} ms, all {:.2} ms (native debug)",
            s.estimate_ms, s.recompute_ms
        );
    }
}
