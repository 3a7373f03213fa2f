use super::use_app;
use crate::state::{Action, BannerKind};
use yew::prelude::*;

/// A readable message about a link (damaged, old, loading) above the page.
#[component(LinkBanner)]
pub fn link_banner() -> Html {
    let app = use_app();
    let Some(b) = &app.banner else {
        return html! {};
    };
    let dismiss = {
        let app = app.clone();
        Callback::from(move |_| app.dispatch(Action::DismissBanner))
    };
    let (class, role) = match b.kind {
        BannerKind::Error => ("banner error-banner", "alert"),
        BannerKind::Info => ("banner info-banner", "status"),
    };
    html! {
        <div class={class} role={role} id="banner">
            <p>{ &b.text }</p>
            <button type="button" onclick={dismiss}>{ "Dismiss" }</button>
        </div>
    }
}
