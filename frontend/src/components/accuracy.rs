//! Beside the estimate: the accuracy on measured runs of its device and
//! software class, and the warning for a shared link whose measured profile
//! the server could not verify (`crate::accuracy` says what; this shows it).

use super::AppContext;
use crate::accuracy::{unverified_text, Key, Line};
use crate::state::{Action, AppState};
use yew::prelude::*;

/// How to add a measured run, in the page (the docs are not served with it).
fn how_to(k: &Key) -> Html {
    let origin = crate::web::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    html! {
        <details class="how-to">
            <summary>{ "here is how to add one" }</summary>
            <p>{ "Mark the measured steps in your job (tools/jouleprint_markers.py prints the markers), export this scenario (Scenario JSON, below), then run this on the GPU machine with a token from this server's operator in JOULEPRINT_TOKEN:" }</p>
            <pre class="measure-command">{ format!("jouleprint measure --scenario scenario.json --software {} --submit {origin} -- python train.py", k.software) }</pre>
            <p>{ "How to choose the steps, and for how long: docs/measuring.md in jouleprint's sources." }</p>
        </details>
    }
}

fn show(k: &Key, l: Line) -> Html {
    let (device, software) = (k.device.clone(), k.software.to_string());
    let (summary, runs_url, runs, median) = match l {
        Line::Figures {
            summary,
            runs_url,
            runs,
            median_energy_error,
        } => (
            summary,
            runs_url,
            runs.to_string(),
            median_energy_error.to_string(),
        ),
        Line::Pending { summary, runs_url } => (summary, runs_url, String::new(), String::new()),
        Line::NoneYet { text, runs_url } => {
            return html! {
                <div class="accuracy-line" data-device={device} data-software={software} data-runs="0">
                    <p>
                        { format!("{text}: ") }
                        if let Some(u) = runs_url {
                            <a class="runs-link" href={u}>{ "the stored runs" }</a>{ "; " }
                        }
                    </p>
                    { how_to(k) }
                </div>
            }
        }
    };
    html! {
        <p class="accuracy-line" data-device={device} data-software={software}
           data-runs={runs} data-median-energy-error={median}>
            { summary }
            if let Some(u) = runs_url {
                { " " }<a class="runs-link" href={u}>{ "The runs" }</a>
            }
        </p>
    }
}

/// One line per (device, software class) of the estimate, once the server
/// answered. Functions called by `Results`, not components: smaller wasm.
pub fn accuracy_lines(app: &AppState) -> Html {
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
pub fn profile_unverified(app: &AppContext) -> Html {
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
