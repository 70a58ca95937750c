//! The one error shape for bad input: which field, and what is wrong with it.

/// Rendered as "`field` `message`", e.g. "amount has more than 2 decimal places for USD".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}
