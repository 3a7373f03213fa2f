use crate::components::banner::LinkBanner;
use crate::components::inputs::{Hardware, Infrastructure};
use crate::components::model_input::ModelInput;
use crate::components::results::Results;
use crate::components::share_panel::SharePanel;
use crate::components::stages::Stages;
use crate::components::whatif_panel::WhatIfPanel;
use crate::components::AppContext;
use crate::format::num;
use crate::hooks::{initial_state, use_accuracy, use_measured_devices, use_share_link};
use yew::prelude::*;

/// The estimator: inputs on the left, the estimate on the right (stacked on a phone).
#[component(EstimatorPage)]
pub fn estimator_page() -> Html {
    let state = use_reducer(initial_state);
    use_measured_devices(state.dispatcher());
    use_share_link(&state);
    use_accuracy(&state);
    let general = state.general_error();
    html! {
        <ContextProvider<AppContext> context={state.clone()}>
            <a class="skip" href="#results">{ "Skip to the estimate" }</a>
            <header class="top">
                <h1>{ "jouleprint" }</h1>
                <p>{ "Energy and CO2e of a deep-learning job, before it runs." }</p>
            </header>
            <LinkBanner />
            if let Ok(e) = &state.result {
                <p class="phone-summary">
                    <a href="#results">{ format!("{} kWh \u{b7} {} kg CO2e \u{2014} see the estimate", num(e.energy_kwh.expected), num(e.co2e_kg.expected)) }</a>
                </p>
            }
            <main class="layout">
                <form class="inputs" aria-label="Scenario" onsubmit={Callback::from(|e: SubmitEvent| e.prevent_default())}>
                    <ModelInput />
                    <Stages />
                    <Hardware />
                    <Infrastructure />
                    if let Some(g) = general {
                        <p class="error" id="general-error" role="alert">{ g }</p>
                    }
                </form>
                <div class="outputs">
                    <Results />
                    <WhatIfPanel />
                    <SharePanel />
                </div>
            </main>
            <footer>
                <p>
                    { "Computed in this page (WebAssembly). Last recompute: " }
                    <span id="recompute-ms" data-value={state.recompute_ms.to_string()} data-estimate-ms={state.estimate_ms.to_string()}>
                        { format!("{} ms", num(state.recompute_ms)) }
                    </span>
                    { format!(" for {} estimates.", 1 + state.rows.len()) }
                </p>
            </footer>
        </ContextProvider<AppContext>>
    }
}
