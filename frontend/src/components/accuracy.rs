//! Beside the estimate: the accuracy on measured runs of its device and
//! software class, and the warning for a shared link whose measured profile
//! the server could not verify (`crate::accuracy` says what; this shows it).

use super::use_app;
use crate::accuracy::{unverified_text, Key, Line};
use crate::state::Action;
use yew::prelude::*;

/// How to add a measured run, in the page (the docs are not served with it).
fn how_to(k: &Key) -> Html {
    let origin = crate::web::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    html! {
        <details class="how-to">
            <summary>{ "here is how to add one" }</summary>
            <ol>
                <li>{ "Mark the steps to measure in your script: print " }<code>{ "jouleprint:begin" }</code>
                    { " before them and " }<code>{ "jouleprint:end steps=N" }</code>
                    { " after them (tools/jouleprint_markers.py does it)." }</li>
                <li>{ "Export this scenario (Scenario JSON, below) and, on the machine with the GPU, with a token from this server's operator in JOULEPRINT_TOKEN, run:" }
                    <pre><code class="measure-command">{ format!("jouleprint measure --scenario scenario.json --software {} --submit {origin} -- python train.py", k.software) }</code></pre></li>
                <li>{ "docs/measuring.md in jouleprint's sources says which steps to measure, for how long, and the flags of a workload other than the first stage's." }</li>
            </ol>
        </details>
    }
}

fn show(k: &Key, l: Line) -> Html {
    let (device, software) = (k.device.clone(), k.software.to_string());
    match l {
        Line::Figures {
            summary,
            runs_url,
            runs,
            median_energy_error,
        } => html! {
            <p class="accuracy-line" data-device={device} data-software={software}
               data-runs={runs.to_string()} data-median-energy-error={median_energy_error.to_string()}>
                { summary }{ " " }<a class="runs-link" href={runs_url}>{ "The runs" }</a>
            </p>
        },
        Line::Pending { summary, runs_url } => html! {
            <p class="accuracy-line" data-device={device} data-software={software} data-pending="true">
                { summary }{ " " }<a class="runs-link" href={runs_url}>{ "The runs" }</a>
            </p>
        },
        Line::NoneYet { text, runs_url } => html! {
            <div class="accuracy-line" data-device={device} data-software={software} data-runs="0">
                <p>
                    { format!("{text}: ") }
                    if let Some(u) = runs_url {
                        <a class="runs-link" href={u}>{ "the stored runs" }</a>{ "; " }
                    }
                </p>
                { how_to(k) }
            </div>
        },
    }
}

/// One line per (device, software class) of the estimate, once the server answered.
#[component(AccuracyLines)]
pub fn accuracy_lines() -> Html {
    let app = use_app();
    let lines = app.accuracy_lines();
    if lines.is_empty() {
        return html! {};
    }
    html! {
        <div class="accuracy" id="accuracy">
            <h3>{ "How right this has been" }</h3>
            { for lines.into_iter().map(|(k, l)| show(k, l)) }
        </div>
    }
}

/// A stored link whose pinned measured profile the server could not verify.
#[component(ProfileUnverified)]
pub fn profile_unverified() -> Html {
    let app = use_app();
    let Some(profiles) = app.unverified_profiles() else {
        return html! {};
    };
    let pins_device = app
        .scenario
        .resolved
        .as_ref()
        .is_some_and(|r| profiles.contains(&&r.device));
    let use_current = {
        let app = app.clone();
        Callback::from(move |_| app.dispatch(Action::UseCurrentCalibration))
    };
    html! {
        <div class="warning" id="profile-unverified" role="alert">
            <p><strong>{ "Not verified. " }</strong>{ unverified_text(&profiles) }</p>
            if pins_device {
                <button type="button" onclick={use_current}>{ "Use this server's profile of the device instead" }</button>
            }
        </div>
    }
}
