//! Pages: one today, the estimator.

pub mod estimator;
