//! Share (the link holds the whole scenario; a short link via the server) and exports.

use super::use_app;
use crate::export;
use crate::link;
use crate::services;
use crate::state::{Action, AppState, ShortLink};
use crate::web;
use gloo_timers::callback::Timeout;
use yew::prelude::*;

#[derive(Clone, Copy, PartialEq)]
enum Export {
    Markdown,
    Latex,
    Csv,
    Json,
}

impl Export {
    const ALL: [Export; 4] = [Self::Markdown, Self::Latex, Self::Csv, Self::Json];
    fn id(self) -> &'static str {
        match self {
            Self::Markdown => "export-md",
            Self::Latex => "export-tex",
            Self::Csv => "export-csv",
            Self::Json => "export-json",
        }
    }
    fn label(self) -> &'static str {
        match self {
            Self::Markdown => "Markdown",
            Self::Latex => "LaTeX",
            Self::Csv => "CSV",
            Self::Json => "Scenario JSON",
        }
    }
    fn file(self) -> (&'static str, &'static str) {
        match self {
            Self::Markdown => ("jouleprint-estimate.md", "text/markdown"),
            Self::Latex => ("jouleprint-estimate.tex", "application/x-tex"),
            Self::Csv => ("jouleprint-estimate.csv", "text/csv"),
            Self::Json => ("jouleprint-scenario.json", "application/json"),
        }
    }
    /// The text, built when asked (not on every keystroke).
    fn text(self, app: &AppState) -> Option<String> {
        let s = app.shared_scenario();
        match (self, &app.result) {
            (Self::Json, _) => Some(export::scenario_json(&s)),
            (Self::Markdown, Ok(e)) => Some(export::markdown(&s, e)),
            (Self::Latex, Ok(e)) => Some(export::latex(&s, e)),
            (Self::Csv, Ok(e)) => Some(export::csv(e)),
            _ => None,
        }
    }
}

fn link_of(app: &AppState) -> String {
    format!(
        "{}{}",
        web::base_url(),
        link::fragment(&app.shared_scenario())
    )
}

#[component(SharePanel)]
pub fn share_panel() -> Html {
    let app = use_app();
    // The link shown, computed shortly after the inputs settle (compressing the
    // scenario stays off the typing path); copy and exports compute it fresh.
    let url = use_state(String::new);
    {
        let url = url.clone();
        let app2 = app.clone();
        use_effect_with(app.shared_scenario(), move |_| {
            let t = Timeout::new(100, move || url.set(link_of(&app2)));
            move || drop(t)
        });
    }
    let copy = {
        let app = app.clone();
        Callback::from(move |_| {
            let app = app.clone();
            let url = link_of(&app);
            yew::platform::spawn_local(async move {
                let ok = web::copy(&url).await;
                app.dispatch(Action::Copied(ok));
            });
        })
    };
    let short = {
        let app = app.clone();
        Callback::from(move |_| {
            let app = app.clone();
            let scenario = app.shared_scenario();
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
    let ok = app.result.is_ok();
    let buttons = Export::ALL
        .into_iter()
        .filter(|x| ok || *x == Export::Json)
        .map(|x| {
            let app = app.clone();
            let onclick = Callback::from(move |_| {
                if let Some(text) = x.text(&app) {
                    let (name, mime) = x.file();
                    web::download(name, mime, &text);
                }
            });
            html! { <button type="button" id={x.id()} {onclick}>{ x.label() }</button> }
        });
    let short_view = match &app.short_link {
        ShortLink::None => html! {},
        ShortLink::Creating => html! { <p role="status">{ "Creating a short link\u{2026}" }</p> },
        ShortLink::Ready(u) => html! {
            <p role="status">{ "Short link: " }<a id="short-link" href={u.clone()}>{ u.clone() }</a></p>
        },
        ShortLink::Failed(e) => html! {
            <p class="error" role="alert" id="short-link-error">{ format!("No short link: {e}") }</p>
        },
    };
    html! {
        <section class="card" id="share" aria-labelledby="share-h">
            <h2 id="share-h">{ "Share and export" }</h2>
            <div class="field wide">
                <label for="share-url">{ "Link to this estimate (the whole scenario is in the link, after the #)" }</label>
                <input id="share-url" type="text" readonly=true value={(*url).clone()} />
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
