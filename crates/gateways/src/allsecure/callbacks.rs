//! AllSecure's callbacks (postbacks) and what they mean for our records. Our
//! `merchantTransactionId` is the payment, refund or payout id; each (uuid,
//! transactionType, result) is one event, so a repeated callback applies once and
//! a later OK after an ERROR is a new event.

use app::dispute_ports::ReportedDispute;
use app::ports::{EventEffect, GatewayEvent, WebhookError};
use domain::Money;
use domain::disputes::DisputeStatus;
use domain::payment::PaymentOutcome;
use domain::payouts::PayoutStatus;
use domain::refunds::RefundStatus;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Callback {
    result: String,
    uuid: String,
    merchant_transaction_id: Option<String>,
    transaction_type: String,
    amount: Option<String>,
    currency: Option<String>,
    message: Option<String>,
    chargeback_data: Option<ChargebackData>,
    chargeback_reversal_data: Option<ChargebackData>,
}

/// What a CHARGEBACK (`chargebackData`) or CHARGEBACK-REVERSAL
/// (`chargebackReversalData`) callback says about the disputed debit.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChargebackData {
    original_uuid: Option<String>,
    original_merchant_transaction_id: Option<String>,
    /// A reversal names the chargeback it reverses.
    chargeback_uuid: Option<String>,
    amount: Option<String>,
    currency: Option<String>,
    reason: Option<String>,
}

/// The event a callback body describes.
pub fn parse(payload: &[u8]) -> Result<GatewayEvent, WebhookError> {
    let callback: Callback =
        serde_json::from_slice(payload).map_err(|e| WebhookError::MalformedPayload(format!("AllSecure callback: {e}")))?;
    if callback.uuid.is_empty() {
        return Err(WebhookError::MalformedPayload("AllSecure callback: uuid is empty".into()));
    }
    let ours = callback.merchant_transaction_id.as_deref().and_then(|id| Uuid::try_parse(id).ok());
    let ok = callback.result == "OK";
    let failed = callback.result == "ERROR";
    let reason = || Some(callback.message.clone().unwrap_or_else(|| "AllSecure reported an error".to_owned()));
    let effect = match (callback.transaction_type.as_str(), ok || failed) {
        ("DEBIT", true) => EventEffect::Checkout {
            session_id: None,
            payment_id: ours,
            outcome: if ok { PaymentOutcome::Succeeded } else { PaymentOutcome::Failed },
            payment_intent_id: Some(callback.uuid.clone()),
            failure_reason: if failed { reason() } else { None },
            charged: charged(&callback),
        },
        ("REFUND", true) => EventEffect::Refund {
            refund_id: ours,
            gateway_refund_id: callback.uuid.clone(),
            status: if ok { RefundStatus::Succeeded } else { RefundStatus::Failed },
            failure_reason: if failed { reason() } else { None },
        },
        ("PAYOUT", true) => EventEffect::Payout {
            payout_id: ours,
            gateway_payout_id: callback.uuid.clone(),
            status: if ok { PayoutStatus::Paid } else { PayoutStatus::Failed },
            failure_code: failed.then(|| "allsecure_error".to_owned()),
            failure_message: if failed { reason() } else { None },
        },
        ("REGISTER", true) => EventEffect::CardRegistered { link_id: ours, card_reference: callback.uuid.clone(), ok },
        ("CHARGEBACK", _) if ok => chargeback(&callback, callback.chargeback_data.as_ref(), DisputeStatus::NeedsResponse),
        ("CHARGEBACK-REVERSAL", _) if ok => chargeback(&callback, callback.chargeback_reversal_data.as_ref(), DisputeStatus::Won),
        // PENDING waits; a chargeback's ERROR took nothing.
        _ => EventEffect::Ignored,
    };
    Ok(GatewayEvent {
        event_id: format!("{}:{}:{}", callback.uuid, callback.transaction_type, callback.result),
        event_type: format!("{}.{}", callback.transaction_type, callback.result),
        created: None,
        effect,
    })
}

/// A chargeback opens a dispute (its uuid is the dispute's id); its reversal closes
/// that dispute as won. AllSecure sends no callback for a chargeback the merchant
/// loses: it stays open until a person decides (see docs/gateways.md).
fn chargeback(callback: &Callback, data: Option<&ChargebackData>, status: DisputeStatus) -> EventEffect {
    let field = |pick: fn(&ChargebackData) -> Option<&String>| data.and_then(pick).cloned();
    let (amount, currency) = (
        field(|d| d.amount.as_ref()).or_else(|| callback.amount.clone()),
        field(|d| d.currency.as_ref()).or_else(|| callback.currency.clone()),
    );
    let (Some(amount), Some(currency)) = (amount, currency) else { return EventEffect::Ignored };
    let original = field(|d| d.original_merchant_transaction_id.as_ref()).or_else(|| callback.merchant_transaction_id.clone());
    let gateway_dispute_id = match status {
        DisputeStatus::Won => field(|d| d.chargeback_uuid.as_ref()),
        _ => Some(callback.uuid.clone()),
    };
    let Some(gateway_dispute_id) = gateway_dispute_id else { return EventEffect::Ignored };
    EventEffect::Dispute(ReportedDispute {
        payment_id: original.as_deref().and_then(|id| Uuid::try_parse(id).ok()),
        gateway_transaction_id: field(|d| d.original_uuid.as_ref()),
        gateway_dispute_id,
        // An amount we cannot read is 0, which fits no payment and moves nothing.
        amount_minor: Money::parse_request(&amount, &currency).map_or(0, |m| m.minor()),
        currency,
        fee_minor: 0,
        reason: field(|d| d.reason.as_ref()).unwrap_or_default(),
        status,
    })
}

/// What the callback says was charged, in minor units; `None` when it does not say.
fn charged(callback: &Callback) -> Option<(i64, String)> {
    let (amount, currency) = (callback.amount.as_deref()?, callback.currency.as_deref()?);
    // An amount we cannot read is reported as 0, so that it never matches and moves no money.
    let minor = Money::parse_request(amount, currency).map_or(0, |m| m.minor());
    Some((minor, currency.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAYMENT: &str = "0190f0e0-0000-7000-8000-000000000001";

    fn callback(kind: &str, result: &str) -> Vec<u8> {
        format!(
            r#"{{"result":"{result}","uuid":"abc123","merchantTransactionId":"{PAYMENT}","purchaseId":"p","transactionType":"{kind}","amount":"1000","currency":"RSD","message":"Declined"}}"#
        )
        .into_bytes()
    }

    #[test]
    fn a_debit_ok_pays_and_an_error_fails() {
        let ok = parse(&callback("DEBIT", "OK")).unwrap();
        assert_eq!(ok.event_id, "abc123:DEBIT:OK");
        assert!(matches!(
            ok.effect,
            EventEffect::Checkout { outcome: PaymentOutcome::Succeeded, charged: Some((100_000, _)), payment_id: Some(_), .. }
        ));
        let error = parse(&callback("DEBIT", "ERROR")).unwrap();
        assert_ne!(error.event_id, ok.event_id, "a later OK after an ERROR is another event");
        assert!(matches!(error.effect, EventEffect::Checkout { outcome: PaymentOutcome::Failed, failure_reason: Some(_), .. }));
    }

    #[test]
    fn refunds_payouts_and_chargebacks() {
        assert!(matches!(
            parse(&callback("REFUND", "OK")).unwrap().effect,
            EventEffect::Refund { status: RefundStatus::Succeeded, .. }
        ));
        assert!(matches!(
            parse(&callback("PAYOUT", "ERROR")).unwrap().effect,
            EventEffect::Payout { status: PayoutStatus::Failed, .. }
        ));
        let chargeback = parse(&callback("CHARGEBACK", "OK")).unwrap();
        assert_eq!(chargeback.event_type, "CHARGEBACK.OK");
        assert!(matches!(
            chargeback.effect,
            EventEffect::Dispute(ReportedDispute { status: DisputeStatus::NeedsResponse, amount_minor: 100_000, payment_id: Some(_), ref gateway_dispute_id, .. })
                if gateway_dispute_id == "abc123"
        ));
        let reversal = br#"{"result":"OK","uuid":"rev1","merchantTransactionId":"x","transactionType":"CHARGEBACK-REVERSAL","amount":"10.00","currency":"EUR","chargebackReversalData":{"originalUuid":"d1","originalMerchantTransactionId":"0190f0e0-0000-7000-8000-000000000001","chargebackUuid":"abc123","amount":"10.00","currency":"EUR","reason":"won"}}"#;
        assert!(matches!(
            parse(reversal).unwrap().effect,
            EventEffect::Dispute(ReportedDispute { status: DisputeStatus::Won, amount_minor: 1000, ref gateway_dispute_id, .. })
                if gateway_dispute_id == "abc123"
        ));
        assert_eq!(parse(&callback("DEBIT", "PENDING")).unwrap().effect, EventEffect::Ignored);
        assert!(matches!(
            parse(&callback("REGISTER", "OK")).unwrap().effect,
            EventEffect::CardRegistered { ok: true, link_id: Some(_), .. }
        ));
        assert!(parse(b"{}").is_err());
    }
}
