//! Wire forms of escrow holds and refunds.

use domain::escrow::{EscrowHold, EscrowStatus};
use domain::refunds::{Refund, RefundStatus};

use super::{timestamp, wire_enum};
use crate::proto;

wire_enum!(escrow_status, escrow_status_from_wire, EscrowStatus => proto::EscrowStatus { Holding, Released, Cancelled });
wire_enum!(refund_status, RefundStatus => proto::RefundStatus { Pending, Succeeded, Failed });

pub fn hold(hold: EscrowHold) -> proto::EscrowHold {
    proto::EscrowHold {
        id: hold.id.to_string(),
        payment_id: hold.payment_id.to_string(),
        amount: hold.amount.to_decimal_string(),
        currency: hold.amount.currency().code().to_owned(),
        status: escrow_status(hold.status),
        hold_until: Some(timestamp(hold.hold_until)),
        released_at: hold.released_at.map(timestamp),
        cancelled_at: hold.cancelled_at.map(timestamp),
        cancellation_reason: hold.cancellation_reason.unwrap_or_default(),
        created_at: Some(timestamp(hold.created_at)),
        updated_at: Some(timestamp(hold.updated_at)),
    }
}

pub fn refund(refund: Refund) -> proto::Refund {
    proto::Refund {
        id: refund.id.to_string(),
        payment_id: refund.payment_id.to_string(),
        amount: refund.amount.to_decimal_string(),
        currency: refund.amount.currency().code().to_owned(),
        status: refund_status(refund.status),
        gateway_refund_id: refund.gateway_refund_id.unwrap_or_default(),
        reason: refund.reason,
        idempotency_key: refund.idempotency_key.unwrap_or_default(),
        processed_at: refund.processed_at.map(timestamp),
        created_at: Some(timestamp(refund.created_at)),
        updated_at: Some(timestamp(refund.updated_at)),
    }
}
