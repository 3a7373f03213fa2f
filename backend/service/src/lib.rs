//! jouleprint's HTTP service: the API under `/api` (`docs/api.md`), whose
//! bodies are the types of `shared::api`, over Postgres, and the built page.
//! No `unsafe` (the workspace forbids it), no GPU libraries.
//!
//! Modules from the bottom up; each uses only modules above it:
//! `config`, `telemetry`, `token`, `limits` (client address, rate limits) ->
//! `store` (tables, rows mapped into `shared::api`) -> `plausible` (a run
//! against its datasheet) -> `state` (what handlers share: the pool, the cached
//! device snapshot) -> `routes` (one module per resource) -> `startup` (the server).

pub mod config;
pub mod limits;
pub mod telemetry;
pub mod token;

pub mod store;

pub mod plausible;

pub mod state;

pub mod routes;

pub mod startup;
