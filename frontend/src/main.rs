//! jouleprint's estimator page: a Yew app running the estimation core of
//! `shared` in the browser. Pure logic (state, links, exports) is tested natively.

mod accuracy;
mod clock;
mod components;
mod defaults;
mod export;
mod format;
mod hooks;
mod link;
mod pages;
mod profiles;
mod services;
mod state;
mod web;

fn main() {
    yew::Renderer::<pages::estimator::EstimatorPage>::new().render();
}
