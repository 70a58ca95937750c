//! Gateway events: verified webhooks, trusted events and the mock page all end in
//! `apply_event`, which logs the event and applies it at most once.

use std::sync::Arc;

use chrono::Utc;
use domain::FieldError;
use domain::payment::{Payment, PaymentOutcome, PaymentStatus, PaymentType};
use domain::validation::{IDENTIFIER_LEN_MAX, parse_identifier};
use domain::wallet::{WalletTransaction, WalletTransactionKind, WalletTransactionStatus};
use uuid::Uuid;

use crate::auth::Principal;
use crate::ports::{
    Decide, Decision, EventEffect, EventOutcome, GatewayEvent, PaymentEvent, Settlement, WebhookDelivery, WebhookError,
    WebhookLog,
};
use crate::{App, AppError};

/// How a skipped event that names a wrong amount starts its reason.
const CHARGED_OTHER_AMOUNT: &str = "the gateway charged";

/// Largest webhook body accepted; a real event is a few kilobytes.
pub const WEBHOOK_BODY_BYTES_MAX: usize = 64 * 1024;
/// Event types are short dotted names (`checkout.session.completed`).
const EVENT_TYPE_LEN_MAX: usize = 100;
/// The mock page's event id is its session id after this.
const MOCK_EVENT_PREFIX: &str = "evt_";

/// What happened to an event, for the caller's response.
#[derive(Debug, Clone)]
pub struct WebhookReceipt {
    pub duplicate: bool,
    /// The event changed a payment.
    pub applied: bool,
    pub payment: Option<Payment>,
    pub message: String,
}

impl WebhookReceipt {
    pub(crate) fn duplicate(payment: Option<Payment>) -> Self {
        Self { duplicate: true, applied: false, payment, message: "duplicate event, already processed".into() }
    }
}

/// The log row of a verified event.
pub(crate) fn webhook_log(gateway_name: &str, event: &GatewayEvent, payload: String) -> WebhookLog {
    WebhookLog {
        id: Uuid::now_v7(),
        gateway_name: gateway_name.to_owned(),
        event_id: event.event_id.clone(),
        event_type: event.event_type.clone(),
        payload,
        signature_valid: true,
        received_at: Utc::now(),
    }
}

impl App {
    /// A webhook delivery: the signature is checked before anything is stored.
    pub async fn receive_webhook(&self, gateway_name: &str, delivery: &WebhookDelivery<'_>) -> Result<WebhookReceipt, AppError> {
        let gateway = self.gateways.resolve("gateway_name", gateway_name)?;
        let payload = delivery.payload;
        if payload.len() > WEBHOOK_BODY_BYTES_MAX {
            crate::metrics::webhook_event(gateway.name(), "rejected");
            return Err(FieldError::new("payload", format!("is larger than {WEBHOOK_BODY_BYTES_MAX} bytes")).into());
        }
        let event = gateway.verify_webhook(delivery, Utc::now()).map_err(|error| {
            crate::metrics::webhook_event(gateway.name(), "rejected");
            tracing::warn!(gateway = gateway.name(), %error, "webhook rejected");
            webhook_error(error)
        })?;
        self.apply_event(gateway.name(), event, String::from_utf8_lossy(payload).into_owned()).await
    }

    /// An event that a trusted caller (service role) already verified.
    pub async fn receive_trusted_event(
        &self,
        principal: &Principal,
        gateway_name: &str,
        event_id: &str,
        event_type: &str,
        object: &[u8],
    ) -> Result<WebhookReceipt, AppError> {
        principal.ensure_service()?;
        let gateway = self.gateways.resolve("gateway_name", gateway_name)?;
        parse_identifier("event_id", event_id, IDENTIFIER_LEN_MAX)?;
        parse_identifier("event_type", event_type, EVENT_TYPE_LEN_MAX)?;
        if object.len() > WEBHOOK_BODY_BYTES_MAX {
            return Err(FieldError::new("event_payload", format!("is larger than {WEBHOOK_BODY_BYTES_MAX} bytes")).into());
        }
        let event = gateway.parse_event(event_id, event_type, object).map_err(|error| match error {
            error @ WebhookError::MalformedPayload(_) => AppError::from(FieldError::new("event_payload", error.to_string())),
            other => webhook_error(other),
        })?;
        self.apply_event(gateway.name(), event, String::from_utf8_lossy(object).into_owned()).await
    }

    /// The mock gateway's hosted page: the buyer's button press becomes the event a
    /// real gateway would send, and takes the same path. The event names its payment
    /// by session only, so it is found and settled in the events' group commit with no
    /// read before (issue 11); a click whose session no mock-served gateway's payment
    /// has writes nothing and is not found.
    pub async fn complete_mock_checkout(&self, session_id: &str, outcome: PaymentOutcome) -> Result<WebhookReceipt, AppError> {
        // The event id is the session's with a prefix: both must be storable.
        parse_identifier("session_id", session_id, IDENTIFIER_LEN_MAX - MOCK_EVENT_PREFIX.len())?;
        let (event_type, failure_reason) = match outcome {
            PaymentOutcome::Succeeded => ("checkout.session.completed", None),
            PaymentOutcome::Failed => {
                ("checkout.session.async_payment_failed", Some("the buyer chose a failed payment".to_owned()))
            }
            PaymentOutcome::Expired => ("checkout.session.expired", None),
        };
        let event = GatewayEvent {
            // One event per session: a second click is a duplicate with no effect.
            event_id: format!("{MOCK_EVENT_PREFIX}{session_id}"),
            event_type: event_type.to_owned(),
            created: Some(Utc::now().timestamp()),
            effect: EventEffect::Checkout {
                session_id: Some(session_id.to_owned()),
                payment_id: None,
                outcome,
                payment_intent_id: None,
                failure_reason: failure_reason.clone(),
                charged: None,
            },
        };
        let payload = serde_json::json!({"id": event.event_id, "type": event_type, "data": {"object": {"id": session_id}}});
        let decide: Decide = Arc::new(move |payment: &Payment| {
            let intent = format!("pi_{}", payment.id.simple());
            settle(payment, outcome, Some(intent), failure_reason.clone(), None)
        });
        for name in self.mock_gateway_names.iter() {
            let log = webhook_log(name, &event, payload.to_string());
            let request = PaymentEvent {
                log,
                session_id: Some(session_id.to_owned()),
                payment_id: None,
                decide: decide.clone(),
                log_unmatched: false,
            };
            let receipt = self.settle_payment(name, &event, request).await?;
            if receipt.payment.is_some() {
                return Ok(receipt);
            }
        }
        Err(AppError::NotFound("checkout session"))
    }

    /// The payment behind a mock checkout page; only sessions of mock-served gateways.
    pub async fn mock_payment(&self, session_id: &str) -> Result<Payment, AppError> {
        parse_identifier("session_id", session_id, IDENTIFIER_LEN_MAX)?;
        for name in self.mock_gateway_names.iter() {
            if let Some(payment) = self.store.payment_by_session(name, session_id).await? {
                return Ok(payment);
            }
        }
        Err(AppError::NotFound("checkout session"))
    }

    /// The merchant a mock checkout page names: the vendor's display name for a
    /// marketplace order that has one; `None` means the platform itself.
    pub async fn mock_merchant_name(&self, payment: &Payment) -> Result<Option<String>, AppError> {
        let Some(account_id) = payment.merchant_id else { return Ok(None) };
        let account = self.store.account(account_id).await?;
        Ok(account.as_ref().and_then(|account| account.display_name()).map(str::to_owned))
    }

    pub(crate) async fn apply_event(
        &self,
        gateway_name: &str,
        event: GatewayEvent,
        payload: String,
    ) -> Result<WebhookReceipt, AppError> {
        // A signed payload is still input: ids we store must be storable.
        parse_identifier("event_id", &event.event_id, IDENTIFIER_LEN_MAX)?;
        parse_identifier("event_type", &event.event_type, EVENT_TYPE_LEN_MAX)?;
        if !matches!(event.effect, EventEffect::Checkout { .. } | EventEffect::Ignored) {
            return self.apply_object_event(gateway_name, event, payload).await;
        }
        let log = webhook_log(gateway_name, &event, payload);
        let (session_id, payment_id, decide): (Option<String>, Option<Uuid>, Decide) = match &event.effect {
            EventEffect::Checkout { session_id, payment_id, outcome, payment_intent_id, failure_reason, charged } => {
                let (outcome, intent, reason, charged) =
                    (*outcome, payment_intent_id.clone(), failure_reason.clone(), charged.clone());
                (
                    session_id.clone(),
                    *payment_id,
                    Arc::new(move |payment: &Payment| settle(payment, outcome, intent.clone(), reason.clone(), charged.as_ref())),
                )
            }
            _ => (None, None, Arc::new(|_: &Payment| Decision::Skip("event type is not handled".into()))),
        };
        let request = PaymentEvent { log, session_id, payment_id, decide, log_unmatched: true };
        self.settle_payment(gateway_name, &event, request).await
    }

    /// A payment event through the events' group commit, and its receipt.
    async fn settle_payment(
        &self,
        gateway_name: &str,
        event: &GatewayEvent,
        request: PaymentEvent,
    ) -> Result<WebhookReceipt, AppError> {
        let (session_id, log_unmatched) = (request.session_id.clone(), request.log_unmatched);
        let outcome = self.payment_events.submit(request).await.map_err(AppError::internal)??;
        let receipt = match outcome {
            // A wrong link on the mock page: nothing was written, nothing to count.
            EventOutcome::Skipped { payment: None, reason } if !log_unmatched => {
                return Ok(WebhookReceipt { duplicate: false, applied: false, payment: None, message: reason });
            }
            EventOutcome::Duplicate => {
                crate::metrics::webhook_event(gateway_name, "duplicate");
                let payment = match &session_id {
                    Some(session) => self.store.payment_by_session(gateway_name, session).await?,
                    None => None,
                };
                WebhookReceipt::duplicate(payment)
            }
            EventOutcome::Applied(payment) => {
                crate::metrics::webhook_event(gateway_name, "applied");
                if payment.escrow.is_some() && payment.status == PaymentStatus::Succeeded {
                    crate::metrics::escrow_hold();
                }
                let message = format!("payment {} is {}", payment.id, payment.status);
                WebhookReceipt { duplicate: false, applied: true, payment: Some(payment), message }
            }
            EventOutcome::Skipped { payment, reason } => {
                crate::metrics::webhook_event(gateway_name, "skipped");
                WebhookReceipt { duplicate: false, applied: false, payment, message: reason }
            }
        };
        // One line per event. Its outcome is not named `message`: that key is the line's own.
        let (gateway, event_id, event_type, outcome) = (gateway_name, &event.event_id, &event.event_type, &receipt.message);
        if !receipt.applied && receipt.payment.is_some() && outcome.starts_with(CHARGED_OTHER_AMOUNT) {
            tracing::warn!(gateway, %event_id, %event_type, %outcome, "webhook event: the gateway charged another amount, no money moved");
        } else {
            tracing::info!(gateway, %event_id, %event_type, %outcome, "webhook event");
        }
        Ok(receipt)
    }
}

/// The state machine decides; a succeeded payment posts its capture. A success for
/// another amount or currency than the payment's is not trusted with money.
fn settle(
    payment: &Payment,
    outcome: PaymentOutcome,
    intent: Option<String>,
    reason: Option<String>,
    charged: Option<&(i64, String)>,
) -> Decision {
    if let Some((minor, currency)) = charged
        && outcome == PaymentOutcome::Succeeded
        && (*minor != payment.amount.minor() || !currency.eq_ignore_ascii_case(payment.amount.currency().code()))
    {
        return Decision::Skip(format!(
            "{CHARGED_OTHER_AMOUNT} {minor} {currency} (minor units), the payment is {} {}",
            payment.amount.minor(),
            payment.amount.currency()
        ));
    }
    let status = match payment.status.settle(outcome) {
        Ok(status) => status,
        Err(error) => return Decision::Skip(error.to_string()),
    };
    let entries = if status == PaymentStatus::Succeeded {
        match payment.capture_entry() {
            Ok(entry) => vec![entry],
            Err(error) => return Decision::Skip(format!("capture cannot be posted: {error}")),
        }
    } else {
        Vec::new()
    };
    let now = Utc::now();
    let escrow_hold =
        if status == PaymentStatus::Succeeded { domain::escrow::EscrowHold::for_payment(payment, now) } else { None };
    // A top-up's history row, written with the capture that credits the wallet.
    let wallet_deposit =
        (status == PaymentStatus::Succeeded && payment.payment_type == PaymentType::BalanceDeposit && payment.escrow.is_none())
            .then(|| WalletTransaction {
                id: Uuid::now_v7(),
                user_id: payment.user_id.clone(),
                kind: WalletTransactionKind::Deposit,
                amount: payment.amount,
                status: WalletTransactionStatus::Completed,
                description: domain::wallet::TOP_UP_DESCRIPTION.into(),
                payment_id: Some(payment.id),
                idempotency_key: None,
                gateway_name: None,
                gateway_transaction_id: None,
                created_at: now,
                updated_at: now,
            });
    Decision::Apply(Box::new(Settlement {
        status,
        payment_intent_id: intent,
        failure_reason: if status == PaymentStatus::Failed { reason.or_else(|| Some("payment failed".into())) } else { None },
        paid_at: (status == PaymentStatus::Succeeded).then_some(now),
        entries,
        escrow_hold,
        wallet_deposit,
    }))
}

fn webhook_error(error: WebhookError) -> AppError {
    let field = match error {
        WebhookError::MalformedPayload(_) => "payload",
        _ => "signature",
    };
    FieldError::new(field, error.to_string()).into()
}
