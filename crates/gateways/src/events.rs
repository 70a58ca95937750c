//! Stripe-shaped events (`{"id", "type", "data": {"object": {...}}}`) and what they
//! mean for a checkout. The mock gateway speaks the same shape.

use app::ports::{EventEffect, GatewayEvent, WebhookError};
use domain::payment::PaymentOutcome;
use serde::Deserialize;

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    object: serde_json::Value,
}

#[derive(Deserialize)]
struct CheckoutObject {
    id: String,
    payment_intent: Option<String>,
    /// "paid", "unpaid" (delayed methods: the money has not arrived) or "no_payment_required".
    payment_status: Option<String>,
    amount_total: Option<i64>,
    currency: Option<String>,
}

/// Parses a whole event body.
pub fn parse_envelope(payload: &[u8]) -> Result<GatewayEvent, WebhookError> {
    let envelope: Envelope = serde_json::from_slice(payload).map_err(|e| WebhookError::MalformedPayload(e.to_string()))?;
    let object = serde_json::to_vec(&envelope.data.object).map_err(|e| WebhookError::MalformedPayload(e.to_string()))?;
    parse_object(&envelope.id, &envelope.event_type, &object)
}

/// Interprets an event's `data.object` according to its type.
pub fn parse_object(event_id: &str, event_type: &str, object: &[u8]) -> Result<GatewayEvent, WebhookError> {
    if event_id.is_empty() {
        return Err(WebhookError::MalformedPayload("event id is empty".into()));
    }
    let outcome = match event_type {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => Some(PaymentOutcome::Succeeded),
        "checkout.session.async_payment_failed" => Some(PaymentOutcome::Failed),
        "checkout.session.expired" => Some(PaymentOutcome::Expired),
        _ => None,
    };
    let effect = match outcome {
        Some(outcome) => {
            let object: CheckoutObject =
                serde_json::from_slice(object).map_err(|e| WebhookError::MalformedPayload(format!("checkout session: {e}")))?;
            // A completed checkout of a delayed method is not money yet: the
            // async_payment_succeeded / _failed event settles it.
            if event_type == "checkout.session.completed" && object.payment_status.as_deref() == Some("unpaid") {
                EventEffect::Ignored
            } else {
                EventEffect::Checkout {
                    session_id: object.id,
                    outcome,
                    payment_intent_id: object.payment_intent,
                    failure_reason: (outcome == PaymentOutcome::Failed)
                        .then(|| "the gateway reported the payment failed".to_owned()),
                    charged: object.amount_total.zip(object.currency),
                }
            }
        }
        None => EventEffect::Ignored,
    };
    Ok(GatewayEvent { event_id: event_id.to_owned(), event_type: event_type.to_owned(), effect })
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
                session_id: "cs_1".into(),
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
}
