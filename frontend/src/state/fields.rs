//! The form's fields: their JSON paths in the scenario, the text each shows,
//! and writing typed text into a scenario. Whether a value is allowed is
//! decided by the core (`shared::check`), in [`commit`].

use super::parse::{self, Count};
use shared::device::DeviceProfile;
use shared::resolve::device_profile;
use shared::scenario::{
    Engine, Optimizer, Parallelism, Phase, Recompute, Scenario, Serving, SoftwareClass, Stage,
    StageKind,
};
use shared::units::Precision;
use shared::what_if::Kind;
use shared::InputErrors;

/// A form field. `path()` is its JSON path in the scenario, so an error of
/// the core about that path is shown next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
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
    WhatIf(Kind),
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
    // `stages[i].parallelism` (training at scale)
    Tensor,
    Pipeline,
    Expert,
    Zero,
    Recompute,
    MicroBatches,
    // `stages[i].serving` (a continuous-batching engine)
    Engine,
    Replicas,
    PeakToMean,
    AlwaysOn,
}

impl StageField {
    pub const ALL: [StageField; 25] = [
        Self::Kind,
        Self::Phase,
        Self::Precision,
        Self::Batch,
        Self::Seq,
        Self::Prompt,
        Self::NewTokens,
        Self::Optimizer,
        Self::Steps,
        Self::Samples,
        Self::Tokens,
        Self::Epochs,
        Self::Runs,
        Self::RequestsPerDay,
        Self::Days,
        Self::Tensor,
        Self::Pipeline,
        Self::Expert,
        Self::Zero,
        Self::Recompute,
        Self::MicroBatches,
        Self::Engine,
        Self::Replicas,
        Self::PeakToMean,
        Self::AlwaysOn,
    ];

    /// Whether the stage's card shows this field (`components/stages.rs`);
    /// `sw` is the stage's software.
    pub fn shown(self, st: &Stage, sw: SoftwareClass) -> bool {
        let decode = st.workload.phase == Phase::Decode;
        let deploy = st.kind == StageKind::Deployment;
        match self {
            // training stages, and any stage a link gave a strategy
            Self::Tensor
            | Self::Pipeline
            | Self::Expert
            | Self::Zero
            | Self::Recompute
            | Self::MicroBatches => st.workload.phase == Phase::Train || st.parallelism.is_some(),
            // an engine serves a deployment's decode; one a link gave stays editable
            Self::Engine => {
                st.serving.is_some() || (deploy && decode && sw == SoftwareClass::Serving)
            }
            Self::Replicas | Self::PeakToMean | Self::AlwaysOn => st.serving.is_some(),
            Self::Seq => !decode,
            Self::Prompt | Self::NewTokens => decode,
            Self::Optimizer => st.workload.phase == Phase::Train,
            Self::RequestsPerDay | Self::Days => deploy,
            Self::Steps | Self::Samples | Self::Tokens | Self::Epochs => !deploy,
            Self::Kind | Self::Phase | Self::Precision | Self::Batch | Self::Runs => true,
        }
    }

    /// The path inside a stage.
    fn leaf(self) -> &'static str {
        match self {
            Self::Kind => "kind",
            Self::Phase => "workload.phase",
            Self::Precision => "workload.precision",
            Self::Batch => "workload.batch",
            Self::Seq => "workload.seq",
            Self::Prompt => "workload.prompt",
            Self::NewTokens => "workload.new_tokens",
            Self::Optimizer => "workload.optimizer",
            Self::Steps => "steps",
            Self::Samples => "samples",
            Self::Tokens => "tokens",
            Self::Epochs => "epochs",
            Self::Runs => "runs",
            Self::RequestsPerDay => "requests_per_day",
            Self::Days => "days",
            Self::Tensor => "parallelism.tensor",
            Self::Pipeline => "parallelism.pipeline",
            Self::Expert => "parallelism.expert",
            Self::Zero => "parallelism.zero",
            Self::Recompute => "parallelism.recompute",
            Self::MicroBatches => "parallelism.micro_batches",
            Self::Engine => "serving.engine",
            Self::Replicas => "serving.replicas",
            Self::PeakToMean => "serving.peak_to_mean",
            Self::AlwaysOn => "serving.always_on",
        }
    }

    /// The object the field is part of (`parallelism`, `serving`): the
    /// estimator names it for a rule between its fields (tensor x pipeline
    /// must divide the devices; the KV cache must fit).
    fn group(self) -> Option<&'static str> {
        match self {
            Self::Tensor
            | Self::Pipeline
            | Self::Expert
            | Self::Zero
            | Self::Recompute
            | Self::MicroBatches => Some("parallelism"),
            Self::Engine | Self::Replicas | Self::PeakToMean | Self::AlwaysOn => Some("serving"),
            _ => None,
        }
    }

    /// The field that shows an error about its whole group.
    fn leads_group(self) -> bool {
        matches!(self, Self::Tensor | Self::Engine)
    }
}

impl Field {
    pub fn path(self) -> String {
        match self {
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
            Field::Stage(i, f) => format!("stages[{i}].{}", f.leaf()),
        }
    }

    /// Whether an error of the core at `field` (a JSON path) is about this
    /// field (and shown under it): its path or below, and for the first field
    /// of `parallelism` or `serving`, an error about the whole group.
    pub fn owns(self, field: &str) -> bool {
        let p = self.path();
        field == p
            || field
                .strip_prefix(p.as_str())
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
            || matches!(self, Field::Stage(_, sf) if sf.leads_group()) && self.in_group(field)
    }

    /// Whether `field` is the whole group (`stages[i].parallelism`) this field is part of.
    fn in_group(self, field: &str) -> bool {
        match self {
            Field::Stage(i, sf) => sf
                .group()
                .is_some_and(|g| field == format!("stages[{i}].{g}")),
            _ => false,
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

    /// Fields of the scenario itself (written by [`write`]), not the model
    /// inputs nor the what-if parameters.
    pub fn in_scenario(self) -> bool {
        !matches!(
            self,
            Field::Preset
                | Field::HfConfig
                | Field::File
                | Field::FlopsPerSample
                | Field::Params
                | Field::WhatIf(_)
        )
    }
}

pub fn stage_kind_label(k: StageKind) -> &'static str {
    match k {
        StageKind::Development => "Development (hyper-parameter trials)",
        StageKind::FinalTraining => "Final training",
        StageKind::Evaluation => "Evaluation",
        StageKind::Deployment => "Deployment",
    }
}

fn opt_num(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}
fn opt_int(v: Option<u64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// The text a field shows for a scenario (when the user has no draft).
pub fn value(f: Field, s: &Scenario) -> String {
    match f {
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
                StageField::Optimizer => w.optimizer.map(|o| o.as_str()).unwrap_or("").into(),
                StageField::Steps => opt_num(st.steps),
                StageField::Samples => opt_num(st.samples),
                StageField::Tokens => opt_num(st.tokens),
                StageField::Epochs => opt_num(st.epochs),
                StageField::Runs => st.runs.to_string(),
                StageField::RequestsPerDay => opt_num(st.requests_per_day),
                StageField::Days => opt_num(st.days),
                sf => plan_value(sf, st),
            }
        }
        // Model fields live in `ModelInputs`; what-if parameters in `what_if::Params`.
        _ => String::new(),
    }
}

/// The text of a `parallelism` or `serving` field; empty: the core's default.
fn plan_value(sf: StageField, st: &Stage) -> String {
    let p = st.parallelism.clone().unwrap_or_default();
    let sv = st.serving.as_ref();
    match sf {
        StageField::Tensor => opt_int(p.tensor),
        StageField::Pipeline => opt_int(p.pipeline),
        StageField::Expert => opt_int(p.expert),
        StageField::Zero => opt_int(p.zero.map(u64::from)),
        StageField::Recompute => p.recompute.map(|r| r.as_str()).unwrap_or("").into(),
        StageField::MicroBatches => opt_int(p.micro_batches),
        // no engine: static batches (the select's empty option)
        StageField::Engine => sv
            .map(|s| s.engine.unwrap_or_default().as_str())
            .unwrap_or("")
            .into(),
        StageField::Replicas => opt_int(sv.and_then(|s| s.replicas)),
        StageField::PeakToMean => opt_num(sv.and_then(|s| s.peak_to_mean)),
        StageField::AlwaysOn => sv.and_then(|s| s.always_on).unwrap_or(true).to_string(),
        _ => String::new(),
    }
}

/// Write a `parallelism` or `serving` field. A stage whose parallelism is
/// left all empty has none: the core chooses the strategy. The empty engine
/// removes the stage's `serving` (static batches).
fn write_plan(sf: StageField, raw: &str, st: &mut Stage) -> Result<(), String> {
    let count = |raw: &str| parse::count(raw).map(Count::value);
    if sf.group() == Some("serving") {
        if sf == StageField::Engine && raw.is_empty() {
            st.serving = None;
            return Ok(());
        }
        let sv = st.serving.get_or_insert_with(Serving::default);
        match sf {
            StageField::Engine => sv.engine = Some(named(Engine::parse(raw), "engine")?),
            StageField::Replicas => sv.replicas = parse::opt(raw, count)?,
            StageField::PeakToMean => sv.peak_to_mean = parse::opt(raw, parse::number)?,
            // true is the core's default: left out
            StageField::AlwaysOn => sv.always_on = (raw == "false").then_some(false),
            _ => {}
        }
        return Ok(());
    }
    let mut p = st.parallelism.clone().unwrap_or_default();
    match sf {
        StageField::Tensor => p.tensor = parse::opt(raw, count)?,
        StageField::Pipeline => p.pipeline = parse::opt(raw, count)?,
        StageField::Expert => p.expert = parse::opt(raw, count)?,
        // past a u8: the core's message (0 to 3) all the same
        StageField::Zero => {
            p.zero = parse::opt(raw, count)?.map(|z| u8::try_from(z).unwrap_or(u8::MAX))
        }
        StageField::Recompute => {
            p.recompute = if raw.is_empty() {
                None
            } else {
                Some(named(Recompute::parse(raw), "recomputation")?)
            }
        }
        StageField::MicroBatches => p.micro_batches = parse::opt(raw, count)?,
        _ => {}
    }
    st.parallelism = (p != Parallelism::default()).then_some(p);
    Ok(())
}

/// A name of one of the core's enums (`X::parse`), or the field's message.
fn named<T>(v: Option<T>, what: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("unknown {what}"))
}

/// Write typed text into a scenario field: refuses only text that is not a
/// value of the field's type (not a number, not a known name). Device and
/// region changes re-pin the resolved values of a loaded link.
pub fn write(
    f: Field,
    raw: &str,
    s: &mut Scenario,
    measured: &[DeviceProfile],
) -> Result<(), String> {
    match f {
        Field::Device => {
            let p = device_profile(raw, measured).ok_or("not a device of the catalog")?;
            s.hardware.device = raw.to_string();
            if let Some(r) = s.resolved.as_mut() {
                r.device = p;
            }
        }
        Field::DeviceCount => s.hardware.count = parse::count(raw)?.value(),
        Field::Software => s.software = named(SoftwareClass::parse(raw), "software class")?,
        Field::Region => {
            if raw == "custom" {
                if s.infrastructure.grid_gco2e_per_kwh.is_none() {
                    // Start from the intensity in use.
                    let cur = s
                        .resolved
                        .as_ref()
                        .map(|r| r.grid.gco2e_per_kwh)
                        .or_else(|| {
                            shared::resolve::resolve_grid(s)
                                .ok()
                                .map(|g| g.gco2e_per_kwh)
                        })
                        .unwrap_or(400.0);
                    s.infrastructure.grid_gco2e_per_kwh = Some(cur);
                }
            } else {
                let g = shared::grid::find(raw)
                    .map(|e| e.value())
                    .ok_or("not a region of the grid table")?;
                s.infrastructure.region = Some(g.region.clone());
                s.infrastructure.grid_gco2e_per_kwh = None;
                if let Some(r) = s.resolved.as_mut() {
                    r.grid = g;
                }
            }
        }
        Field::GridCustom => s.infrastructure.grid_gco2e_per_kwh = Some(parse::number(raw)?),
        Field::Pue => s.infrastructure.pue = parse::number(raw)?,
        Field::Embodied => s.infrastructure.embodied = raw == "true",
        Field::Stage(i, sf) => {
            let st = s.stages.get_mut(i).ok_or("no such stage")?;
            let w = &mut st.workload;
            let count = |raw: &str| parse::count(raw).map(Count::value);
            match sf {
                StageField::Kind => st.kind = named(StageKind::parse(raw), "stage kind")?,
                StageField::Phase => w.phase = named(Phase::parse(raw), "phase")?,
                StageField::Precision => w.precision = named(Precision::parse(raw), "precision")?,
                StageField::Batch => w.batch = count(raw)?,
                StageField::Seq => w.seq = parse::opt(raw, count)?,
                StageField::Prompt => w.prompt = parse::opt(raw, count)?,
                StageField::NewTokens => w.new_tokens = parse::opt(raw, count)?,
                StageField::Optimizer => {
                    w.optimizer = if raw.is_empty() {
                        None
                    } else {
                        Some(named(Optimizer::parse(raw), "optimizer")?)
                    }
                }
                StageField::Steps => st.steps = parse::opt(raw, parse::number)?,
                StageField::Samples => st.samples = parse::opt(raw, parse::number)?,
                StageField::Tokens => st.tokens = parse::opt(raw, parse::number)?,
                StageField::Epochs => st.epochs = parse::opt(raw, parse::number)?,
                StageField::Runs => st.runs = parse::number(raw)?,
                StageField::RequestsPerDay => st.requests_per_day = parse::opt(raw, parse::number)?,
                StageField::Days => st.days = parse::opt(raw, parse::number)?,
                sf => write_plan(sf, raw, st)?,
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

/// Whether the core refuses `after` because of `field`: an error of
/// `shared::check` about that field that `before` did not have. The core's
/// message is the one shown.
pub fn refusal(before: &Scenario, after: &Scenario, field: Field) -> Option<String> {
    new_error(
        shared::check::check(after).err(),
        || shared::check::check(before).err(),
        field,
    )
}

/// The first error of `now` about `field` (or its group) that `had` lacks.
fn new_error(
    now: Option<InputErrors>,
    had: impl FnOnce() -> Option<InputErrors>,
    field: Field,
) -> Option<String> {
    let now = now?;
    let had = had().map(|e| e.0).unwrap_or_default();
    now.iter()
        .filter(|e| field.owns(&e.field) || field.in_group(&e.field))
        .find(|e| !had.contains(e))
        .map(|e| e.message.clone())
}

/// For a `parallelism` or `serving` field, whether the estimator refuses
/// `after` because of it: its rules between fields and the model (tensor
/// dividing the heads, tensor x pipeline dividing the devices, a KV cache
/// that fits) are not `check`'s, so the estimate is asked. The last estimate
/// stays on screen, with the estimator's message under the field.
fn plan_refusal(
    before: &Scenario,
    after: &Scenario,
    field: Field,
    measured: &[DeviceProfile],
) -> Option<String> {
    if !matches!(field, Field::Stage(_, sf) if sf.group().is_some()) {
        return None;
    }
    let est = |s: &Scenario| shared::estimate::estimate_core(s, measured).err();
    new_error(est(after), || est(before), field)
}

/// The scenario with a field changed, if the text is a value of the field and
/// the core accepts it; else the reason, to show under the field.
pub fn commit(
    f: Field,
    raw: &str,
    s: &Scenario,
    measured: &[DeviceProfile],
) -> Result<Scenario, String> {
    let mut t = s.clone();
    write(f, raw, &mut t, measured)?;
    if let Some(why) = refusal(s, &t, f) {
        return Err(why);
    }
    if is_not_whole(f, raw) {
        // The core accepted the 0 that stood for it: still not a count.
        return Err("must be a whole number".into());
    }
    if let Some(why) = plan_refusal(s, &t, f, measured) {
        return Err(why);
    }
    Ok(t)
}

fn is_not_whole(f: Field, raw: &str) -> bool {
    let counts = matches!(
        f,
        Field::DeviceCount
            | Field::Stage(
                _,
                StageField::Batch
                    | StageField::Seq
                    | StageField::Prompt
                    | StageField::NewTokens
                    | StageField::Tensor
                    | StageField::Pipeline
                    | StageField::Expert
                    | StageField::Zero
                    | StageField::MicroBatches
                    | StageField::Replicas
            )
    );
    counts && parse::count(raw) == Ok(Count::NotWhole)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::example_scenario;
    use shared::check::bounds;

    #[test]
    fn paths_and_ids() {
        assert_eq!(
            Field::Stage(2, StageField::Batch).path(),
            "stages[2].workload.batch"
        );
        assert_eq!(
            Field::Stage(2, StageField::Batch).dom_id(),
            "f-stages-2-workload-batch"
        );
        assert_eq!(Field::Pue.dom_id(), "f-infrastructure-pue");
        assert!(Field::Stage(0, StageField::Steps).owns("stages[0].steps"));
        assert!(!Field::Stage(1, StageField::Steps).owns("stages[10].steps"));
        assert!(!Field::Stage(0, StageField::Seq).owns("stages[0].workload.seq_len"));
        assert!(Field::File.owns("model.graph.nodes[3].flops"));
    }

    #[test]
    fn every_name_the_core_knows_is_written_and_shown() {
        let mut s = example_scenario();
        for k in StageKind::ALL {
            write(Field::Stage(0, StageField::Kind), k.as_str(), &mut s, &[])
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(value(Field::Stage(0, StageField::Kind), &s), k.as_str());
        }
        for o in Optimizer::NAMES {
            write(Field::Stage(0, StageField::Optimizer), o, &mut s, &[])
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(value(Field::Stage(0, StageField::Optimizer), &s), *o);
        }
        for p in Precision::NAMES {
            write(Field::Stage(0, StageField::Precision), p, &mut s, &[])
                .unwrap_or_else(|e| panic!("{e}"));
        }
        for c in SoftwareClass::NAMES {
            write(Field::Software, c, &mut s, &[]).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(value(Field::Software, &s), *c);
        }
        assert!(write(Field::Stage(0, StageField::Phase), "training", &mut s, &[]).is_err());
    }

    /// The bounds are the core's: one past each is refused with the core's
    /// message, the bound itself is accepted.
    #[test]
    fn bounds_are_the_cores() {
        let s = example_scenario();
        let batch = Field::Stage(1, StageField::Batch);
        let at = |f: Field, v: String| commit(f, &v, &s, &[]);
        assert!(at(batch, bounds::MAX_BATCH.to_string()).is_ok());
        let e = at(batch, (bounds::MAX_BATCH + 1).to_string()).expect_err("over the bound");
        assert!(e.contains("1,000,000"), "{e}");
        assert!(at(Field::DeviceCount, bounds::MAX_DEVICES.to_string()).is_ok());
        let e = at(Field::DeviceCount, (bounds::MAX_DEVICES + 1).to_string()).expect_err("over");
        assert!(e.contains("100,000"), "{e}");
        // A count that is no whole number gets the core's range too.
        for bad in ["0", "-8", "2.5", "1e30"] {
            let e = at(batch, bad.into()).expect_err(bad);
            assert!(e.contains("whole number from 1 to 1,000,000"), "{bad}: {e}");
        }
        assert!(at(Field::Pue, bounds::PUE.1.to_string()).is_ok());
        assert!(at(Field::Pue, "3.01".into()).is_err_and(|e| e.contains("PUE")));
        assert!(at(Field::Pue, "0.99".into()).is_err());
        let runs = Field::Stage(0, StageField::Runs);
        assert!(at(runs, bounds::MAX_RUNS.to_string()).is_ok());
        assert!(at(runs, "1e12".into()).is_err());
        assert!(at(runs, "0.5".into()).is_err());
        let samples = Field::Stage(0, StageField::Samples);
        assert!(at(samples, "1e18".into()).is_ok());
        assert!(at(samples, "1e30".into()).is_err());
        assert!(at(samples, "-1".into()).is_err());
        let seq = Field::Stage(0, StageField::Seq);
        assert!(at(seq, bounds::MAX_LENGTH.to_string()).is_ok());
        assert!(at(seq, (bounds::MAX_LENGTH + 1).to_string()).is_err());
        assert!(at(seq, String::new()).is_ok(), "optional: cleared");
        // Text that is not a number never reaches the core.
        assert!(at(batch, "abc".into()).is_err_and(|e| e.contains("not a number")));
    }

    #[test]
    fn custom_grid_within_the_cores_bounds() {
        let mut s = example_scenario();
        s = commit(Field::Region, "custom", &s, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert!(s.infrastructure.grid_gco2e_per_kwh.is_some());
        assert!(commit(Field::GridCustom, "0", &s, &[]).is_ok());
        assert!(commit(Field::GridCustom, &bounds::MAX_GRID.to_string(), &s, &[]).is_ok());
        let e = commit(Field::GridCustom, "2001", &s, &[]).expect_err("over");
        assert!(e.contains("gCO2e/kWh"), "{e}");
        assert!(commit(Field::GridCustom, "-1", &s, &[]).is_err());
    }

    /// A cross-field rule (exactly one amount per stage) refuses the edit
    /// that breaks it, with the core's words.
    #[test]
    fn steps_beside_samples_says_give_one() {
        let s = example_scenario();
        let e = commit(Field::Stage(0, StageField::Steps), "100", &s, &[])
            .expect_err("both steps and samples");
        assert!(e.contains("exactly one"), "{e}");
    }
}
