//! What-if toggles: each shows what it would change, in kWh and CO2e. The
//! rows are the core's (`shared::what_if`, through the state).

use super::fields::OptionList;
use super::inputs::region_options;
use super::use_app;
use crate::format::{percent, signed};
use crate::state::{Action, Field};
use shared::what_if::Kind as WhatIf;
use std::rc::Rc;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

#[component(WhatIfPanel)]
pub fn what_if_panel() -> Html {
    let app = use_app();
    let rows = app.rows.iter().map(|row| {
        let k = row.kind;
        let id = format!("whatif-{}", k.id());
        let onchange = {
            let app = app.clone();
            Callback::from(move |e: Event| {
                let el: HtmlInputElement = e.target_unchecked_into();
                app.dispatch(Action::ToggleWhatIf(k, el.checked()));
            })
        };
        let f = Field::WhatIf(k);
        let pid = format!("{id}-param");
        let err = app.error(f);
        let on_text = {
            let app = app.clone();
            Callback::from(move |e: InputEvent| {
                let el: HtmlInputElement = e.target_unchecked_into();
                app.dispatch(Action::Set(f, el.value()));
            })
        };
        let on_select = {
            let app = app.clone();
            Callback::from(move |e: Event| {
                let el: HtmlSelectElement = e.target_unchecked_into();
                app.dispatch(Action::Set(f, el.value()));
            })
        };
        let value = app.value(f);
        let select = |label: &str, options: Rc<Vec<(String, String)>>| html! {
            <>
                <label for={pid.clone()} class="sr-only">{ label.to_string() }</label>
                <select id={pid.clone()} onchange={on_select.clone()}>
                    <OptionList options={options} selected={value.clone()} />
                </select>
            </>
        };
        let text = |label: &str| html! {
            <>
                <label for={pid.clone()}>{ label.to_string() }</label>
                <input id={pid.clone()} type="text" inputmode="decimal" size="5" value={value.clone()} oninput={on_text.clone()}
                    aria-invalid={err.is_some().then_some("true")} />
            </>
        };
        let param = match k {
            WhatIf::Pruning => text("share removed"),
            WhatIf::EarlyStop => text("share of epochs kept"),
            WhatIf::FewerTrials => text("share of trials kept"),
            WhatIf::Pue => text("PUE"),
            WhatIf::Region => select("Region to compare", region_options(false)),
            WhatIf::Gpu => select(
                "Device to compare",
                Rc::new(crate::profiles::devices(&app.measured).into_iter().map(|d| (d.id.clone(), d.option_label())).collect()),
            ),
            WhatIf::Distill => select("Smaller preset", students(&app)),
            WhatIf::HalfPrecision | WhatIf::LowPrecision | WhatIf::RightSize => html! {},
        };
        let effect = match &row.delta {
            Ok(d) => html! {
                <>
                <span class="change" id={format!("{id}-change")}>{ format!("{}: ", row.change) }</span>
                <span class="delta" id={format!("{id}-delta")} data-kwh={d.kwh.to_string()} data-co2e={d.co2e_kg.to_string()}>
                    { format!("{} kWh ({}), {} kg CO2e ({})", signed(d.kwh), percent(d.kwh, d.base_kwh), signed(d.co2e_kg), percent(d.co2e_kg, d.base_co2e_kg)) }
                </span>
                </>
            },
            Err(why) => html! { <span class="na" id={format!("{id}-delta")}>{ format!("Does not apply: {why}") }</span> },
        };
        html! {
            <li class={classes!("whatif", row.enabled.then_some("on"))}>
                <div class="toggle">
                    <input type="checkbox" id={id.clone()} checked={row.enabled} {onchange}
                        disabled={row.delta.is_err() && !row.enabled}
                        aria-describedby={format!("{id}-blurb {id}-delta")} />
                    <label for={id.clone()}>{ k.label() }</label>
                </div>
                <div class="param">{ param }</div>
                <p class="blurb" id={format!("{id}-blurb")}>{ k.blurb() }</p>
                <p>{ effect }</p>
                if let Some(e) = err { <p class="error">{ e }</p> }
            </li>
        }
    });
    html! {
        <section class="card" id="whatif" aria-labelledby="whatif-h">
            <h2 id="whatif-h">{ "What if\u{2026}" }</h2>
            <p class="hint">{ "Each change is estimated on its own against the inputs above; ticked ones are applied to the estimate together." }</p>
            <ul class="whatifs">{ for rows }</ul>
        </section>
    }
}

/// The core's students for the model: smaller presets of the same kind of input.
fn students(app: &super::AppContext) -> Rc<Vec<(String, String)>> {
    let Ok(base) = &app.base else {
        return Rc::new(Vec::new());
    };
    let all = crate::profiles::presets();
    Rc::new(
        shared::what_if::students(&app.scenario, base)
            .map(|p| {
                let label = all
                    .iter()
                    .find(|c| c.id == p.id)
                    .map_or_else(|| p.id.to_string(), |c| c.label.clone());
                (p.id.to_string(), label)
            })
            .collect(),
    )
}
