//! The page's state: the scenario being edited, what the user typed that is
//! not valid yet, the what-ifs, and the estimates computed from them. A
//! `Reducible` with an `Action` enum (as in Yew's function_todomvc example).
//! Pure apart from the clock: every test runs natively.
//!
//! - `fields`: the form's fields, their paths, reading and writing them;
//! - `parse`: numbers as typed;
//! - `model_inputs`: the model tabs and dropped files;
//! - `what_ifs`: ticked what-ifs, their parameters and rows (the core computes them);
//! - here: `AppState`, `Action` and the reducer.

mod adapt;
mod fields;
mod model_inputs;
mod parse;
#[cfg(test)]
mod tests;
mod what_ifs;

pub use fields::{stage_kind_label, Field, StageField};
pub use model_inputs::{ModelInputs, ModelTab};
pub use what_ifs::WhatIfRow;

use crate::accuracy::{self, Key as AccuracyKey, Line as AccuracyLine};
use crate::clock;
use crate::defaults;
use crate::profiles::MeasuredDevice;
use shared::device::DeviceProfile;
use shared::estimate::{estimate_core, Estimate};
use shared::import::ImportedModel;
use shared::resolve::device_profile;
use shared::scenario::{Headline, Scenario, StageKind};
use shared::what_if::{Kind, Params};
use shared::{InputError, InputErrors, ESTIMATOR_VERSION};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use yew::Reducible;

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

/// A link made by another estimator version: the numbers it pinned and today's.
#[derive(Debug, Clone, PartialEq)]
pub struct PinnedVsToday {
    pub version: String,
    /// Absent in links made before headlines were pinned.
    pub pinned: Option<Headline>,
    pub today: Headline,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppState {
    /// The scenario as the form edits it.
    pub scenario: Scenario,
    pub model: ModelInputs,
    /// Why the model tab gives no model yet, though nothing is wrong (an empty
    /// field, a preset name being typed): a hint, not an error.
    pub model_pending: Option<(Field, String)>,
    /// What the last model change adapted in the stages, in words.
    pub adapted: Vec<String>,
    /// What the user typed that is not valid, and why (the scenario keeps the last valid value).
    pub drafts: BTreeMap<Field, (String, String)>,
    pub whatifs: BTreeSet<Kind>,
    /// The what-ifs' parameters; the core fills the choices (`Params::fill`).
    pub whatif_params: Params,
    pub measured: Vec<MeasuredDevice>,
    pub measured_status: MeasuredStatus,
    pub banner: Option<Banner>,
    pub short_link: ShortLink,
    pub copied: bool,
    /// The scenario of a link made by another estimator version, as loaded.
    pub linked: Option<Scenario>,
    /// A stored link the server could not verify (`profile_verified: false`):
    /// the measured profiles it pins.
    pub unverified: Option<Vec<DeviceProfile>>,
    /// Accuracy reports fetched so far, kept across edits and loads (a few:
    /// a list, not a map, keeps the page's wasm smaller).
    pub accuracy: Vec<(AccuracyKey, crate::services::accuracy::Report)>,
    // Computed by `recompute`.
    /// The estimate of the scenario with the ticked what-ifs applied.
    pub result: Result<Estimate, InputErrors>,
    /// The estimate of the scenario as edited (what-ifs off).
    pub base: Result<Estimate, InputErrors>,
    pub rows: Vec<WhatIfRow>,
    /// The (device, software class) pairs of the estimate shown: one accuracy line each.
    pub accuracy_keys: Vec<AccuracyKey>,
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
    /// A dropped file, read by `shared::import::model_from_file`.
    Imported(String, ImportedModel),
    ImportFailed(String, String),
    ToggleWhatIf(Kind, bool),
    AddStage(StageKind),
    RemoveStage(usize),
    /// A scenario from a link (and, for a damaged link, the reason).
    Load(Scenario, Option<Banner>),
    /// A stored link (`GET /api/estimates/{id}`), with the server's check of its profiles.
    LoadStored(crate::services::estimates::Stored),
    AccuracyLoaded(AccuracyKey, crate::services::accuracy::Report),
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
        let linked = s
            .resolved
            .as_ref()
            .is_some_and(|r| r.estimator_version != ESTIMATOR_VERSION)
            .then(|| s.clone());
        let mut st = AppState {
            model: ModelInputs::from_model(&s.model),
            model_pending: None,
            adapted: Vec::new(),
            scenario: s,
            drafts: BTreeMap::new(),
            whatifs: BTreeSet::new(),
            whatif_params: Params::default(),
            measured: Vec::new(),
            measured_status: MeasuredStatus::Loading,
            banner: None,
            short_link: ShortLink::None,
            copied: false,
            linked,
            unverified: None,
            accuracy: Vec::new(),
            result: Err(InputError::new("scenario", "not computed yet").into()),
            base: Err(InputError::new("scenario", "not computed yet").into()),
            rows: Vec::new(),
            accuracy_keys: Vec::new(),
            recompute_ms: 0.0,
            estimate_ms: 0.0,
        };
        st.recompute();
        st
    }

    pub fn measured_profiles(&self) -> Vec<DeviceProfile> {
        self.measured.iter().map(|m| m.profile.clone()).collect()
    }

    /// The scenario with the ticked what-ifs applied.
    pub fn effective_scenario(&self) -> Scenario {
        what_ifs::effective(
            &self.scenario,
            &self.whatif_params,
            &self.whatifs,
            &self.measured_profiles(),
        )
    }

    /// The scenario a share link or an export carries: the effective one, with
    /// the values it was computed with (and its headline numbers) pinned.
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
        let cur = device_profile(&self.scenario.hardware.device, &self.measured_profiles())?;
        (cur.source.version != r.device.source.version).then_some(cur.source.version)
    }

    /// A link made by another estimator version, still as loaded: the numbers
    /// it pinned beside today's for the same scenario.
    pub fn pinned_vs_today(&self) -> Option<PinnedVsToday> {
        let linked = self.linked.as_ref()?;
        if *linked != self.scenario {
            return None;
        }
        let r = linked.resolved.as_ref()?;
        let e = self.base.as_ref().ok()?;
        Some(PinnedVsToday {
            version: r.estimator_version.clone(),
            pinned: r.headline,
            today: Headline {
                energy_kwh: e.energy_kwh.expected,
                co2e_kg: e.co2e_kg.expected,
                device_hours: e.device_hours.expected,
                wall_hours: e.wall_hours.expected,
            },
        })
    }

    /// The core's words on stage `i`'s parallel strategy: its note when it
    /// chose one (the model does not fit plain data parallelism), else the
    /// strategy it used, when several devices share the work.
    pub fn strategy_note(&self, i: usize) -> Option<String> {
        let e = self.base.as_ref().ok()?;
        let st = e.stages.get(i)?;
        let strategy = st.strategy.as_deref()?;
        let head = format!("stage {}: ", st.name);
        Some(
            e.notes
                .iter()
                .find(|n| n.starts_with(&head) && n.contains(strategy))
                .cloned()
                .unwrap_or_else(|| format!("Estimated with {strategy}.")),
        )
    }

    /// The accuracy lines of the estimate shown, for the reports fetched so far.
    pub fn accuracy_lines(&self) -> Vec<(&AccuracyKey, AccuracyLine)> {
        self.accuracy_keys
            .iter()
            .filter_map(|k| {
                let (_, r) = self.accuracy.iter().find(|(have, _)| have == k)?;
                Some((k, accuracy::line(r)))
            })
            .collect()
    }

    /// The measured profiles of a stored link the server could not verify
    /// that the scenario still pins (a device change or "use the current
    /// calibration" replaces them); empty when the link named none.
    pub fn unverified_profiles(&self) -> Option<Vec<&DeviceProfile>> {
        let claims = self.unverified.as_ref()?;
        if claims.is_empty() {
            return Some(Vec::new());
        }
        let r = self.scenario.resolved.as_ref()?;
        let still: Vec<&DeviceProfile> = claims
            .iter()
            .filter(|c| r.device == **c || r.stage_devices.contains(c))
            .collect();
        (!still.is_empty()).then_some(still)
    }

    /// Run the core on the scenario, each what-if and the effective scenario.
    pub fn recompute(&mut self) {
        let t0 = clock::now_ms();
        let measured = self.measured_profiles();
        let base = estimate_core(&self.scenario, &measured);
        self.estimate_ms = clock::now_ms() - t0;
        if let Ok(b) = &base {
            // The core's choices for the region, the GPU and the student.
            self.whatif_params.fill(&self.scenario, b);
        }
        self.rows = what_ifs::rows(
            &self.scenario,
            &base,
            &self.whatif_params,
            &self.whatifs,
            &measured,
        );
        self.result = if self.whatifs.is_empty() {
            self.accuracy_keys = accuracy::keys(&self.scenario);
            base.clone()
        } else {
            let eff = self.effective_scenario();
            self.accuracy_keys = accuracy::keys(&eff);
            estimate_core(&eff, &measured)
        };
        self.base = base;
        self.recompute_ms = clock::now_ms() - t0;
    }

    /// The text an input shows: what the user typed if it is a draft, else the value.
    pub fn value(&self, f: Field) -> String {
        if let Some((raw, _)) = self.drafts.get(&f) {
            return raw.clone();
        }
        match f {
            Field::WhatIf(k) => what_ifs::param_value(&self.whatif_params, k),
            f if f.in_scenario() => fields::value(f, &self.scenario),
            f => self.model.value(f),
        }
    }

    /// Why a field is invalid: its draft's reason, else the core's error about it.
    pub fn error(&self, f: Field) -> Option<String> {
        if let Some((_, e)) = self.drafts.get(&f) {
            return Some(e.clone());
        }
        let Err(errors) = &self.base else { return None };
        errors
            .iter()
            .find(|e| f.owns(&e.field))
            .map(|e| e.message.clone())
    }

    /// A hint under a field that waits for input (not an error).
    pub fn pending(&self, f: Field) -> Option<String> {
        match &self.model_pending {
            Some((pf, text)) if *pf == f && !self.drafts.contains_key(&f) => Some(text.clone()),
            _ => None,
        }
    }

    /// The core's errors that no visible field shows, in one line.
    pub fn general_error(&self) -> Option<String> {
        let Err(errors) = &self.base else { return None };
        let visible = self.visible_fields();
        let hidden: Vec<String> = errors
            .iter()
            .filter(|e| {
                !visible
                    .iter()
                    .any(|f| f.owns(&e.field) && !self.drafts.contains_key(f))
            })
            .map(|e| e.to_string())
            .collect();
        (!hidden.is_empty()).then(|| hidden.join("; "))
    }

    /// The fields the form shows now (an error about another path goes under the form).
    fn visible_fields(&self) -> Vec<Field> {
        let mut v = vec![
            Field::Device,
            Field::DeviceCount,
            Field::Software,
            Field::Region,
            Field::Pue,
        ];
        if self.scenario.infrastructure.grid_gco2e_per_kwh.is_some() {
            v.push(Field::GridCustom);
        }
        v.extend_from_slice(self.model.tab.fields());
        for (i, st) in self.scenario.stages.iter().enumerate() {
            v.extend(
                StageField::ALL
                    .iter()
                    .filter(|sf| sf.shown(st, st.software(&self.scenario)))
                    .map(|sf| Field::Stage(i, *sf)),
            );
        }
        v
    }

    /// Set a scenario field if the core accepts it, else keep the text as a draft.
    fn set_scenario_field(&mut self, f: Field, raw: String) -> bool {
        let measured = self.measured_profiles();
        match fields::commit(f, &raw, &self.scenario, &measured) {
            Ok(s) => {
                self.scenario = s;
                self.drafts.remove(&f);
                true
            }
            Err(e) => {
                self.drafts.insert(f, (raw, e));
                false
            }
        }
    }

    /// After a change, the drafts of other fields may have become valid
    /// (steps typed before samples were cleared): try them again.
    fn retry_drafts(&mut self, except: Field) {
        let pending: Vec<(Field, String)> = self
            .drafts
            .iter()
            .filter(|(f, _)| **f != except && (f.in_scenario() || matches!(f, Field::WhatIf(_))))
            .map(|(f, (raw, _))| (*f, raw.clone()))
            .collect();
        for (f, raw) in pending {
            match f {
                Field::WhatIf(k) => self.set_whatif_param(k, raw),
                f => {
                    self.set_scenario_field(f, raw);
                }
            }
        }
    }

    fn set_whatif_param(&mut self, k: Kind, raw: String) {
        let f = Field::WhatIf(k);
        let measured = self.measured_profiles();
        match what_ifs::set_param(&self.whatif_params, k, &raw, &self.scenario, &measured) {
            Ok(p) => {
                self.whatif_params = p;
                self.drafts.remove(&f);
            }
            Err(e) => {
                self.drafts.insert(f, (raw, e));
            }
        }
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
        self.model_pending = self.model.pending();
        if self.model_pending.is_some() {
            return;
        }
        match self.model.commit(&self.scenario) {
            Ok(s) => {
                // the stages follow the model where they can, and say so
                let (t, changes) = adapt::stages(&s);
                self.scenario = t;
                self.adapted = changes;
            }
            Err((f, e)) => {
                let raw = self.value(f);
                self.drafts.insert(f, (raw, e));
            }
        }
    }

    /// Start again from a linked scenario, keeping what came from the server.
    fn load(&mut self, s: Scenario, banner: Option<Banner>) {
        let measured = std::mem::take(&mut self.measured);
        let status = self.measured_status.clone();
        let reports = std::mem::take(&mut self.accuracy);
        *self = AppState::with_scenario(s);
        self.measured = measured;
        self.measured_status = status;
        self.accuracy = reports;
        self.banner = banner;
    }

    /// Apply an action without the `Rc` (what `reduce` does; tests call it).
    pub fn apply(&mut self, action: Action) {
        let mut recompute = true;
        match action {
            Action::Set(f @ Field::WhatIf(k), raw) => {
                self.set_whatif_param(k, raw);
                self.retry_drafts(f);
            }
            Action::Set(Field::File, _) => recompute = false,
            Action::Set(f, raw) if !f.in_scenario() => {
                self.model.set(f, raw);
                self.rebuild_model();
                self.retry_drafts(f);
            }
            Action::Set(f, raw) => {
                let custom = f == Field::Region && raw == "custom";
                if self.set_scenario_field(f, raw) {
                    if custom {
                        self.drafts.remove(&Field::GridCustom);
                    }
                    self.retry_drafts(f);
                }
            }
            Action::ModelTab(t) => {
                self.model.tab = t;
                self.rebuild_model();
            }
            Action::Imported(name, m) => {
                self.model.take_import(name, m);
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
            Action::Load(s, banner) => self.load(s, banner),
            Action::LoadStored(l) => {
                let claims = accuracy::measured_claims(&l.scenario);
                self.load(l.scenario, None);
                if l.profile_verified == Some(false) {
                    self.unverified = Some(claims);
                }
            }
            Action::AccuracyLoaded(k, r) => {
                self.accuracy.retain(|(have, _)| *have != k);
                self.accuracy.push((k, r));
                recompute = false;
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
                    device_profile(&self.scenario.hardware.device, &measured),
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
