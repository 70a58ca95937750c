//! The one error shape for bad input: which field, and what is wrong with it.

/// Rendered as "`field` `message`", e.g. "amount has more than 2 decimal places for USD".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// Longest message kept: a parser's message may quote the whole bad value (serde
/// does), and a large status message makes gRPC clients report another error.
const MESSAGE_CHARS_MAX: usize = 300;

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        let mut message = message.into();
        if let Some((cut, _)) = message.char_indices().nth(MESSAGE_CHARS_MAX) {
            message.truncate(cut);
            message.push('…');
        }
        Self { field, message }
    }
}

#[cfg(test)]
mod tests {
    use super::FieldError;

    #[test]
    fn a_message_that_quotes_a_huge_value_is_cut() {
        let error = FieldError::new("amount", format!("invalid type: string \"{}\"", "9".repeat(10_000)));
        assert!(error.message.chars().count() <= 301, "{}", error.message.len());
        assert!(error.message.ends_with('…'));
        assert_eq!(FieldError::new("amount", "is required").message, "is required");
    }
}
