//! One module per API resource (gloo-net). The parsers are pure and tested natively.

pub mod accuracy;
pub mod devices;
pub mod estimates;

/// The API's base path: the page is served by `jouleprint serve` at `/`.
pub const API: &str = "/api";
