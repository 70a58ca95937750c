//! Transfers from the platform to a vendor, their reversals, and the ledger entries
//! both post.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::Money;
use crate::accounts::ConnectedAccount;
use crate::ledger::{AccountKind, EntryKind, JournalEntry, LedgerAccount, LedgerError, Posting};
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
    /// What reaches the vendor: the vendor's share less what repaid its debt.
    pub amount: Money,
    /// What of the vendor's share repaid its debt (`receivable_recovery`) and stayed
    /// on the platform. A transfer the debt took whole has a zero amount.
    pub recovered_minor: i64,
    /// Everything reversals took back: the part that reached the vendor first, then
    /// the recovered part (`reversed_recovered_minor` of it, given back as debt).
    pub reversed_minor: i64,
    pub reversed_recovered_minor: i64,
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

// A reversal is recorded (its money back on the platform, the recovered part given
// back as debt) before the gateway is asked for the part that reached the vendor;
// it stays pending until the gateway confirms it, and a refusal undoes all of it. A
// reversal of the recovered part alone asks no gateway: it succeeds as recorded.
text_enum!(ReversalStatus { Pending => "pending", Succeeded => "succeeded", Failed => "failed" });

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransferReversal {
    pub id: uuid::Uuid,
    pub transfer_id: uuid::Uuid,
    pub amount: Money,
    /// What of `amount` gives back the debt the transfer repaid (the vendor owes it
    /// again); the rest is taken back through the gateway.
    pub recovered_minor: i64,
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

impl TransferReversal {
    /// What the gateway is asked to take back from the vendor.
    pub fn sent_minor(&self) -> i64 {
        self.amount.minor() - self.recovered_minor
    }
}

impl Transfer {
    /// A transfer to `account` as it is recorded before the gateway is asked: nothing
    /// sent, recovered or reversed yet, no idempotency key and no metadata.
    pub fn pending(
        account: &ConnectedAccount,
        payment_id: Option<uuid::Uuid>,
        amount: Money,
        description: String,
        available_on: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Self {
        Transfer {
            id: uuid::Uuid::now_v7(),
            connected_account_id: account.id,
            gateway_account_id: account.gateway_account_id.clone(),
            payment_id,
            amount,
            recovered_minor: 0,
            reversed_minor: 0,
            reversed_recovered_minor: 0,
            status: TransferStatus::Pending,
            description,
            source_transaction: payment_id.map(|id| id.to_string()),
            gateway_transfer_id: None,
            idempotency_key: None,
            metadata: BTreeMap::new(),
            available_on,
            matured_at: None,
            paid_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The transfer the gateway made (its id `gateway_id`): paid, and matured at once
    /// when its funds are due already (`BALANCE_PENDING_DAYS` 0), with that entry.
    pub fn paid_by_gateway(
        &self,
        gateway_id: String,
        now: DateTime<Utc>,
    ) -> Result<(Transfer, Option<JournalEntry>), LedgerError> {
        let mut paid = Transfer {
            status: TransferStatus::Paid,
            gateway_transfer_id: Some(gateway_id),
            paid_at: Some(now),
            updated_at: now,
            ..self.clone()
        };
        if paid.available_on > now {
            return Ok((paid, None));
        }
        paid.matured_at = Some(now);
        let maturation = paid.maturation_entry()?;
        Ok((paid, maturation))
    }

    /// The transfer as it was first recorded, before the gateway made it: what
    /// `transfer.created` tells of one written paid at once.
    pub fn as_recorded(&self) -> Transfer {
        Transfer {
            status: TransferStatus::Pending,
            gateway_transfer_id: None,
            paid_at: None,
            matured_at: None,
            updated_at: self.created_at,
            ..self.clone()
        }
    }

    /// What may still be reversed: of the vendor's whole share, recovered part included.
    pub fn reversible_minor(&self) -> i64 {
        self.amount.minor() + self.recovered_minor - self.reversed_minor
    }

    /// What reversals took back of the part that reached the vendor.
    pub fn reversed_sent_minor(&self) -> i64 {
        self.reversed_minor - self.reversed_recovered_minor
    }

    /// How a reversal of `amount_minor` splits: (through the gateway, given back as
    /// debt). What reached the vendor comes back first, the recovered part after.
    pub fn reversal_parts(&self, amount_minor: i64) -> (i64, i64) {
        let sent = amount_minor.min(self.amount.minor() - self.reversed_sent_minor()).max(0);
        (sent, amount_minor - sent)
    }

    /// Status once `total_reversed` of the share has been taken back.
    pub fn status_after_reversal(&self, total_reversed: i64) -> TransferStatus {
        if total_reversed >= self.amount.minor() + self.recovered_minor {
            TransferStatus::Reversed
        } else {
            TransferStatus::PartiallyReversed
        }
    }

    /// The transfer once `recovered` of the vendor's share repaid its debt: the rest
    /// reaches the vendor. When the debt takes it all, nothing goes to the vendor
    /// or its gateway, so it is settled (paid, nothing to mature) as it is recorded.
    pub fn net_of_recovery(self, recovered: Money, now: DateTime<Utc>) -> Transfer {
        let amount = Money::from_minor(self.amount.minor() - recovered.minor(), self.amount.currency());
        let transfer = Transfer { amount, recovered_minor: recovered.minor(), ..self };
        if transfer.reaches_vendor() {
            return transfer;
        }
        Transfer { status: TransferStatus::Paid, paid_at: Some(now), matured_at: Some(now), ..transfer }
    }

    /// Whether any money reaches the vendor (and so its gateway).
    pub fn reaches_vendor(&self) -> bool {
        self.amount.is_positive()
    }

    /// Platform cash → the vendor's pending balance; none when the vendor's debt
    /// took the whole transfer.
    pub fn entry(&self) -> Result<Option<JournalEntry>, LedgerError> {
        if !self.reaches_vendor() {
            return Ok(None);
        }
        JournalEntry::movement(
            EntryKind::Transfer,
            self.id.to_string(),
            platform(AccountKind::PlatformCash, self),
            vendor(AccountKind::VendorPending, self),
            self.amount,
        )
        .map(Some)
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

    /// The vendor's balance the transfer's money is in now: a reversal takes from it.
    pub fn balance_account(&self) -> LedgerAccount {
        vendor(self.vendor_balance_kind(), self)
    }

    /// Pending before maturity, available after.
    fn vendor_balance_kind(&self) -> AccountKind {
        if self.matured_at.is_some() { AccountKind::VendorAvailable } else { AccountKind::VendorPending }
    }

    /// Pending → available for what was not reversed before maturity; `None` when
    /// nothing is left to move.
    pub fn maturation_entry(&self) -> Result<Option<JournalEntry>, LedgerError> {
        let rest = self.amount.minor() - self.reversed_sent_minor();
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

    /// The gateway refused a recorded reversal: exactly what its entry took goes back
    /// (`taken`, read from that entry). The balance part goes into the balance the
    /// transfer's money is in now (it may have matured meanwhile); the owed part
    /// cancels the debt as far as it is still owed (`owed_now_minor`: a later transfer
    /// may have repaid some), and what was repaid goes to the balance too.
    pub fn reversal_failed_entry(
        &self,
        reversal: &TransferReversal,
        taken: ReversalSplit,
        owed_now_minor: i64,
    ) -> Result<JournalEntry, LedgerError> {
        let unowed = taken.owed_minor.clamp(0, owed_now_minor.max(0));
        let to_balance = taken.from_balance_minor + taken.owed_minor - unowed;
        let postings = [
            (platform(AccountKind::PlatformCash, self), -reversal.amount.minor()),
            (vendor(self.vendor_balance_kind(), self), to_balance),
            (receivable(self.connected_account_id, self.amount.currency()), unowed),
        ];
        JournalEntry::new(EntryKind::ReversalFailed, reversal.id.to_string(), nonzero(postings))
    }

    /// The transfer once a refused reversal no longer counts.
    pub fn without_reversal(&self, reversal: &TransferReversal, now: DateTime<Utc>) -> Transfer {
        let reversed_minor = (self.reversed_minor - reversal.amount.minor()).max(0);
        let reversed_recovered_minor = (self.reversed_recovered_minor - reversal.recovered_minor).max(0);
        let status = if reversed_minor == 0 { TransferStatus::Paid } else { self.status_after_reversal(reversed_minor) };
        Transfer { reversed_minor, reversed_recovered_minor, status, updated_at: now, ..self.clone() }
    }

    /// Takes a reversal's sent part back from wherever the transfer's money is now
    /// (the pending balance before maturity, the available balance after) as far as
    /// `split` says it holds; the rest the vendor owes on its receivable (a
    /// clawback). Its recovered part gives the debt it repaid back: owed again.
    pub fn reversal_entry(&self, reversal: &TransferReversal, split: ReversalSplit) -> Result<JournalEntry, LedgerError> {
        let postings = [
            (vendor(self.vendor_balance_kind(), self), -split.from_balance_minor),
            (receivable(self.connected_account_id, self.amount.currency()), -split.owed_minor - reversal.recovered_minor),
            (platform(AccountKind::PlatformCash, self), reversal.amount.minor()),
        ];
        JournalEntry::new(EntryKind::Reversal, reversal.id.to_string(), nonzero(postings))
    }

    /// What a reversal entry (its postings: account code, amount) took from the
    /// vendor, read back rather than recomputed: the balance has moved since.
    pub fn reversal_taken(&self, postings: &[(String, i64)]) -> ReversalSplit {
        let taken_from = |codes: &[String]| -postings.iter().filter(|(c, _)| codes.contains(c)).map(|(_, a)| a).sum::<i64>();
        let balances = [AccountKind::VendorPending, AccountKind::VendorAvailable].map(|kind| vendor(kind, self).code());
        ReversalSplit {
            from_balance_minor: taken_from(&balances),
            owed_minor: taken_from(&[receivable(self.connected_account_id, self.amount.currency()).code()]),
        }
    }
}

/// Where a reversal's money comes from: the vendor's balance, and what it owes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReversalSplit {
    pub from_balance_minor: i64,
    pub owed_minor: i64,
}

impl ReversalSplit {
    /// `amount_minor` from a balance holding `balance_minor`: all of it as far as the
    /// balance goes, the rest owed.
    pub fn of(amount_minor: i64, balance_minor: i64) -> Self {
        let from_balance_minor = balance_minor.clamp(0, amount_minor.max(0));
        Self { from_balance_minor, owed_minor: amount_minor - from_balance_minor }
    }
}

/// An entry's postings without the zero ones (a split may take nothing from one side).
fn nonzero<const N: usize>(postings: [(LedgerAccount, i64); N]) -> Vec<Posting> {
    postings.into_iter().filter(|(_, amount)| *amount != 0).map(|(account, amount)| Posting { account, amount }).collect()
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
        let vendor = crate::testing::vendor_account(uuid::Uuid::nil(), now);
        let pending = Transfer::pending(&vendor, None, Money::from_minor(amount, usd), String::new(), now, now);
        Transfer { status: TransferStatus::Paid, reversed_minor: reversed, ..pending }
    }

    #[test]
    fn a_debt_that_takes_the_whole_transfer_settles_it_with_nothing_to_send() {
        let mut t = transfer(5_000, 0);
        t.status = TransferStatus::Pending;
        let usd = t.amount.currency();
        let now = Utc::now();
        let part = t.clone().net_of_recovery(Money::from_minor(2_000, usd), now);
        assert_eq!((part.amount.minor(), part.recovered_minor, part.status), (3_000, 2_000, TransferStatus::Pending));
        assert!(part.entry().unwrap().is_some());
        let whole = t.net_of_recovery(Money::from_minor(5_000, usd), now);
        assert_eq!((whole.amount.minor(), whole.recovered_minor, whole.status), (0, 5_000, TransferStatus::Paid));
        assert!(!whole.reaches_vendor());
        assert_eq!((whole.paid_at, whole.matured_at), (Some(now), Some(now)), "nothing to send, nothing to mature");
        assert_eq!(whole.entry().unwrap(), None, "nothing credited to the vendor");
        assert_eq!(whole.maturation_entry().unwrap(), None);
        assert_eq!(whole.reversible_minor(), 5_000, "the recovered share may be reversed");
        assert_eq!(whole.reversal_parts(5_000), (0, 5_000), "all of it given back as debt");
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

    fn reversal_of(t: &Transfer, amount: i64) -> TransferReversal {
        TransferReversal {
            id: uuid::Uuid::now_v7(),
            transfer_id: t.id,
            amount: Money::from_minor(amount, t.amount.currency()),
            recovered_minor: 0,
            description: String::new(),
            idempotency_key: None,
            status: ReversalStatus::Pending,
            gateway_reversal_id: None,
            created_at: Utc::now(),
        }
    }

    fn lines(entry: &JournalEntry) -> Vec<(String, i64)> {
        entry.postings_in_lock_order().iter().map(|p| (p.account.code(), p.amount)).collect()
    }

    #[test]
    fn a_reversal_beyond_the_balance_is_owed_on_the_receivable() {
        assert_eq!(ReversalSplit::of(10_000, 2_000), ReversalSplit { from_balance_minor: 2_000, owed_minor: 8_000 });
        assert_eq!(ReversalSplit::of(10_000, 50_000), ReversalSplit { from_balance_minor: 10_000, owed_minor: 0 });
        assert_eq!(ReversalSplit::of(10_000, -5), ReversalSplit { from_balance_minor: 0, owed_minor: 10_000 });
        let t = transfer(10_000, 0);
        let reversal = reversal_of(&t, 10_000);
        let vendor = uuid::Uuid::nil();
        let entry = t.reversal_entry(&reversal, ReversalSplit::of(10_000, 2_000)).unwrap();
        assert_eq!(
            lines(&entry),
            [
                ("platform_cash:USD".to_owned(), 10_000),
                (format!("vendor_pending:{vendor}:USD"), -2_000),
                (format!("vendor_receivable:{vendor}:USD"), -8_000)
            ]
        );
        assert_eq!(t.reversal_taken(&lines(&entry)), ReversalSplit { from_balance_minor: 2_000, owed_minor: 8_000 });
        let whole = t.reversal_entry(&reversal, ReversalSplit::of(10_000, 10_000)).unwrap();
        assert_eq!(lines(&whole).len(), 2, "nothing owed: no receivable posting");
    }

    #[test]
    fn a_reversal_takes_back_what_reached_the_vendor_first_then_gives_the_debt_back() {
        let mut t = transfer(3_000, 0);
        t.recovered_minor = 2_000;
        assert_eq!(t.reversible_minor(), 5_000);
        assert_eq!(t.reversal_parts(4_000), (3_000, 1_000));
        let mut reversal = reversal_of(&t, 4_000);
        reversal.recovered_minor = 1_000;
        assert_eq!(reversal.sent_minor(), 3_000);
        let vendor = uuid::Uuid::nil();
        let entry = t.reversal_entry(&reversal, ReversalSplit::of(3_000, 500)).unwrap();
        assert_eq!(
            lines(&entry),
            [
                ("platform_cash:USD".to_owned(), 4_000),
                (format!("vendor_pending:{vendor}:USD"), -500),
                (format!("vendor_receivable:{vendor}:USD"), -3_500)
            ]
        );
        let taken = t.reversal_taken(&lines(&entry));
        assert_eq!(taken, ReversalSplit { from_balance_minor: 500, owed_minor: 3_500 });
        let undo = t.reversal_failed_entry(&reversal, taken, 3_500).unwrap();
        assert_eq!(
            lines(&undo),
            [
                ("platform_cash:USD".to_owned(), -4_000),
                (format!("vendor_pending:{vendor}:USD"), 500),
                (format!("vendor_receivable:{vendor}:USD"), 3_500)
            ],
            "refused: all of it undone, the debt given back cancelled too"
        );
        t.reversed_minor = 4_000;
        t.reversed_recovered_minor = 1_000;
        assert_eq!(t.status_after_reversal(4_000), TransferStatus::PartiallyReversed);
        assert_eq!(t.status_after_reversal(5_000), TransferStatus::Reversed);
        assert_eq!(t.reversal_parts(1_000), (0, 1_000), "only the recovered part is left");
        assert_eq!(t.maturation_entry().unwrap(), None, "what reached the vendor is all back");
        let undone = t.without_reversal(&reversal, Utc::now());
        assert_eq!((undone.reversed_minor, undone.reversed_recovered_minor, undone.status), (0, 0, TransferStatus::Paid));
    }

    #[test]
    fn a_refused_clawback_gives_back_exactly_what_it_took() {
        let mut t = transfer(10_000, 0);
        let reversal = reversal_of(&t, 10_000);
        let vendor = uuid::Uuid::nil();
        let taken = ReversalSplit { from_balance_minor: 2_000, owed_minor: 8_000 };
        let undo = t.reversal_failed_entry(&reversal, taken, 8_000).unwrap();
        assert_eq!(
            lines(&undo),
            [
                ("platform_cash:USD".to_owned(), -10_000),
                (format!("vendor_pending:{vendor}:USD"), 2_000),
                (format!("vendor_receivable:{vendor}:USD"), 8_000)
            ]
        );
        // Matured since, and a later transfer repaid 5 000 of the debt: that part
        // goes to the vendor's balance, the debt is cancelled only as far as it is owed.
        t.matured_at = Some(Utc::now());
        let undo = t.reversal_failed_entry(&reversal, taken, 3_000).unwrap();
        assert_eq!(
            lines(&undo),
            [
                ("platform_cash:USD".to_owned(), -10_000),
                (format!("vendor_available:{vendor}:USD"), 7_000),
                (format!("vendor_receivable:{vendor}:USD"), 3_000)
            ]
        );
    }

    #[test]
    fn a_reversal_takes_from_pending_before_maturity_and_available_after() {
        let mut t = transfer(1000, 0);
        let reversal = reversal_of(&t, 100);
        let all = ReversalSplit::of(100, 1000);
        let source = |t: &Transfer| {
            t.reversal_entry(&reversal, all)
                .unwrap()
                .postings_in_lock_order()
                .iter()
                .find(|p| p.amount < 0)
                .map(|p| p.account.kind)
        };
        assert_eq!(source(&t), Some(AccountKind::VendorPending));
        t.matured_at = Some(Utc::now());
        assert_eq!(source(&t), Some(AccountKind::VendorAvailable));
        let undo = t.reversal_failed_entry(&reversal, all, 0).unwrap();
        let credited = undo.postings_in_lock_order().iter().find(|p| p.amount > 0).map(|p| (p.account.kind, p.amount));
        assert_eq!(credited, Some((AccountKind::VendorAvailable, 100)), "back where the money is now");
        t.reversed_minor = 100;
        t.status = TransferStatus::PartiallyReversed;
        let restored = t.without_reversal(&reversal, Utc::now());
        assert_eq!((restored.reversed_minor, restored.status), (0, TransferStatus::Paid));
    }
}
