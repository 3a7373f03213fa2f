//! Custom hooks: talking to the backend and keeping the URL in step with the state.

mod use_accuracy;
mod use_measured_devices;
mod use_share_link;

pub use use_accuracy::use_accuracy;
pub use use_measured_devices::use_measured_devices;
pub use use_share_link::{initial_state, use_share_link};
