//! Stripe-shaped events (`{"id", "type", "data": {"object": {...}}}`) and what they
//! mean for our records: payments, refunds, accounts, payouts and transfers. The mock
//! gateway speaks the same shape. Our ids come back in each object's metadata.

use app::dispute_ports::ReportedDispute;
use app::ports::{EventEffect, GatewayEvent, WebhookError};
use domain::disputes::DisputeStatus;
use domain::payment::PaymentOutcome;
use domain::payouts::PayoutStatus;
use domain::refunds::RefundStatus;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: Option<i64>,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    object: serde_json::Value,
}

#[derive(Deserialize)]
struct CheckoutObject {
    id: String,
    client_reference_id: Option<String>,
    payment_intent: Option<String>,
    /// "paid", "unpaid" (delayed methods: the money has not arrived) or "no_payment_required".
    payment_status: Option<String>,
    amount_total: Option<i64>,
    currency: Option<String>,
}

#[derive(Deserialize)]
struct PaymentIntentObject {
    id: String,
    /// `requires_payment_method` after a declined attempt (the buyer may try another
    /// card on the same checkout page), `canceled` when it is over.
    status: Option<String>,
    #[serde(default)]
    metadata: Metadata,
    last_payment_error: Option<ErrorObject>,
}

#[derive(Deserialize)]
struct ErrorObject {
    message: Option<String>,
}

#[derive(Deserialize)]
struct RefundObject {
    id: String,
    status: Option<String>,
    failure_reason: Option<String>,
    #[serde(default)]
    metadata: Metadata,
}

#[derive(Deserialize)]
struct AccountObject {
    id: String,
    #[serde(default)]
    charges_enabled: bool,
    #[serde(default)]
    payouts_enabled: bool,
    #[serde(default)]
    details_submitted: bool,
    requirements: Option<Requirements>,
}

#[derive(Deserialize)]
struct Requirements {
    disabled_reason: Option<String>,
}

#[derive(Deserialize)]
struct PayoutObject {
    id: String,
    failure_code: Option<String>,
    failure_message: Option<String>,
    #[serde(default)]
    metadata: Metadata,
}

#[derive(Deserialize)]
struct TransferObject {
    id: String,
    amount_reversed: i64,
    #[serde(default)]
    metadata: Metadata,
}

#[derive(Deserialize)]
struct DisputeObject {
    id: String,
    amount: i64,
    currency: String,
    /// The disputed charge's payment intent: how we find our payment.
    payment_intent: Option<String>,
    reason: Option<String>,
    status: String,
    /// The dispute's withdrawals (and reinstatements); their fees are Stripe's
    /// dispute fee (less any fee given back).
    #[serde(default)]
    balance_transactions: Vec<BalanceTransaction>,
}

#[derive(Deserialize)]
struct BalanceTransaction {
    #[serde(default)]
    fee: i64,
}

/// Our ids, as we put them in the metadata of every object we create.
#[derive(Deserialize, Default)]
struct Metadata {
    payment_id: Option<String>,
    refund_id: Option<String>,
    payout_id: Option<String>,
    transfer_id: Option<String>,
}

fn our_id(text: Option<&str>) -> Option<Uuid> {
    text.and_then(|t| Uuid::try_parse(t).ok())
}

/// Parses a whole event body.
pub fn parse_envelope(payload: &[u8]) -> Result<GatewayEvent, WebhookError> {
    let envelope: Envelope = serde_json::from_slice(payload).map_err(|e| WebhookError::MalformedPayload(e.to_string()))?;
    let object = serde_json::to_vec(&envelope.data.object).map_err(|e| WebhookError::MalformedPayload(e.to_string()))?;
    let mut event = parse_object(&envelope.id, &envelope.event_type, &object)?;
    event.created = envelope.created;
    Ok(event)
}

fn object<T: serde::de::DeserializeOwned>(what: &str, object: &[u8]) -> Result<T, WebhookError> {
    serde_json::from_slice(object).map_err(|e| WebhookError::MalformedPayload(format!("{what}: {e}")))
}

/// Interprets an event's `data.object` according to its type.
pub fn parse_object(event_id: &str, event_type: &str, data: &[u8]) -> Result<GatewayEvent, WebhookError> {
    if event_id.is_empty() {
        return Err(WebhookError::MalformedPayload("event id is empty".into()));
    }
    let effect = match event_type {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            checkout(event_type, object("checkout session", data)?, PaymentOutcome::Succeeded)
        }
        "checkout.session.async_payment_failed" => {
            checkout(event_type, object("checkout session", data)?, PaymentOutcome::Failed)
        }
        "checkout.session.expired" => checkout(event_type, object("checkout session", data)?, PaymentOutcome::Expired),
        "payment_intent.payment_failed" => {
            let intent: PaymentIntentObject = object("payment intent", data)?;
            // A declined attempt is not the end of a checkout: failing the payment
            // now could make the client start another one and charge twice.
            let over = intent.status.as_deref() == Some("canceled");
            match our_id(intent.metadata.payment_id.as_deref()).filter(|_| over) {
                Some(payment_id) => EventEffect::Checkout {
                    session_id: None,
                    payment_id: Some(payment_id),
                    outcome: PaymentOutcome::Failed,
                    payment_intent_id: Some(intent.id),
                    failure_reason: Some(
                        intent.last_payment_error.and_then(|e| e.message).unwrap_or_else(|| "the payment failed".into()),
                    ),
                    charged: None,
                },
                None => EventEffect::Ignored,
            }
        }
        "refund.created" | "refund.updated" | "refund.failed" => {
            let refund: RefundObject = object("refund", data)?;
            let status = match (event_type, refund.status.as_deref()) {
                ("refund.failed", _) | (_, Some("failed" | "canceled")) => RefundStatus::Failed,
                (_, Some("succeeded")) => RefundStatus::Succeeded,
                _ => RefundStatus::Pending,
            };
            EventEffect::Refund {
                refund_id: our_id(refund.metadata.refund_id.as_deref()),
                gateway_refund_id: refund.id,
                status,
                failure_reason: refund.failure_reason,
            }
        }
        "account.updated" => {
            let account: AccountObject = object("account", data)?;
            EventEffect::Account {
                gateway_account_id: account.id,
                charges_enabled: account.charges_enabled,
                payouts_enabled: account.payouts_enabled,
                details_submitted: account.details_submitted,
                disabled_reason: account.requirements.and_then(|r| r.disabled_reason),
            }
        }
        "payout.paid" | "payout.failed" | "payout.canceled" => {
            let payout: PayoutObject = object("payout", data)?;
            let status = match event_type {
                "payout.paid" => PayoutStatus::Paid,
                "payout.failed" => PayoutStatus::Failed,
                _ => PayoutStatus::Canceled,
            };
            EventEffect::Payout {
                payout_id: our_id(payout.metadata.payout_id.as_deref()),
                gateway_payout_id: payout.id,
                status,
                failure_code: payout.failure_code,
                failure_message: payout.failure_message,
            }
        }
        "transfer.reversed" => {
            let transfer: TransferObject = object("transfer", data)?;
            EventEffect::TransferReversed {
                transfer_id: our_id(transfer.metadata.transfer_id.as_deref()),
                gateway_transfer_id: transfer.id,
                amount_reversed: transfer.amount_reversed,
            }
        }
        "charge.dispute.created" | "charge.dispute.updated" | "charge.dispute.closed" => dispute(object("dispute", data)?),
        _ => EventEffect::Ignored,
    };
    Ok(GatewayEvent { event_id: event_id.to_owned(), event_type: event_type.to_owned(), created: None, effect })
}

/// A status we do not know (Stripe adds some) is logged, not refused: a refusal
/// would make Stripe send it again for days.
fn dispute(dispute: DisputeObject) -> EventEffect {
    let Some(status) = DisputeStatus::from_stripe(&dispute.status) else { return EventEffect::Ignored };
    EventEffect::Dispute(ReportedDispute {
        payment_id: None,
        gateway_transaction_id: dispute.payment_intent,
        gateway_dispute_id: dispute.id,
        amount_minor: dispute.amount,
        currency: dispute.currency,
        fee_minor: dispute.balance_transactions.iter().map(|t| t.fee).sum(),
        reason: dispute.reason.unwrap_or_default(),
        status,
    })
}

/// A completed checkout of a delayed method is not money yet: the
/// async_payment_succeeded / _failed event settles it.
fn checkout(event_type: &str, session: CheckoutObject, outcome: PaymentOutcome) -> EventEffect {
    if event_type == "checkout.session.completed" && session.payment_status.as_deref() == Some("unpaid") {
        return EventEffect::Ignored;
    }
    EventEffect::Checkout {
        payment_id: our_id(session.client_reference_id.as_deref()),
        session_id: Some(session.id),
        outcome,
        payment_intent_id: session.payment_intent,
        failure_reason: (outcome == PaymentOutcome::Failed).then(|| "the gateway reported the payment failed".to_owned()),
        charged: session.amount_total.zip(session.currency),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completed_checkout_means_success() {
        let event = parse_envelope(
            br#"{"id":"evt_1","type":"checkout.session.completed","data":{"object":{"id":"cs_1","payment_intent":"pi_1"}}}"#,
        );
        assert_eq!(
            event.map(|e| e.effect),
            Ok(EventEffect::Checkout {
                session_id: Some("cs_1".into()),
                payment_id: None,
                outcome: PaymentOutcome::Succeeded,
                payment_intent_id: Some("pi_1".into()),
                failure_reason: None,
                charged: None,
            })
        );
    }

    #[test]
    fn a_completed_but_unpaid_checkout_is_not_money_yet() {
        let event = parse_envelope(
            br#"{"id":"evt_5","type":"checkout.session.completed","data":{"object":{"id":"cs_1","payment_status":"unpaid"}}}"#,
        );
        assert_eq!(event.map(|e| e.effect), Ok(EventEffect::Ignored));
        let paid = parse_envelope(
            br#"{"id":"evt_6","type":"checkout.session.completed","data":{"object":{"id":"cs_1","payment_status":"paid","amount_total":500,"currency":"usd"}}}"#,
        );
        assert!(matches!(paid.map(|e| e.effect), Ok(EventEffect::Checkout { charged: Some((500, _)), .. })));
    }

    #[test]
    fn unknown_types_are_ignored_and_garbage_is_refused() {
        let ignored = parse_envelope(br#"{"id":"evt_2","type":"customer.created","data":{"object":{}}}"#);
        assert_eq!(ignored.map(|e| e.effect), Ok(EventEffect::Ignored));
        assert!(matches!(parse_envelope(b"not json"), Err(WebhookError::MalformedPayload(_))));
        assert!(parse_envelope(br#"{"id":"evt_3","type":"checkout.session.completed","data":{"object":{}}}"#).is_err());
    }

    #[test]
    fn connect_and_refund_events_name_our_records() {
        let payout = parse_envelope(
            br#"{"id":"evt_7","type":"payout.failed","created":1700000000,"data":{"object":{"id":"po_1","failure_code":"account_closed","metadata":{"payout_id":"0190f0e0-0000-7000-8000-000000000001"}}}}"#,
        )
        .unwrap();
        assert_eq!(payout.created, Some(1_700_000_000));
        assert!(
            matches!(payout.effect, EventEffect::Payout { payout_id: Some(_), status: PayoutStatus::Failed, failure_code: Some(ref c), .. } if c == "account_closed")
        );
        let account = parse_envelope(
            br#"{"id":"evt_8","type":"account.updated","account":"acct_1","data":{"object":{"id":"acct_1","charges_enabled":true,"payouts_enabled":false,"details_submitted":true,"requirements":{"disabled_reason":"requirements.past_due"}}}}"#,
        )
        .unwrap();
        assert!(matches!(account.effect, EventEffect::Account { payouts_enabled: false, disabled_reason: Some(_), .. }));
        let refund = parse_envelope(
            br#"{"id":"evt_9","type":"refund.failed","data":{"object":{"id":"re_1","status":"failed","failure_reason":"lost_or_stolen_card","metadata":{}}}}"#,
        )
        .unwrap();
        assert!(matches!(refund.effect, EventEffect::Refund { refund_id: None, status: RefundStatus::Failed, .. }));
        let reversed = parse_envelope(
            br#"{"id":"evt_10","type":"transfer.reversed","data":{"object":{"id":"tr_1","amount_reversed":250,"metadata":{"transfer_id":"nope"}}}}"#,
        )
        .unwrap();
        assert!(matches!(reversed.effect, EventEffect::TransferReversed { transfer_id: None, amount_reversed: 250, .. }));
    }

    #[test]
    fn a_dispute_names_the_payment_intent_and_sums_its_fees() {
        let body = |status: &str| {
            format!(
                r#"{{"id":"evt_12","type":"charge.dispute.closed","data":{{"object":{{"id":"dp_1","object":"dispute","amount":1000,"currency":"usd","charge":"ch_1","payment_intent":"pi_1","reason":"fraudulent","status":"{status}","balance_transactions":[{{"id":"txn_1","amount":-1000,"fee":1500}}]}}}}}}"#
            )
        };
        let lost = parse_envelope(body("lost").as_bytes()).unwrap();
        assert_eq!(
            lost.effect,
            EventEffect::Dispute(ReportedDispute {
                payment_id: None,
                gateway_transaction_id: Some("pi_1".into()),
                gateway_dispute_id: "dp_1".into(),
                amount_minor: 1000,
                currency: "usd".into(),
                fee_minor: 1500,
                reason: "fraudulent".into(),
                status: DisputeStatus::Lost,
            })
        );
        assert_eq!(parse_envelope(body("prevented").as_bytes()).map(|e| e.effect), Ok(EventEffect::Ignored));
    }

    #[test]
    fn a_declined_attempt_does_not_end_the_checkout_but_a_canceled_intent_does() {
        let body = |status: &str| {
            format!(
                r#"{{"id":"evt_11","type":"payment_intent.payment_failed","data":{{"object":{{"id":"pi_1","status":"{status}","metadata":{{"payment_id":"0190f0e0-0000-7000-8000-000000000001"}},"last_payment_error":{{"message":"Your card was declined."}}}}}}}}"#
            )
        };
        assert_eq!(parse_envelope(body("requires_payment_method").as_bytes()).map(|e| e.effect), Ok(EventEffect::Ignored));
        let canceled = parse_envelope(body("canceled").as_bytes()).unwrap();
        assert!(
            matches!(canceled.effect, EventEffect::Checkout { outcome: PaymentOutcome::Failed, failure_reason: Some(ref r), .. } if r == "Your card was declined.")
        );
    }
}
