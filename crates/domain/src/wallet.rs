//! The user wallet: a balance topped up through a checkout and withdrawn to the bank.

use chrono::{DateTime, Utc};

use crate::Money;
use crate::ledger::{AccountKind, EntryKind, JournalEntry, LedgerAccount, LedgerError};
use crate::payment::text_enum;

text_enum!(WalletTransactionKind { Deposit => "deposit", Withdrawal => "withdrawal", WithdrawalReversal => "withdrawal_reversal", Payment => "payment" });
/// The description of a top-up the platform gave none: pages show it in their language.
pub const TOP_UP_DESCRIPTION: &str = "top-up";

text_enum!(WalletTransactionStatus { Pending => "pending", Completed => "completed", Failed => "failed" });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletTransaction {
    pub id: uuid::Uuid,
    pub user_id: String,
    pub kind: WalletTransactionKind,
    pub amount: Money,
    pub status: WalletTransactionStatus,
    pub description: String,
    pub payment_id: Option<uuid::Uuid>,
    pub idempotency_key: Option<String>,
    /// The gateway that pays a withdrawal out; `None` is the built-in mock's bank.
    pub gateway_name: Option<String>,
    /// The gateway's id of that payout, once it answered.
    pub gateway_transaction_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl WalletTransaction {
    /// What this row did to the wallet's balance, in minor units: a withdrawal
    /// debits at once whatever becomes of it (its failure is a reversal row).
    pub fn balance_change(&self) -> i64 {
        match self.kind {
            WalletTransactionKind::Deposit | WalletTransactionKind::WithdrawalReversal => self.amount.minor(),
            WalletTransactionKind::Withdrawal | WalletTransactionKind::Payment => -self.amount.minor(),
        }
    }

    fn wallet(&self) -> LedgerAccount {
        LedgerAccount::owned(AccountKind::Wallet, self.user_id.clone(), self.amount.currency())
    }

    fn in_transit(&self) -> LedgerAccount {
        LedgerAccount::owned(AccountKind::WithdrawalInTransit, self.user_id.clone(), self.amount.currency())
    }

    /// A withdrawal debits the wallet at once; the money waits in transit.
    pub fn withdrawal_entry(&self) -> Result<JournalEntry, LedgerError> {
        JournalEntry::movement(EntryKind::Withdrawal, self.id.to_string(), self.wallet(), self.in_transit(), self.amount)
    }

    /// The bank has it.
    pub fn completed_entry(&self) -> Result<JournalEntry, LedgerError> {
        JournalEntry::movement(
            EntryKind::WithdrawalCompleted,
            self.id.to_string(),
            self.in_transit(),
            LedgerAccount::platform(AccountKind::External, self.amount.currency()),
            self.amount,
        )
    }

    /// A failed withdrawal gives the money back to the wallet.
    pub fn reversal_entry(&self) -> Result<JournalEntry, LedgerError> {
        JournalEntry::movement(EntryKind::WithdrawalReversal, self.id.to_string(), self.in_transit(), self.wallet(), self.amount)
    }
}
