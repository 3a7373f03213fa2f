//! Share (the link holds the whole scenario; a short link via the server) and exports.

use super::use_app;
use crate::export;
use crate::link;
use crate::services;
use crate::state::{Action, ShortLink};
use crate::web;
use yew::prelude::*;

#[component(SharePanel)]
pub fn share_panel() -> Html {
    let app = use_app();
    let scenario = app.shared_scenario();
    let url = format!("{}{}", web::base_url(), link::fragment(&scenario));
    let copy = {
        let app = app.clone();
        let url = url.clone();
        Callback::from(move |_| {
            let app = app.clone();
            let url = url.clone();
            yew::platform::spawn_local(async move {
                let ok = web::copy(&url).await;
                app.dispatch(Action::Copied(ok));
            });
        })
    };
    let short = {
        let app = app.clone();
        let scenario = scenario.clone();
        Callback::from(move |_| {
            let app = app.clone();
            let scenario = scenario.clone();
            app.dispatch(Action::ShortLink(ShortLink::Creating));
            yew::platform::spawn_local(async move {
                match services::estimates::create(&scenario).await {
                    Ok(c) => {
                        let url = c
                            .page_url
                            .unwrap_or_else(|| format!("{}?estimate={}", web::origin_path(), c.id));
                        app.dispatch(Action::ShortLink(ShortLink::Ready(url)))
                    }
                    Err(e) => app.dispatch(Action::ShortLink(ShortLink::Failed(e))),
                }
            });
        })
    };
    let exports: Vec<(&str, &str, &str, Option<String>)> = match &app.result {
        Ok(e) => vec![
            (
                "export-md",
                "Markdown",
                "jouleprint-estimate.md",
                Some(export::markdown(&scenario, e)),
            ),
            (
                "export-tex",
                "LaTeX",
                "jouleprint-estimate.tex",
                Some(export::latex(&scenario, e)),
            ),
            (
                "export-csv",
                "CSV",
                "jouleprint-estimate.csv",
                Some(export::csv(e)),
            ),
            (
                "export-json",
                "Scenario JSON",
                "jouleprint-scenario.json",
                Some(export::scenario_json(&scenario)),
            ),
        ],
        Err(_) => vec![(
            "export-json",
            "Scenario JSON",
            "jouleprint-scenario.json",
            Some(export::scenario_json(&scenario)),
        )],
    };
    let buttons = exports.into_iter().map(|(id, label, name, text)| {
        let text = text.unwrap_or_default();
        let mime = if name.ends_with(".json") {
            "application/json"
        } else if name.ends_with(".csv") {
            "text/csv"
        } else {
            "text/plain"
        };
        let onclick = Callback::from(move |_| web::download(name, mime, &text));
        html! { <button type="button" id={id} {onclick}>{ label }</button> }
    });
    let short_view = match &app.short_link {
        ShortLink::None => html! {},
        ShortLink::Creating => html! { <p role="status">{ "Creating a short link\u{2026}" }</p> },
        ShortLink::Ready(u) => html! {
            <p role="status">{ "Short link: " }<a id="short-link" href={u.clone()}>{ u.clone() }</a></p>
        },
        ShortLink::Failed(e) => {
            html! { <p class="error" role="alert" id="short-link-error">{ format!("No short link: {e}") }</p> }
        }
    };
    html! {
        <section class="card" id="share" aria-labelledby="share-h">
            <h2 id="share-h">{ "Share and export" }</h2>
            <div class="field wide">
                <label for="share-url">{ "Link to this estimate (the whole scenario is in the link, after the #)" }</label>
                <input id="share-url" type="text" readonly=true value={url} />
            </div>
            <div class="actions">
                <button type="button" id="copy-link" onclick={copy}>{ "Copy link" }</button>
                <button type="button" id="make-short-link" onclick={short}>{ "Short link" }</button>
                if app.copied { <span role="status" id="copied">{ "Copied." }</span> }
            </div>
            { short_view }
            <div class="actions" role="group" aria-label="Export">
                <span>{ "Export: " }</span>
                { for buttons }
            </div>
        </section>
    }
}
