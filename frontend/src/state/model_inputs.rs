//! The model inputs: one tab per way of giving the model, each keeping what
//! was typed so switching tabs loses nothing; and dropped files, read by the
//! core's one import path (`shared::import::model_from_file`).

use super::fields::{refusal, Field};
use super::parse;
use shared::import::ImportedModel;
use shared::model::graph::ForwardGraph;
use shared::scenario::{ModelSource, Scenario};

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
    /// The fields the tab shows.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Self::Preset => &[Field::Preset],
            Self::Config => &[Field::HfConfig],
            Self::File => &[Field::File],
            Self::Flops => &[Field::FlopsPerSample, Field::Params],
        }
    }
}

/// The preset id a name stands for (ids compare without regard to case).
fn preset_id(name: &str) -> Option<&'static str> {
    shared::model::presets::PRESETS
        .iter()
        .find(|x| x.id.eq_ignore_ascii_case(name))
        .map(|x| x.id)
}

/// Preset ids that hold the typed text (`mistral` -> `mistral-7b`).
fn preset_matches(text: &str) -> Vec<&'static str> {
    let t = text.to_ascii_lowercase();
    shared::model::presets::PRESETS
        .iter()
        .filter(|x| x.id.contains(&t) || x.description.to_ascii_lowercase().contains(&t))
        .map(|x| x.id)
        .collect()
}

/// What the model inputs hold, per tab.
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

    /// The text a model field shows (when the user has no draft).
    pub fn value(&self, f: Field) -> String {
        match f {
            Field::Preset => self.preset.clone(),
            Field::HfConfig => self.hf_text.clone(),
            Field::FlopsPerSample => self.flops_per_sample.clone(),
            Field::Params => self.params.clone(),
            _ => String::new(),
        }
    }

    /// Keep what a model field's text is (the model is rebuilt after).
    pub fn set(&mut self, f: Field, raw: String) {
        match f {
            Field::Preset => self.preset = raw,
            Field::HfConfig => self.hf_text = raw,
            Field::FlopsPerSample => self.flops_per_sample = raw,
            Field::Params => self.params = raw,
            _ => {}
        }
    }

    /// Take what a dropped file gave: its tab, with its content.
    pub fn take_import(&mut self, name: String, m: ImportedModel) {
        self.import_note = None;
        match m {
            ImportedModel::Graph(g) => {
                self.tab = ModelTab::File;
                self.file_name = Some(name);
                self.graph = Some(g);
            }
            ImportedModel::Config(v) => {
                self.tab = ModelTab::Config;
                self.hf_text = serde_json::to_string_pretty(&v).unwrap_or_default();
            }
            ImportedModel::Params {
                params,
                flops_per_sample,
                note,
            } => {
                self.tab = ModelTab::Flops;
                self.params = params.to_string();
                self.flops_per_sample = flops_per_sample.to_string();
                self.import_note = Some(note);
            }
        }
    }

    /// Why the active tab gives no model yet although nothing is wrong: an
    /// empty field, or a preset name that is still being typed. Shown as a
    /// hint (not an error); the scenario keeps its model until then.
    pub fn pending(&self) -> Option<(Field, String)> {
        const KEEP: &str = "the estimate keeps the previous model until then";
        match self.tab {
            ModelTab::Preset => {
                let p = self.preset.trim();
                if p.is_empty() {
                    return Some((
                        Field::Preset,
                        format!("Type a preset's name or pick one from the list; {KEEP}."),
                    ));
                }
                if preset_id(p).is_some() {
                    return None;
                }
                let matches = preset_matches(p);
                (!matches.is_empty()).then(|| {
                    let shown: Vec<&str> = matches.iter().take(6).copied().collect();
                    (
                        Field::Preset,
                        format!(
                            "Matches {}{}: pick one from the list or keep typing.",
                            shown.join(", "),
                            if matches.len() > shown.len() {
                                ", \u{2026}"
                            } else {
                                ""
                            }
                        ),
                    )
                })
            }
            ModelTab::Config => self.hf_text.trim().is_empty().then(|| {
                (
                    Field::HfConfig,
                    format!("Paste the contents of a model's config.json; {KEEP}."),
                )
            }),
            ModelTab::File => self.graph.is_none().then(|| {
                (
                    Field::File,
                    format!("Drop or choose an ONNX or safetensors file; {KEEP}."),
                )
            }),
            ModelTab::Flops => {
                let empty = [
                    (Field::FlopsPerSample, &self.flops_per_sample),
                    (Field::Params, &self.params),
                ]
                .into_iter()
                .find(|(_, t)| t.trim().is_empty());
                empty.map(|(f, _)| {
                    (
                        f,
                        format!("Give the forward FLOPs per sample and the parameters; {KEEP}."),
                    )
                })
            }
        }
    }

    /// The model source of the active tab, or the field that is not valid and why.
    pub fn build(&self) -> Result<ModelSource, (Field, String)> {
        match self.tab {
            ModelTab::Preset => {
                let p = self.preset.trim();
                if p.is_empty() {
                    return Err((Field::Preset, "choose a preset".into()));
                }
                let Some(id) = preset_id(p) else {
                    return Err((
                        Field::Preset,
                        format!("no preset \u{201c}{p}\u{201d}; pick one from the list"),
                    ));
                };
                Ok(ModelSource {
                    preset: Some(id.to_string()),
                    ..Default::default()
                })
            }
            ModelTab::Config => {
                // the core's reading of JSON: syntax in plain words, with line and column
                let (cfg, _) = shared::check::parse_typed::<
                    serde_json::Map<String, serde_json::Value>,
                >(&self.hf_text, "model.hf_config")
                .map_err(|e| {
                    let m = e.first().message;
                    let m = m
                        .trim_end_matches(" See docs/scenario.md for the format")
                        .trim_end_matches('.');
                    (
                        Field::HfConfig,
                        m.replace("not valid JSON", "not valid JSON yet"),
                    )
                })?;
                Ok(ModelSource {
                    hf_config: Some(serde_json::Value::Object(cfg)),
                    ..Default::default()
                })
            }
            ModelTab::File => match &self.graph {
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
                let f = parse::number(&self.flops_per_sample)
                    .map_err(|e| (Field::FlopsPerSample, e))?;
                let p = parse::number(&self.params).map_err(|e| (Field::Params, e))?;
                Ok(ModelSource {
                    flops_per_sample: Some(f),
                    params: Some(p),
                    ..Default::default()
                })
            }
        }
    }

    /// The scenario with the model of the active tab, if the core accepts it.
    pub fn commit(&self, s: &Scenario) -> Result<Scenario, (Field, String)> {
        let model = self.build()?;
        let mut t = s.clone();
        t.model = model;
        for &f in self.tab.fields() {
            if let Some(why) = refusal(s, &t, f) {
                return Err((f, why));
            }
        }
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::defaults::example_scenario;
    use shared::check::bounds;

    fn flops(f: &str, p: &str) -> ModelInputs {
        ModelInputs {
            tab: ModelTab::Flops,
            flops_per_sample: f.into(),
            params: p.into(),
            ..Default::default()
        }
    }

    #[test]
    fn flops_and_params_within_the_cores_bounds() {
        let s = example_scenario();
        let t = flops("8.2e9", "25.6e6")
            .commit(&s)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(t.model.flops_per_sample, Some(8.2e9));
        assert_eq!(t.model.params, Some(25.6e6));
        assert!(flops("8.2e9", &bounds::MAX_PARAMS.to_string())
            .commit(&s)
            .is_ok());
        match flops("8.2e9", "1e15").commit(&s) {
            Err((Field::Params, m)) => assert!(m.contains("1e14"), "{m}"),
            other => panic!("{other:?}"),
        }
        match flops("-1", "10").commit(&s) {
            Err((Field::FlopsPerSample, m)) => assert!(m.contains("above 0"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            flops("x", "10").commit(&s),
            Err((Field::FlopsPerSample, _))
        ));
    }

    #[test]
    fn a_config_must_be_an_object() {
        let s = example_scenario();
        let i = ModelInputs {
            tab: ModelTab::Config,
            hf_text: "[1, 2]".into(),
            ..Default::default()
        };
        match i.commit(&s) {
            Err((Field::HfConfig, m)) => assert!(m.contains("JSON object"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    /// A dropped file goes through the core's importer: a safetensors header
    /// gives its parameter count and 2 FLOPs per parameter per token.
    #[test]
    fn dropped_safetensors_fills_the_flops_tab() {
        let mut w = crate::defaults::train_workload();
        w.seq = Some(10);
        let h = r#"{"a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]}}"#;
        let mut f = (h.len() as u64).to_le_bytes().to_vec();
        f.extend_from_slice(h.as_bytes());
        f.resize(f.len() + 12, 0);
        let m = shared::import::model_from_file("m.safetensors", &f, Some(&w))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut i = ModelInputs::default();
        i.take_import("m.safetensors".into(), m);
        assert_eq!(i.tab, ModelTab::Flops);
        // 2 x 3 parameters; 2 FLOPs x 6 x 10 tokens
        assert_eq!(i.params, "6");
        assert_eq!(i.flops_per_sample, "120");
        assert!(i.import_note.is_some());
    }

    #[test]
    fn dropped_onnx_fixture_if_present() {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/tests/fixtures/resnet50.onnx"
        );
        let Ok(bytes) = std::fs::read(p) else { return };
        let m = shared::import::model_from_file("resnet50.onnx", &bytes, None)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut i = ModelInputs::default();
        i.take_import("resnet50.onnx".into(), m);
        assert_eq!(i.tab, ModelTab::File);
        assert!(i.graph.as_ref().is_some_and(|g| !g.nodes.is_empty()));
    }
}
