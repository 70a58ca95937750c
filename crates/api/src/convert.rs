//! Domain → wire conversions. Amounts leave as decimal strings, enums as their
//! prefixed proto values.

use chrono::{DateTime, Utc};
use domain::payment::{Payment, PaymentStatus, PaymentType};

use crate::proto;

pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: at.timestamp(), nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or_default() }
}

pub fn payment_status(status: PaymentStatus) -> proto::PaymentStatus {
    match status {
        PaymentStatus::Pending => proto::PaymentStatus::Pending,
        PaymentStatus::Processing => proto::PaymentStatus::Processing,
        PaymentStatus::Succeeded => proto::PaymentStatus::Succeeded,
        PaymentStatus::Failed => proto::PaymentStatus::Failed,
        PaymentStatus::Cancelled => proto::PaymentStatus::Cancelled,
        PaymentStatus::Refunded => proto::PaymentStatus::Refunded,
    }
}

fn payment_type(payment_type: PaymentType) -> proto::PaymentType {
    match payment_type {
        PaymentType::PlatformService => proto::PaymentType::PlatformService,
        PaymentType::ProductB2c => proto::PaymentType::ProductB2c,
        PaymentType::ProductC2c => proto::PaymentType::ProductC2c,
        PaymentType::BalanceDeposit => proto::PaymentType::BalanceDeposit,
    }
}

/// Unspecified or unknown values are `None`, so the domain reports the field.
pub fn payment_type_from_wire(value: i32) -> Option<PaymentType> {
    match proto::PaymentType::try_from(value).ok()? {
        proto::PaymentType::Unspecified => None,
        proto::PaymentType::PlatformService => Some(PaymentType::PlatformService),
        proto::PaymentType::ProductB2c => Some(PaymentType::ProductB2c),
        proto::PaymentType::ProductC2c => Some(PaymentType::ProductC2c),
        proto::PaymentType::BalanceDeposit => Some(PaymentType::BalanceDeposit),
    }
}

pub fn payment(payment: Payment) -> proto::Payment {
    let currency = payment.amount.currency();
    proto::Payment {
        id: payment.id.to_string(),
        user_id: payment.user_id,
        amount: payment.amount.to_decimal_string(),
        currency: currency.code().to_owned(),
        payment_type: payment_type(payment.payment_type).into(),
        status: payment_status(payment.status).into(),
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
