//! Wire form of disputes.

use domain::disputes::{Dispute, DisputeStatus};

use super::{timestamp, wire_enum};
use crate::proto;

wire_enum!(dispute_status, dispute_status_from_wire, DisputeStatus => proto::DisputeStatus { NeedsResponse, UnderReview, Won, Lost });

pub fn dispute(dispute: Dispute) -> proto::Dispute {
    proto::Dispute {
        id: dispute.id.to_string(),
        payment_id: dispute.payment_id.to_string(),
        amount: dispute.amount.to_decimal_string(),
        currency: dispute.amount.currency().code().to_owned(),
        status: dispute_status(dispute.status),
        gateway_name: dispute.gateway_name,
        gateway_dispute_id: dispute.gateway_dispute_id,
        reason: dispute.reason,
        fee: dispute.fee.to_decimal_string(),
        closed_at: dispute.closed_at.map(timestamp),
        created_at: Some(timestamp(dispute.created_at)),
        updated_at: Some(timestamp(dispute.updated_at)),
        closed_by: dispute.closed_by_hand.as_ref().map(|c| c.operator.clone()).unwrap_or_default(),
        close_reason: dispute.closed_by_hand.map(|c| c.reason).unwrap_or_default(),
    }
}
