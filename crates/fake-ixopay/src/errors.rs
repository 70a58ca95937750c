//! IXOPAY's two kinds of failure, so adapters can tell them apart as in production:
//! a system error (HTTP ≠ 200, `{success:false, errorMessage, errorCode}`, nothing was
//! made) and a processing error (HTTP 200, `returnType: ERROR`, a transaction was made
//! and failed). Codes and default messages are the IXOPAY documentation's
//! (documentation.ixopay.com, "Appendix: Error codes" and "Handling errors").

use serde_json::{Value, json};

/// Some fundamental error in the request (also used for credentials and the API key).
pub(crate) const REQUEST_FAILED: u32 = 1000;
pub(crate) const INVALID_REQUEST_DATA: u32 = 1002;
pub(crate) const INVALID_SIGNATURE: u32 = 1004;
pub(crate) const INVALID_REQUEST_BODY: u32 = 1005;
/// Preconditions failed, e.g. a refund of a failed debit.
pub(crate) const LOGICAL_ERROR: u32 = 1006;
pub(crate) const UNEXPECTED_SYSTEM_ERROR: u32 = 1008;
pub(crate) const TOO_MANY_REQUESTS: u32 = 1009;
pub(crate) const SYSTEM_MAINTENANCE: u32 = 1010;
pub(crate) const DECLINED: u32 = 2003;
pub(crate) const DUPLICATE_TRANSACTION_ID: u32 = 3004;
pub(crate) const TRANSACTION_NOT_FOUND: u32 = 8001;

/// The documentation's default message for `code`.
pub(crate) fn default_message(code: u32) -> &'static str {
    match code {
        1000 => "Request failed",
        1001 => "Invalid response",
        1002 => "Invalid request data",
        1003 => "Processing error",
        1004 => "Invalid signature",
        1005 => "Invalid request body",
        1006 => "Logical error",
        1007 => "Invalid configuration",
        1008 => "Unexpected system error",
        1009 => "Too many requests",
        1010 => "System maintenance",
        2001 => "Account closed externally",
        2002 => "User cancelled",
        2003 => "Transaction declined",
        2004 => "Quota regulation",
        2005 => "Transaction expired",
        2006 => "Insufficient funds",
        2007 => "Incorrect payment info",
        2008 => "Invalid card",
        2009 => "Expired card",
        2010 => "Fraudulent card",
        2011 => "Unsupported card",
        2012 => "Transaction cancelled",
        2013 => "Risk check block",
        2014 => "Pickup card",
        2015 => "Lost card",
        2016 => "Stolen card",
        2017 => "IBAN invalid",
        2018 => "BIC invalid",
        2019 => "Customer data invalid",
        2020 => "CVV required",
        2021 => "3D-Secure Verification failed",
        2022 => "3D-Secure Soft declined",
        3001 => "Timeout",
        3002 => "Not Allowed",
        3003 => "Temporary unavailable",
        3004 => "Duplicate transaction ID",
        3005 => "Communication error",
        4001 => "Chargeback reverted",
        4002 => "Payment dispute",
        8001 => "Transaction not found",
        _ => "Unknown error",
    }
}

/// A system error: HTTP `status` and `{success:false, errorMessage, errorCode[, details]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SystemError {
    pub(crate) status: u16,
    pub(crate) code: u32,
    pub(crate) message: String,
    /// The offending field, for request data errors.
    pub(crate) details: Option<String>,
}

impl SystemError {
    pub(crate) fn new(status: u16, code: u32, message: impl Into<String>) -> Self {
        SystemError { status, code, message: message.into(), details: None }
    }

    /// 401: wrong or missing Basic credentials (the message never echoes them).
    pub(crate) fn credentials(missing: bool) -> Self {
        let message = if missing { "Authentication required: send the API user with Basic auth" } else { "Invalid credentials" };
        Self::new(401, REQUEST_FAILED, message)
    }

    /// 401: the path's API key is not this API user's connector.
    pub(crate) fn api_key() -> Self {
        Self::new(401, REQUEST_FAILED, "Invalid apiKey: no connector with this API key for this API user")
    }

    pub(crate) fn not_found(method: &str, path: &str) -> Self {
        Self::new(
            404,
            REQUEST_FAILED,
            format!("No such endpoint: {method} {path} (fake-ixopay serves transaction debit/refund/payout/register and status)"),
        )
    }

    /// 400 with 1004: missing or stale Date, wrong Content-Type, wrong X-Signature.
    pub(crate) fn signature(message: impl Into<String>) -> Self {
        Self::new(400, INVALID_SIGNATURE, message)
    }

    /// 400 with 1005: the body is not a JSON object.
    pub(crate) fn body(message: impl Into<String>) -> Self {
        Self::new(400, INVALID_REQUEST_BODY, message)
    }

    /// 400 with 1002, naming the field in the message and in `details`.
    pub(crate) fn field(field: &str, problem: &str) -> Self {
        SystemError { details: Some(field.to_string()), ..Self::new(400, INVALID_REQUEST_DATA, format!("{field}: {problem}")) }
    }

    /// What `fail_next`/`fail_after_processing` answer for `status` (the documentation
    /// pairs 500 with 1008 and 503 with 1010; the status API's rate limit is 429/1009).
    pub(crate) fn injected(status: u16) -> Self {
        match status {
            401 | 403 => Self::new(status, REQUEST_FAILED, "Invalid credentials"),
            429 => Self::new(status, TOO_MANY_REQUESTS, default_message(TOO_MANY_REQUESTS)),
            503 => Self::new(
                status,
                SYSTEM_MAINTENANCE,
                "The system is currently undergoing scheduled maintenance. Please try again later.",
            ),
            500..=599 => Self::new(status, UNEXPECTED_SYSTEM_ERROR, "System Error occurred"),
            _ => Self::new(status, REQUEST_FAILED, "Request failed (failure injected by fake-ixopay)"),
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut body = json!({"success": false, "errorMessage": self.message, "errorCode": self.code});
        if let Some(details) = &self.details {
            body["details"] = json!(details);
        }
        body
    }
}

/// Why a transaction failed (stored with it, shown by the status API and callbacks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TxError {
    pub(crate) code: u32,
    pub(crate) message: String,
    /// What the acquirer said; `None` when the gateway itself refused.
    pub(crate) adapter_message: Option<String>,
    pub(crate) adapter_code: Option<String>,
}

impl TxError {
    /// A decline as an acquirer would send it, e.g. 2003 / "Do not honor" / "05".
    pub(crate) fn declined(code: u32) -> Self {
        TxError {
            code,
            message: default_message(code).to_string(),
            adapter_message: Some("Do not honor (decline injected by fake-ixopay)".to_string()),
            adapter_code: Some("05".to_string()),
        }
    }

    /// An error the gateway itself raises, e.g. 1006 for a refund above the debit's rest.
    pub(crate) fn gateway(code: u32, message: impl Into<String>) -> Self {
        TxError { code, message: message.into(), adapter_message: None, adapter_code: None }
    }

    /// One entry of a transaction answer's `errors`.
    pub(crate) fn entry(&self) -> Value {
        let mut entry = json!({"errorMessage": self.message, "errorCode": self.code});
        if let Some(message) = &self.adapter_message {
            entry["adapterMessage"] = json!(message);
        }
        if let Some(code) = &self.adapter_code {
            entry["adapterCode"] = json!(code);
        }
        entry
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injected_failures_carry_the_documented_codes() {
        assert_eq!(SystemError::injected(500).code, 1008);
        assert_eq!(SystemError::injected(504).code, 1008);
        assert_eq!(SystemError::injected(503).code, 1010);
        assert_eq!(SystemError::injected(429).code, 1009);
        assert_eq!(SystemError::injected(401).code, 1000);
        assert_eq!(SystemError::injected(502).status, 502);
    }

    #[test]
    fn a_field_error_names_the_field() {
        let body = SystemError::field("amount", "must be a string").to_json();
        assert_eq!(body["success"], false);
        assert_eq!(body["errorCode"], 1002);
        assert_eq!(body["errorMessage"], "amount: must be a string");
        assert_eq!(body["details"], "amount");
        assert_eq!(default_message(3004), "Duplicate transaction ID");
    }
}
