//! Wire forms of the marketplace entities.

use app::marketplace_ports::{BalanceSnapshot, SnapshotType};
use domain::accounts::{AccountStatus, AccountType, ConnectedAccount};
use domain::fees::{FeeQuote, SplitRule, SplitRuleType, decimal_text};
use domain::payouts::{Payout, PayoutMethod, PayoutStatus};
use domain::transfers::{Transfer, TransferReversal, TransferStatus};
use domain::{Currency, Money};

use super::{timestamp, wire_enum};
use crate::proto;

wire_enum!(account_type, account_type_from_wire, AccountType => proto::ConnectedAccountType { Express, Standard, Custom });
wire_enum!(account_status, account_status_from_wire, AccountStatus => proto::ConnectedAccountStatus { Pending, Active, Restricted, Disabled });
wire_enum!(rule_type, rule_type_from_wire, SplitRuleType => proto::SplitRuleType { Percentage, Fixed });
wire_enum!(transfer_status, TransferStatus => proto::TransferStatus { Pending, Paid, Failed, PartiallyReversed, Reversed });
wire_enum!(payout_status, payout_status_from_wire, PayoutStatus => proto::PayoutStatus { Pending, InTransit, Paid, Failed, Canceled });
wire_enum!(payout_method, payout_method_from_wire, PayoutMethod => proto::PayoutMethod { Standard, Instant });
wire_enum!(snapshot_type, SnapshotType => proto::BalanceSnapshotType { Scheduled, OnDemand, Webhook });

pub fn account(account: ConnectedAccount) -> proto::ConnectedAccount {
    proto::ConnectedAccount {
        id: account.id.to_string(),
        stripe_account_id: account.gateway_account_id,
        account_type: account_type(account.account_type),
        status: account_status(account.status),
        email: account.email,
        business_type: account.business_type.as_str().to_owned(),
        charges_enabled: account.charges_enabled,
        payouts_enabled: account.payouts_enabled,
        details_submitted: account.details_submitted,
        country: account.country,
        metadata: account.metadata.into_iter().collect(),
        created_at: Some(timestamp(account.created_at)),
        updated_at: Some(timestamp(account.updated_at)),
    }
}

pub fn split_rule(rule: SplitRule) -> proto::SplitRule {
    proto::SplitRule {
        id: rule.id.to_string(),
        name: rule.name,
        connected_account_id: rule.connected_account_id.map(|a| a.to_string()).unwrap_or_default(),
        r#type: rule_type(rule.rule_type),
        value: decimal_text(rule.value),
        priority: rule.priority,
        is_active: rule.is_active,
        currency: rule.currency.map(|c| c.code().to_owned()).unwrap_or_default(),
        min_amount: rule.min_amount.map(decimal_text).unwrap_or_default(),
        max_amount: rule.max_amount.map(decimal_text).unwrap_or_default(),
        created_at: Some(timestamp(rule.created_at)),
        updated_at: Some(timestamp(rule.updated_at)),
    }
}

pub fn fee_quote(quote: FeeQuote) -> proto::CalculateFeeResponse {
    proto::CalculateFeeResponse {
        total_fee: quote.fee.to_decimal_string(),
        applied_rules: quote
            .applied_rule
            .into_iter()
            .map(|rule| proto::AppliedRule {
                rule_id: rule.rule_id.to_string(),
                rule_name: rule.rule_name,
                rule_type: rule_type(rule.rule_type),
                fee_amount: rule.fee.to_decimal_string(),
            })
            .collect(),
        transfer_amount: quote.transfer_amount.to_decimal_string(),
    }
}

pub fn transfer(transfer: Transfer) -> proto::Transfer {
    let currency = transfer.amount.currency();
    proto::Transfer {
        id: transfer.id.to_string(),
        connected_account_id: transfer.connected_account_id.to_string(),
        stripe_account_id: transfer.gateway_account_id,
        payment_id: transfer.payment_id.map(|p| p.to_string()).unwrap_or_default(),
        amount: transfer.amount.to_decimal_string(),
        currency: currency.code().to_owned(),
        status: transfer_status(transfer.status),
        reversed_amount: Money::from_minor(transfer.reversed_minor, currency).to_decimal_string(),
        recovered_amount: Money::from_minor(transfer.recovered_minor, currency).to_decimal_string(),
        reversed_recovered_amount: Money::from_minor(transfer.reversed_recovered_minor, currency).to_decimal_string(),
        description: transfer.description,
        source_transaction: transfer.source_transaction.unwrap_or_default(),
        stripe_transfer_id: transfer.gateway_transfer_id.clone().unwrap_or_default(),
        gateway_transfer_id: transfer.gateway_transfer_id.unwrap_or_default(),
        idempotency_key: transfer.idempotency_key.unwrap_or_default(),
        metadata: transfer.metadata.into_iter().collect(),
        paid_at: transfer.paid_at.map(timestamp),
        created_at: Some(timestamp(transfer.created_at)),
        updated_at: Some(timestamp(transfer.updated_at)),
    }
}

pub fn reversal(reversal: TransferReversal) -> proto::TransferReversal {
    proto::TransferReversal {
        id: reversal.id.to_string(),
        transfer_id: reversal.transfer_id.to_string(),
        amount: reversal.amount.to_decimal_string(),
        recovered_amount: Money::from_minor(reversal.recovered_minor, reversal.amount.currency()).to_decimal_string(),
        currency: reversal.amount.currency().code().to_owned(),
        description: reversal.description,
        idempotency_key: reversal.idempotency_key.unwrap_or_default(),
        created_at: Some(timestamp(reversal.created_at)),
        status: reversal.status.as_str().to_owned(),
        gateway_reversal_id: reversal.gateway_reversal_id.unwrap_or_default(),
    }
}

/// `stored`: whether the snapshot has a row (its id is meaningful).
pub fn snapshot(snapshot: BalanceSnapshot, stored: bool) -> proto::BalanceSnapshot {
    let amount = |minor| match Currency::parse("currency", &snapshot.currency) {
        Ok(currency) => Money::from_minor(minor, currency).to_decimal_string(),
        Err(_) => minor.to_string(),
    };
    let gateway_mismatch = snapshot.gateway_mismatch();
    let (gateway_available_amount, gateway_pending_amount) =
        snapshot.gateway.map(|g| (amount(g.available_minor), amount(g.pending_minor))).unwrap_or_default();
    proto::BalanceSnapshot {
        id: if stored { snapshot.id.to_string() } else { String::new() },
        connected_account_id: snapshot.connected_account_id.to_string(),
        available_amount: amount(snapshot.available_minor),
        pending_amount: amount(snapshot.pending_minor),
        instant_available_amount: amount(snapshot.instant_available_minor),
        receivable_amount: amount(snapshot.receivable_minor),
        stripe_account_id: snapshot.gateway_account_id,
        available_currency: snapshot.currency.clone(),
        pending_currency: snapshot.currency.clone(),
        instant_available_currency: snapshot.currency.clone(),
        currency: snapshot.currency,
        source_types: snapshot.source_types,
        snapshot_type: snapshot_type(snapshot.snapshot_type),
        created_at: Some(timestamp(snapshot.created_at)),
        gateway_available_amount,
        gateway_pending_amount,
        gateway_mismatch,
    }
}

pub fn payout(payout: Payout) -> proto::Payout {
    proto::Payout {
        id: payout.id.to_string(),
        connected_account_id: payout.connected_account_id.to_string(),
        amount: payout.amount.to_decimal_string(),
        currency: payout.amount.currency().code().to_owned(),
        method: payout_method(payout.method),
        status: payout_status(payout.status),
        destination_type: payout.destination_type,
        destination_id: payout.destination_id,
        arrival_date: Some(timestamp(payout.arrival_date)),
        failure_code: payout.failure_code.unwrap_or_default(),
        failure_message: payout.failure_message.unwrap_or_default(),
        description: payout.description,
        statement_descriptor: payout.statement_descriptor,
        fee_amount: payout.fee.to_decimal_string(),
        idempotency_key: payout.idempotency_key.unwrap_or_default(),
        metadata: payout.metadata.into_iter().collect(),
        paid_at: payout.paid_at.map(timestamp),
        failed_at: payout.failed_at.map(timestamp),
        canceled_at: payout.canceled_at.map(timestamp),
        created_at: Some(timestamp(payout.created_at)),
        updated_at: Some(timestamp(payout.updated_at)),
        stripe_account_id: payout.gateway_account_id,
        stripe_payout_id: payout.gateway_payout_id.clone().unwrap_or_default(),
        gateway_payout_id: payout.gateway_payout_id.unwrap_or_default(),
    }
}
