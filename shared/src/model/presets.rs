//! Built-in models by id.
