//! Refunds: money back to the buyer, never more than was captured.

use chrono::{DateTime, Utc};

use crate::Money;
use crate::ledger::{AccountKind, EntryKind, JournalEntry, LedgerAccount, LedgerError};
use crate::payment::{Payment, PaymentType, text_enum};

pub const REASON_LEN_MAX: usize = 500;

text_enum!(RefundStatus { Pending => "pending", Succeeded => "succeeded", Failed => "failed" });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: uuid::Uuid,
    pub payment_id: uuid::Uuid,
    pub amount: Money,
    pub status: RefundStatus,
    pub gateway_refund_id: Option<String>,
    pub reason: String,
    pub idempotency_key: Option<String>,
    pub processed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Takes the refund from where the payment's money is: the escrow while a cancelled
/// hold keeps it there, the buyer's wallet for a top-up, platform cash otherwise.
pub fn refund_entry(payment: &Payment, refund: &Refund, held_in_escrow: bool) -> Result<JournalEntry, LedgerError> {
    let currency = payment.amount.currency();
    let source = match (held_in_escrow, payment.payment_type) {
        (true, _) => LedgerAccount::platform(AccountKind::PlatformEscrow, currency),
        (false, PaymentType::BalanceDeposit) => LedgerAccount::owned(AccountKind::Wallet, payment.user_id.clone(), currency),
        (false, _) => LedgerAccount::platform(AccountKind::PlatformCash, currency),
    };
    JournalEntry::movement(
        EntryKind::Refund,
        refund.id.to_string(),
        source,
        LedgerAccount::platform(AccountKind::External, currency),
        refund.amount,
    )
}

/// A refund the gateway refused: the money goes back where it came from.
pub fn refund_failed_entry(payment: &Payment, refund: &Refund, held_in_escrow: bool) -> Result<JournalEntry, LedgerError> {
    let entry = refund_entry(payment, refund, held_in_escrow)?;
    let reversed = entry
        .postings_in_lock_order()
        .into_iter()
        .map(|p| crate::ledger::Posting { account: p.account.clone(), amount: -p.amount })
        .collect();
    JournalEntry::new(EntryKind::RefundFailed, refund.id.to_string(), reversed)
}
