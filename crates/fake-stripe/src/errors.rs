//! Stripe's error body `{"error": {type, code, decline_code, param, message}}` and the
//! canned bodies for injected failures, worded like the real ones so adapters map them
//! as they would in production.

use serde_json::{Map, Value, json};

/// An error answer; only the fields Stripe would send are serialised.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) status: u16,
    pub(crate) kind: &'static str,
    pub(crate) message: String,
    pub(crate) code: Option<&'static str>,
    pub(crate) decline_code: Option<&'static str>,
    pub(crate) param: Option<String>,
}

impl ApiError {
    fn new(status: u16, kind: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, kind, message: message.into(), code: None, decline_code: None, param: None }
    }

    /// 400 `invalid_request_error`.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", message)
    }

    pub(crate) fn param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub(crate) fn code(mut self, code: &'static str) -> Self {
        self.code = Some(code);
        self
    }

    pub(crate) fn unknown_param(name: &str) -> Self {
        Self::invalid(format!("Received unknown parameter: {name}")).param(name)
    }

    pub(crate) fn missing_param(name: &str) -> Self {
        Self::invalid(format!("Missing required param: {name}.")).code("parameter_missing").param(name)
    }

    /// 404 for an id this caller cannot see (wrong id, or another account's object).
    pub(crate) fn no_such(object: &str, id: &str, param: &str) -> Self {
        Self::new(404, "invalid_request_error", format!("No such {object}: '{id}'")).code("resource_missing").param(param)
    }

    /// 401 without echoing the key: only its `sk_test_`-style prefix survives.
    pub(crate) fn bad_key(given: Option<&str>) -> Self {
        match given {
            None | Some("") => Self::new(
                401,
                "invalid_request_error",
                "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth \
                 (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            ),
            Some(key) => Self::new(401, "invalid_request_error", format!("Invalid API Key provided: {}", mask(key))),
        }
    }

    /// 403 for a `Stripe-Account` the platform has not created.
    pub(crate) fn no_access(account: &str) -> Self {
        Self::new(
            403,
            "invalid_request_error",
            format!("The provided key does not have access to account '{account}' (or that account does not exist)."),
        )
        .code("account_invalid")
    }

    pub(crate) fn idempotency_mismatch(key: &str) -> Self {
        Self::new(
            400,
            "idempotency_error",
            format!(
                "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key \
                 other than '{key}' if you meant to execute a different request."
            ),
        )
    }

    pub(crate) fn unrecognized_url(method: &str, path: &str) -> Self {
        Self::new(
            404,
            "invalid_request_error",
            format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
            ),
        )
    }

    /// What `fail_next` answers for `status`.
    pub(crate) fn injected(status: u16) -> Self {
        match status {
            400 => Self::invalid("Invalid request (failure injected by fake-stripe)."),
            401 => Self::new(401, "invalid_request_error", "Invalid API Key provided: sk_test_***"),
            402 => ApiError {
                code: Some("card_declined"),
                decline_code: Some("generic_decline"),
                ..Self::new(402, "card_error", "Your card was declined.")
            },
            403 => Self::new(403, "invalid_request_error", "The provided key does not have the required permissions for this endpoint."),
            404 => Self::new(404, "invalid_request_error", "No such object (failure injected by fake-stripe).").code("resource_missing"),
            409 => Self::new(
                409,
                "invalid_request_error",
                "This object cannot be accessed right now because another API request or Stripe process is currently accessing it. \
                 If you see this error intermittently, retry the request.",
            )
            .code("lock_timeout"),
            429 => Self::new(
                429,
                "invalid_request_error",
                "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
            )
            .code("rate_limit"),
            _ => Self::new(status, "api_error", "An unknown error occurred (failure injected by fake-stripe)."),
        }
    }

    pub(crate) fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("type".into(), json!(self.kind));
        error.insert("message".into(), json!(self.message));
        if let Some(code) = self.code {
            error.insert("code".into(), json!(code));
            error.insert("doc_url".into(), json!(format!("https://stripe.com/docs/error-codes/{}", code.replace('_', "-"))));
        }
        if let Some(decline_code) = self.decline_code {
            error.insert("decline_code".into(), json!(decline_code));
        }
        if let Some(param) = &self.param {
            error.insert("param".into(), json!(param));
        }
        json!({ "error": error })
    }
}

/// `sk_test_51H…xyz` → `sk_test_***`: keeps the mode prefix a developer needs, never the secret.
fn mask(key: &str) -> String {
    let mut parts = key.split_inclusive('_');
    match (parts.next(), parts.next()) {
        (Some(kind), Some(mode)) if kind.len() == 3 && kind.ends_with('_') && mode.len() == 5 && mode.ends_with('_') => {
            format!("{kind}{mode}***")
        }
        _ => "***".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_key_is_masked() {
        assert_eq!(mask("sk_test_secret123"), "sk_test_***");
        assert_eq!(mask("rk_live_abc"), "rk_live_***");
        assert_eq!(mask("whatever"), "***");
        assert_eq!(mask("longprefix_test_x"), "***");
    }

    #[test]
    fn injected_decline_looks_like_stripes() {
        let body = ApiError::injected(402).body();
        assert_eq!(body["error"]["type"], "card_error");
        assert_eq!(body["error"]["code"], "card_declined");
        assert_eq!(body["error"]["decline_code"], "generic_decline");
        assert_eq!(body["error"]["message"], "Your card was declined.");
    }
}
