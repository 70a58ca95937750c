//! The built-in mock gateway: sessions are created in-process and paid on the
//! service's own hosted page (`/payment/mock`); webhooks use the Stripe scheme.

use app::ports::{
    GatewayCheckout, GatewayError, GatewayEvent, GatewayLimits, GatewayRefund, GatewaySession, PaymentGateway, WebhookDelivery,
    WebhookError,
};
use app::reconciliation_ports::{OurRecord, Window};
use chrono::{DateTime, Utc};
use domain::payment::Payment;
use domain::reconciliation::{ObjectKind, Record};
use domain::refunds::RefundStatus;

use crate::{events, signature};

pub struct MockGateway {
    name: String,
    limits: GatewayLimits,
    webhook_secret: String,
    /// Where the service's hosted pages are reachable by a browser, no trailing slash.
    public_url: String,
}

impl MockGateway {
    /// `name` is "mock", or a real gateway's name when `GATEWAYS_USE_MOCK` stands the
    /// mock in for it (with that gateway's limits and webhook secret).
    pub fn new(
        name: impl Into<String>,
        limits: GatewayLimits,
        webhook_secret: impl Into<String>,
        public_url: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            limits,
            webhook_secret: webhook_secret.into(),
            public_url: public_url.into().trim_end_matches('/').to_owned(),
        }
    }

    /// The session id is derived from the payment id, so a retry gets the same one.
    fn session(&self, checkout: &GatewayCheckout) -> GatewaySession {
        let session_id = format!("cs_mock_{}", checkout.payment_id.simple());
        let checkout_url = format!("{}/payment/mock?session_id={session_id}", self.public_url);
        GatewaySession { session_id, checkout_url, gateway_transaction_id: None, settled: None }
    }
}

#[async_trait::async_trait]
impl PaymentGateway for MockGateway {
    fn name(&self) -> &str {
        &self.name
    }

    fn limits(&self) -> &GatewayLimits {
        &self.limits
    }

    async fn create_checkout(&self, checkout: &GatewayCheckout) -> Result<GatewaySession, GatewayError> {
        Ok(self.session(checkout))
    }

    fn session_without_call(&self, checkout: &GatewayCheckout) -> Option<GatewaySession> {
        Some(self.session(checkout))
    }

    /// A reason starting with `mock_failure:` makes the mock refuse the refund, so the
    /// failure path can be exercised.
    async fn refund(&self, refund: &domain::refunds::Refund, _payment: &Payment) -> Result<GatewayRefund, GatewayError> {
        if let Some(code) = refund.reason.strip_prefix(crate::MOCK_FAILURE_PREFIX) {
            return Err(GatewayError::Refused(format!("mock refund refused: {code}")));
        }
        Ok(GatewayRefund {
            gateway_refund_id: format!("re_mock_{}", refund.id.simple()),
            status: RefundStatus::Succeeded,
            failure_reason: None,
        })
    }

    fn verify_webhook(&self, delivery: &WebhookDelivery<'_>, now: DateTime<Utc>) -> Result<GatewayEvent, WebhookError> {
        let header = delivery.header(signature::HEADER).unwrap_or_default();
        signature::verify(&self.webhook_secret, header, delivery.payload, now)?;
        events::parse_envelope(delivery.payload)
    }

    fn parse_event(&self, event_id: &str, event_type: &str, object: &[u8]) -> Result<GatewayEvent, WebhookError> {
        events::parse_object(event_id, event_type, object)
    }

    fn reconciles_account(&self, gateway_account_id: &str) -> bool {
        gateway_account_id.starts_with("acct_mock_")
    }

    /// The mock keeps no books: its records are the ids it derives from ours. A record
    /// of ours with another gateway id is one the mock never made.
    async fn reconciliation_report(&self, _window: &Window, ours: &[OurRecord]) -> Result<Vec<Record>, GatewayError> {
        Ok(ours.iter().map(|our| &our.record).filter(|record| made_by_mock(record)).cloned().collect())
    }
}

/// Whether the mock gave this record its gateway id (see `create_checkout`, `refund`
/// and `MockConnectGateway`).
fn made_by_mock(record: &Record) -> bool {
    let Some(id) = record.our_id.as_deref().and_then(|id| uuid::Uuid::parse_str(id).ok()) else {
        return false;
    };
    let prefix = match record.kind {
        ObjectKind::Payment => "pi_",
        ObjectKind::Refund => "re_mock_",
        ObjectKind::Transfer => "tr_mock_",
        ObjectKind::Reversal => "trr_mock_",
        ObjectKind::Payout => "po_mock_",
    };
    record.gateway_id.as_deref() == Some(format!("{prefix}{}", id.simple()).as_str())
}
