//! The model: a preset, a pasted config.json, a dropped file, or FLOPs and parameters.

use super::fields::{TextArea, TextInput};
use super::use_app;
use crate::state::{Action, Field, ModelTab};
use crate::web;
use web_sys::{DragEvent, HtmlInputElement};
use yew::prelude::*;

fn import_files(files: Option<web_sys::FileList>, app: super::AppContext) {
    let Some(f) = files.and_then(|l| l.get(0)) else {
        return;
    };
    let name = f.name();
    let first = app.scenario.stages.first().map(|s| s.workload.clone());
    yew::platform::spawn_local(async move {
        // The core's one import path, as `jouleprint estimate` reads `model.file`.
        let r = match web::read_file(&f).await {
            Ok(bytes) => shared::import::model_from_file(&name, &bytes, first.as_ref())
                .map_err(|e| e.message),
            Err(e) => Err(e),
        };
        match r {
            Ok(i) => app.dispatch(Action::Imported(name, i)),
            Err(e) => app.dispatch(Action::ImportFailed(name, e)),
        }
    });
}

#[component(ModelInput)]
pub fn model_input() -> Html {
    let app = use_app();
    let tab = app.model.tab;
    let presets = crate::profiles::presets();
    let tabs = ModelTab::ALL.iter().map(|&t| {
        let app = app.clone();
        let onchange = Callback::from(move |_| app.dispatch(Action::ModelTab(t)));
        let id = format!("model-tab-{}", t.id());
        html! {
            <label class="tab" for={id.clone()}>
                <input type="radio" name="model-tab" id={id} checked={t == tab} {onchange} />
                { t.label() }
            </label>
        }
    });
    let body = match tab {
        ModelTab::Preset => html! {
            <>
                <TextInput field={Field::Preset} label="Search the presets" inputmode="text"
                    list="preset-list" placeholder="llama-2-7b"
                    hint={Some(AttrValue::from(format!("{} built-in models; type to search.", presets.len())))} />
                <datalist id="preset-list">
                    { for presets.iter().map(|p| html! { <option value={p.id.clone()} label={p.label.clone()} /> }) }
                </datalist>
            </>
        },
        ModelTab::Config => html! {
            <TextArea field={Field::HfConfig} label="Paste a Hugging Face config.json"
                placeholder="{ \"model_type\": \"llama\", \"hidden_size\": 4096, ... }"
                hint={Some(AttrValue::from("Read as it is: architecture, sizes and vocabulary set the ops."))} />
        },
        ModelTab::File => {
            let err = app.error(Field::File);
            let ondrop = {
                let app = app.clone();
                Callback::from(move |e: DragEvent| {
                    e.prevent_default();
                    import_files(e.data_transfer().and_then(|d| d.files()), app.clone());
                })
            };
            let ondragover = Callback::from(|e: DragEvent| e.prevent_default());
            let onchange = {
                let app = app.clone();
                Callback::from(move |e: Event| {
                    let el: HtmlInputElement = e.target_unchecked_into();
                    import_files(el.files(), app.clone());
                })
            };
            let id = Field::File.dom_id();
            html! {
                <div class={classes!("field", "wide", err.is_some().then_some("invalid"))}>
                    <div class="dropzone" id="dropzone" {ondrop} {ondragover}>
                        <label for={id.clone()}>{ "Drop an ONNX or safetensors file here, or choose one" }</label>
                        <input type="file" id={id.clone()} accept=".onnx,.safetensors" {onchange}
                            aria-describedby={format!("{id}-hint")} />
                        <p class="hint" id={format!("{id}-hint")}>{ "Parsed in this page: the file is never uploaded." }</p>
                    </div>
                    if let (Some(p), None) = (app.pending(Field::File), &err) {
                        <p class="hint pending" id={format!("{id}-pending")} role="status">{ p }</p>
                    }
                    if let (Some(g), None) = (&app.model.graph, &err) {
                        <p class="ok" id="import-summary">{ format!("{}: {} nodes, {} parameters", g.source, g.nodes.len(), crate::format::num(g.params)) }</p>
                    }
                    if let Some(e) = err { <p class="error" id={format!("{id}-err")} role="alert">{ e }</p> }
                </div>
            }
        }
        ModelTab::Flops => html! {
            <>
            if let Some(n) = &app.model.import_note { <p class="ok" id="import-summary">{ n.clone() }</p> }
            <div class="row">
                <TextInput field={Field::FlopsPerSample} label="Forward FLOPs per sample" placeholder="8.2e9"
                    hint={Some(AttrValue::from("Counted matmul/convolution FLOPs, 2 per multiply-add."))} />
                <TextInput field={Field::Params} label="Parameters" placeholder="25.6e6" />
            </div>
            </>
        },
    };
    html! {
        <fieldset class="card" id="model">
            <legend>{ "Model" }</legend>
            <div class="tabs" role="radiogroup" aria-label="How the model is given">{ for tabs }</div>
            { body }
            if !app.adapted.is_empty() {
                <div class="note" id="model-adapted" role="status">
                    <p>{ "The stages were adapted to this model:" }</p>
                    <ul>{ for app.adapted.iter().map(|c| html! { <li>{ c }</li> }) }</ul>
                </div>
            }
        </fieldset>
    }
}
