//! Transfers from the platform to a vendor, their reversals, and the ledger entries
//! both post.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::Money;
use crate::ledger::{AccountKind, EntryKind, JournalEntry, LedgerAccount, LedgerError};
use crate::payment::text_enum;

pub const DESCRIPTION_LEN_MAX: usize = 500;

text_enum!(
    TransferStatus {
        Pending => "pending",
        Paid => "paid",
        Failed => "failed",
        PartiallyReversed => "partially_reversed",
        Reversed => "reversed",
    }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub id: uuid::Uuid,
    pub connected_account_id: uuid::Uuid,
    pub gateway_account_id: String,
    pub payment_id: Option<uuid::Uuid>,
    pub amount: Money,
    pub reversed_minor: i64,
    pub status: TransferStatus,
    pub description: String,
    pub source_transaction: Option<String>,
    pub gateway_transfer_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub metadata: BTreeMap<String, String>,
    /// When the vendor's pending funds become available.
    pub available_on: DateTime<Utc>,
    pub matured_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

// A reversal is recorded (its money back on the platform) before the gateway is
// asked; it stays pending until the gateway confirms it, and a refusal undoes it.
text_enum!(ReversalStatus { Pending => "pending", Succeeded => "succeeded", Failed => "failed" });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferReversal {
    pub id: uuid::Uuid,
    pub transfer_id: uuid::Uuid,
    pub amount: Money,
    pub description: String,
    pub idempotency_key: Option<String>,
    pub status: ReversalStatus,
    pub gateway_reversal_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn vendor(kind: AccountKind, transfer: &Transfer) -> LedgerAccount {
    LedgerAccount::owned(kind, transfer.connected_account_id.to_string(), transfer.amount.currency())
}

fn platform(kind: AccountKind, transfer: &Transfer) -> LedgerAccount {
    LedgerAccount::platform(kind, transfer.amount.currency())
}

impl Transfer {
    /// What may still be reversed.
    pub fn reversible_minor(&self) -> i64 {
        self.amount.minor() - self.reversed_minor
    }

    /// Status once `total_reversed` of the amount has been taken back.
    pub fn status_after_reversal(&self, total_reversed: i64) -> TransferStatus {
        if total_reversed >= self.amount.minor() { TransferStatus::Reversed } else { TransferStatus::PartiallyReversed }
    }

    /// Platform cash → the vendor's pending balance.
    pub fn entry(&self) -> Result<JournalEntry, LedgerError> {
        JournalEntry::movement(
            EntryKind::Transfer,
            self.id.to_string(),
            platform(AccountKind::PlatformCash, self),
            vendor(AccountKind::VendorPending, self),
            self.amount,
        )
    }

    /// The gateway refused the transfer: the money goes back to the platform from
    /// wherever it sits now.
    pub fn failed_entry(&self) -> Result<JournalEntry, LedgerError> {
        JournalEntry::movement(
            EntryKind::TransferFailed,
            self.id.to_string(),
            vendor(self.vendor_balance_kind(), self),
            platform(AccountKind::PlatformCash, self),
            self.amount,
        )
    }

    /// Pending before maturity, available after.
    fn vendor_balance_kind(&self) -> AccountKind {
        if self.matured_at.is_some() { AccountKind::VendorAvailable } else { AccountKind::VendorPending }
    }

    /// Pending → available for what was not reversed before maturity; `None` when
    /// nothing is left to move.
    pub fn maturation_entry(&self) -> Result<Option<JournalEntry>, LedgerError> {
        let rest = self.reversible_minor();
        if rest <= 0 {
            return Ok(None);
        }
        JournalEntry::movement(
            EntryKind::Maturation,
            self.id.to_string(),
            vendor(AccountKind::VendorPending, self),
            vendor(AccountKind::VendorAvailable, self),
            Money::from_minor(rest, self.amount.currency()),
        )
        .map(Some)
    }

    /// The gateway refused a recorded reversal: the money goes back to the vendor,
    /// into the balance the transfer's money is in now.
    pub fn reversal_failed_entry(&self, reversal: &TransferReversal) -> Result<JournalEntry, LedgerError> {
        JournalEntry::movement(
            EntryKind::ReversalFailed,
            reversal.id.to_string(),
            platform(AccountKind::PlatformCash, self),
            vendor(self.vendor_balance_kind(), self),
            reversal.amount,
        )
    }

    /// The transfer once a refused reversal no longer counts.
    pub fn without_reversal(&self, reversal: &TransferReversal, now: DateTime<Utc>) -> Transfer {
        let reversed_minor = (self.reversed_minor - reversal.amount.minor()).max(0);
        let status = if reversed_minor == 0 { TransferStatus::Paid } else { self.status_after_reversal(reversed_minor) };
        Transfer { reversed_minor, status, updated_at: now, ..self.clone() }
    }

    /// Takes a reversal back from wherever the transfer's money is now: the pending
    /// balance before maturity, the available balance after.
    pub fn reversal_entry(&self, reversal: &TransferReversal) -> Result<JournalEntry, LedgerError> {
        JournalEntry::movement(
            EntryKind::Reversal,
            reversal.id.to_string(),
            vendor(self.vendor_balance_kind(), self),
            platform(AccountKind::PlatformCash, self),
            reversal.amount,
        )
    }
}

/// The platform's fee on a payment: from platform cash into the fee account, once
/// per payment.
pub fn fee_entry(payment_id: uuid::Uuid, fee: Money) -> Result<Option<JournalEntry>, LedgerError> {
    if !fee.is_positive() {
        return Ok(None);
    }
    JournalEntry::movement(
        EntryKind::Fee,
        payment_id.to_string(),
        LedgerAccount::platform(AccountKind::PlatformCash, fee.currency()),
        LedgerAccount::platform(AccountKind::PlatformFees, fee.currency()),
        fee,
    )
    .map(Some)
}

/// The ledger account of what a vendor owes the platform, in one currency.
pub fn receivable(vendor: uuid::Uuid, currency: crate::Currency) -> LedgerAccount {
    LedgerAccount::owned(AccountKind::VendorReceivable, vendor.to_string(), currency)
}

/// What a vendor's debt (`owed_minor`, its receivable's deficit) takes of `amount`
/// about to be transferred to it: all of it up to the debt. The rest is transferred.
pub fn recovery(owed_minor: i64, amount: Money) -> Money {
    Money::from_minor(owed_minor.clamp(0, amount.minor().max(0)), amount.currency())
}

/// The recovered part stays on the platform and repays the vendor's receivable,
/// once per `object_id` (the transfer or the escrow hold it was taken from).
pub fn recovery_entry(
    object_id: impl Into<String>,
    vendor: uuid::Uuid,
    recovered: Money,
) -> Result<Option<JournalEntry>, LedgerError> {
    if !recovered.is_positive() {
        return Ok(None);
    }
    JournalEntry::movement(
        EntryKind::ReceivableRecovery,
        object_id,
        LedgerAccount::platform(AccountKind::PlatformCash, recovered.currency()),
        receivable(vendor, recovered.currency()),
        recovered,
    )
    .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    #[test]
    fn a_debt_takes_a_transfer_up_to_itself() {
        let usd = Currency::parse("currency", "USD").unwrap();
        assert_eq!(recovery(9_000, Money::from_minor(5_000, usd)).minor(), 5_000);
        assert_eq!(recovery(3_000, Money::from_minor(5_000, usd)).minor(), 3_000);
        assert_eq!(recovery(0, Money::from_minor(5_000, usd)).minor(), 0);
        assert_eq!(recovery_entry("t", uuid::Uuid::nil(), Money::from_minor(0, usd)), Ok(None));
        let entry = recovery_entry("t", uuid::Uuid::nil(), Money::from_minor(3_000, usd)).unwrap().unwrap();
        let lines: Vec<_> = entry.postings_in_lock_order().iter().map(|p| (p.account.code(), p.amount)).collect();
        assert_eq!(
            lines,
            vec![("platform_cash:USD".to_owned(), -3_000), (format!("vendor_receivable:{}:USD", uuid::Uuid::nil()), 3_000),]
        );
    }

    fn transfer(amount: i64, reversed: i64) -> Transfer {
        let usd = Currency::parse("currency", "USD").unwrap();
        let now = Utc::now();
        Transfer {
            id: uuid::Uuid::now_v7(),
            connected_account_id: uuid::Uuid::nil(),
            gateway_account_id: "acct_1".into(),
            payment_id: None,
            amount: Money::from_minor(amount, usd),
            reversed_minor: reversed,
            status: TransferStatus::Paid,
            description: String::new(),
            source_transaction: None,
            gateway_transfer_id: None,
            idempotency_key: None,
            metadata: BTreeMap::new(),
            available_on: now,
            matured_at: None,
            paid_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn reversals_move_the_status_to_partially_then_fully_reversed() {
        let t = transfer(1000, 0);
        assert_eq!(t.status_after_reversal(400), TransferStatus::PartiallyReversed);
        assert_eq!(t.status_after_reversal(1000), TransferStatus::Reversed);
    }

    #[test]
    fn maturity_moves_only_what_was_not_reversed() {
        let entry = transfer(1000, 300).maturation_entry().unwrap().unwrap();
        let amounts: Vec<_> = entry.postings_in_lock_order().iter().map(|p| (p.account.kind, p.amount)).collect();
        assert_eq!(amounts, vec![(AccountKind::VendorAvailable, 700), (AccountKind::VendorPending, -700)]);
        assert_eq!(transfer(1000, 1000).maturation_entry().unwrap(), None);
    }

    #[test]
    fn a_reversal_takes_from_pending_before_maturity_and_available_after() {
        let mut t = transfer(1000, 0);
        let usd = t.amount.currency();
        let reversal = TransferReversal {
            id: uuid::Uuid::now_v7(),
            transfer_id: t.id,
            amount: Money::from_minor(100, usd),
            description: String::new(),
            idempotency_key: None,
            status: ReversalStatus::Pending,
            gateway_reversal_id: None,
            created_at: Utc::now(),
        };
        let source = |t: &Transfer| {
            t.reversal_entry(&reversal).unwrap().postings_in_lock_order().iter().find(|p| p.amount < 0).map(|p| p.account.kind)
        };
        assert_eq!(source(&t), Some(AccountKind::VendorPending));
        t.matured_at = Some(Utc::now());
        assert_eq!(source(&t), Some(AccountKind::VendorAvailable));
        let undo = t.reversal_failed_entry(&reversal).unwrap();
        let credited = undo.postings_in_lock_order().iter().find(|p| p.amount > 0).map(|p| (p.account.kind, p.amount));
        assert_eq!(credited, Some((AccountKind::VendorAvailable, 100)), "back where the money is now");
        t.reversed_minor = 100;
        t.status = TransferStatus::PartiallyReversed;
        let restored = t.without_reversal(&reversal, Utc::now());
        assert_eq!((restored.reversed_minor, restored.status), (0, TransferStatus::Paid));
    }
}
