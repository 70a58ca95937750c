//! Disputes (chargebacks): a buyer's bank takes a payment back. While one is open the
//! payment's escrow is frozen; a lost one takes the disputed amount and the gateway's
//! fee out of the platform, a won one changes no money.

use chrono::{DateTime, Utc};

use crate::Money;
use crate::ledger::{AccountKind, EntryKind, JournalEntry, LedgerAccount, LedgerError};
use crate::payment::text_enum;

/// Gateways' reason codes are short; a longer one is cut, not refused (the bank decides).
pub const REASON_LEN_MAX: usize = 200;
/// An operator's reason for closing a dispute by hand.
pub const CLOSE_REASON_LEN_MAX: usize = 500;

text_enum!(
    DisputeStatus {
        NeedsResponse => "needs_response",
        UnderReview => "under_review",
        Won => "won",
        Lost => "lost",
    }
);

impl DisputeStatus {
    /// Needs a response or under review: the money's fate is not known yet.
    pub fn is_open(self) -> bool {
        matches!(self, DisputeStatus::NeedsResponse | DisputeStatus::UnderReview)
    }

    /// An open dispute moves between the open statuses or closes; a closed one never
    /// moves again (a late or repeated event changes nothing).
    pub fn can_become(self, to: DisputeStatus) -> bool {
        self.is_open() && self != to
    }

    /// Stripe's dispute statuses. Inquiries (`warning_*`) are open like disputes; an
    /// inquiry closed without a chargeback (`warning_closed`) took no money: won.
    pub fn from_stripe(status: &str) -> Option<Self> {
        match status {
            "warning_needs_response" | "needs_response" => Some(Self::NeedsResponse),
            "warning_under_review" | "under_review" => Some(Self::UnderReview),
            "won" | "warning_closed" => Some(Self::Won),
            "lost" => Some(Self::Lost),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispute {
    pub id: uuid::Uuid,
    pub payment_id: uuid::Uuid,
    pub gateway_name: String,
    pub gateway_dispute_id: String,
    pub amount: Money,
    /// What the gateway charges for the dispute, as it last reported it; the platform
    /// pays it when the dispute is lost.
    pub fee: Money,
    pub reason: String,
    pub status: DisputeStatus,
    pub closed_at: Option<DateTime<Utc>>,
    /// Set when an operator closed it, not the gateway (AllSecure tells nothing of
    /// a chargeback it lost).
    pub closed_by_hand: Option<ClosedByHand>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Who closed a dispute by hand, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedByHand {
    /// The operator's subject (its token's `sub`).
    pub operator: String,
    pub reason: String,
}

/// What a gateway says about a dispute in one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisputeReport {
    pub gateway_dispute_id: String,
    pub amount: Money,
    pub fee: Money,
    pub reason: String,
    pub status: DisputeStatus,
}

/// A reason as stored: control characters dropped, at most `REASON_LEN_MAX` characters.
pub fn clean_reason(reason: &str) -> String {
    reason.chars().filter(|c| !c.is_control()).take(REASON_LEN_MAX).collect()
}

impl Dispute {
    /// The dispute a first report opens (a first report may already be closed: a
    /// gateway can open and decide a dispute before we hear of it).
    pub fn open(payment_id: uuid::Uuid, gateway_name: &str, report: &DisputeReport, now: DateTime<Utc>) -> Self {
        Self {
            id: uuid::Uuid::now_v7(),
            payment_id,
            gateway_name: gateway_name.to_owned(),
            gateway_dispute_id: report.gateway_dispute_id.clone(),
            amount: report.amount,
            fee: report.fee,
            reason: clean_reason(&report.reason),
            status: report.status,
            closed_at: (!report.status.is_open()).then_some(now),
            closed_by_hand: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The report an operator's closing makes: the outcome (won or lost) with the
    /// amount and fee the gateway last reported, closed through the same path as a
    /// gateway's report. `Err` says why it cannot: a closed dispute never changes.
    pub fn closing_by_hand(&self, outcome: DisputeStatus) -> Result<DisputeReport, String> {
        if !self.status.is_open() {
            let how = if self.closed_by_hand.is_some() { " by hand" } else { " by its gateway" };
            return Err(format!("dispute {} is already closed{how} ({}): a closed dispute never changes", self.id, self.status));
        }
        if outcome.is_open() {
            return Err(format!("a dispute is closed won or lost, not {outcome}"));
        }
        Ok(DisputeReport {
            gateway_dispute_id: self.gateway_dispute_id.clone(),
            amount: self.amount,
            fee: self.fee,
            reason: self.reason.clone(),
            status: outcome,
        })
    }

    /// The dispute after a later report; `None` when the report changes nothing it
    /// may change (a closed dispute, or the same status again).
    pub fn updated(&self, report: &DisputeReport, now: DateTime<Utc>) -> Option<Self> {
        if !self.status.can_become(report.status) {
            return None;
        }
        Some(Self {
            status: report.status,
            // A gateway reports the amount it finally took and its fee on closing.
            amount: report.amount,
            fee: report.fee,
            closed_at: (!report.status.is_open()).then_some(now),
            updated_at: now,
            ..self.clone()
        })
    }

    /// What a closed dispute posts: the gateway's fee as it finally reports it (won
    /// or lost: a gateway may keep its fee either way), and for a lost one the
    /// disputed amount, taken from `sources` (see `lost_sources`).
    pub fn closing_entries(&self, sources: &[(LedgerAccount, Money)]) -> Result<Vec<JournalEntry>, LedgerError> {
        let mut entries = Vec::new();
        if self.status == DisputeStatus::Lost {
            entries.push(self.lost_entry(sources)?);
        }
        if self.fee.is_positive() && !self.status.is_open() {
            entries.push(JournalEntry::movement(
                EntryKind::DisputeFee,
                self.id.to_string(),
                LedgerAccount::platform(AccountKind::PlatformExpenses, self.fee.currency()),
                LedgerAccount::platform(AccountKind::External, self.fee.currency()),
                self.fee,
            )?);
        }
        Ok(entries)
    }

    /// The disputed amount leaves for the outside world from where the payment's
    /// money is; the parts must sum to the amount.
    fn lost_entry(&self, sources: &[(LedgerAccount, Money)]) -> Result<JournalEntry, LedgerError> {
        let currency = self.amount.currency();
        let external = LedgerAccount::platform(AccountKind::External, currency);
        let mut postings: Vec<crate::ledger::Posting> = sources
            .iter()
            .filter(|(_, part)| part.minor() != 0)
            .map(|(account, part)| crate::ledger::Posting { account: account.clone(), amount: -part.minor() })
            .collect();
        postings.push(crate::ledger::Posting { account: external, amount: self.amount.minor() });
        JournalEntry::new(EntryKind::DisputeLost, self.id.to_string(), postings)
    }
}

/// Where a payment's money is when its dispute is lost, as the store read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Whereabouts {
    /// A hold still holding, or cancelled with the money kept in escrow.
    Escrow,
    /// A wallet top-up: the buyer's wallet.
    Wallet { user_id: String },
    /// Split: the platform's fee, and what was transferred to the vendor (net of
    /// reversals); the rest is platform cash.
    Split { fee_minor: i64, transferred_minor: i64, vendor_account_id: Option<uuid::Uuid> },
}

/// Where a lost dispute's amount comes from. What the vendor was transferred is
/// owed by the vendor (its receivable, recovered from its next transfers): the
/// vendor's money is at the gateway, which a ledger movement alone would not take
/// back. The platform's share comes from its fee, then its cash.
pub fn lost_sources(amount: Money, whereabouts: &Whereabouts) -> Vec<(LedgerAccount, Money)> {
    let currency = amount.currency();
    let platform = |kind| LedgerAccount::platform(kind, currency);
    let (fee_minor, transferred_minor, vendor) = match whereabouts {
        Whereabouts::Escrow => return vec![(platform(AccountKind::PlatformEscrow), amount)],
        Whereabouts::Wallet { user_id } => {
            return vec![(LedgerAccount::owned(AccountKind::Wallet, user_id.clone(), currency), amount)];
        }
        Whereabouts::Split { fee_minor, transferred_minor, vendor_account_id } => {
            (*fee_minor, *transferred_minor, *vendor_account_id)
        }
    };
    let mut rest = amount.minor();
    let mut sources = Vec::new();
    let mut take = |account: LedgerAccount, up_to: i64, rest: &mut i64| {
        let part = (*rest).min(up_to.max(0));
        if part > 0 {
            sources.push((account, Money::from_minor(part, currency)));
            *rest -= part;
        }
    };
    if let Some(vendor) = vendor {
        take(LedgerAccount::owned(AccountKind::VendorReceivable, vendor.to_string(), currency), transferred_minor, &mut rest);
    }
    take(platform(AccountKind::PlatformFees), fee_minor, &mut rest);
    take(platform(AccountKind::PlatformCash), i64::MAX, &mut rest);
    sources
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::parse("currency", "USD").unwrap_or_else(|e| unreachable!("{e}")))
    }

    fn report(status: DisputeStatus) -> DisputeReport {
        DisputeReport {
            gateway_dispute_id: "dp_1".into(),
            amount: usd(10_000),
            fee: usd(1_500),
            reason: "fraudulent\u{7}".into(),
            status,
        }
    }

    #[test]
    fn a_dispute_closes_once() {
        use DisputeStatus::*;
        assert!(NeedsResponse.can_become(UnderReview) && UnderReview.can_become(Won) && NeedsResponse.can_become(Lost));
        assert!(!Won.can_become(Lost) && !Lost.can_become(Won) && !Lost.can_become(NeedsResponse));
        assert!(!NeedsResponse.can_become(NeedsResponse), "the same status again is no change");
        let now = Utc::now();
        let open = Dispute::open(uuid::Uuid::nil(), "stripe", &report(NeedsResponse), now);
        assert_eq!((open.status, open.closed_at, open.reason.as_str()), (NeedsResponse, None, "fraudulent"));
        let lost = open.updated(&report(Lost), now).unwrap_or_else(|| unreachable!());
        assert_eq!(lost.closed_at, Some(now));
        assert_eq!(lost.updated(&report(Won), now), None);
    }

    #[test]
    fn an_operator_closes_an_open_dispute_once_with_what_the_gateway_reported() {
        use DisputeStatus::*;
        let now = Utc::now();
        let open = Dispute::open(uuid::Uuid::nil(), "allsecure", &report(NeedsResponse), now);
        let closing = open.closing_by_hand(Lost).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!((closing.status, closing.amount, closing.fee), (Lost, open.amount, open.fee));
        assert!(open.closing_by_hand(UnderReview).is_err(), "an outcome is won or lost");
        let mut lost = open.updated(&closing, now).unwrap_or_else(|| unreachable!());
        lost.closed_by_hand = Some(ClosedByHand { operator: "ops".into(), reason: "bank letter".into() });
        let again = lost.closing_by_hand(Won).expect_err("closed");
        assert!(again.contains("already closed by hand (lost)"), "{again}");
        assert_eq!(lost.updated(&report(Won), now), None, "the gateway's later word moves nothing");
    }

    #[test]
    fn stripe_statuses_map_inquiries_too() {
        assert_eq!(DisputeStatus::from_stripe("warning_needs_response"), Some(DisputeStatus::NeedsResponse));
        assert_eq!(DisputeStatus::from_stripe("warning_closed"), Some(DisputeStatus::Won));
        assert_eq!(DisputeStatus::from_stripe("lost"), Some(DisputeStatus::Lost));
        assert_eq!(DisputeStatus::from_stripe("charge_refunded"), None);
    }

    #[test]
    fn a_lost_dispute_takes_the_amount_and_the_platform_pays_the_fee() {
        let dispute = Dispute::open(uuid::Uuid::nil(), "stripe", &report(DisputeStatus::Lost), Utc::now());
        let escrow = LedgerAccount::platform(AccountKind::PlatformEscrow, dispute.amount.currency());
        let entries = dispute.closing_entries(&[(escrow, dispute.amount)]).unwrap_or_else(|e| unreachable!("{e}"));
        let lines: Vec<Vec<(String, i64)>> =
            entries.iter().map(|e| e.postings_in_lock_order().iter().map(|p| (p.account.code(), p.amount)).collect()).collect();
        assert_eq!(
            lines,
            vec![
                vec![("external:USD".to_owned(), 10_000), ("platform_escrow:USD".to_owned(), -10_000)],
                vec![("external:USD".to_owned(), 1_500), ("platform_expenses:USD".to_owned(), -1_500)],
            ]
        );
    }

    #[test]
    fn after_a_release_the_vendor_owes_its_share_and_the_platform_gives_back_its_fee() {
        let vendor = uuid::Uuid::nil();
        let split = Whereabouts::Split { fee_minor: 1_000, transferred_minor: 9_000, vendor_account_id: Some(vendor) };
        let codes = |sources: Vec<(LedgerAccount, Money)>| -> Vec<(String, i64)> {
            sources.into_iter().map(|(a, m)| (a.code(), m.minor())).collect()
        };
        assert_eq!(
            codes(lost_sources(usd(10_000), &split)),
            vec![(format!("vendor_receivable:{vendor}:USD"), 9_000), ("platform_fees:USD".to_owned(), 1_000)]
        );
        // A partial dispute takes the vendor's share first.
        assert_eq!(codes(lost_sources(usd(4_000), &split)), vec![(format!("vendor_receivable:{vendor}:USD"), 4_000)]);
        let unsplit = Whereabouts::Split { fee_minor: 0, transferred_minor: 0, vendor_account_id: None };
        assert_eq!(codes(lost_sources(usd(500), &unsplit)), vec![("platform_cash:USD".to_owned(), 500)]);
        assert_eq!(codes(lost_sources(usd(500), &Whereabouts::Escrow)), vec![("platform_escrow:USD".to_owned(), 500)]);
    }

    #[test]
    fn parts_that_do_not_sum_to_the_amount_are_refused() {
        let dispute = Dispute::open(uuid::Uuid::nil(), "stripe", &report(DisputeStatus::Lost), Utc::now());
        let cash = LedgerAccount::platform(AccountKind::PlatformCash, dispute.amount.currency());
        assert!(dispute.closing_entries(&[(cash, usd(9_999))]).is_err());
    }

    #[test]
    fn a_won_dispute_posts_only_the_fee_the_gateway_kept_and_an_open_one_nothing() {
        let won = Dispute::open(uuid::Uuid::nil(), "stripe", &report(DisputeStatus::Won), Utc::now());
        let entries = won.closing_entries(&[]).unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(entries.iter().map(|e| e.kind()).collect::<Vec<_>>(), vec![EntryKind::DisputeFee]);
        let open = Dispute::open(uuid::Uuid::nil(), "stripe", &report(DisputeStatus::NeedsResponse), Utc::now());
        assert_eq!(open.closing_entries(&[]), Ok(Vec::new()));
    }
}
