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
            EventEffect::Checkout {
                session_id: object.id,
                outcome,
                payment_intent_id: object.payment_intent,
                failure_reason: (outcome == PaymentOutcome::Failed).then(|| "the gateway reported the payment failed".to_owned()),
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
                failure_reason: None
            })
        );
    }

    #[test]
    fn unknown_types_are_ignored_and_garbage_is_refused() {
        let ignored = parse_envelope(br#"{"id":"evt_2","type":"customer.created","data":{"object":{}}}"#);
        assert_eq!(ignored.map(|e| e.effect), Ok(EventEffect::Ignored));
        assert!(matches!(parse_envelope(b"not json"), Err(WebhookError::MalformedPayload(_))));
        assert!(parse_envelope(br#"{"id":"evt_3","type":"checkout.session.completed","data":{"object":{}}}"#).is_err());
    }
}
