//! The Stripe adapter: Checkout Sessions and refunds behind `PaymentGateway`,
//! Connect (express accounts, transfers with `source_transaction`, reversals, manual
//! payouts, balances) behind `ConnectGateway`. Every POST carries an idempotency key
//! derived from our record's id; our ids travel in each object's metadata, so the
//! events Stripe sends back name our records.

mod client;
mod connect;
mod reconcile;

use std::sync::Arc;

use app::ports::{
    GatewayCheckout, GatewayError, GatewayEvent, GatewayLimits, GatewayRefund, GatewaySession, PaymentGateway, WebhookDelivery,
    WebhookError,
};
use app::reconciliation_ports::{OurRecord, Window};
use chrono::{DateTime, Utc};
use domain::payment::Payment;
use domain::reconciliation::Record;
use domain::refunds::{Refund, RefundStatus};
use serde_json::Value;

pub use client::{Form, StripeClient, StripeSettings};
pub use connect::StripeConnectGateway;

use crate::{events, signature};

/// Stripe's answers, as the adapter tells them apart.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StripeError {
    #[error("Stripe could not be reached: {0}")]
    Unreachable(String),
    #[error("Stripe answered {status}: {message}")]
    Server { status: u16, message: String },
    /// The message of a 401 may echo part of the key: it is not kept.
    #[error("Stripe refused the API key ({status})")]
    Credentials { status: u16 },
    #[error("declined: {message}")]
    Declined { code: Option<String>, message: String },
    #[error("{message}")]
    Invalid { status: u16, kind: String, code: Option<String>, param: Option<String>, message: String },
    #[error("Stripe's answer lacks {0}")]
    Unexpected(&'static str),
}

impl From<StripeError> for GatewayError {
    fn from(error: StripeError) -> Self {
        match error {
            StripeError::Unreachable(_) | StripeError::Server { .. } | StripeError::Unexpected(_) => {
                Self::Unavailable(error.to_string())
            }
            StripeError::Credentials { .. } => Self::Misconfigured(error.to_string()),
            // Our key was used with other parameters: Stripe may have acted on the
            // first request, so the record must stay pending until someone looks.
            StripeError::Invalid { ref kind, .. } if kind == "idempotency_error" => Self::Misconfigured(error.to_string()),
            StripeError::Declined { .. } => Self::Refused(error.to_string()),
            StripeError::Invalid { ref param, ref message, .. } => match param {
                Some(param) => Self::Invalid(format!("Stripe: {message} (parameter {param})")),
                None => Self::Invalid(format!("Stripe: {message}")),
            },
        }
    }
}

/// Stripe keeps an idempotency key for 24 hours; past that, the same key could act
/// a second time. A record older than this is not sent again: it stays pending, and
/// the log asks for a look at Stripe's dashboard.
const KEY_LIFETIME_SAFE: chrono::Duration = chrono::Duration::hours(23);

/// Refuses to send a keyed POST for a record created too long ago.
fn key_still_valid(what: &str, id: uuid::Uuid, created_at: DateTime<Utc>) -> Result<(), GatewayError> {
    if Utc::now() - created_at > KEY_LIFETIME_SAFE {
        return Err(GatewayError::Misconfigured(format!(
            "{what} {id} is older than Stripe's idempotency window and was never confirmed: check Stripe for it (metadata {what}_id) before settling it by hand"
        )));
    }
    Ok(())
}

/// Stripe's `reason` takes only these; other text stays in metadata.
const REFUND_REASONS: [&str; 3] = ["duplicate", "fraudulent", "requested_by_customer"];
/// Stripe's limit on a metadata value.
const METADATA_VALUE_MAX: usize = 500;

pub struct StripeGateway {
    client: Arc<StripeClient>,
    limits: GatewayLimits,
    /// The platform endpoint's secret and the Connect endpoint's; either may sign.
    webhook_secrets: Vec<String>,
}

impl StripeGateway {
    pub fn new(client: Arc<StripeClient>, limits: GatewayLimits, webhook_secrets: Vec<String>) -> Self {
        let webhook_secrets = webhook_secrets.into_iter().filter(|s| !s.is_empty()).collect();
        Self { client, limits, webhook_secrets }
    }
}

fn text<'a>(value: &'a Value, field: &'static str) -> Result<&'a str, StripeError> {
    value.get(field).and_then(Value::as_str).ok_or(StripeError::Unexpected(field))
}

fn refund_answer(refund: &Value) -> Result<GatewayRefund, GatewayError> {
    let status = match refund.get("status").and_then(Value::as_str) {
        Some("succeeded") => RefundStatus::Succeeded,
        Some("failed" | "canceled") => RefundStatus::Failed,
        _ => RefundStatus::Pending,
    };
    Ok(GatewayRefund {
        gateway_refund_id: text(refund, "id")?.to_owned(),
        status,
        failure_reason: refund.get("failure_reason").and_then(Value::as_str).map(str::to_owned),
    })
}

#[async_trait::async_trait]
impl PaymentGateway for StripeGateway {
    fn name(&self) -> &str {
        "stripe"
    }

    fn limits(&self) -> &GatewayLimits {
        &self.limits
    }

    /// Separate charges and transfers: the charge lands on the platform, grouped by
    /// the payment id so that a release's transfer can name it.
    async fn create_checkout(&self, checkout: &GatewayCheckout) -> Result<GatewaySession, GatewayError> {
        let payment_id = checkout.payment_id.to_string();
        let form = Form::new()
            .set("mode", "payment")
            .set("line_items[0][price_data][currency]", checkout.amount.currency().code().to_ascii_lowercase())
            .set("line_items[0][price_data][unit_amount]", checkout.amount.minor())
            .set("line_items[0][price_data][product_data][name]", &checkout.description)
            .set("line_items[0][quantity]", 1)
            .set("success_url", &checkout.success_url)
            .set("cancel_url", &checkout.cancel_url)
            .set("client_reference_id", &payment_id)
            .set("metadata[payment_id]", &payment_id)
            .set("payment_intent_data[metadata][payment_id]", &payment_id)
            .set("payment_intent_data[transfer_group]", &payment_id);
        let session = self.client.post("/v1/checkout/sessions", &format!("checkout-{payment_id}"), None, &form).await?;
        Ok(GatewaySession {
            session_id: text(&session, "id")?.to_owned(),
            checkout_url: text(&session, "url")?.to_owned(),
            gateway_transaction_id: None,
            settled: None,
        })
    }

    async fn refund(&self, refund: &Refund, payment: &Payment) -> Result<GatewayRefund, GatewayError> {
        if let Some(id) = &refund.gateway_refund_id {
            // Stripe has it: read its status rather than send it again (keys expire after 24 h).
            return refund_answer(&self.client.get(&format!("/v1/refunds/{id}"), None).await?);
        }
        key_still_valid("refund", refund.id, refund.created_at)?;
        let intent = payment
            .gateway_payment_intent_id
            .as_deref()
            .ok_or_else(|| GatewayError::Invalid(format!("payment {} has no Stripe payment intent", payment.id)))?;
        let mut form = Form::new()
            .set("payment_intent", intent)
            .set("amount", refund.amount.minor())
            .set("metadata[refund_id]", refund.id)
            .set("metadata[payment_id]", payment.id)
            .set_nonempty("metadata[reason]", &refund.reason.chars().take(METADATA_VALUE_MAX).collect::<String>());
        if REFUND_REASONS.contains(&refund.reason.as_str()) {
            form = form.set("reason", &refund.reason);
        }
        refund_answer(&self.client.post("/v1/refunds", &format!("refund-{}", refund.id), None, &form).await?)
    }

    fn verify_webhook(&self, delivery: &WebhookDelivery<'_>, now: DateTime<Utc>) -> Result<GatewayEvent, WebhookError> {
        let (payload, header) = (delivery.payload, delivery.header(signature::HEADER).unwrap_or_default());
        let mut verdict = Err(WebhookError::NoSecret);
        for secret in &self.webhook_secrets {
            verdict = match (verdict, signature::verify(secret, header, payload, now)) {
                (_, Ok(())) => Ok(()),
                // A matching but stale signature says more than a mismatch.
                (Err(WebhookError::StaleSignature), Err(_)) => Err(WebhookError::StaleSignature),
                (_, Err(error)) => Err(error),
            };
            if verdict.is_ok() {
                break;
            }
        }
        verdict?;
        events::parse_envelope(payload)
    }

    fn parse_event(&self, event_id: &str, event_type: &str, object: &[u8]) -> Result<GatewayEvent, WebhookError> {
        events::parse_object(event_id, event_type, object)
    }

    /// Stripe's account ids are `acct_` and letters and digits; the mock's and
    /// AllSecure's have a second underscore (`acct_mock_…`, `acct_as_…`).
    fn reconciles_account(&self, gateway_account_id: &str) -> bool {
        gateway_account_id.strip_prefix("acct_").is_some_and(|rest| !rest.is_empty() && !rest.contains('_'))
    }

    async fn reconciliation_report(&self, window: &Window, ours: &[OurRecord]) -> Result<Vec<Record>, GatewayError> {
        reconcile::report(&self.client, window, ours).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_older_than_stripes_key_window_is_not_sent_again() {
        let id = uuid::Uuid::nil();
        assert!(key_still_valid("refund", id, Utc::now() - chrono::Duration::hours(1)).is_ok());
        let stale = key_still_valid("refund", id, Utc::now() - chrono::Duration::hours(25)).unwrap_err();
        assert!(stale.keeps_pending(), "it stays pending for a person to check");
    }

    #[test]
    fn stripes_errors_map_to_what_our_records_do_next() {
        let invalid = |kind: &str| StripeError::Invalid {
            status: 400,
            kind: kind.into(),
            code: None,
            param: Some("amount".into()),
            message: "bad".into(),
        };
        assert!(GatewayError::from(invalid("idempotency_error")).keeps_pending(), "the first request may have acted");
        assert!(matches!(GatewayError::from(invalid("invalid_request_error")), GatewayError::Invalid(m) if m.contains("amount")));
        assert!(GatewayError::from(StripeError::Server { status: 503, message: String::new() }).keeps_pending());
        assert!(!GatewayError::from(StripeError::Declined { code: None, message: "no".into() }).keeps_pending());
    }
}
