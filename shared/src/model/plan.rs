//! Expansion of an architecture into the ops of one step of a workload.
