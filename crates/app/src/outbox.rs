//! The outbox event of each state change the platform hears of, built by the store
//! in the transaction that writes the change. Payloads are the objects in the JSON
//! form of the API: the proto's field names, enums as their lower-case names,
//! amounts as decimal strings, times in RFC 3339.

use chrono::{DateTime, Utc};
use domain::Money;
use domain::accounts::ConnectedAccount;
use domain::disputes::{Dispute, DisputeStatus};
use domain::escrow::EscrowHold;
use domain::events::EventType;
use domain::payment::Payment;
use domain::payouts::Payout;
use domain::refunds::Refund;
use domain::transfers::{Transfer, TransferReversal, TransferStatus};
use domain::wallet::WalletTransaction;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::events_ports::OutboxEvent;

fn at(time: DateTime<Utc>) -> String {
    time.to_rfc3339()
}

fn id(id: Option<Uuid>) -> Option<String> {
    id.map(|id| id.to_string())
}

impl OutboxEvent {
    /// A new event now, with a time-ordered id: one object's events sort by id in
    /// the order they were written.
    pub fn new(event_type: EventType, object_id: Uuid, payload: Value) -> Self {
        Self { id: Uuid::now_v7(), event_type, object_id, payload, created_at: Utc::now() }
    }

    pub fn payment(p: &Payment) -> Option<Self> {
        let event_type = EventType::of_payment(p.status)?;
        let currency = p.amount.currency();
        let payload = json!({
            "id": p.id.to_string(),
            "user_id": p.user_id,
            "amount": p.amount.to_decimal_string(),
            "currency": currency.code(),
            "payment_type": p.payment_type.as_str(),
            "status": p.status.as_str(),
            "gateway_name": p.gateway_name,
            "gateway_session_id": p.gateway_session_id,
            "gateway_payment_intent_id": p.gateway_payment_intent_id,
            "merchant_id": id(p.merchant_id),
            "buyer_id": p.buyer_id,
            "escrow_enabled": p.escrow.is_some(),
            "refunded_amount": Money::from_minor(p.refunded_minor, currency).to_decimal_string(),
            "idempotency_key": p.idempotency_key,
            "metadata": p.metadata,
            "failure_reason": p.failure_reason,
            "paid_at": p.paid_at.map(at),
            "created_at": at(p.created_at),
            "updated_at": at(p.updated_at),
        });
        Some(Self::new(event_type, p.id, payload))
    }

    pub fn escrow(h: &EscrowHold) -> Self {
        Self::new(EventType::of_escrow(h.status), h.id, escrow_json(h))
    }

    /// A hold still holding that a dispute just opened on: it may not be released
    /// until the dispute closes (its status stays `holding`).
    pub fn escrow_frozen(h: &EscrowHold) -> Self {
        Self::new(EventType::EscrowFrozen, h.id, escrow_json(h))
    }

    pub fn refund(r: &Refund) -> Self {
        let payload = json!({
            "id": r.id.to_string(),
            "payment_id": r.payment_id.to_string(),
            "amount": r.amount.to_decimal_string(),
            "currency": r.amount.currency().code(),
            "status": r.status.as_str(),
            "gateway_refund_id": r.gateway_refund_id,
            "reason": r.reason,
            "idempotency_key": r.idempotency_key,
            "processed_at": r.processed_at.map(at),
            "created_at": at(r.created_at),
            "updated_at": at(r.updated_at),
        });
        Self::new(EventType::of_refund(r.status), r.id, payload)
    }

    pub fn transfer(t: &Transfer) -> Option<Self> {
        let event_type = EventType::of_transfer(t.status)?;
        let currency = t.amount.currency();
        let payload = json!({
            "id": t.id.to_string(),
            "connected_account_id": t.connected_account_id.to_string(),
            "payment_id": id(t.payment_id),
            "amount": t.amount.to_decimal_string(),
            "currency": currency.code(),
            "status": t.status.as_str(),
            "reversed_amount": Money::from_minor(t.reversed_minor, currency).to_decimal_string(),
            "recovered_amount": Money::from_minor(t.recovered_minor, currency).to_decimal_string(),
            "description": t.description,
            "gateway_transfer_id": t.gateway_transfer_id,
            "idempotency_key": t.idempotency_key,
            "metadata": t.metadata,
            "paid_at": t.paid_at.map(at),
            "created_at": at(t.created_at),
            "updated_at": at(t.updated_at),
        });
        Some(Self::new(event_type, t.id, payload))
    }

    /// A new transfer's events. One the gateway made as it was written (the mock)
    /// tells `transfer.created` before `transfer.paid`, as a transfer the gateway
    /// makes after it is written does; one the vendor's debt took whole was never
    /// sent, and is `transfer.paid` alone.
    pub fn new_transfer(t: &Transfer) -> Vec<Self> {
        let made_at_once = t.status == TransferStatus::Paid && t.reaches_vendor();
        let recorded = made_at_once.then(|| Self::transfer(&t.as_recorded())).flatten();
        recorded.into_iter().chain(Self::transfer(t)).collect()
    }

    pub fn reversal(r: &TransferReversal) -> Self {
        let payload = json!({
            "id": r.id.to_string(),
            "transfer_id": r.transfer_id.to_string(),
            "amount": r.amount.to_decimal_string(),
            "recovered_amount": Money::from_minor(r.recovered_minor, r.amount.currency()).to_decimal_string(),
            "currency": r.amount.currency().code(),
            "status": r.status.as_str(),
            "description": r.description,
            "gateway_reversal_id": r.gateway_reversal_id,
            "idempotency_key": r.idempotency_key,
            "created_at": at(r.created_at),
        });
        Self::new(EventType::of_reversal(r.status), r.id, payload)
    }

    pub fn payout(p: &Payout) -> Option<Self> {
        let event_type = EventType::of_payout(p.status)?;
        let payload = json!({
            "id": p.id.to_string(),
            "connected_account_id": p.connected_account_id.to_string(),
            "amount": p.amount.to_decimal_string(),
            "currency": p.amount.currency().code(),
            "fee_amount": p.fee.to_decimal_string(),
            "method": p.method.as_str(),
            "status": p.status.as_str(),
            "arrival_date": at(p.arrival_date),
            "failure_code": p.failure_code,
            "failure_message": p.failure_message,
            "description": p.description,
            "gateway_payout_id": p.gateway_payout_id,
            "idempotency_key": p.idempotency_key,
            "metadata": p.metadata,
            "paid_at": p.paid_at.map(at),
            "failed_at": p.failed_at.map(at),
            "created_at": at(p.created_at),
            "updated_at": at(p.updated_at),
        });
        Some(Self::new(event_type, p.id, payload))
    }

    pub fn account(a: &ConnectedAccount) -> Self {
        let payload = json!({
            "id": a.id.to_string(),
            "gateway_account_id": a.gateway_account_id,
            "account_type": a.account_type.as_str(),
            "status": a.status.as_str(),
            "email": a.email,
            "business_type": a.business_type.as_str(),
            "charges_enabled": a.charges_enabled,
            "payouts_enabled": a.payouts_enabled,
            "details_submitted": a.details_submitted,
            "country": a.country,
            "metadata": a.metadata,
            "created_at": at(a.created_at),
            "updated_at": at(a.updated_at),
        });
        Self::new(EventType::AccountUpdated, a.id, payload)
    }

    pub fn wallet(t: &WalletTransaction) -> Option<Self> {
        let event_type = EventType::of_wallet(t.kind, t.status)?;
        let mut payload = wallet_json(t);
        payload["user_id"] = json!(t.user_id);
        Some(Self::new(event_type, t.id, payload))
    }

    /// The events of a dispute's write from the status it was read in (see
    /// `EventType::of_dispute`), each carrying the dispute as written.
    pub fn dispute(d: &Dispute, before: Option<DisputeStatus>) -> Vec<Self> {
        let payload = json!({
            "id": d.id.to_string(),
            "payment_id": d.payment_id.to_string(),
            "amount": d.amount.to_decimal_string(),
            "currency": d.amount.currency().code(),
            "status": d.status.as_str(),
            "gateway_name": d.gateway_name,
            "gateway_dispute_id": d.gateway_dispute_id,
            "reason": d.reason,
            "fee": d.fee.to_decimal_string(),
            "closed_at": d.closed_at.map(at),
            "closed_by": d.closed_by_hand.as_ref().map(|c| c.operator.as_str()).unwrap_or_default(),
            "close_reason": d.closed_by_hand.as_ref().map(|c| c.reason.as_str()).unwrap_or_default(),
            "created_at": at(d.created_at),
            "updated_at": at(d.updated_at),
        });
        EventType::of_dispute(before, d.status).into_iter().map(|t| Self::new(t, d.id, payload.clone())).collect()
    }

    /// The body POSTed to an endpoint: the event's envelope around its object.
    pub fn body(&self) -> Vec<u8> {
        let body = json!({
            "id": self.id.to_string(),
            "type": self.event_type.as_str(),
            "object_id": self.object_id.to_string(),
            "created_at": at(self.created_at),
            "data": self.payload,
        });
        body.to_string().into_bytes()
    }
}

/// An escrow hold as the API shows it.
fn escrow_json(h: &EscrowHold) -> Value {
    json!({
        "id": h.id.to_string(),
        "payment_id": h.payment_id.to_string(),
        "merchant_id": h.merchant_id.to_string(),
        "amount": h.amount.to_decimal_string(),
        "currency": h.amount.currency().code(),
        "status": h.status.as_str(),
        "hold_until": at(h.hold_until),
        "released_at": h.released_at.map(at),
        "cancelled_at": h.cancelled_at.map(at),
        "cancellation_reason": h.cancellation_reason,
        "created_at": at(h.created_at),
        "updated_at": at(h.updated_at),
    })
}

/// A wallet transaction as the browser's JSON API shows it.
pub fn wallet_json(t: &WalletTransaction) -> Value {
    json!({
        "id": t.id.to_string(),
        "kind": t.kind.as_str(),
        "amount": t.amount.to_decimal_string(),
        "currency": t.amount.currency().code(),
        "status": t.status.as_str(),
        "payment_id": id(t.payment_id),
        "description": t.description,
        "created_at": at(t.created_at),
        "updated_at": at(t.updated_at),
    })
}
