//! Wire forms of the wallet.

use domain::Money;
use domain::wallet::{WalletTransaction, WalletTransactionKind, WalletTransactionStatus};

use super::{timestamp, wire_enum};
use crate::proto;

wire_enum!(kind, WalletTransactionKind => proto::WalletTransactionKind { Deposit, Withdrawal, WithdrawalReversal, Payment });
wire_enum!(status, WalletTransactionStatus => proto::WalletTransactionStatus { Pending, Completed, Failed });

pub fn balance(money: Money) -> proto::WalletBalance {
    proto::WalletBalance { currency: money.currency().code().to_owned(), amount: money.to_decimal_string() }
}

pub fn transaction(t: WalletTransaction) -> proto::WalletTransaction {
    proto::WalletTransaction {
        id: t.id.to_string(),
        user_id: t.user_id,
        kind: kind(t.kind),
        amount: t.amount.to_decimal_string(),
        currency: t.amount.currency().code().to_owned(),
        status: status(t.status),
        payment_id: t.payment_id.map(|p| p.to_string()).unwrap_or_default(),
        description: t.description,
        created_at: Some(timestamp(t.created_at)),
        updated_at: Some(timestamp(t.updated_at)),
    }
}
