//! A thin client of Stripe's REST API: form-encoded requests with bracket nesting,
//! the pinned `Stripe-Version`, an `Idempotency-Key` on every POST, `Stripe-Account`
//! for connected accounts, a timeout per call and the retry rule of Stripe's own
//! client libraries (same key; 409, 5xx and network errors; `Stripe-Should-Retry`;
//! jittered exponential backoff; `Retry-After` up to 60 s; a bounded number of tries).

use std::fmt;
use std::time::Duration;

use rand::Rng;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;

use super::StripeError;

/// Backoff of Stripe's clients: 0.5 s × 2ⁿ, at most 5 s.
const BACKOFF_BASE: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// A longer `Retry-After` is not waited for: the usual backoff applies instead.
const RETRY_AFTER_MAX: Duration = Duration::from_secs(60);

/// How the service reaches Stripe.
#[derive(Clone)]
pub struct StripeSettings {
    pub base_url: String,
    pub api_key: String,
    pub api_version: String,
    pub timeout: Duration,
    /// Retries after the first try.
    pub max_retries: u32,
}

impl fmt::Debug for StripeSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeSettings")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("api_version", &self.api_version)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

/// Form fields in order, keys already bracket-nested (`metadata[payment_id]`).
#[derive(Debug, Default, Clone)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.0.push((key.into(), value.to_string()));
        self
    }

    /// Leaves out empty values: Stripe reads an empty string as "unset".
    pub fn set_nonempty(self, key: impl Into<String>, value: &str) -> Self {
        if value.is_empty() { self } else { self.set(key, value) }
    }
}

pub struct StripeClient {
    http: reqwest::Client,
    settings: StripeSettings,
}

impl fmt::Debug for StripeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeClient").field("settings", &self.settings).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize, Default)]
struct ErrorDetail {
    #[serde(rename = "type", default)]
    kind: String,
    code: Option<String>,
    decline_code: Option<String>,
    param: Option<String>,
    #[serde(default)]
    message: String,
}

/// One request, the same on every try.
struct Call<'a> {
    method: Method,
    path: &'a str,
    idempotency_key: Option<&'a str>,
    account: Option<&'a str>,
    form: Option<&'a Form>,
}

/// One try's result: done, or failed with whether (and after what) to try again.
enum Attempt {
    Done(Value),
    Failed { error: StripeError, retry_after: Option<Option<Duration>> },
}

impl StripeClient {
    pub fn new(settings: StripeSettings) -> Result<Self, String> {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(concat!("vondipayment/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the Stripe HTTP client: {e}"))?;
        Ok(Self { http, settings: StripeSettings { base_url: settings.base_url.trim_end_matches('/').to_owned(), ..settings } })
    }

    /// A POST keyed by `idempotency_key`, derived from our record so that a retry
    /// (ours, or the recovery job's after a crash) cannot act twice.
    pub async fn post(
        &self,
        path: &str,
        idempotency_key: &str,
        account: Option<&str>,
        form: &Form,
    ) -> Result<Value, StripeError> {
        self.send(&Call { method: Method::POST, path, idempotency_key: Some(idempotency_key), account, form: Some(form) }).await
    }

    pub async fn get(&self, path: &str, account: Option<&str>) -> Result<Value, StripeError> {
        self.send(&Call { method: Method::GET, path, idempotency_key: None, account, form: None }).await
    }

    async fn send(&self, call: &Call<'_>) -> Result<Value, StripeError> {
        let mut retries = 0;
        loop {
            match self.attempt(call).await {
                Attempt::Done(value) => return Ok(value),
                Attempt::Failed { error, retry_after: Some(hint) } if retries < self.settings.max_retries => {
                    let delay = backoff(retries, hint);
                    tracing::warn!(method = %call.method, path = call.path, retry = retries + 1, delay_ms = delay.as_millis() as u64, %error, "Stripe call failed; retrying with the same idempotency key");
                    tokio::time::sleep(delay).await;
                    retries += 1;
                }
                Attempt::Failed { error, .. } => return Err(error),
            }
        }
    }

    async fn attempt(&self, call: &Call<'_>) -> Attempt {
        let mut request = self
            .http
            .request(call.method.clone(), format!("{}{}", self.settings.base_url, call.path))
            .bearer_auth(&self.settings.api_key)
            .header("Stripe-Version", &self.settings.api_version);
        if let Some(key) = call.idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(account) = call.account {
            request = request.header("Stripe-Account", account);
        }
        if let Some(form) = call.form {
            request = request.form(&form.0);
        }
        let response = match request.send().await {
            Ok(response) => response,
            // Timeouts and broken connections: Stripe may have acted; the same key makes a retry safe.
            Err(error) => {
                let error = StripeError::Unreachable(without_url(&error));
                return Attempt::Failed { error, retry_after: Some(None) };
            }
        };
        let status = response.status();
        let should_retry = response.headers().get("stripe-should-retry").and_then(|v| v.to_str().ok()).map(|v| v == "true");
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => {
                return Attempt::Failed { error: StripeError::Unreachable(without_url(&error)), retry_after: Some(None) };
            }
        };
        if status.is_success() {
            return match serde_json::from_slice(&body) {
                Ok(value) => Attempt::Done(value),
                Err(error) => {
                    Attempt::Failed { error: StripeError::Unreachable(format!("unreadable answer: {error}")), retry_after: None }
                }
            };
        }
        let detail = serde_json::from_slice::<ErrorBody>(&body).map(|b| b.error).unwrap_or_default();
        let retry = should_retry.unwrap_or(status == StatusCode::CONFLICT || status.is_server_error());
        let error = error_of(status, detail);
        Attempt::Failed { error, retry_after: retry.then_some(retry_after) }
    }
}

fn error_of(status: StatusCode, detail: ErrorDetail) -> StripeError {
    let code = detail.decline_code.or(detail.code);
    match status.as_u16() {
        401 | 403 => StripeError::Credentials { status: status.as_u16() },
        402 => StripeError::Declined { code, message: detail.message },
        409 | 429 | 500..=599 => StripeError::Server { status: status.as_u16(), message: detail.message },
        _ => StripeError::Invalid {
            status: status.as_u16(),
            kind: detail.kind,
            code,
            param: detail.param,
            message: detail.message,
        },
    }
}

/// reqwest's errors name the URL; ours carry ids only, but keep messages short.
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    match std::error::Error::source(error) {
        Some(source) => format!("{kind}: {source}"),
        None => kind.to_owned(),
    }
}

/// The wait before retry `n` (0-based): the server's `Retry-After` when it gives a
/// sane one, else jittered exponential backoff.
fn backoff(n: u32, retry_after: Option<Duration>) -> Duration {
    if let Some(after) = retry_after.filter(|after| *after <= RETRY_AFTER_MAX) {
        return after;
    }
    let exponential = BACKOFF_BASE.saturating_mul(2u32.saturating_pow(n)).min(BACKOFF_MAX);
    exponential.mul_f64(rand::rng().random_range(0.75..=1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_and_honours_retry_after() {
        assert!(backoff(0, None) <= BACKOFF_BASE && backoff(0, None) >= BACKOFF_BASE.mul_f64(0.75));
        assert!(backoff(10, None) <= BACKOFF_MAX);
        assert_eq!(backoff(3, Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert!(backoff(0, Some(Duration::from_secs(600))) <= BACKOFF_BASE, "an absurd Retry-After is ignored");
    }

    #[test]
    fn the_api_key_never_prints() {
        let settings = StripeSettings {
            base_url: "http://127.0.0.1:1".into(),
            api_key: "sk_live_secret123".into(),
            api_version: "2023-08-16".into(),
            timeout: Duration::from_secs(1),
            max_retries: 0,
        };
        let client = StripeClient::new(settings.clone()).unwrap();
        assert!(!format!("{settings:?} {client:?}").contains("secret123"));
    }

    #[test]
    fn statuses_become_the_errors_their_retry_rule_needs() {
        let detail = |message: &str| ErrorDetail { message: message.into(), ..Default::default() };
        assert!(matches!(
            error_of(StatusCode::UNAUTHORIZED, detail("Invalid API Key provided: sk_live_***")),
            StripeError::Credentials { status: 401 }
        ));
        assert!(matches!(error_of(StatusCode::PAYMENT_REQUIRED, detail("declined")), StripeError::Declined { .. }));
        assert!(matches!(error_of(StatusCode::SERVICE_UNAVAILABLE, detail("down")), StripeError::Server { status: 503, .. }));
        assert!(matches!(error_of(StatusCode::BAD_REQUEST, detail("bad")), StripeError::Invalid { status: 400, .. }));
    }
}
