//! The estimate: totals with ranges, an everyday equivalent, per-stage numbers,
//! the stage chart, where the energy goes, and which calibration was used.

use super::accuracy::{accuracy_lines, profile_unverified};
use super::chart::StageChart;
use super::use_app;
use crate::defaults::{CAR_KG_PER_KM, CAR_SOURCE};
use crate::format::{hours, num};
use crate::state::Action;
use shared::estimate::Estimate;
use yew::prelude::*;

fn stat(id: &str, label: &str, value: f64, text: String, sub: Html) -> Html {
    html! {
        <div class="stat">
            <dt>{ label }</dt>
            <dd><span class="big" id={id.to_string()} data-value={value.to_string()}>{ text }</span>{ sub }</dd>
        </div>
    }
}

#[component(Results)]
pub fn results() -> Html {
    let app = use_app();
    let e: &Estimate = match &app.result {
        Ok(e) => e,
        Err(err) => {
            return html! {
                <section class="card results" id="results" aria-labelledby="results-h" aria-live="polite">
                    <h2 id="results-h">{ "Estimate" }</h2>
                    <p class="error" id="estimate-error">{ format!("No estimate: {err}") }</p>
                </section>
            }
        }
    };
    let r = &e.resolved;
    let km = e.co2e_kg.expected / CAR_KG_PER_KM;
    let use_current = {
        let app = app.clone();
        Callback::from(move |_| app.dispatch(Action::UseCurrentCalibration))
    };
    let deploy: Vec<_> = e
        .stages
        .iter()
        .filter(|s| s.wh_per_request.is_some() || s.wh_per_token.is_some())
        .collect();
    let whatif_note = (!app.whatifs.is_empty()).then(|| {
        html! { <p class="note" id="whatif-active">{ format!("Includes {} what-if change{} (see below).", app.whatifs.len(), if app.whatifs.len() == 1 { "" } else { "s" }) }</p> }
    });
    html! {
        <section class="card results" id="results" aria-labelledby="results-h">
            <h2 id="results-h">{ "Estimate" }</h2>
            { whatif_note.unwrap_or_default() }
            { profile_unverified(&app) }
            <dl class="stats" aria-live="polite">
                { stat("energy-kwh", "Energy at the wall", e.energy_kwh.expected, format!("{} kWh", num(e.energy_kwh.expected)),
                    html! { <span class="range" id="energy-range" data-low={e.energy_kwh.low.to_string()} data-high={e.energy_kwh.high.to_string()}>
                        { format!("range {} to {} kWh", num(e.energy_kwh.low), num(e.energy_kwh.high)) }</span> }) }
                { stat("co2e-kg", "Emissions", e.co2e_kg.expected, format!("{} kg CO2e", num(e.co2e_kg.expected)),
                    html! { <span class="range" id="co2e-range">{ format!("range {} to {} kg", num(e.co2e_kg.low), num(e.co2e_kg.high)) }</span> }) }
                { stat("gpu-hours", "GPU-hours", e.device_hours.expected, num(e.device_hours.expected), html! {}) }
                { stat("wall-hours", "Wall time", e.wall_hours.expected, hours(e.wall_hours.expected), html! {}) }
            </dl>
            { accuracy_lines(&app) }
            { pinned_vs_today(&app) }
            <p class="equivalent" id="equivalent">
                { format!("About as much CO2e as driving a typical passenger car {} km.", num(km)) }
                <span class="source">{ format!(" Source: {CAR_SOURCE}.") }</span>
            </p>
            // the core's words, as `jouleprint estimate` prints them
            if !e.notes.is_empty() {
                <div class="note" id="estimate-notes">
                    { for e.notes.iter().map(|n| html! { <p class="estimate-note">{ n }</p> }) }
                </div>
            }
            if !e.warnings.is_empty() {
                <div class="warning" id="warnings" role="alert">
                    { for e.warnings.iter().map(|w| html! { <p class="estimate-warning">{ w }</p> }) }
                </div>
            }
            <p class="small" id="model-size">
                <span id="params" data-value={e.params.to_string()}>{ format!("{} parameters", crate::format::count(e.params)) }</span>
                { " \u{b7} " }
                <span id="flops-per-step" data-value={e.flops_per_step.to_string()}>{ format!("{}FLOP per step per device", shared::units::si(e.flops_per_step)) }</span>
                { format!(" \u{b7} method: {}", e.method) }
            </p>

            <h3>{ "Energy by lifecycle stage" }</h3>
            <StageChart stages={e.stages.clone()} />
            <div class="scroll" tabindex="0" role="region" aria-label="Energy per stage (scrolls sideways)">
            <table id="stages-table">
                <caption class="sr-only">{ "Energy, emissions and time per stage" }</caption>
                <thead><tr><th scope="col">{ "Stage" }</th><th scope="col">{ "Energy (kWh)" }</th><th scope="col">{ "CO2e (kg)" }</th><th scope="col">{ "GPU-hours" }</th><th scope="col">{ "Wall time" }</th></tr></thead>
                <tbody>
                { for e.stages.iter().map(|s| html! {
                    <tr data-kind={s.kind.clone()} data-kwh={s.energy_kwh.expected.to_string()} data-co2e={s.co2e_kg.expected.to_string()}>
                        <th scope="row">{ &s.name }</th>
                        <td>{ format!("{} ({}\u{2013}{})", num(s.energy_kwh.expected), num(s.energy_kwh.low), num(s.energy_kwh.high)) }</td>
                        <td>{ num(s.co2e_kg.expected) }</td>
                        <td>{ num(s.device_hours.expected) }</td>
                        <td>{ hours(s.wall_hours.expected) }</td>
                    </tr>
                }) }
                </tbody>
            </table>
            </div>
            if !deploy.is_empty() {
                <h3>{ "Per request and per token" }</h3>
                <ul id="per-request">
                { for deploy.iter().map(|s| html! {
                    <li data-tokens-per-second={s.tokens_per_second.expected.to_string()}>{ format!("{}: {} per request, {} per token, {} tokens/s",
                        s.name,
                        s.wh_per_request.map(|r| crate::format::wh(r.expected)).unwrap_or_else(|| "n/a".into()),
                        s.wh_per_token.map(|r| crate::format::wh(r.expected)).unwrap_or_else(|| "n/a".into()),
                        num(s.tokens_per_second.expected)) }
                        // the engine's side, as `estimate --json`'s `serving`
                        if let Some(v) = &s.serving {
                            <span class="serving" data-tpot-s={v.tpot_s.to_string()} data-ttft-s={v.ttft_s.to_string()} data-replicas={v.replicas.to_string()}>
                                { format!("; {} replica(s) x tensor {}, {} tokens/s per sequence ({} ms per token), first token in {} s, busy {}%",
                                    v.replicas, v.tensor, num(if v.tpot_s > 0.0 { 1.0 / v.tpot_s } else { 0.0 }), num(v.tpot_s * 1e3), num(v.ttft_s), num(v.utilisation * 100.0)) }
                            </span>
                        }
                    </li>
                }) }
                </ul>
            }
            if !e.top_ops.is_empty() {
                <h3>{ "Where the energy goes (one step)" }</h3>
                <div class="scroll" tabindex="0" role="region" aria-label="Top ops (scrolls sideways)">
                <table id="top-ops">
                    <thead><tr><th scope="col">{ "Op" }</th><th scope="col">{ "Kind" }</th><th scope="col">{ "Bound by" }</th><th scope="col">{ "Share" }</th><th scope="col">{ "Energy (J)" }</th></tr></thead>
                    <tbody>
                    { for e.top_ops.iter().map(|o| html! {
                        <tr>
                            <th scope="row">{ &o.name }</th><td>{ &o.kind }</td><td>{ &o.bound }</td>
                            <td>{ format!("{}%", num(o.fraction * 100.0)) }</td>
                            <td>{ num(o.joules) }</td>
                        </tr>
                    }) }
                    </tbody>
                </table>
                </div>
            }
            <h3>{ "Calibration used" }</h3>
            <p id="calibration" data-kind={r.device.source.kind.clone()} data-version={r.device.source.version.clone()}>
                { format!("{} \u{2014} ", r.device.name) }
                <span id="calibration-origin">{ r.device.source.origin() }</span>
                { format!(": {}", r.device.source.detail) }
            </p>
            <p id="grid-used" data-gco2e={r.grid.gco2e_per_kwh.to_string()} data-region={r.grid.region.clone()}>
                { format!("Grid: {} gCO2e/kWh ({}) \u{2014} {}", num(r.grid.gco2e_per_kwh), r.grid.region, r.grid.source) }
            </p>
            if let Some(v) = app.newer_calibration() {
                <p class="note" id="newer-calibration">
                    { format!("This link pins the device values it was computed with; a newer calibration exists ({v}). ") }
                    <button type="button" onclick={use_current}>{ "Use the newer calibration" }</button>
                </p>
            }
            <p class="small">{ format!("Estimator {}.", e.estimator_version) }</p>
        </section>
    }
}

/// A link made by another estimator version: its pinned numbers beside today's.
fn pinned_vs_today(app: &crate::state::AppState) -> Html {
    let Some(c) = app.pinned_vs_today() else {
        return html! {};
    };
    let Some(p) = c.pinned else {
        return html! {
            <p class="note" id="pinned-vs-today">
                { format!("This link was computed by {}, which did not pin its numbers; the numbers above are today's ({}).", c.version, shared::ESTIMATOR_VERSION) }
            </p>
        };
    };
    let row = |id: &str, label: &str, then: f64, now: f64, fmt: fn(f64) -> String| {
        html! {
            <tr id={id.to_string()} data-pinned={then.to_string()} data-today={now.to_string()}>
                <th scope="row">{ label }</th><td>{ fmt(then) }</td><td>{ fmt(now) }</td>
            </tr>
        }
    };
    let t = &c.today;
    html! {
        <div class="note" id="pinned-vs-today">
            <p>
                { format!("Computed by {}: {} kWh; today: {} kWh. ", c.version, num(p.energy_kwh), num(t.energy_kwh)) }
                { format!("The estimator changed since this link was made (today: {}); the numbers above are today's.", shared::ESTIMATOR_VERSION) }
            </p>
            <table id="pinned-table">
                <caption class="sr-only">{ "The numbers the link pinned and today's" }</caption>
                <thead><tr><th scope="col">{ "" }</th><th scope="col">{ "in the link" }</th><th scope="col">{ "today" }</th></tr></thead>
                <tbody>
                    { row("pinned-energy", "Energy (kWh)", p.energy_kwh, t.energy_kwh, num) }
                    { row("pinned-co2e", "CO2e (kg)", p.co2e_kg, t.co2e_kg, num) }
                    { row("pinned-gpu-hours", "GPU-hours", p.device_hours, t.device_hours, num) }
                    { row("pinned-wall", "Wall time", p.wall_hours, t.wall_hours, hours) }
                </tbody>
            </table>
        </div>
    }
}
