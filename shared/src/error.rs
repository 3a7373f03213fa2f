use serde::{Deserialize, Serialize};

/// Bad input: always names the field and says how to fix it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InputError {
    /// A JSON path into the scenario (`stages[0].workload.batch`).
    pub field: String,
    pub message: String,
}

impl InputError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        InputError {
            field: field.into(),
            message: message.into(),
        }
    }
}
