//! The reducer's tests: edits, drafts, model tabs, stages, what-ifs, links.

use super::*;
use shared::what_if::Kind as WhatIf;

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
    // empty fields wait for input: a hint, no error, the model unchanged
    assert!(s.error(Field::FlopsPerSample).is_none());
    assert!(s.pending(Field::FlopsPerSample).is_some());
    assert_eq!(s.scenario.model.preset.as_deref(), Some("llama-2-13b"));
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

/// Steps typed while samples are set are refused (exactly one amount per
/// stage, the core's rule); once samples are cleared, the typed steps apply.
#[test]
fn a_draft_applies_once_the_rule_it_broke_is_met() {
    let mut s = st();
    let steps = Field::Stage(0, StageField::Steps);
    s.apply(Action::Set(steps, "100".into()));
    assert!(s.error(steps).unwrap_or_default().contains("exactly one"));
    assert_eq!(s.scenario.stages[0].steps, None);
    assert!(s.result.is_ok(), "the last estimate stays");
    s.apply(Action::Set(Field::Stage(0, StageField::Samples), "".into()));
    assert_eq!(s.scenario.stages[0].steps, Some(100.0));
    assert_eq!(s.scenario.stages[0].samples, None);
    assert!(s.error(steps).is_none());
    assert!(s.result.is_ok(), "{:?}", s.result);
}

/// Values the core refuses are drafts with the core's message; the estimate stays.
#[test]
fn the_cores_bounds_keep_the_estimate() {
    let mut s = st();
    let before = s.result.clone().unwrap_or_else(|e| panic!("{e}"));
    for (f, raw) in [
        (Field::Pue, "99"),
        (Field::DeviceCount, "200000"),
        (Field::Stage(0, StageField::Runs), "1e12"),
        (Field::Stage(0, StageField::Samples), "1e30"),
        (Field::Stage(1, StageField::Batch), "2000000"),
    ] {
        s.apply(Action::Set(f, raw.into()));
        let e = s.error(f).unwrap_or_else(|| panic!("{f:?} {raw} accepted"));
        // the core's own words for that path
        let mut bad = s.scenario.clone();
        let _ = fields::write(f, raw, &mut bad, &[]);
        let core = shared::check::check(&bad).expect_err("the core refuses it");
        assert!(
            core.iter().any(|c| f.owns(&c.field) && c.message == e),
            "{f:?}: {e} vs {core}"
        );
        assert_eq!(s.value(f), raw);
        assert_eq!(s.result.as_ref().ok(), Some(&before), "{f:?}");
    }
}

/// The page's rows are the core's: at the core's default parameters they
/// equal the what-ifs of `shared::estimate::estimate`.
#[test]
fn rows_are_the_cores_what_ifs() {
    let s = st();
    let full = shared::estimate::estimate(&s.scenario, &[]).unwrap_or_else(|e| panic!("{e}"));
    let base = s.base.clone().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.whatif_params,
        shared::what_if::Params::defaults(&s.scenario, &base)
    );
    assert_eq!(s.rows.len(), full.what_ifs.len());
    let mut applied = 0;
    for (row, w) in s.rows.iter().zip(&full.what_ifs) {
        assert_eq!(row.kind.id(), w.id);
        match (&row.delta, w.energy_kwh) {
            (Ok(d), Some(e)) => {
                applied += 1;
                assert_eq!(d.kwh, e.expected - full.energy_kwh.expected);
                assert_eq!(row.change, w.change);
            }
            (Err(why), None) => assert_eq!(why, &w.reason),
            other => panic!("{}: {other:?}", w.id),
        }
    }
    assert!(applied >= 5, "{:?}", s.rows);
}

/// A change of the device or region refills the core's choices that no
/// longer apply (the what-if GPU is never the device in use).
#[test]
fn whatif_choices_follow_the_scenario() {
    let mut s = st();
    let gpu = s.whatif_params.gpu.clone();
    s.apply(Action::Set(Field::Device, gpu.clone()));
    assert_eq!(s.scenario.hardware.device, gpu);
    assert_ne!(s.whatif_params.gpu, gpu);
    assert!(s
        .rows
        .iter()
        .any(|r| r.kind == WhatIf::Gpu && r.delta.is_ok()));
    let region = s.whatif_params.region.clone();
    s.apply(Action::Set(Field::Region, region.clone()));
    assert_ne!(s.whatif_params.region, region);
}

fn fixture_link() -> (Scenario, serde_json::Value) {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/data/link-v1-no-headline.json"))
            .unwrap_or_else(|e| panic!("{e}"));
    let frag = v["fragment"].as_str().unwrap_or_default();
    match crate::link::parse_fragment(frag) {
        crate::link::Fragment::Scenario(Ok(s)) => (s, v),
        other => panic!("{other:?}"),
    }
}

/// A version-1 link made before headlines were pinned loads and recomputes:
/// to the numbers it showed then while the estimator is the same version,
/// else with the warning that the model changed since.
#[test]
fn a_link_made_before_headlines_loads() {
    let (s, v) = fixture_link();
    assert!(s.resolved.as_ref().is_some_and(|r| r.headline.is_none()));
    let made_by = s
        .resolved
        .as_ref()
        .map(|r| r.estimator_version.clone())
        .unwrap_or_default();
    let st = AppState::with_scenario(s);
    let e = st.result.clone().unwrap_or_else(|e| panic!("{e}"));
    for (what, got) in [
        ("energy_kwh", e.energy_kwh.expected),
        ("co2e_kg", e.co2e_kg.expected),
        ("device_hours", e.device_hours.expected),
        ("wall_hours", e.wall_hours.expected),
    ] {
        let want = v[what].as_f64().unwrap_or_default();
        if made_by == shared::ESTIMATOR_VERSION {
            assert!((got - want).abs() <= 1e-9 * want, "{what}: {got} vs {want}");
        } else {
            assert!(got.is_finite() && got > 0.0, "{what}: {got}");
        }
    }
    if made_by != shared::ESTIMATOR_VERSION {
        assert!(
            e.warnings.iter().any(|w| w.contains(&made_by)),
            "{:?}",
            e.warnings
        );
    }
    // made by today's estimator version: nothing to compare; by another: no
    // pinned numbers to show beside today's (the link has no headline)
    match st.pinned_vs_today() {
        None => assert_eq!(made_by, shared::ESTIMATOR_VERSION),
        Some(c) => {
            assert_eq!(c.version, made_by);
            assert!(c.pinned.is_none());
        }
    }
    // shared again, it pins today's headline
    let again = st.shared_scenario();
    assert_eq!(
        again
            .resolved
            .and_then(|r| r.headline)
            .map(|h| h.energy_kwh),
        Some(e.energy_kwh.expected)
    );
}

/// A link from another estimator version shows its pinned numbers beside
/// today's, until the scenario is edited.
#[test]
fn an_older_estimators_link_shows_pinned_and_today() {
    let first = st();
    let mut old = first.shared_scenario();
    let r = old.resolved.as_mut().unwrap_or_else(|| panic!("resolved"));
    r.estimator_version = "jouleprint-estimator/0.0.9+model-0".into();
    r.headline = Some(Headline {
        energy_kwh: 570.0,
        co2e_kg: 210.0,
        device_hours: 600.0,
        wall_hours: 75.0,
    });
    let mut s = AppState::with_scenario(old);
    let c = s
        .pinned_vs_today()
        .unwrap_or_else(|| panic!("a comparison"));
    assert_eq!(c.version, "jouleprint-estimator/0.0.9+model-0");
    assert_eq!(c.pinned.map(|h| h.energy_kwh), Some(570.0));
    let today = first.result.clone().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.today.energy_kwh, today.energy_kwh.expected);
    assert_eq!(c.today.wall_hours, today.wall_hours.expected);
    // a what-if leaves the linked scenario as it is
    s.apply(Action::ToggleWhatIf(WhatIf::Pue, true));
    assert!(s.pinned_vs_today().is_some());
    s.apply(Action::Set(Field::Pue, "1.3".into()));
    assert_eq!(s.pinned_vs_today(), None);
    // without a pinned headline: the version, and today's numbers only
    let mut bare = first.shared_scenario();
    if let Some(r) = bare.resolved.as_mut() {
        r.estimator_version = "jouleprint-estimator/0.0.9+model-0".into();
        r.headline = None;
    }
    let c = AppState::with_scenario(bare).pinned_vs_today();
    assert!(c.is_some_and(|c| c.pinned.is_none()));
}

/// An error about a field the form does not show goes under the form.
#[test]
fn errors_of_hidden_fields_are_general() {
    let mut sc = defaults::example_scenario();
    // the deployment stage shows requests and days, not steps
    sc.stages[2].steps = Some(10.0);
    let s = AppState::with_scenario(sc);
    let g = s.general_error().unwrap_or_else(|| panic!("{:?}", s.base));
    assert!(g.starts_with("stages[2].steps: "), "{g}");
    assert!(s.error(Field::Stage(2, StageField::Steps)).is_some());
    // a shown field's error is not repeated under the form
    let mut sc = defaults::example_scenario();
    sc.stages[0].steps = Some(10.0);
    let s = AppState::with_scenario(sc);
    assert!(s.error(Field::Stage(0, StageField::Steps)).is_some());
    assert_eq!(s.general_error(), None);
}

/// A preset name being typed, an empty config tab: hints, not errors, and the
/// estimate keeps the last model (issue 17, item 4).
#[test]
fn a_model_being_typed_is_no_error() {
    let mut s = st();
    s.apply(Action::Set(Field::Preset, "mistral".into()));
    assert_eq!(s.error(Field::Preset), None);
    let hint = s.pending(Field::Preset).unwrap_or_default();
    assert!(hint.contains("mistral-7b"), "{hint}");
    assert_eq!(s.scenario.model.preset.as_deref(), Some("llama-2-13b"));
    assert!(s.result.is_ok());
    s.apply(Action::Set(Field::Preset, "Mistral-7B".into()));
    assert_eq!(s.scenario.model.preset.as_deref(), Some("mistral-7b"));
    assert_eq!(s.pending(Field::Preset), None);
    s.apply(Action::Set(Field::Preset, "zzz".into()));
    assert!(s
        .error(Field::Preset)
        .unwrap_or_default()
        .contains("no preset"));

    let mut s = st();
    s.apply(Action::ModelTab(ModelTab::Config));
    assert_eq!(s.error(Field::HfConfig), None);
    assert!(s.pending(Field::HfConfig).is_some());
    assert!(s.result.is_ok());
    s.apply(Action::Set(Field::HfConfig, "{ \"model_type\": ".into()));
    let e = s.error(Field::HfConfig).unwrap_or_default();
    assert!(
        e.starts_with("not valid JSON yet: the text ends too early"),
        "{e}"
    );
    assert!(!e.contains("EOF"), "{e}");
}

/// Picking a model the stages do not fit adapts them and says what changed
/// (issue 17, item 3): the estimate and the what-ifs stay.
#[test]
fn a_model_change_adapts_the_stages() {
    let mut s = st();
    s.apply(Action::Set(Field::Preset, "gpt2-xl".into()));
    assert!(s.result.is_ok(), "{:?}", s.result.as_ref().err());
    assert_eq!(s.scenario.stages[0].workload.seq, Some(1024));
    assert!(
        s.adapted
            .iter()
            .any(|c| c.contains("gpt2-xl has 1,024 positions")),
        "{:?}",
        s.adapted
    );
    assert!(s.rows.iter().all(|r| !r
        .delta
        .as_ref()
        .is_err_and(|e| e.contains("fix the inputs"))));
    s.apply(Action::Set(Field::Preset, "resnet50".into()));
    assert!(s.result.is_ok(), "{:?}", s.result.as_ref().err());
    assert_eq!(
        s.scenario.stages[2].workload.phase,
        shared::scenario::Phase::Inference
    );
    assert_eq!(
        s.adapted,
        ["stage 3: phase inference instead of decode (resnet50 reads images)"]
    );
}

/// The accuracy line follows the estimate shown: its device and software
/// class, the what-ifs applied; a report fetched once is kept across edits
/// and loads, so going back to a pair asks nothing new.
#[test]
fn accuracy_keys_follow_the_estimate_and_reports_are_kept() {
    use crate::accuracy::{Key, Line};
    use shared::scenario::SoftwareClass;
    let mut s = st();
    let h100 = Key {
        device: "h100-sxm".into(),
        software: SoftwareClass::PytorchEager,
    };
    assert_eq!(s.accuracy_keys, vec![h100.clone()]);
    assert!(
        s.accuracy_lines().is_empty(),
        "nothing until the server answers"
    );

    let report = crate::services::accuracy::Report {
        device: "h100-sxm".into(),
        device_name: "NVIDIA H100 SXM5 80GB".into(),
        software: Some("pytorch-eager".into()),
        runs: 0,
        median_energy_error: None,
        not_scored: 0,
        summary: "No measured runs ...".into(),
        runs_url: "/api/runs?device=h100-sxm&software=pytorch-eager".into(),
    };
    s.apply(Action::AccuracyLoaded(h100.clone(), report));
    let lines = s.accuracy_lines();
    assert_eq!(lines.len(), 1);
    assert!(matches!(&lines[0].1, Line::NoneYet { runs_url: None, .. }));

    s.apply(Action::Set(Field::Software, "compiled".into()));
    let compiled = Key {
        device: "h100-sxm".into(),
        software: SoftwareClass::Compiled,
    };
    assert_eq!(s.accuracy_keys, vec![compiled]);
    assert!(s.accuracy_lines().is_empty());
    s.apply(Action::Set(Field::Software, "pytorch-eager".into()));
    assert_eq!(s.accuracy_lines().len(), 1, "the report is kept");

    // Another GPU as a what-if: the estimate shown is on that GPU.
    s.apply(Action::ToggleWhatIf(WhatIf::Gpu, true));
    let gpu = shared::catalog::find(&s.whatif_params.gpu)
        .map(|d| d.id.to_string())
        .unwrap_or_else(|| panic!("a catalog GPU: {:?}", s.whatif_params.gpu));
    assert_ne!(gpu, "h100-sxm");
    assert_eq!(s.accuracy_keys[0].device, gpu);

    s.apply(Action::Load(crate::defaults::example_scenario(), None));
    assert_eq!(s.accuracy_lines().len(), 1, "kept across a loaded link");
}

/// A stored link with `profile_verified: false` warns about the measured
/// profile it pins, until that profile is no longer used.
#[test]
fn an_unverified_stored_link_warns_until_its_profile_is_replaced() {
    use crate::services::estimates::Stored;
    let mut pinned = AppState::default().shared_scenario();
    let r = pinned
        .resolved
        .as_mut()
        .unwrap_or_else(|| panic!("resolved"));
    r.device.source.kind = "measured".into();
    r.device.source.version = "measured:00000000-0000-4000-8000-000000000000".into();
    let forged = r.device.clone();

    let mut s = st();
    s.apply(Action::LoadStored(Stored {
        scenario: pinned.clone(),
        profile_verified: Some(true),
    }));
    assert_eq!(s.unverified_profiles(), None);

    s.apply(Action::LoadStored(Stored {
        scenario: pinned.clone(),
        profile_verified: Some(false),
    }));
    assert_eq!(s.unverified_profiles(), Some(vec![&forged]));
    // Editing something else keeps the warning: the numbers still use it.
    s.apply(Action::Set(Field::Pue, "1.5".into()));
    assert_eq!(s.unverified_profiles(), Some(vec![&forged]));
    s.apply(Action::UseCurrentCalibration);
    assert_eq!(s.unverified_profiles(), None);

    // A fragment link is not checked by any server: no warning.
    s.apply(Action::Load(pinned, None));
    assert_eq!(s.unverified_profiles(), None);
}

// Parallelism and serving inputs.

fn par(i: usize, sf: StageField) -> Field {
    Field::Stage(i, sf)
}

/// The example scenario with a stage changed by hand, estimated by the core:
/// what the page's fields must come to.
fn core_with(
    count: u64,
    edit: impl FnOnce(&mut Scenario),
) -> (Scenario, shared::estimate::Estimate) {
    let mut s = defaults::example_scenario();
    s.hardware.count = count;
    edit(&mut s);
    let e = estimate_core(&s, &[]).unwrap_or_else(|e| panic!("{e}"));
    (s, e)
}

/// Untouched, a training stage has no parallelism and the core chooses: a
/// 13B model with AdamW (16 bytes per parameter, 208 GB) does not fit one
/// 80 GB device under plain data parallelism, so the core's note names the
/// strategy it chose, and the page shows that note.
#[test]
fn untouched_parallelism_is_the_cores_choice_with_its_note() {
    let s = st();
    assert!(s.scenario.stages.iter().all(|st| st.parallelism.is_none()));
    let e = s.base.as_ref().unwrap_or_else(|e| panic!("{e}"));
    for i in 0..2 {
        let strategy = e.stages[i].strategy.clone().unwrap_or_default();
        assert_ne!(strategy, "data 8", "plain data parallelism does not fit");
        let note = s.strategy_note(i).unwrap_or_default();
        assert!(e.notes.contains(&note), "{note} not among {:?}", e.notes);
        assert!(note.starts_with(&format!("stage {}: ", e.stages[i].name)));
        assert!(note.contains(&strategy), "{note}");
    }
    // the fields are empty (the core's default) and the stage has none
    for sf in [StageField::Tensor, StageField::Pipeline, StageField::Zero] {
        assert_eq!(s.value(par(0, sf)), "");
        assert!(sf.shown(&s.scenario.stages[0], s.scenario.software));
        assert!(
            !sf.shown(&s.scenario.stages[2], s.scenario.software),
            "decode"
        );
    }
}

/// The expert degree is `stages[i].parallelism.expert`. The example's GPT-2
/// has no experts: the core refuses the degree, the page keeps what was typed
/// with the core's message at that field and the last valid scenario, and
/// clearing the field clears both.
#[test]
fn the_expert_field_is_the_stages_expert_degree_checked_by_the_core() {
    let mut s = st();
    s.apply(Action::Set(par(0, StageField::Expert), "2".into()));
    assert_eq!(s.value(par(0, StageField::Expert)), "2");
    let err = s.error(par(0, StageField::Expert)).unwrap_or_default();
    assert!(err.contains("mixture of experts"), "{err}");
    assert_eq!(s.scenario.stages[0].parallelism, None, "not applied");
    s.apply(Action::Set(par(0, StageField::Expert), "".into()));
    assert!(s.drafts.is_empty(), "{:?}", s.drafts);
    assert!(s.error(par(0, StageField::Expert)).is_none());
    assert_eq!(s.scenario.stages[0].parallelism, None);
}

/// Typed degrees go into `stages[i].parallelism`; the estimate is the core's
/// for that scenario; clearing every field gives the automatic choice back.
#[test]
fn parallelism_fields_set_the_stage_and_clear_to_automatic() {
    let mut s = st();
    let auto = s.result.clone().unwrap_or_else(|e| panic!("{e}"));
    s.apply(Action::Set(par(0, StageField::Tensor), "2".into()));
    s.apply(Action::Set(par(0, StageField::Pipeline), "2".into()));
    s.apply(Action::Set(par(0, StageField::Zero), "1".into()));
    s.apply(Action::Set(
        par(0, StageField::Recompute),
        "selective".into(),
    ));
    assert!(s.drafts.is_empty(), "{:?}", s.drafts);
    let want = shared::scenario::Parallelism {
        tensor: Some(2),
        pipeline: Some(2),
        zero: Some(1),
        recompute: Some(shared::scenario::Recompute::Selective),
        ..Default::default()
    };
    assert_eq!(s.scenario.stages[0].parallelism.as_ref(), Some(&want));
    assert_eq!(
        s.scenario.stages[1].parallelism, None,
        "other stages untouched"
    );
    let (_, core) = core_with(8, |sc| sc.stages[0].parallelism = Some(want.clone()));
    let e = s.result.clone().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(e.energy_kwh, core.energy_kwh);
    assert_ne!(e.stages[0].energy_kwh, auto.stages[0].energy_kwh);
    // 8 devices / (tensor 2 x pipeline 2) = 2 data-parallel replicas
    let strategy = e.stages[0].strategy.clone().unwrap_or_default();
    assert!(
        strategy.starts_with("data 2, tensor 2, pipeline 2"),
        "{strategy}"
    );
    assert_eq!(
        s.strategy_note(0),
        Some(format!("Estimated with {strategy}."))
    );
    assert_eq!(s.value(par(0, StageField::Zero)), "1");
    assert_eq!(s.value(par(0, StageField::Recompute)), "selective");
    for sf in [
        StageField::Tensor,
        StageField::Pipeline,
        StageField::Zero,
        StageField::Recompute,
    ] {
        s.apply(Action::Set(par(0, sf), String::new()));
    }
    assert_eq!(s.scenario.stages[0].parallelism, None);
    assert_eq!(s.result.as_ref().ok(), Some(&auto));
}

/// What the estimator refuses (its rules between a strategy, the devices,
/// the batch and the model) stays a draft with its message under the field
/// typed, and the last estimate stays; so do `check`'s bounds.
#[test]
fn refused_strategies_keep_the_estimate_with_the_cores_message() {
    let mut s = st();
    let before = s.result.clone().unwrap_or_else(|e| panic!("{e}"));
    let msg = |count: u64, p: shared::scenario::Parallelism| {
        let mut sc = defaults::example_scenario();
        sc.hardware.count = count;
        sc.stages[0].parallelism = Some(p);
        estimate_core(&sc, &[]).expect_err("refused").0
    };
    // 3 does not divide 8 devices: the whole strategy is named
    let tensor = par(0, StageField::Tensor);
    s.apply(Action::Set(tensor, "3".into()));
    let want = msg(
        8,
        shared::scenario::Parallelism {
            tensor: Some(3),
            ..Default::default()
        },
    );
    assert_eq!(want[0].field, "stages[0].parallelism");
    assert_eq!(s.error(tensor), Some(want[0].message.clone()));
    assert!(want[0].message.contains("must divide the 8 devices"));
    assert_eq!(s.scenario.stages[0].parallelism, None);
    assert_eq!(s.result.as_ref().ok(), Some(&before));
    assert_eq!(s.general_error(), None);
    // pipeline 3 beside tensor 2: the message goes under the field typed
    s.apply(Action::Set(tensor, "2".into()));
    let pipeline = par(0, StageField::Pipeline);
    s.apply(Action::Set(pipeline, "3".into()));
    assert!(s
        .error(pipeline)
        .is_some_and(|e| e.contains("(2 x 3 x 1) must divide the 8 devices")));
    assert_eq!(s.error(tensor), None);
    assert_eq!(
        s.scenario.stages[0]
            .parallelism
            .as_ref()
            .and_then(|p| p.pipeline),
        None
    );
    // Llama-2-13B has 40 heads: tensor 3 on 24 devices divides the devices, not the heads
    s.apply(Action::Set(pipeline, "".into()));
    s.apply(Action::Set(Field::DeviceCount, "24".into()));
    s.apply(Action::Set(tensor, "3".into()));
    let want = msg(
        24,
        shared::scenario::Parallelism {
            tensor: Some(3),
            ..Default::default()
        },
    );
    assert_eq!(want[0].field, "stages[0].parallelism.tensor");
    assert_eq!(s.error(tensor), Some(want[0].message.clone()));
    assert!(want[0].message.contains("40 attention heads"));
    // micro-batches must divide the batch (1)
    let mb = par(0, StageField::MicroBatches);
    s.apply(Action::Set(mb, "3".into()));
    assert!(s
        .error(mb)
        .is_some_and(|e| e.contains("must divide the batch")));
    // check's bounds: ZeRO 0 to 3, whole numbers
    let zero = par(0, StageField::Zero);
    for bad in ["4", "300"] {
        s.apply(Action::Set(zero, bad.into()));
        assert_eq!(
            s.error(zero).as_deref(),
            Some("must be 0, 1, 2 or 3"),
            "{bad}"
        );
    }
    s.apply(Action::Set(zero, "0.5".into()));
    assert!(s.error(zero).is_some_and(|e| e.contains("whole")));
    s.apply(Action::Set(tensor, "100001".into()));
    assert!(s.error(tensor).is_some_and(|e| e.contains("100,000")));
    assert_eq!(s.value(tensor), "100001");
    assert!(s.result.is_ok());
}

/// A link whose strategy the estimator refuses shows the message under the
/// tensor field (the field of the whole strategy), not under the form.
#[test]
fn a_linked_bad_strategy_is_shown_under_its_field() {
    let mut sc = defaults::example_scenario();
    sc.stages[1].parallelism = Some(shared::scenario::Parallelism {
        pipeline: Some(3),
        ..Default::default()
    });
    let s = AppState::with_scenario(sc);
    let tensor = par(1, StageField::Tensor);
    assert!(s
        .error(tensor)
        .is_some_and(|e| e.contains("must divide the 8 devices")));
    assert_eq!(s.error(par(1, StageField::Pipeline)), None);
    assert_eq!(s.general_error(), None);
    assert_eq!(s.value(par(1, StageField::Pipeline)), "3");
}

/// The serving inputs: shown on a deployment's decode under serving
/// software; the engine select turns the engine on and off; the fields go
/// into `stages[i].serving`; the estimate is the core's.
#[test]
fn serving_fields_set_the_engine_and_its_load() {
    let mut s = st();
    let engine = par(2, StageField::Engine);
    let dep = |s: &AppState| s.scenario.stages[2].clone();
    assert!(!StageField::Engine.shown(&dep(&s), s.scenario.software));
    s.apply(Action::Set(Field::Software, "serving".into()));
    assert!(StageField::Engine.shown(&dep(&s), s.scenario.software));
    assert!(!StageField::Replicas.shown(&dep(&s), s.scenario.software));
    assert!(!StageField::Engine.shown(&s.scenario.stages[0], s.scenario.software));
    assert_eq!(s.value(engine), "", "no engine: static batches");
    let static_batches = s.result.clone().unwrap_or_else(|e| panic!("{e}"));

    s.apply(Action::Set(engine, "overlapped".into()));
    let overlapped = s.result.clone().unwrap_or_else(|e| panic!("{e}"));
    s.apply(Action::Set(engine, "vllm-0.5".into()));
    let vllm = s.result.clone().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        dep(&s).serving,
        Some(shared::scenario::Serving {
            engine: Some(shared::scenario::Engine::Vllm05),
            ..Default::default()
        })
    );
    let tpot = |e: &shared::estimate::Estimate| e.stages[2].serving.as_ref().map(|v| v.tpot_s);
    assert!(tpot(&static_batches).is_none());
    // vLLM 0.5's GPU waits for the host every step: a slower token
    assert!(
        tpot(&vllm) > tpot(&overlapped),
        "{:?} {:?}",
        tpot(&vllm),
        tpot(&overlapped)
    );
    let (_, core) = core_with(8, |sc| {
        sc.software = shared::scenario::SoftwareClass::Serving;
        sc.stages[2].serving = Some(shared::scenario::Serving {
            engine: Some(shared::scenario::Engine::Vllm05),
            ..Default::default()
        });
    });
    assert_eq!(vllm.stages[2], core.stages[2]);

    s.apply(Action::Set(par(2, StageField::Replicas), "2".into()));
    s.apply(Action::Set(par(2, StageField::PeakToMean), "3".into()));
    s.apply(Action::Set(par(2, StageField::AlwaysOn), "false".into()));
    let sv = dep(&s).serving.unwrap_or_default();
    assert_eq!(
        (sv.replicas, sv.peak_to_mean, sv.always_on),
        (Some(2), Some(3.0), Some(false))
    );
    let e = s.result.clone().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(e.stages[2].serving.as_ref().map(|v| v.replicas), Some(2));
    assert_eq!(s.value(par(2, StageField::AlwaysOn)), "false");
    s.apply(Action::Set(par(2, StageField::AlwaysOn), "true".into()));
    assert_eq!(
        dep(&s).serving.and_then(|v| v.always_on),
        None,
        "the default"
    );

    // check's bounds, with its words
    let before = s.result.clone();
    s.apply(Action::Set(par(2, StageField::PeakToMean), "0.5".into()));
    assert!(s
        .error(par(2, StageField::PeakToMean))
        .is_some_and(|e| e.contains("daily peak")));
    s.apply(Action::Set(par(2, StageField::Replicas), "0".into()));
    assert!(s
        .error(par(2, StageField::Replicas))
        .is_some_and(|e| e.contains("whole number from 1")));
    assert_eq!(s.result, before);

    // the empty engine removes the engine: static batches again
    s.apply(Action::Set(par(2, StageField::Replicas), "".into()));
    s.apply(Action::Set(par(2, StageField::PeakToMean), "".into()));
    s.apply(Action::Set(engine, "".into()));
    assert_eq!(dep(&s).serving, None);
    assert_eq!(s.result.as_ref().ok(), Some(&static_batches));
}

/// An engine on a stage that is not a deployment's decode is the core's
/// error about the whole `serving`, shown under the engine select.
#[test]
fn an_engine_off_a_deployments_decode_is_refused() {
    let mut s = st();
    let f = par(0, StageField::Engine);
    s.apply(Action::Set(f, "overlapped".into()));
    assert!(s
        .error(f)
        .is_some_and(|e| e.contains("deployment stage of phase decode")));
    assert_eq!(s.scenario.stages[0].serving, None);
}

/// Links and exports carry the new fields; a v1 link without them loads
/// without them.
#[test]
fn links_and_exports_keep_parallelism_and_serving() {
    let mut s = st();
    s.apply(Action::Set(par(1, StageField::Tensor), "4".into()));
    s.apply(Action::Set(par(1, StageField::MicroBatches), "1".into()));
    s.apply(Action::Set(Field::Software, "serving".into()));
    s.apply(Action::Set(par(2, StageField::Engine), "vllm-0.5".into()));
    s.apply(Action::Set(par(2, StageField::PeakToMean), "2.5".into()));
    assert!(s.drafts.is_empty(), "{:?}", s.drafts);
    let shared_s = s.shared_scenario();
    let back = match crate::link::parse_fragment(&crate::link::fragment(&shared_s)) {
        crate::link::Fragment::Scenario(Ok(b)) => b,
        other => panic!("{other:?}"),
    };
    assert_eq!(back, shared_s);
    let json: serde_json::Value = serde_json::from_str(&crate::export::scenario_json(&shared_s))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json["stages"][1]["parallelism"]["tensor"], 4);
    assert_eq!(json["stages"][2]["serving"]["engine"], "vllm-0.5");
    assert_eq!(json["stages"][2]["serving"]["peak_to_mean"], 2.5);
    let loaded = AppState::with_scenario(back);
    assert_eq!(loaded.value(par(1, StageField::Tensor)), "4");
    assert_eq!(loaded.value(par(2, StageField::Engine)), "vllm-0.5");
    assert_eq!(loaded.result, s.result);
    // the v1 fixture made before these fields
    let (old, _) = fixture_link();
    assert!(old
        .stages
        .iter()
        .all(|st| st.parallelism.is_none() && st.serving.is_none()));
}
