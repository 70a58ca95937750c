//! A client of AllSecure's IXOPAY Transaction API v3: signed JSON requests with
//! Basic auth, a timeout per call, and retries that never act twice. There is no
//! idempotency header: our `merchantTransactionId` is the key. Before a retry
//! (5xx, 1008, 1010, a timeout) and on a 3004 duplicate, the status API is asked
//! whether the earlier attempt happened; a new id is never made up.

use std::fmt;
use std::time::Duration;

use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use sha1::{Digest, Sha1};

use super::signature::{CONTENT_TYPE, http_date, sign};

/// Pause between tries; the status lookup in between is what makes them safe.
const RETRY_DELAY: Duration = Duration::from_millis(500);
/// Gateway error codes that mean "try again later" (system error, too many
/// requests, maintenance).
const RETRYABLE_CODES: [i64; 3] = [1008, 1009, 1010];
/// "Duplicate transaction ID": our id was used, the status API says how it ended.
const DUPLICATE_CODE: i64 = 3004;

#[derive(Clone)]
pub struct AllSecureSettings {
    /// With the version path, e.g. `https://asxgw.com/api/v3`.
    pub base_url: String,
    pub api_key: String,
    pub username: String,
    pub password: String,
    /// Send SHA-1 applied ten times to the password, as the official PHP clients do.
    pub hash_password: bool,
    pub shared_secret: String,
    pub signature_enabled: bool,
    pub timeout: Duration,
    pub max_retries: u32,
}

impl fmt::Debug for AllSecureSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AllSecureSettings")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("username", &"***")
            .field("password", &"***")
            .field("hash_password", &self.hash_password)
            .field("shared_secret", &"***")
            .field("signature_enabled", &self.signature_enabled)
            .field("timeout", &self.timeout)
            .field("max_retries", &self.max_retries)
            .finish()
    }
}

/// How a transaction stands at the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The buyer finishes on the gateway's page; a callback follows.
    Redirect {
        uuid: String,
        url: String,
    },
    Finished {
        uuid: String,
    },
    /// A callback follows.
    Pending {
        uuid: String,
    },
    /// The transaction was made and failed (a decline): nothing moved.
    Failed {
        uuid: Option<String>,
        code: Option<i64>,
        message: String,
    },
}

/// A transaction as the status API reports it, with its amount (a decimal string)
/// and currency when it has them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booked {
    pub outcome: Outcome,
    pub amount: Option<String>,
    pub currency: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum AllSecureError {
    #[error("AllSecure could not be reached: {0}")]
    Unreachable(String),
    #[error("AllSecure refused our credentials or signature ({0})")]
    Credentials(String),
    #[error("AllSecure refused the request: {0}")]
    Invalid(String),
    #[error("AllSecure's answer was not understood: {0}")]
    Unexpected(String),
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Answer {
    #[serde(default)]
    success: bool,
    uuid: Option<String>,
    return_type: Option<String>,
    redirect_url: Option<String>,
    transaction_status: Option<String>,
    amount: Option<String>,
    currency: Option<String>,
    #[serde(default)]
    errors: Vec<ErrorEntry>,
    error_message: Option<String>,
    error_code: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorEntry {
    error_message: Option<String>,
    error_code: Option<i64>,
    adapter_message: Option<String>,
}

impl Answer {
    fn first_error(&self) -> (Option<i64>, String) {
        match self.errors.first() {
            Some(e) => (e.error_code, e.error_message.clone().or_else(|| e.adapter_message.clone()).unwrap_or_default()),
            None => (self.error_code, self.error_message.clone().unwrap_or_default()),
        }
    }

    /// A transaction answer (debit, refund, payout).
    fn outcome(&self) -> Result<Outcome, AllSecureError> {
        let uuid = || self.uuid.clone().ok_or_else(|| AllSecureError::Unexpected("no uuid".into()));
        if !self.success || self.return_type.as_deref() == Some("ERROR") {
            let (code, message) = self.first_error();
            return Ok(Outcome::Failed { uuid: self.uuid.clone(), code, message });
        }
        match (self.return_type.as_deref(), &self.redirect_url) {
            (Some("REDIRECT"), Some(url)) => Ok(Outcome::Redirect { uuid: uuid()?, url: url.clone() }),
            (Some("FINISHED"), _) => Ok(Outcome::Finished { uuid: uuid()? }),
            (Some("PENDING" | "REDIRECT" | "HTML"), _) => Ok(Outcome::Pending { uuid: uuid()? }),
            (other, _) => Err(AllSecureError::Unexpected(format!("returnType {other:?}"))),
        }
    }

    /// A status API answer; `None` when the gateway has no such transaction.
    fn status(&self) -> Option<Outcome> {
        let uuid = self.uuid.clone()?;
        Some(match self.transaction_status.as_deref()? {
            "SUCCESS" => Outcome::Finished { uuid },
            // The status API does not repeat the page's address: an empty URL says so.
            "REDIRECT" => Outcome::Redirect { uuid, url: self.redirect_url.clone().unwrap_or_default() },
            "ERROR" | "CANCELLED" => {
                let (code, message) = self.first_error();
                Outcome::Failed { uuid: Some(uuid), code, message }
            }
            _ => Outcome::Pending { uuid },
        })
    }

    fn is_duplicate(&self) -> bool {
        self.errors.iter().any(|e| e.error_code == Some(DUPLICATE_CODE)) || self.error_code == Some(DUPLICATE_CODE)
    }
}

/// One HTTP exchange: a JSON answer, a system error, or no answer at all.
enum Reply {
    Answer(Answer),
    System { status: StatusCode, answer: Answer },
    Silent(String),
}

pub struct AllSecureClient {
    http: reqwest::Client,
    settings: AllSecureSettings,
    /// The base URL's path (`/api/v3`): signatures cover path and query.
    base_path: String,
    password: String,
}

impl fmt::Debug for AllSecureClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AllSecureClient").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// SHA-1 ten times, each over the previous round's hex, as IXOPAY's PHP client does.
fn hashed(password: &str) -> String {
    (0..10).fold(password.to_owned(), |text, _| hex::encode(Sha1::digest(text.as_bytes())))
}

impl AllSecureClient {
    pub fn new(settings: AllSecureSettings) -> Result<Self, String> {
        crate::install_crypto_provider();
        let base_url = settings.base_url.trim_end_matches('/').to_owned();
        let base_path = reqwest::Url::parse(&base_url)
            .map_err(|e| format!("the AllSecure base URL is not a URL: {e}"))?
            .path()
            .trim_end_matches('/')
            .to_owned();
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .build()
            .map_err(|e| format!("cannot build the AllSecure HTTP client: {e}"))?;
        let password = if settings.hash_password { hashed(&settings.password) } else { settings.password.clone() };
        Ok(Self { http, settings: AllSecureSettings { base_url, ..settings }, base_path, password })
    }

    pub fn callback_secret(&self) -> &str {
        &self.settings.shared_secret
    }

    /// The API key is part of every URL: a gateway message that echoes it is cut.
    fn scrub(&self, text: &str) -> String {
        scrub(text, &self.settings.api_key)
    }

    /// Sends a transaction keyed by `merchant_id`; a retry or a duplicate asks the
    /// status API first, so the transaction is made at most once.
    pub async fn transact(&self, operation: &str, merchant_id: &str, body: &Value) -> Result<Outcome, AllSecureError> {
        let path = format!("/transaction/{}/{operation}", self.settings.api_key);
        let mut retries = 0;
        loop {
            let error = match self.call(Method::POST, &path, Some(body)).await {
                Reply::Answer(answer) if answer.is_duplicate() => {
                    return self.status(merchant_id).await?.ok_or_else(|| {
                        AllSecureError::Unexpected(format!("{merchant_id} is a duplicate but the status API does not know it"))
                    });
                }
                Reply::Answer(answer) => return answer.outcome(),
                // After a try that may have reached the gateway, only the status API
                // can say it failed: a refusal now must not undo money it may have moved.
                Reply::System { status, answer } if !retryable(status, &answer) && retries == 0 => {
                    return Err(refusal(status, &answer, &self.settings.api_key));
                }
                Reply::System { status, answer } => format!("HTTP {status}: {}", self.scrub(&answer.first_error().1)),
                Reply::Silent(error) => error,
            };
            // The attempt may have been made: ask before trying again.
            if let Ok(Some(outcome)) = self.status(merchant_id).await {
                return Ok(outcome);
            }
            if retries >= self.settings.max_retries {
                return Err(AllSecureError::Unreachable(error));
            }
            tracing::warn!(
                operation,
                merchant_id,
                retry = retries + 1,
                error,
                "AllSecure call failed and the status API has no such transaction; retrying with the same id"
            );
            tokio::time::sleep(RETRY_DELAY).await;
            retries += 1;
        }
    }

    /// The transaction made with our `merchant_id`, if the gateway has one.
    pub async fn status(&self, merchant_id: &str) -> Result<Option<Outcome>, AllSecureError> {
        Ok(self.status_answer(merchant_id).await?.and_then(|answer| answer.status()))
    }

    /// The transaction made with our `merchant_id` and the amount the status API
    /// reports for it (a debit, refund or payout has one), for reconciliation.
    pub async fn booked(&self, merchant_id: &str) -> Result<Option<Booked>, AllSecureError> {
        let Some(answer) = self.status_answer(merchant_id).await? else { return Ok(None) };
        let Some(outcome) = answer.status() else { return Ok(None) };
        Ok(Some(Booked { outcome, amount: answer.amount.clone(), currency: answer.currency.clone() }))
    }

    async fn status_answer(&self, merchant_id: &str) -> Result<Option<Answer>, AllSecureError> {
        let path = format!("/status/{}/getByMerchantTransactionId/{merchant_id}", self.settings.api_key);
        match self.call(Method::GET, &path, None).await {
            Reply::Answer(answer) if answer.success => Ok(Some(answer)),
            Reply::Answer(_) => Ok(None),
            Reply::System { status, answer } if retryable(status, &answer) => {
                Err(AllSecureError::Unreachable(format!("status API: HTTP {status}")))
            }
            Reply::System { status, answer } if status == StatusCode::NOT_FOUND => Ok(Some(answer)),
            Reply::System { status, answer } => Err(refusal(status, &answer, &self.settings.api_key)),
            Reply::Silent(error) => Err(AllSecureError::Unreachable(error)),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let date = http_date(Utc::now());
        let uri = format!("{}{path}", self.base_path);
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.settings.base_url))
            .basic_auth(&self.settings.username, Some(&self.password))
            .header("Date", &date)
            .header("X-Date", &date)
            .header("Content-Type", CONTENT_TYPE)
            .header("Accept", "application/json");
        if self.settings.signature_enabled {
            let signature = sign(&self.settings.shared_secret, method.as_str(), &bytes, CONTENT_TYPE, &date, &uri);
            request = request.header("X-Signature", signature);
        }
        if body.is_some() {
            request = request.body(bytes);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Reply::Silent(if error.is_timeout() { "timed out".into() } else { "connection failed".into() }),
        };
        let status = response.status();
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(_) => return Reply::Silent("the answer was cut off".into()),
        };
        match serde_json::from_slice::<Answer>(&bytes) {
            Ok(answer) if status.is_success() => Reply::Answer(answer),
            // An answer we cannot read says nothing about the transaction.
            Err(_) if status.is_success() => Reply::Silent("the answer could not be read".into()),
            parsed => Reply::System { status, answer: parsed.unwrap_or_default() },
        }
    }
}

fn retryable(status: StatusCode, answer: &Answer) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || answer.error_code.is_some_and(|code| RETRYABLE_CODES.contains(&code))
}

fn scrub(text: &str, api_key: &str) -> String {
    if api_key.is_empty() { text.to_owned() } else { text.replace(api_key, "***") }
}

fn refusal(status: StatusCode, answer: &Answer, api_key: &str) -> AllSecureError {
    let (code, message) = answer.first_error();
    let message = scrub(&message, api_key);
    let text = format!("HTTP {status}, code {}: {message}", code.map_or_else(|| "-".to_owned(), |c| c.to_string()));
    // 1001–1004 are authentication, API key and signature errors.
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN || code.is_some_and(|c| (1001..=1004).contains(&c)) {
        AllSecureError::Credentials(text)
    } else {
        AllSecureError::Invalid(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hashed_password_is_sha1_ten_times_over_hex() {
        let once = hex::encode(Sha1::digest(b"secret"));
        assert_eq!(once, "e5e9fa1ba31ecd1ae84f75caaa474f3a663f05f4");
        assert_eq!(hashed("secret").len(), 40);
        assert_ne!(hashed("secret"), once);
    }

    #[test]
    fn answers_become_outcomes() {
        let answer = |json: &str| serde_json::from_str::<Answer>(json).unwrap();
        let redirect = answer(r#"{"success":true,"uuid":"u1","returnType":"REDIRECT","redirectUrl":"https://pay.example/u1"}"#);
        assert_eq!(redirect.outcome().unwrap(), Outcome::Redirect { uuid: "u1".into(), url: "https://pay.example/u1".into() });
        let declined = answer(
            r#"{"success":false,"uuid":"u2","returnType":"ERROR","errors":[{"errorMessage":"Declined","errorCode":2003}]}"#,
        );
        assert_eq!(
            declined.outcome().unwrap(),
            Outcome::Failed { uuid: Some("u2".into()), code: Some(2003), message: "Declined".into() }
        );
        let duplicate =
            answer(r#"{"success":false,"returnType":"ERROR","errors":[{"errorMessage":"Duplicate","errorCode":3004}]}"#);
        assert!(duplicate.is_duplicate());
        let found = answer(r#"{"success":true,"uuid":"u3","transactionStatus":"SUCCESS"}"#);
        assert_eq!(found.status(), Some(Outcome::Finished { uuid: "u3".into() }));
        assert!(retryable(StatusCode::OK, &answer(r#"{"success":false,"errorCode":1008}"#)));
        assert!(matches!(refusal(StatusCode::UNAUTHORIZED, &Answer::default(), "k"), AllSecureError::Credentials(_)));
        let echo = answer(r#"{"success":false,"errorMessage":"no route /transaction/key-123/debit","errorCode":1000}"#);
        assert!(!refusal(StatusCode::NOT_FOUND, &echo, "key-123").to_string().contains("key-123"), "the key is cut");
        assert!(retryable(StatusCode::TOO_MANY_REQUESTS, &Answer::default()));
    }

    #[test]
    fn secrets_never_print() {
        let settings = AllSecureSettings {
            base_url: "https://asxgw.com/api/v3".into(),
            api_key: "key-123".into(),
            username: "user-123".into(),
            password: "pass-123".into(),
            hash_password: false,
            shared_secret: "shared-123".into(),
            signature_enabled: true,
            timeout: Duration::from_secs(1),
            max_retries: 0,
        };
        let client = AllSecureClient::new(settings).unwrap();
        let printed = format!("{client:?}");
        for secret in ["key-123", "user-123", "pass-123", "shared-123"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert_eq!(client.base_path, "/api/v3");
    }
}
