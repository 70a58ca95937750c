//! Double-entry ledger rules. A `JournalEntry` cannot be built unbalanced, so an
//! unbalanced entry can never reach the store.

use std::collections::BTreeMap;

use crate::money::{Currency, Money};
use crate::payment::text_enum;

text_enum!(
    /// Where money sits. Only `external` (the world outside) and the two accounts that
    /// count what the platform is out of pocket may go below zero.
    AccountKind {
        External => "external",
        PlatformCash => "platform_cash",
        PlatformEscrow => "platform_escrow",
        PlatformFees => "platform_fees",
        // What the platform paid of its own (gateways' dispute fees): its balance is
        // minus the total spent.
        PlatformExpenses => "platform_expenses",
        VendorPending => "vendor_pending",
        VendorAvailable => "vendor_available",
        PayoutPending => "payout_pending",
        PayoutInTransit => "payout_in_transit",
        Wallet => "wallet",
        WithdrawalInTransit => "withdrawal_in_transit",
        // What a vendor owes the platform (a clawback beyond its balance): minus the
        // debt, back to zero as its next transfers repay it, never above zero.
        VendorReceivable => "vendor_receivable",
    }
);

impl AccountKind {
    pub fn may_go_negative(self) -> bool {
        matches!(self, AccountKind::External | AccountKind::PlatformExpenses | AccountKind::VendorReceivable)
    }

    /// Accounts that only ever count a debt or a cost: above zero would mean the
    /// platform took back more than it was owed.
    pub fn may_go_positive(self) -> bool {
        !matches!(self, AccountKind::PlatformExpenses | AccountKind::VendorReceivable)
    }

    /// Accounts many concurrent writes move: the store keeps their balance in stripes
    /// so that those writers do not queue on one row. The platform's own accounts (one
    /// per currency, moved by nearly every payment and transfer), and a vendor's
    /// pending and available balances (every transfer to the vendor credits the one,
    /// its maturation the other). A receivable (also bounded above) and a wallet (its
    /// owner's operations only) keep one row.
    pub fn striped(self) -> bool {
        matches!(
            self,
            AccountKind::External
                | AccountKind::PlatformCash
                | AccountKind::PlatformFees
                | AccountKind::PlatformEscrow
                | AccountKind::VendorPending
                | AccountKind::VendorAvailable
        )
    }
}

text_enum!(
    /// Why money moved; with the business object id it identifies an entry, and the
    /// store refuses a second entry of the same kind for the same object.
    EntryKind {
        Capture => "capture",
        EscrowRelease => "escrow_release",
        Fee => "fee",
        Transfer => "transfer",
        TransferFailed => "transfer_failed",
        Maturation => "maturation",
        Reversal => "reversal",
        ReversalFailed => "reversal_failed",
        Payout => "payout",
        PayoutInTransit => "payout_in_transit",
        PayoutPaid => "payout_paid",
        PayoutFailed => "payout_failed",
        PayoutCanceled => "payout_canceled",
        Refund => "refund",
        RefundFailed => "refund_failed",
        Withdrawal => "withdrawal",
        WithdrawalCompleted => "withdrawal_completed",
        WithdrawalReversal => "withdrawal_reversal",
        DisputeLost => "dispute_lost",
        DisputeFee => "dispute_fee",
        // A vendor's receivable repaid from one of its transfers (object: the transfer).
        ReceivableRecovery => "receivable_recovery",
    }
);

/// A ledger account: (kind, owner, currency).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LedgerAccount {
    pub kind: AccountKind,
    pub owner: Option<String>,
    pub currency: &'static str,
}

impl PartialOrd for AccountKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AccountKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl LedgerAccount {
    pub fn platform(kind: AccountKind, currency: Currency) -> Self {
        Self { kind, owner: None, currency: currency.code() }
    }

    pub fn owned(kind: AccountKind, owner: impl Into<String>, currency: Currency) -> Self {
        Self { kind, owner: Some(owner.into()), currency: currency.code() }
    }

    /// The stored key, e.g. `platform_escrow:USD` or `wallet:user-1:USD`. Kind and
    /// currency never contain ':', so the key is unique whatever the owner holds.
    pub fn code(&self) -> String {
        match &self.owner {
            Some(owner) => format!("{}:{}:{}", self.kind, owner, self.currency),
            None => format!("{}:{}", self.kind, self.currency),
        }
    }
}

/// One side of a movement: a signed amount in minor units on one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub account: LedgerAccount,
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("a journal entry needs at least two postings")]
    TooFewPostings,
    #[error("a posting of zero on {0} moves nothing")]
    ZeroPosting(String),
    #[error("postings in {currency} sum to {sum}, not zero")]
    Unbalanced { currency: &'static str, sum: i128 },
}

/// A balanced set of postings that belongs to one business object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    kind: EntryKind,
    object_id: String,
    postings: Vec<Posting>,
}

impl JournalEntry {
    pub fn new(kind: EntryKind, object_id: impl Into<String>, postings: Vec<Posting>) -> Result<Self, LedgerError> {
        if postings.len() < 2 {
            return Err(LedgerError::TooFewPostings);
        }
        let mut sums: BTreeMap<&'static str, i128> = BTreeMap::new();
        for posting in &postings {
            if posting.amount == 0 {
                return Err(LedgerError::ZeroPosting(posting.account.code()));
            }
            *sums.entry(posting.account.currency).or_default() += i128::from(posting.amount);
        }
        if let Some((&currency, &sum)) = sums.iter().find(|(_, sum)| **sum != 0) {
            return Err(LedgerError::Unbalanced { currency, sum });
        }
        Ok(Self { kind, object_id: object_id.into(), postings })
    }

    /// Moves `amount` (positive) from one account to another.
    pub fn movement(
        kind: EntryKind,
        object_id: impl Into<String>,
        from: LedgerAccount,
        to: LedgerAccount,
        amount: Money,
    ) -> Result<Self, LedgerError> {
        let debit = amount.minor().checked_neg().ok_or(LedgerError::Unbalanced { currency: amount.currency().code(), sum: 0 })?;
        Self::new(
            kind,
            object_id,
            vec![Posting { account: from, amount: debit }, Posting { account: to, amount: amount.minor() }],
        )
    }

    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    pub fn object_id(&self) -> &str {
        &self.object_id
    }

    /// Postings in the order their accounts must be locked: by account code, so two
    /// concurrent entries never wait on each other in opposite orders.
    pub fn postings_in_lock_order(&self) -> Vec<&Posting> {
        let mut postings: Vec<&Posting> = self.postings.iter().collect();
        postings.sort_by_key(|posting| posting.account.code());
        postings
    }
}

/// How a debit of `delta` (negative) is taken from an account's stripes, given as
/// (stripe, balance) in lock order: from each stripe in turn, as much as it holds, so
/// none goes negative. `None` when all of them together hold less than the debit.
pub fn spread_debit(stripes: &[(i64, i64)], delta: i64) -> Option<Vec<(i64, i64)>> {
    let mut rest = delta.checked_neg()?;
    let mut takes = Vec::new();
    for &(stripe, balance) in stripes {
        if rest == 0 {
            break;
        }
        let take = balance.min(rest);
        if take > 0 {
            takes.push((stripe, take));
            rest -= take;
        }
    }
    (rest == 0).then_some(takes)
}

/// A broken ledger invariant, as found by `check-ledger`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerViolation {
    /// Balances in one currency do not sum to zero.
    CurrencyUnbalanced { currency: String, sum: i64 },
    /// An entry whose postings do not sum to zero.
    EntryUnbalanced { entry_id: String, currency: String, sum: i64 },
    /// A stored balance differs from the sum of its postings.
    BalanceDrift { account: String, balance: i64, postings_sum: i64 },
    /// An account that must not go negative is below zero.
    Negative { account: String, balance: i64 },
    /// A receivable or expense account above zero: more was recovered than was owed.
    OverRecovered { account: String, balance: i64 },
    /// A payment that took the buyer's money has no capture entry.
    MissingCapture { payment_id: String },
}

impl std::fmt::Display for LedgerViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::CurrencyUnbalanced { currency, sum } => write!(f, "balances in {currency} sum to {sum}, not 0"),
            Self::EntryUnbalanced { entry_id, currency, sum } => {
                write!(f, "journal entry {entry_id} postings in {currency} sum to {sum}, not 0")
            }
            Self::BalanceDrift { account, balance, postings_sum } => {
                write!(f, "account {account} balance {balance} differs from its postings' sum {postings_sum}")
            }
            Self::Negative { account, balance } => write!(f, "account {account} is negative: {balance}"),
            Self::OverRecovered { account, balance } => {
                write!(f, "account {account} is {balance} in the vendor's favour: recovered more than was owed")
            }
            Self::MissingCapture { payment_id } => write!(f, "payment {payment_id} succeeded without a capture entry"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("currency", "USD").unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn eur() -> Currency {
        Currency::parse("currency", "EUR").unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn posting(kind: AccountKind, currency: Currency, amount: i64) -> Posting {
        Posting { account: LedgerAccount::platform(kind, currency), amount }
    }

    #[test]
    fn an_unbalanced_entry_cannot_be_built() {
        let err = JournalEntry::new(
            EntryKind::Capture,
            "p1",
            vec![posting(AccountKind::External, usd(), -100), posting(AccountKind::PlatformCash, usd(), 99)],
        );
        assert_eq!(err, Err(LedgerError::Unbalanced { currency: "USD", sum: -1 }));
    }

    #[test]
    fn each_currency_must_balance_on_its_own() {
        let err = JournalEntry::new(
            EntryKind::Capture,
            "p1",
            vec![posting(AccountKind::External, usd(), -100), posting(AccountKind::PlatformCash, eur(), 100)],
        );
        assert!(matches!(err, Err(LedgerError::Unbalanced { .. })));
    }

    #[test]
    fn degenerate_entries_are_refused() {
        assert_eq!(
            JournalEntry::new(EntryKind::Capture, "p1", vec![posting(AccountKind::External, usd(), 0)]),
            Err(LedgerError::TooFewPostings)
        );
        let zero = vec![posting(AccountKind::External, usd(), 0), posting(AccountKind::PlatformCash, usd(), 0)];
        assert!(matches!(JournalEntry::new(EntryKind::Capture, "p1", zero), Err(LedgerError::ZeroPosting(_))));
    }

    #[test]
    fn a_movement_debits_one_account_and_credits_the_other() {
        let entry = JournalEntry::movement(
            EntryKind::Capture,
            "p1",
            LedgerAccount::platform(AccountKind::External, usd()),
            LedgerAccount::owned(AccountKind::Wallet, "u:1", usd()),
            Money::from_minor(250, usd()),
        )
        .unwrap_or_else(|e| unreachable!("{e}"));
        let codes: Vec<_> = entry.postings_in_lock_order().iter().map(|p| (p.account.code(), p.amount)).collect();
        assert_eq!(codes, vec![("external:USD".to_owned(), -250), ("wallet:u:1:USD".to_owned(), 250)]);
    }

    #[test]
    fn a_debit_spreads_over_stripes_without_taking_any_below_zero() {
        let stripes = [(0, 5), (1, 0), (2, -3), (3, 10), (4, 7)];
        assert_eq!(spread_debit(&stripes, -12), Some(vec![(0, 5), (3, 7)]));
        assert_eq!(spread_debit(&stripes, -22), Some(vec![(0, 5), (3, 10), (4, 7)]));
        assert_eq!(spread_debit(&stripes, -23), None, "the stripes hold 22 that can be taken");
        assert_eq!(spread_debit(&stripes, 0), Some(vec![]));
        assert_eq!(spread_debit(&stripes, i64::MIN), None);
    }

    #[test]
    fn the_platforms_and_the_vendors_balances_are_striped() {
        let striped: Vec<_> = AccountKind::ALL.iter().filter(|k| k.striped()).map(|k| k.as_str()).collect();
        assert_eq!(
            striped,
            ["external", "platform_cash", "platform_escrow", "platform_fees", "vendor_pending", "vendor_available"]
        );
        assert!(AccountKind::ALL.iter().all(|k| !k.striped() || k.may_go_positive()), "stripes guard the floor only");
    }

    #[test]
    fn only_the_outside_world_may_go_negative() {
        let negative: Vec<_> = AccountKind::ALL.iter().filter(|k| k.may_go_negative()).collect();
        assert_eq!(negative, vec![&AccountKind::External, &AccountKind::PlatformExpenses, &AccountKind::VendorReceivable]);
        assert!(AccountKind::ALL.iter().all(|k| k.may_go_positive() || k.may_go_negative()));
    }
}
