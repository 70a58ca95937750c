//! Domain → wire conversions. Amounts leave as decimal strings, enums as their
//! prefixed proto values.

pub mod disputes;
pub mod escrow;
pub mod marketplace;
pub mod reconciliation;
pub mod wallet;

use chrono::{DateTime, Utc};
use domain::payment::{Payment, PaymentStatus, PaymentType};

use crate::proto;

pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or_default() }
}

/// Domain enum ↔ proto enum with the same variant names; the proto's Unspecified
/// (and unknown numbers) read as `None`, so the use case names the missing field.
macro_rules! wire_enum {
    ($to:ident, $domain:ty => $wire:ty { $($variant:ident),+ $(,)? }) => {
        pub fn $to(value: $domain) -> i32 {
            match value { $(<$domain>::$variant => <$wire>::$variant as i32),+ }
        }
    };
    ($to:ident, $from:ident, $domain:ty => $wire:ty { $($variant:ident),+ $(,)? }) => {
        $crate::convert::wire_enum!($to, $domain => $wire { $($variant),+ });

        pub fn $from(value: i32) -> Option<$domain> {
            match <$wire>::try_from(value).ok()? {
                $(<$wire>::$variant => Some(<$domain>::$variant),)+
                _ => None,
            }
        }
    };
}
pub(crate) use wire_enum;

wire_enum!(payment_status, PaymentStatus => proto::PaymentStatus {
    Pending, Processing, Succeeded, Failed, Cancelled, Refunded
});
wire_enum!(payment_type, payment_type_from_wire, PaymentType => proto::PaymentType {
    PlatformService, ProductB2c, ProductC2c, BalanceDeposit
});

pub fn payment(payment: Payment) -> proto::Payment {
    let currency = payment.amount.currency();
    proto::Payment {
        id: payment.id.to_string(),
        user_id: payment.user_id,
        amount: payment.amount.to_decimal_string(),
        currency: currency.code().to_owned(),
        payment_type: payment_type(payment.payment_type),
        status: payment_status(payment.status),
        checkout_url: payment.checkout_url.unwrap_or_default(),
        gateway_name: payment.gateway_name,
        gateway_session_id: payment.gateway_session_id.unwrap_or_default(),
        gateway_payment_intent_id: payment.gateway_payment_intent_id.unwrap_or_default(),
        merchant_id: payment.merchant_id.map(|m| m.to_string()).unwrap_or_default(),
        buyer_id: payment.buyer_id.unwrap_or_default(),
        escrow_enabled: payment.escrow.is_some(),
        escrow_hold_period_days: payment.escrow.map_or(0, |e| e.hold_days),
        refunded_amount: domain::Money::from_minor(payment.refunded_minor, currency).to_decimal_string(),
        idempotency_key: payment.idempotency_key.unwrap_or_default(),
        metadata: payment.metadata.into_iter().collect(),
        paid_at: payment.paid_at.map(timestamp),
        failure_reason: payment.failure_reason.unwrap_or_default(),
        created_at: Some(timestamp(payment.created_at)),
        updated_at: Some(timestamp(payment.updated_at)),
    }
}
