//! Components of the estimator page. Each reads the shared state from the
//! context and dispatches `Action`s.

pub mod accuracy;
pub mod banner;
pub mod chart;
pub mod fields;
pub mod inputs;
pub mod model_input;
pub mod results;
pub mod share_panel;
pub mod stages;
pub mod whatif_panel;

use crate::state::AppState;
use yew::prelude::*;

/// The state and its dispatcher, provided by the page.
pub type AppContext = UseReducerHandle<AppState>;

#[hook]
pub fn use_app() -> AppContext {
    // The page always provides it; a missing context is a programming error.
    use_context::<AppContext>().unwrap_or_else(|| panic!("AppContext not provided"))
}
