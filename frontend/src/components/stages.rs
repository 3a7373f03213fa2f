//! Lifecycle: one card per stage with its workload and how much of it.

use super::fields::{SelectInput, TextInput};
use super::use_app;
use crate::state::{stage_kind_label, Action, Field, StageField as F};
use shared::scenario::{Engine, Optimizer, Phase, Recompute, StageKind};
use shared::units::Precision;
use std::rc::Rc;
use yew::prelude::*;

fn opts<I: IntoIterator<Item = (String, String)>>(i: I) -> Rc<Vec<(String, String)>> {
    Rc::new(i.into_iter().collect())
}

#[derive(Properties, PartialEq)]
pub struct StageProps {
    pub index: usize,
}

#[component(StageCard)]
pub fn stage_card(p: &StageProps) -> Html {
    let app = use_app();
    let i = p.index;
    let Some(st) = app.scenario.stages.get(i) else {
        return html! {};
    };
    let f = |sf| Field::Stage(i, sf);
    let kinds = opts(
        StageKind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), stage_kind_label(*k).to_string())),
    );
    let phases = opts(Phase::NAMES.iter().map(|p| (p.to_string(), p.to_string())));
    let precisions = opts(
        Precision::NAMES
            .iter()
            .map(|p| (p.to_string(), p.to_string())),
    );
    let mut optimizers = vec![(String::new(), "none (inference)".to_string())];
    optimizers.extend(
        Optimizer::NAMES
            .iter()
            .map(|n| (n.to_string(), n.to_string())),
    );
    let remove = {
        let app = app.clone();
        Callback::from(move |_| app.dispatch(Action::RemoveStage(i)))
    };
    let title = st
        .name
        .clone()
        .unwrap_or_else(|| stage_kind_label(st.kind).to_string());
    // Which fields show: one rule with the state's (`StageField::shown`).
    let sw = st.software(&app.scenario);
    let deploy = F::RequestsPerDay.shown(st, sw);
    let decode = F::Prompt.shown(st, sw);
    html! {
        <fieldset class="stage" id={format!("stage-{i}")}>
            <legend>{ format!("Stage {}: {title}", i + 1) }</legend>
            <div class="row">
                <SelectInput field={f(F::Kind)} label="Kind" options={kinds} />
                <SelectInput field={f(F::Phase)} label="Phase" options={phases} />
                <SelectInput field={f(F::Precision)} label="Precision" options={precisions} />
                <TextInput field={f(F::Batch)} label="Batch per device" />
                if decode {
                    <TextInput field={f(F::Prompt)} label="Prompt tokens" />
                    <TextInput field={f(F::NewTokens)} label="New tokens" />
                } else {
                    <TextInput field={f(F::Seq)} label="Sequence length" hint={Some(AttrValue::from("Empty for vision models."))} />
                }
                if F::Optimizer.shown(st, sw) {
                    <SelectInput field={f(F::Optimizer)} label="Optimizer" options={Rc::new(optimizers)} />
                }
            </div>
            <div class="row">
                if deploy {
                    <TextInput field={f(F::RequestsPerDay)} label="Requests per day" />
                    <TextInput field={f(F::Days)} label="Days" />
                } else {
                    <TextInput field={f(F::Samples)} label="Training data (samples)" hint={Some(AttrValue::from("Or give tokens, or steps."))} />
                    <TextInput field={f(F::Tokens)} label="Tokens" />
                    <TextInput field={f(F::Epochs)} label="Epochs" />
                    <TextInput field={f(F::Steps)} label="Steps (instead)" />
                }
                <TextInput field={f(F::Runs)}
                    label={if st.kind == StageKind::Development { "Runs (hyper-parameter trials)" } else { "Runs" }} />
            </div>
            if F::Tensor.shown(st, sw) {
                <ParallelismInputs index={i} />
            }
            if F::Engine.shown(st, sw) {
                { serving_inputs(&app, i) }
            }
            if app.scenario.stages.len() > 1 {
                <button type="button" class="link" onclick={remove}>{ format!("Remove stage {}", i + 1) }</button>
            }
        </fieldset>
    }
}

/// The engine's name in words (the core's names are the values).
fn engine_label(e: Engine) -> &'static str {
    match e {
        Engine::Overlapped => "overlapped (vLLM 0.6+, TensorRT-LLM)",
        Engine::Vllm05 => "vLLM 0.5",
    }
}

/// A continuous-batching engine on a deployment's decode: none (static
/// batches), or an engine with its replicas and load.
fn serving_inputs(app: &super::AppContext, i: usize) -> Html {
    let f = |sf| Field::Stage(i, sf);
    let Some(st) = app.scenario.stages.get(i) else {
        return html! {};
    };
    let mut engines = vec![(String::new(), "none: static batches".to_string())];
    engines.extend(
        Engine::ALL
            .iter()
            .map(|e| (e.as_str().to_string(), engine_label(*e).to_string())),
    );
    let always = f(F::AlwaysOn);
    let onchange = {
        let app = app.clone();
        Callback::from(move |e: Event| {
            let el: web_sys::HtmlInputElement = e.target_unchecked_into();
            app.dispatch(Action::Set(always, el.checked().to_string()));
        })
    };
    html! {
        <div class="row serving" id={format!("stage-{i}-serving")}>
            <SelectInput field={f(F::Engine)} label="Serving engine (continuous batching)" options={opts(engines)} />
            if st.serving.is_some() {
                <TextInput field={f(F::Replicas)} label="Replicas" hint={Some(AttrValue::from("Empty: as many as the peak load needs."))} />
                <TextInput field={f(F::PeakToMean)} label="Peak-to-mean load" hint={Some(AttrValue::from("Empty: a flat load."))} />
                <div class="toggle">
                    <input type="checkbox" id={always.dom_id()} checked={app.value(always) == "true"} {onchange} />
                    <label for={always.dom_id()}>{ "Always on (idle power between requests)" }</label>
                </div>
            }
        </div>
    }
}

/// Training at scale, collapsed: untouched, the stage has no `parallelism`
/// and the core chooses (its note says which).
#[component(ParallelismInputs)]
fn parallelism_inputs(p: &StageProps) -> Html {
    let app = use_app();
    let i = p.index;
    let f = |sf| Field::Stage(i, sf);
    let given = app
        .scenario
        .stages
        .get(i)
        .is_some_and(|st| st.parallelism.is_some());
    let open = use_state(|| given);
    let ontoggle = {
        let open = open.clone();
        Callback::from(move |e: Event| {
            let el: web_sys::Element = e.target_unchecked_into();
            open.set(el.has_attribute("open"));
        })
    };
    let mut recompute = vec![(
        String::new(),
        format!("default ({})", Recompute::default().as_str()),
    )];
    recompute.extend(
        Recompute::NAMES
            .iter()
            .map(|n| (n.to_string(), n.to_string())),
    );
    let strategy = app.strategy_note(i);
    html! {
        <div class="parallelism">
            <details id={format!("stage-{i}-parallelism")} open={*open} {ontoggle}>
                <summary>{ if given { "Parallelism (as given)" } else { "Parallelism (automatic)" } }</summary>
                <p class="hint">{ "Leave every field empty and the estimator chooses; an empty field takes the core's default (docs/scenario.md)." }</p>
                <div class="row">
                    <TextInput field={f(F::Tensor)} label="Tensor parallel" />
                    <TextInput field={f(F::Pipeline)} label="Pipeline stages" />
                    <TextInput field={f(F::Expert)} label="Expert parallel" />
                    <TextInput field={f(F::Zero)} label="ZeRO stage" />
                    <SelectInput field={f(F::Recompute)} label="Recomputation" options={opts(recompute)} />
                    <TextInput field={f(F::MicroBatches)} label="Micro-batches" />
                </div>
            </details>
            if let Some(n) = strategy {
                <p class="note" id={format!("stage-{i}-strategy")}>{ n }</p>
            }
        </div>
    }
}

#[component(Stages)]
pub fn stages() -> Html {
    let app = use_app();
    let add = |k: StageKind| {
        let app = app.clone();
        Callback::from(move |_| app.dispatch(Action::AddStage(k)))
    };
    html! {
        <section class="card" id="lifecycle" aria-labelledby="lifecycle-h">
            <h2 id="lifecycle-h">{ "Workload and lifecycle" }</h2>
            { for (0..app.scenario.stages.len()).map(|i| html! { <StageCard index={i} /> }) }
            <div class="actions">
                <span>{ "Add a stage: " }</span>
                { for StageKind::ALL.iter().map(|k| html! {
                    <button type="button" onclick={add(*k)}>{ stage_kind_label(*k) }</button>
                }) }
            </div>
        </section>
    }
}
