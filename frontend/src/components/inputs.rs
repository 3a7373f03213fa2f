//! Hardware and infrastructure inputs.

use super::fields::{SelectInput, TextInput};
use super::use_app;
use crate::defaults::PUE_PRESETS;
use crate::format::num;
use crate::state::{Action, Field, MeasuredStatus};
use shared::scenario::SoftwareClass;
use std::rc::Rc;
use yew::prelude::*;

thread_local! {
    static REGIONS: Rc<Vec<(String, String)>> = Rc::new(region_list());
    static REGIONS_CUSTOM: Rc<Vec<(String, String)>> = Rc::new(
        std::iter::once(("custom".to_string(), "Custom intensity".to_string()))
            .chain(region_list())
            .collect(),
    );
}

/// The grid table as select options (built once): `code`, `name (intensity)`.
pub fn region_options(with_custom: bool) -> Rc<Vec<(String, String)>> {
    if with_custom {
        REGIONS_CUSTOM.with(Rc::clone)
    } else {
        REGIONS.with(Rc::clone)
    }
}

fn region_list() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = shared::grid::GRID
        .iter()
        .map(|g| {
            (
                g.code.to_string(),
                format!(
                    "{} \u{2014} {} ({} g/kWh)",
                    g.name,
                    g.code,
                    num(g.gco2e_per_kwh)
                ),
            )
        })
        .collect();
    v.sort_by(|a, b| a.1.cmp(&b.1));
    v
}

#[component(Hardware)]
pub fn hardware() -> Html {
    let app = use_app();
    let devices = crate::profiles::devices(&app.measured);
    let options: Vec<(String, String)> = devices
        .iter()
        .map(|d| (d.id.clone(), d.option_label()))
        .collect();
    let software = SoftwareClass::NAMES
        .iter()
        .map(|s| (s.to_string(), s.to_string()))
        .collect::<Vec<_>>();
    // the built-in profiles, in the device list's words
    let builtin = {
        let m = crate::profiles::builtin_measured();
        if m.is_empty() {
            "from the datasheet".to_string()
        } else {
            format!(
                "measured for {}, from the datasheet for the others",
                m.join(", ")
            )
        }
    };
    let status = match &app.measured_status {
        MeasuredStatus::Loading => "Looking for measured calibrations\u{2026}".to_string(),
        MeasuredStatus::Loaded if app.measured.is_empty() => format!(
            "This server holds no calibration runs yet: every device uses its built-in profile ({builtin})."
        ),
        MeasuredStatus::Loaded => {
            let n = app.measured.len();
            format!(
                "{n} device{} use{} a profile measured by this server's calibration runs (marked \u{201c}this server\u{201d}); the others their built-in profile ({builtin}).",
                if n == 1 { "" } else { "s" },
                if n == 1 { "s" } else { "" }
            )
        }
        MeasuredStatus::Unavailable(_) => format!(
            "Measured calibrations are unavailable (no jouleprint server): every device uses its built-in profile ({builtin})."
        ),
    };
    html! {
        <fieldset class="card" id="hardware">
            <legend>{ "Hardware" }</legend>
            <div class="row">
                <SelectInput field={Field::Device} label="Device" options={Rc::new(options)} wide=true />
                <TextInput field={Field::DeviceCount} label="How many" />
                <SelectInput field={Field::Software} label="Software" options={Rc::new(software)}
                    hint={Some(AttrValue::from("Eager PyTorch, compiled, or a batching server."))} />
            </div>
            <p class="hint" id="measured-status">{ status }</p>
        </fieldset>
    }
}

#[component(Infrastructure)]
pub fn infrastructure() -> Html {
    let app = use_app();
    let regions = region_options(true);
    let custom = app.scenario.infrastructure.grid_gco2e_per_kwh.is_some();
    let grid_note = match (&app.base, custom) {
        (Ok(e), _) => format!(
            "{} gCO2e/kWh \u{2014} {}{}",
            num(e.resolved.grid.gco2e_per_kwh),
            e.resolved.grid.source,
            e.resolved
                .grid
                .year
                .map(|y| format!(" ({y})"))
                .unwrap_or_default()
        ),
        _ => String::new(),
    };
    let presets = PUE_PRESETS.iter().map(|(label, v)| {
        let app = app.clone();
        let v = *v;
        let onclick = Callback::from(move |_| app.dispatch(Action::Set(Field::Pue, v.to_string())));
        html! { <button type="button" class="chip" {onclick}>{ *label }</button> }
    });
    let embodied = {
        let app = app.clone();
        Callback::from(move |e: Event| {
            let el: web_sys::HtmlInputElement = e.target_unchecked_into();
            app.dispatch(Action::Set(Field::Embodied, el.checked().to_string()));
        })
    };
    html! {
        <fieldset class="card" id="infrastructure">
            <legend>{ "Infrastructure" }</legend>
            <div class="row">
                <SelectInput field={Field::Region} label="Grid region" options={regions} />
                if custom {
                    <TextInput field={Field::GridCustom} label="Grid intensity (gCO2e/kWh)" />
                }
                <TextInput field={Field::Pue} label="PUE" hint={Some(AttrValue::from("Data-centre overhead: 1.0 is none."))} />
            </div>
            <p class="hint" id="grid-source">{ grid_note }</p>
            <div class="toggle">
                <input type="checkbox" id={Field::Embodied.dom_id()} checked={app.scenario.infrastructure.embodied}
                    onchange={embodied} />
                <label for={Field::Embodied.dom_id()}>{ "Include the devices' embodied (manufacturing) emissions, amortised" }</label>
            </div>
            <div class="chips" role="group" aria-label="PUE presets">{ for presets }</div>
        </fieldset>
    }
}
