//! Validation cases (the reference JSONL format) and their evaluation.
