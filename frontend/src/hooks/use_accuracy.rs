use crate::accuracy::Key;
use crate::services;
use crate::state::{Action, AppState, MeasuredStatus};
use std::cell::RefCell;
use std::rc::Rc;
use yew::prelude::*;

/// What has been asked of the server: each key once per page, and nothing
/// more after a failure.
#[derive(Default)]
struct Asked {
    keys: Vec<Key>,
    failed: bool,
}

/// Fetch the accuracy report of each (device, software class) the estimate
/// uses, once per page load (an edit back to a pair asked before reuses the
/// report). Only once the device list came from the server: on plain static
/// files there is no backend to ask, and one failed request stops the asking
/// (the lines are then left out; nothing retries).
#[hook]
pub fn use_accuracy(state: &UseReducerHandle<AppState>) {
    let asked = use_mut_ref(Asked::default);
    let ready = state.measured_status == MeasuredStatus::Loaded;
    let dispatch = state.dispatcher();
    use_effect_with(
        (state.accuracy_keys.clone(), ready),
        move |(keys, ready)| {
            if *ready {
                for k in keys {
                    ask(&asked, k, &dispatch);
                }
            }
        },
    );
}

fn ask(asked: &Rc<RefCell<Asked>>, k: &Key, dispatch: &UseReducerDispatcher<AppState>) {
    {
        let mut a = asked.borrow_mut();
        if a.failed || a.keys.contains(k) {
            return;
        }
        a.keys.push(k.clone());
    }
    let (asked, k, dispatch) = (asked.clone(), k.clone(), dispatch.clone());
    yew::platform::spawn_local(async move {
        match services::accuracy::fetch(&k.device, k.software).await {
            Ok(r) => dispatch.dispatch(Action::AccuracyLoaded(k, r)),
            Err(_) => asked.borrow_mut().failed = true,
        }
    });
}
