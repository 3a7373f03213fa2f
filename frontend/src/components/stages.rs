//! Lifecycle: one card per stage with its workload and how much of it.

use super::fields::{SelectInput, TextInput};
use super::use_app;
use crate::state::{stage_kind_label, Action, Field, StageField as F};
use shared::scenario::{Optimizer, Phase, StageKind};
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
    let deploy = F::RequestsPerDay.shown(st);
    let decode = F::Prompt.shown(st);
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
                if F::Optimizer.shown(st) {
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
            if app.scenario.stages.len() > 1 {
                <button type="button" class="link" onclick={remove}>{ format!("Remove stage {}", i + 1) }</button>
            }
        </fieldset>
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
