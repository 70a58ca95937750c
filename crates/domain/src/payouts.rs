//! Payouts from a vendor's available balance to their bank.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::Money;
use crate::error::FieldError;
use crate::ledger::{AccountKind, EntryKind, JournalEntry, LedgerAccount, LedgerError, Posting};
use crate::payment::text_enum;

pub const STATEMENT_DESCRIPTOR_LEN_MAX: usize = 22;
pub const STANDARD_ARRIVAL_BUSINESS_DAYS: u32 = 2;
pub const INSTANT_ARRIVAL_MINUTES: i64 = 30;

text_enum!(PayoutStatus { Pending => "pending", InTransit => "in_transit", Paid => "paid", Failed => "failed", Canceled => "canceled" });
text_enum!(PayoutMethod { Standard => "standard", Instant => "instant" });

impl PayoutStatus {
    /// pending → in_transit → paid; pending/in_transit → failed, and paid → failed when
    /// the bank returns the money; pending → canceled.
    pub fn can_become(self, to: PayoutStatus) -> bool {
        use PayoutStatus::*;
        matches!(
            (self, to),
            (Pending, InTransit)
                | (InTransit, Paid)
                | (Pending, Failed)
                | (InTransit, Failed)
                | (Paid, Failed)
                | (Pending, Canceled)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payout {
    pub id: uuid::Uuid,
    pub connected_account_id: uuid::Uuid,
    /// The gateway account (`acct_…`) the payout is sent from.
    pub gateway_account_id: String,
    pub amount: Money,
    pub fee: Money,
    pub method: PayoutMethod,
    pub status: PayoutStatus,
    pub destination_type: String,
    pub destination_id: String,
    pub arrival_date: DateTime<Utc>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub description: String,
    pub statement_descriptor: String,
    pub gateway_payout_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub metadata: BTreeMap<String, String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub canceled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A statement descriptor as banks accept it: at most 22 printable characters,
/// none of `< > \ ' "`.
pub fn parse_statement_descriptor(text: &str) -> Result<String, FieldError> {
    if text.chars().count() > STATEMENT_DESCRIPTOR_LEN_MAX {
        return Err(FieldError::new(
            "statement_descriptor",
            format!("must be at most {STATEMENT_DESCRIPTOR_LEN_MAX} characters"),
        ));
    }
    if text.chars().any(|c| c.is_control() || "<>\\'\"".contains(c)) {
        return Err(FieldError::new("statement_descriptor", "must not contain control characters or < > \\ ' \""));
    }
    Ok(text.to_owned())
}

/// The instant-payout fee: `percent` of the amount, half-to-even to the minor unit.
pub fn instant_fee(amount: Money, percent: Decimal) -> Money {
    let fee = (Decimal::from(amount.minor()) * percent / Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven);
    let minor = i64::try_from(fee).unwrap_or(i64::MAX).clamp(0, amount.minor());
    Money::from_minor(minor, amount.currency())
}

/// Standard: two business days later (weekends skipped); instant: 30 minutes.
pub fn arrival_date(method: PayoutMethod, now: DateTime<Utc>) -> DateTime<Utc> {
    match method {
        PayoutMethod::Instant => now + Duration::minutes(INSTANT_ARRIVAL_MINUTES),
        PayoutMethod::Standard => {
            let mut date = now;
            let mut left = STANDARD_ARRIVAL_BUSINESS_DAYS;
            while left > 0 {
                date += Duration::days(1);
                if !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
                    left -= 1;
                }
            }
            date
        }
    }
}

impl Payout {
    fn vendor(&self, kind: AccountKind) -> LedgerAccount {
        LedgerAccount::owned(kind, self.connected_account_id.to_string(), self.amount.currency())
    }

    /// Where the payout's money sits while the payout has `status`: each state holds
    /// it in its own account, so every status change is a ledger movement.
    fn holding_account(&self, status: PayoutStatus) -> LedgerAccount {
        match status {
            PayoutStatus::InTransit => self.vendor(AccountKind::PayoutInTransit),
            // A paid payout can still fail: the bank returns the money days later.
            PayoutStatus::Paid => LedgerAccount::platform(AccountKind::External, self.amount.currency()),
            _ => self.vendor(AccountKind::PayoutPending),
        }
    }

    /// amount + fee leave the available balance: the amount is set aside for the
    /// payout, the fee goes to the platform.
    pub fn entry(&self) -> Result<JournalEntry, LedgerError> {
        let total = self.amount.checked_add(self.fee).map_err(|_| LedgerError::TooFewPostings)?;
        let mut postings = vec![
            Posting { account: self.vendor(AccountKind::VendorAvailable), amount: -total.minor() },
            Posting { account: self.holding_account(PayoutStatus::Pending), amount: self.amount.minor() },
        ];
        if self.fee.is_positive() {
            postings.push(Posting {
                account: LedgerAccount::platform(AccountKind::PlatformFees, self.fee.currency()),
                amount: self.fee.minor(),
            });
        }
        JournalEntry::new(EntryKind::Payout, self.id.to_string(), postings)
    }

    /// The gateway sent the money on its way to the bank.
    pub fn in_transit_entry(&self) -> Result<JournalEntry, LedgerError> {
        JournalEntry::movement(
            EntryKind::PayoutInTransit,
            self.id.to_string(),
            self.holding_account(PayoutStatus::Pending),
            self.holding_account(PayoutStatus::InTransit),
            self.amount,
        )
    }

    /// The bank has the money.
    pub fn paid_entry(&self) -> Result<JournalEntry, LedgerError> {
        JournalEntry::movement(
            EntryKind::PayoutPaid,
            self.id.to_string(),
            self.vendor(AccountKind::PayoutInTransit),
            LedgerAccount::platform(AccountKind::External, self.amount.currency()),
            self.amount,
        )
    }

    /// Failed or canceled: amount and fee go back to the vendor's available balance,
    /// from wherever the payout's current status holds them.
    pub fn returned_entry(&self, kind: EntryKind) -> Result<JournalEntry, LedgerError> {
        let total = self.amount.checked_add(self.fee).map_err(|_| LedgerError::TooFewPostings)?;
        let mut postings = vec![
            Posting { account: self.holding_account(self.status), amount: -self.amount.minor() },
            Posting { account: self.vendor(AccountKind::VendorAvailable), amount: total.minor() },
        ];
        if self.fee.is_positive() {
            postings.push(Posting {
                account: LedgerAccount::platform(AccountKind::PlatformFees, self.fee.currency()),
                amount: -self.fee.minor(),
            });
        }
        JournalEntry::new(kind, self.id.to_string(), postings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::parse("currency", "USD").unwrap())
    }

    #[test]
    fn the_instant_fee_is_one_percent_rounded_half_to_even() {
        let one = Decimal::ONE;
        assert_eq!(instant_fee(usd(10_000), one).minor(), 100);
        assert_eq!(instant_fee(usd(150), one).minor(), 2, "1.5 → 2");
        assert_eq!(instant_fee(usd(250), one).minor(), 2, "2.5 → 2");
        assert_eq!(instant_fee(usd(49), one).minor(), 0);
    }

    #[test]
    fn standard_payouts_arrive_two_business_days_later() {
        let friday = DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(arrival_date(PayoutMethod::Standard, friday).weekday(), Weekday::Tue);
        let monday = friday + Duration::days(3);
        assert_eq!(arrival_date(PayoutMethod::Standard, monday).weekday(), Weekday::Wed);
        assert_eq!(arrival_date(PayoutMethod::Instant, monday), monday + Duration::minutes(30));
    }

    #[test]
    fn statement_descriptors_are_bounded() {
        assert!(parse_statement_descriptor("VONDI SHOP 42").is_ok());
        assert!(parse_statement_descriptor(&"x".repeat(23)).is_err());
        assert!(parse_statement_descriptor("a<b").is_err());
    }

    fn payout(status: PayoutStatus, fee: i64) -> Payout {
        let now = Utc::now();
        Payout {
            id: uuid::Uuid::nil(),
            connected_account_id: uuid::Uuid::nil(),
            gateway_account_id: String::new(),
            amount: usd(1000),
            fee: usd(fee),
            method: PayoutMethod::Instant,
            status,
            destination_type: String::new(),
            destination_id: String::new(),
            arrival_date: now,
            failure_code: None,
            failure_message: None,
            description: String::new(),
            statement_descriptor: String::new(),
            gateway_payout_id: None,
            idempotency_key: None,
            metadata: BTreeMap::new(),
            paid_at: None,
            failed_at: None,
            canceled_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    fn moves(entry: JournalEntry) -> Vec<(AccountKind, i64)> {
        entry.postings_in_lock_order().iter().map(|p| (p.account.kind, p.amount)).collect()
    }

    #[test]
    fn every_payout_state_holds_the_money_in_its_own_account() {
        use AccountKind::*;
        let created = moves(payout(PayoutStatus::Pending, 10).entry().unwrap());
        assert_eq!(created, vec![(PayoutPending, 1000), (PlatformFees, 10), (VendorAvailable, -1010)]);
        let sent = moves(payout(PayoutStatus::Pending, 10).in_transit_entry().unwrap());
        assert_eq!(sent, vec![(PayoutInTransit, 1000), (PayoutPending, -1000)]);
        let returned = moves(payout(PayoutStatus::InTransit, 10).returned_entry(EntryKind::PayoutFailed).unwrap());
        assert_eq!(returned, vec![(PayoutInTransit, -1000), (PlatformFees, -10), (VendorAvailable, 1010)]);
        let canceled = moves(payout(PayoutStatus::Pending, 0).returned_entry(EntryKind::PayoutCanceled).unwrap());
        assert_eq!(canceled, vec![(PayoutPending, -1000), (VendorAvailable, 1000)]);
    }

    #[test]
    fn only_the_payout_transitions_of_the_spec_are_allowed() {
        use PayoutStatus::*;
        assert!(Pending.can_become(Canceled));
        assert!(!InTransit.can_become(Canceled), "cancel works only while pending");
        assert!(InTransit.can_become(Failed));
        assert!(Paid.can_become(Failed), "a bank can return a paid payout");
        assert!(!Paid.can_become(Canceled));
    }
}
