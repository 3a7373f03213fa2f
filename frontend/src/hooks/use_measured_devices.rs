use crate::services;
use crate::state::{Action, AppState};
use yew::prelude::*;

/// Fetch the backend's measured profiles once. Without a backend (plain static
/// files), say that measured calibrations are unavailable.
#[hook]
pub fn use_measured_devices(dispatch: UseReducerDispatcher<AppState>) {
    use_effect_with((), move |_| {
        yew::platform::spawn_local(async move {
            match services::devices::fetch_with_dates().await {
                Ok(list) => dispatch.dispatch(Action::MeasuredLoaded(list)),
                Err(e) => dispatch.dispatch(Action::MeasuredUnavailable(e)),
            }
        });
    });
}
