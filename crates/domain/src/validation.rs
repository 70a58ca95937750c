//! Newtypes for client-supplied values whose limits are part of the contract.

use std::collections::BTreeMap;

use crate::error::FieldError;

pub const IDEMPOTENCY_KEY_LEN_MAX: usize = 255;
pub const METADATA_KEYS_MAX: usize = 50;
pub const METADATA_KEY_LEN_MAX: usize = 40;
pub const METADATA_VALUE_LEN_MAX: usize = 500;
pub const URL_LEN_MAX: usize = 2048;
/// Ids a client or a gateway chose (user ids, event ids, session ids).
pub const IDENTIFIER_LEN_MAX: usize = 255;
/// How much of a bad value an error message repeats.
const QUOTED_CHARS_MAX: usize = 32;

/// Free text a person wrote (descriptions, reasons, names): at most `max_chars`,
/// and no control characters but line breaks and tabs. PostgreSQL refuses NUL
/// outright, and other control characters would forge lines in logs and exports.
pub fn parse_free_text(field: &'static str, text: &str, max_chars: usize) -> Result<String, FieldError> {
    if text.chars().count() > max_chars {
        return Err(FieldError::new(field, format!("must be at most {max_chars} characters")));
    }
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(FieldError::new(field, "must not contain control characters (such as NUL)"));
    }
    Ok(text.to_owned())
}

/// An identifier (a user id, an event id): 1..=`max_chars` characters, none of them
/// a control character or blank.
pub fn parse_identifier(field: &'static str, text: &str, max_chars: usize) -> Result<String, FieldError> {
    if text.trim().is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if text.chars().count() > max_chars || text.chars().any(char::is_control) {
        return Err(FieldError::new(field, format!("must be at most {max_chars} printable characters")));
    }
    Ok(text.to_owned())
}

/// A bad value as an error message repeats it: its first characters only, quoted and
/// escaped, so a megabyte of input cannot become a megabyte of error (gRPC clients
/// refuse large status messages) and control characters stay visible.
pub fn quote(text: &str) -> String {
    let shown: String = text.chars().take(QUOTED_CHARS_MAX).collect();
    let escaped: String = shown.chars().flat_map(char::escape_debug).collect();
    if shown.len() < text.len() { format!("'{escaped}…'") } else { format!("'{escaped}'") }
}

/// A client's idempotency key: 1..=255 printable characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Empty means "no key".
    pub fn parse_optional(field: &'static str, text: &str) -> Result<Option<Self>, FieldError> {
        if text.is_empty() {
            return Ok(None);
        }
        if text.chars().count() > IDEMPOTENCY_KEY_LEN_MAX {
            return Err(FieldError::new(field, format!("must be at most {IDEMPOTENCY_KEY_LEN_MAX} characters")));
        }
        if text.chars().any(char::is_control) {
            return Err(FieldError::new(field, "must not contain control characters"));
        }
        Ok(Some(Self(text.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An absolute http(s) URL that a browser is sent back to after the checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUrl(String);

/// Replaced by the gateway's session id when the payment is created (SPEC §4).
pub const CHECKOUT_SESSION_ID_PLACEHOLDER: &str = "{CHECKOUT_SESSION_ID}";

impl RedirectUrl {
    pub fn parse(field: &'static str, text: &str) -> Result<Self, FieldError> {
        if text.is_empty() {
            return Err(FieldError::new(field, "is required"));
        }
        if text.len() > URL_LEN_MAX {
            return Err(FieldError::new(field, format!("must be at most {URL_LEN_MAX} characters")));
        }
        let rest = text
            .strip_prefix("https://")
            .or_else(|| text.strip_prefix("http://"))
            .ok_or_else(|| FieldError::new(field, "must be an absolute http:// or https:// URL"))?;
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty() || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(FieldError::new(field, "must be an absolute http:// or https:// URL with a host"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The URL with `{CHECKOUT_SESSION_ID}` replaced by the session id.
    pub fn for_session(&self, session_id: &str) -> String {
        self.0.replace(CHECKOUT_SESSION_ID_PLACEHOLDER, session_id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Metadata is bounded so a client cannot store megabytes per object.
pub fn validate_metadata(field: &'static str, metadata: &BTreeMap<String, String>) -> Result<(), FieldError> {
    if metadata.len() > METADATA_KEYS_MAX {
        return Err(FieldError::new(field, format!("has {} keys, at most {METADATA_KEYS_MAX} are allowed", metadata.len())));
    }
    for (key, value) in metadata {
        if key.is_empty() || key.chars().count() > METADATA_KEY_LEN_MAX {
            return Err(FieldError::new(field, format!("keys must be 1..={METADATA_KEY_LEN_MAX} characters")));
        }
        if key.chars().any(char::is_control) {
            return Err(FieldError::new(field, format!("key {} must not contain control characters", quote(key))));
        }
        parse_free_text(field, value, METADATA_VALUE_LEN_MAX)
            .map_err(|e| FieldError::new(field, format!("value of {} {}", quote(key), e.message)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_absolute_http() {
        for good in ["https://a.example/x?y=1", "http://localhost:3000/ok", "https://x/{CHECKOUT_SESSION_ID}"] {
            assert!(RedirectUrl::parse("success_url", good).is_ok(), "{good}");
        }
        for bad in ["", "ftp://a", "https://", "/relative", "https://a b", "javascript:alert(1)", "http:///path"] {
            assert!(RedirectUrl::parse("success_url", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_session_placeholder_is_substituted() {
        let url = RedirectUrl::parse("success_url", "https://s/ok?session={CHECKOUT_SESSION_ID}")
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(url.for_session("cs_1"), "https://s/ok?session=cs_1");
    }

    #[test]
    fn metadata_limits_are_enforced() {
        let mut metadata = BTreeMap::new();
        metadata.insert("order".to_owned(), "v".repeat(METADATA_VALUE_LEN_MAX));
        assert!(validate_metadata("metadata", &metadata).is_ok());
        metadata.insert("order".to_owned(), "v".repeat(METADATA_VALUE_LEN_MAX + 1));
        assert!(validate_metadata("metadata", &metadata).unwrap_err().message.contains("order"));
    }

    #[test]
    fn free_text_refuses_nul_and_control_characters_but_keeps_line_breaks() {
        assert_eq!(parse_free_text("description", "two\nlines\tand a tab", 50).as_deref(), Ok("two\nlines\tand a tab"));
        for bad in ["nul\0inside", "bell\u{7}", "escape\u{1b}[31m"] {
            let error = parse_free_text("description", bad, 50).unwrap_err();
            assert_eq!(error.field, "description", "{bad:?}");
        }
        assert!(parse_free_text("description", &"é".repeat(51), 50).unwrap_err().message.contains("at most 50"));
    }

    #[test]
    fn identifiers_are_printable_and_present() {
        assert_eq!(parse_identifier("user_id", "user-1", 255).as_deref(), Ok("user-1"));
        for bad in ["", "  ", "a\0b", "a\nb"] {
            assert_eq!(parse_identifier("user_id", bad, 255).unwrap_err().field, "user_id", "{bad:?}");
        }
        assert!(parse_identifier("user_id", &"u".repeat(256), 255).is_err());
    }

    #[test]
    fn a_quoted_value_is_short_and_shows_control_characters() {
        assert_eq!(quote("USD"), "'USD'");
        assert_eq!(quote("a\0b"), "'a\\0b'");
        let long = quote(&"X".repeat(10_000));
        assert!(long.len() < 40, "{long}");
        assert!(long.ends_with("…'"));
    }

    #[test]
    fn metadata_values_refuse_nul() {
        let metadata = BTreeMap::from([("order".to_owned(), "a\0b".to_owned())]);
        assert!(validate_metadata("metadata", &metadata).unwrap_err().message.contains("control"));
        let metadata = BTreeMap::from([("or\0der".to_owned(), "v".to_owned())]);
        assert!(validate_metadata("metadata", &metadata).is_err());
    }

    #[test]
    fn idempotency_keys_are_bounded() {
        assert_eq!(IdempotencyKey::parse_optional("idempotency_key", ""), Ok(None));
        assert!(IdempotencyKey::parse_optional("idempotency_key", &"k".repeat(255)).is_ok());
        assert!(IdempotencyKey::parse_optional("idempotency_key", &"k".repeat(256)).is_err());
        assert!(IdempotencyKey::parse_optional("idempotency_key", "a\nb").is_err());
    }
}
