//! What-if: the savings approaches of the energy-efficient deep-learning
//! literature, each a change to the scenario that is estimated again. Pure.

use crate::profiles::{current_profile, grid_value};
use shared::device::DeviceProfile;
use shared::scenario::{Phase, Scenario, StageKind};
use shared::units::Precision;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WhatIf {
    HalfPrecision,
    LowPrecision,
    Pruning,
    Distill,
    EarlyStop,
    FewerTrials,
    Region,
    Pue,
    Gpu,
}

impl WhatIf {
    pub const ALL: [WhatIf; 9] = [
        Self::HalfPrecision,
        Self::LowPrecision,
        Self::Pruning,
        Self::Distill,
        Self::EarlyStop,
        Self::FewerTrials,
        Self::Region,
        Self::Pue,
        Self::Gpu,
    ];

    /// A stable id for the DOM and the tests.
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
        }
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
        }
    }
}

/// The parameter of each what-if.
#[derive(Debug, Clone, PartialEq)]
pub struct WhatIfParams {
    /// Share removed, 0..1.
    pub sparsity: f64,
    pub distill_to: String,
    /// Share of the epochs kept, 0..1.
    pub early_stop: f64,
    /// Share of the development runs kept, 0..1.
    pub trials: f64,
    pub region: String,
    pub pue: f64,
    pub gpu: String,
}

impl Default for WhatIfParams {
    fn default() -> Self {
        WhatIfParams {
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

/// The scenario with one what-if applied, or why it does not apply.
pub fn apply(
    k: WhatIf,
    p: &WhatIfParams,
    s: &Scenario,
    measured: &[DeviceProfile],
) -> Result<Scenario, String> {
    let mut t = s.clone();
    match k {
        WhatIf::HalfPrecision => {
            let mut changed = false;
            for st in &mut t.stages {
                if matches!(st.workload.precision, Precision::Fp32 | Precision::Tf32) {
                    st.workload.precision = if st.workload.phase == Phase::Train {
                        Precision::Bf16Amp
                    } else {
                        Precision::Bf16
                    };
                    changed = true;
                }
            }
            if !changed {
                return Err("every stage already runs in 16 bits or fewer".into());
            }
        }
        WhatIf::LowPrecision => {
            let mut changed = false;
            for st in &mut t.stages {
                let to = if st.workload.phase == Phase::Train {
                    Precision::Fp8
                } else {
                    Precision::Int8
                };
                if st.workload.precision != to {
                    st.workload.precision = to;
                    changed = true;
                }
            }
            if !changed {
                return Err("every stage already runs in 8 bits".into());
            }
        }
        WhatIf::Pruning => {
            if !(0.0..1.0).contains(&p.sparsity) || p.sparsity <= 0.0 {
                return Err("the share removed must be between 0 and 1".into());
            }
            prune(&mut t, p.sparsity)?;
        }
        WhatIf::Distill => {
            if p.distill_to.is_empty() {
                return Err("no smaller preset takes these inputs (sequence lengths)".into());
            }
            if s.model.preset.as_deref() == Some(p.distill_to.as_str()) {
                return Err("that is the model already".into());
            }
            t.model = shared::scenario::ModelSource {
                preset: Some(p.distill_to.clone()),
                ..Default::default()
            };
        }
        WhatIf::EarlyStop => {
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
        }
        WhatIf::FewerTrials => {
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
        }
        WhatIf::Region => {
            let g = grid_value(&p.region).ok_or("choose a region")?;
            if s.infrastructure.grid_gco2e_per_kwh.is_none()
                && s.infrastructure.region.as_deref() == Some(p.region.as_str())
            {
                return Err("that is the region already".into());
            }
            t.infrastructure.region = Some(g.region.clone());
            t.infrastructure.grid_gco2e_per_kwh = None;
            if let Some(r) = t.resolved.as_mut() {
                r.grid = g;
            }
        }
        WhatIf::Pue => {
            if p.pue.is_nan() || p.pue < 1.0 {
                return Err("a PUE is at least 1".into());
            }
            if p.pue >= s.infrastructure.pue {
                return Err(format!(
                    "the PUE is {} already",
                    crate::format::num(s.infrastructure.pue)
                ));
            }
            t.infrastructure.pue = p.pue;
        }
        WhatIf::Gpu => {
            if p.gpu.is_empty() || p.gpu == s.hardware.device {
                return Err("choose another device".into());
            }
            let prof = current_profile(&p.gpu, measured).ok_or("unknown device")?;
            t.hardware.device = p.gpu.clone();
            if let Some(r) = t.resolved.as_mut() {
                r.device = prof;
            }
        }
    }
    Ok(t)
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
        (None, Some(p)) => crate::profiles::preset_config(p),
        _ => None,
    };
    let mut cfg = cfg.ok_or("this model source has no MLP width to prune")?;
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
    }
    if !changed {
        return Err("the config has no MLP width (intermediate_size) to prune".into());
    }
    *m = shared::scenario::ModelSource {
        hf_config: Some(cfg),
        ..Default::default()
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::example_scenario;

    #[test]
    fn fewer_trials_scales_development_runs() {
        let s = example_scenario();
        let t = apply(WhatIf::FewerTrials, &WhatIfParams::default(), &s, &[])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.stages[0].runs, s.stages[0].runs * 0.5);
        assert_eq!(t.stages[1].runs, s.stages[1].runs);
    }

    #[test]
    fn not_applicable_is_said() {
        let s = example_scenario();
        // The example trains in bf16 already.
        assert!(apply(WhatIf::HalfPrecision, &WhatIfParams::default(), &s, &[]).is_err());
        let p = WhatIfParams {
            pue: 1.5,
            ..Default::default()
        };
        assert!(apply(WhatIf::Pue, &p, &s, &[]).is_err());
        let p = WhatIfParams {
            pue: 1.1,
            ..Default::default()
        };
        let t = apply(WhatIf::Pue, &p, &s, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.infrastructure.pue, 1.1);
    }

    #[test]
    fn pruning_flops_only() {
        let mut s = example_scenario();
        s.model = shared::scenario::ModelSource {
            flops_per_sample: Some(100.0),
            params: Some(10.0),
            ..Default::default()
        };
        let p = WhatIfParams {
            sparsity: 0.5,
            ..Default::default()
        };
        let t = apply(WhatIf::Pruning, &p, &s, &[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.model.flops_per_sample, Some(50.0));
        assert_eq!(t.model.params, Some(5.0));
    }
}
