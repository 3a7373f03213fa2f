use crate::link::{self, Fragment};
use crate::services;
use crate::state::{Action, AppState, Banner, BannerKind};
use crate::web;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use yew::prelude::*;

const FALLBACK: &str = "Showing the example estimate instead.";

/// The state a page load starts from: the link in the fragment, else the example.
pub fn initial_state() -> AppState {
    state_for(&start_fragment())
}

/// The fragment to start from: the address's, else a short link `?estimate=ID`
/// (the page URL `jouleprint serve` gives stored estimates).
fn start_fragment() -> String {
    let h = web::hash();
    if link::parse_fragment(&h) == Fragment::Empty {
        if let Some(id) = web::query_param("estimate") {
            return format!("#e={id}");
        }
    }
    h
}

fn state_for(hash: &str) -> AppState {
    match link::parse_fragment(hash) {
        Fragment::Empty => AppState::default(),
        Fragment::Scenario(Ok(s)) => AppState::with_scenario(s),
        Fragment::Scenario(Err(e)) => AppState {
            banner: Some(Banner {
                kind: BannerKind::Error,
                text: format!("{e} {FALLBACK}"),
            }),
            ..AppState::default()
        },
        Fragment::Short(id) => AppState {
            banner: Some(Banner {
                kind: BannerKind::Info,
                text: format!("Loading the short link \u{201c}{id}\u{201d}\u{2026}"),
            }),
            ..AppState::default()
        },
    }
}

fn load_short(id: String, dispatch: UseReducerDispatcher<AppState>) {
    yew::platform::spawn_local(async move {
        match services::estimates::get(&id).await {
            Ok(l) => dispatch.dispatch(Action::LoadStored(l)),
            Err(e) => dispatch.dispatch(Action::ShowBanner(Banner {
                kind: BannerKind::Error,
                text: format!(
                    "The short link \u{201c}{id}\u{201d} could not be opened: {e}. {FALLBACK}"
                ),
            })),
        }
    });
}

/// Keep the fragment equal to the shared scenario, load short links, and
/// follow a link pasted into the address bar of an open page.
#[hook]
pub fn use_share_link(state: &UseReducerHandle<AppState>) {
    let dispatch = state.dispatcher();
    use_effect_with((), move |_| {
        if let Fragment::Short(id) = link::parse_fragment(&start_fragment()) {
            load_short(id, dispatch.clone());
        }
        let d = dispatch.clone();
        let cb = Closure::<dyn Fn()>::new(move || {
            let h = web::hash();
            match link::parse_fragment(&h) {
                Fragment::Short(id) => load_short(id, d.clone()),
                Fragment::Empty => {}
                Fragment::Scenario(Ok(s)) => d.dispatch(Action::Load(s, None)),
                Fragment::Scenario(Err(e)) => d.dispatch(Action::ShowBanner(Banner {
                    kind: BannerKind::Error,
                    text: format!("{e} The current estimate is unchanged."),
                })),
            }
        });
        let w = web::window();
        if let Some(w) = &w {
            let _ = w.add_event_listener_with_callback("hashchange", cb.as_ref().unchecked_ref());
        }
        move || {
            if let Some(w) = &w {
                let _ = w
                    .remove_event_listener_with_callback("hashchange", cb.as_ref().unchecked_ref());
            }
        }
    });
    // The address follows the state shortly after the inputs settle, so
    // compressing the scenario stays off the typing path.
    let shared = state.shared_scenario();
    use_effect_with(shared, |s| {
        let s = s.clone();
        let t = gloo_timers::callback::Timeout::new(100, move || {
            web::replace_hash(&link::fragment(&s));
        });
        move || drop(t)
    });
}
