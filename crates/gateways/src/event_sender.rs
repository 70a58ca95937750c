//! `EventSender` over HTTP: the platform's endpoint gets a JSON POST signed like
//! Stripe's webhooks (`signature::sign`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "{t}.{body}">` under the endpoint's secret), so a platform verifies it with the
//! code it already has for Stripe.

use std::time::Duration;

use app::events_ports::{EndpointSecret, EventSender, SendFailure};
use async_trait::async_trait;
use chrono::Utc;
use uuid::Uuid;

use crate::signature;

/// The header that carries the signature.
pub const SIGNATURE_HEADER: &str = "Vondi-Signature";
/// The event's id, also in the body: a receiver drops an id it has seen (a
/// delivery is at least once).
pub const EVENT_ID_HEADER: &str = "Vondi-Event-Id";
/// Characters of an endpoint's answer kept in the delivery's error.
const ANSWER_CHARS_MAX: usize = 200;

pub struct HttpEventSender {
    http: reqwest::Client,
}

impl HttpEventSender {
    /// `timeout` bounds a whole request; no redirect is followed (a platform's
    /// endpoint answers itself).
    pub fn new(timeout: Duration) -> Result<Self, String> {
        crate::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("vondipayment/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the events HTTP client: {e}"))?;
        Ok(Self { http })
    }
}

#[async_trait]
impl EventSender for HttpEventSender {
    async fn send(&self, url: &str, secret: &EndpointSecret, event_id: Uuid, body: &[u8]) -> Result<u16, SendFailure> {
        let response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature::sign(secret.expose(), body, Utc::now().timestamp()))
            .header(EVENT_ID_HEADER, event_id.to_string())
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| SendFailure { status_code: None, message: without_url(&e) })?;
        let status = response.status();
        if status.is_success() {
            return Ok(status.as_u16());
        }
        let answer = response.text().await.unwrap_or_default();
        let answer: String = answer.chars().take(ANSWER_CHARS_MAX).collect();
        Err(SendFailure { status_code: Some(status.as_u16()), message: format!("HTTP {status}: {answer}") })
    }
}

/// reqwest's error without the URL, which may carry credentials in its query.
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut cause = std::error::Error::source(error);
    let mut detail = String::new();
    while let Some(inner) = cause {
        detail = inner.to_string();
        cause = inner.source();
    }
    if detail.is_empty() { kind.to_owned() } else { format!("{kind}: {detail}") }
}
