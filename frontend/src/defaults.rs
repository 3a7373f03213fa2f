//! The example estimate shown at first load, and the choices the form offers.

use shared::scenario::{
    Hardware, Infrastructure, ModelSource, Optimizer, Phase, Scenario, SoftwareClass, Stage,
    StageKind, Workload, SCENARIO_VERSION,
};
use shared::units::Precision;

/// A region code to start from: the US average when the grid table has it.
pub fn default_region() -> String {
    ["US", "WORLD"]
        .iter()
        .find_map(|c| shared::grid::find(c).map(|g| g.code.to_string()))
        .or_else(|| shared::grid::GRID.first().map(|g| g.code.to_string()))
        .unwrap_or_else(|| "WORLD".into())
}

/// A device to start from: the H100 SXM, else the first catalog entry.
pub fn default_device() -> String {
    shared::catalog::find("h100-sxm")
        .or_else(|| shared::catalog::CATALOG.first())
        .map(|d| d.id.to_string())
        .unwrap_or_else(|| "h100-sxm".into())
}

pub fn train_workload() -> Workload {
    Workload {
        phase: Phase::Train,
        precision: Precision::Bf16Amp,
        batch: 1,
        seq: Some(2048),
        prompt: None,
        new_tokens: None,
        optimizer: Some(Optimizer::Adamw),
        image_size: None,
        channels_last: None,
        attention: None,
    }
}

pub fn serve_workload() -> Workload {
    Workload {
        phase: Phase::Decode,
        precision: Precision::Bf16,
        batch: 16,
        seq: None,
        prompt: Some(512),
        new_tokens: Some(256),
        optimizer: None,
        image_size: None,
        channels_last: None,
        attention: None,
    }
}

/// A new stage of a kind, as the "add stage" buttons make it.
pub fn new_stage(kind: StageKind) -> Stage {
    let (workload, samples, epochs, runs, rpd, days) = match kind {
        StageKind::Development => (train_workload(), Some(20_000.0), Some(3.0), 4.0, None, None),
        StageKind::FinalTraining => (train_workload(), Some(20_000.0), Some(3.0), 1.0, None, None),
        StageKind::Evaluation => {
            let mut w = train_workload();
            w.phase = Phase::Inference;
            w.precision = Precision::Bf16;
            w.optimizer = None;
            (w, Some(5_000.0), Some(1.0), 1.0, None, None)
        }
        StageKind::Deployment => (
            serve_workload(),
            None,
            None,
            1.0,
            Some(10_000.0),
            Some(365.0),
        ),
    };
    Stage {
        name: None,
        kind,
        workload,
        steps: None,
        samples,
        tokens: None,
        epochs,
        runs,
        requests_per_day: rpd,
        days,
        hardware: None,
        software: None,
        parallelism: None,
        serving: None,
        goodput: None,
    }
}

/// Fine-tune Llama-2-13B (with hyper-parameter trials) on 8 H100s and serve it for a year.
pub fn example_scenario() -> Scenario {
    Scenario {
        version: SCENARIO_VERSION,
        name: Some("Fine-tune Llama-2-13B and serve it for a year".into()),
        model: ModelSource {
            preset: Some("llama-2-13b".into()),
            ..Default::default()
        },
        stages: vec![
            new_stage(StageKind::Development),
            new_stage(StageKind::FinalTraining),
            new_stage(StageKind::Deployment),
        ],
        hardware: Hardware {
            device: default_device(),
            count: 8,
        },
        software: SoftwareClass::PytorchEager,
        infrastructure: Infrastructure {
            pue: 1.2,
            region: Some(default_region()),
            ..Default::default()
        },
        host: None,
        resolved: None,
    }
}

/// PUE presets: typical values with where they come from.
pub const PUE_PRESETS: &[(&str, f64)] = &[
    ("Hyperscale cloud, best (1.1)", 1.1),
    ("Large cloud average (1.2)", 1.2),
    ("Industry average, Uptime Institute 2023 (1.58)", 1.58),
    ("Small on-premise server room (2.0)", 2.0),
];

/// Everyday equivalent: a typical passenger car, ~400 gCO2 per mile (US EPA).
pub const CAR_KG_PER_KM: f64 = 0.400 / 1.609_344;
pub const CAR_SOURCE: &str =
    "US EPA, Greenhouse Gas Emissions from a Typical Passenger Vehicle (about 400 g CO2 per mile)";
