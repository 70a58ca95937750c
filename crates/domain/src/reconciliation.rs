//! Reconciliation: our records of money movements beside a gateway's report of the
//! same movements, one line per object. A record is found on the other side by the
//! gateway's id when both sides know it, else by our id (the idempotency id we sent,
//! which is all AllSecure's status API and a gateway's metadata give back).

use std::fmt;

use crate::Money;

/// The kinds of objects that move money at a gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKind {
    Payment,
    Refund,
    Transfer,
    Reversal,
    Payout,
}

impl ObjectKind {
    pub const ALL: [ObjectKind; 5] = [Self::Payment, Self::Refund, Self::Transfer, Self::Reversal, Self::Payout];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Refund => "refund",
            Self::Transfer => "transfer",
            Self::Reversal => "reversal",
            Self::Payout => "payout",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Where a movement stands, in the few words both sides can say: each side's own
/// statuses (ours, Stripe's, AllSecure's) are mapped onto these by its adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Standing {
    /// Under way: neither done nor undone.
    Pending,
    Succeeded,
    /// Never happened, or was undone (a failed payout, a canceled one).
    Failed,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Succeeded, Self::Failed].into_iter().find(|s| s.as_str() == text)
    }
}

/// One movement as one side knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: ObjectKind,
    /// Our record's id, when this side knows it.
    pub our_id: Option<String>,
    /// The gateway's id, when this side knows it.
    pub gateway_id: Option<String>,
    pub amount: Money,
    pub standing: Standing,
}

/// What a line found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    Matched,
    /// In our ledger, not at the gateway.
    MissingAtGateway,
    /// At the gateway, not in our ledger.
    MissingInLedger,
    AmountMismatch,
    CurrencyMismatch,
    StatusMismatch,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Self::Matched,
        Self::MissingAtGateway,
        Self::MissingInLedger,
        Self::AmountMismatch,
        Self::CurrencyMismatch,
        Self::StatusMismatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Matched => "matched",
            Self::MissingAtGateway => "missing_at_gateway",
            Self::MissingInLedger => "missing_in_ledger",
            Self::AmountMismatch => "amount_mismatch",
            Self::CurrencyMismatch => "currency_mismatch",
            Self::StatusMismatch => "status_mismatch",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }

    pub fn is_mismatch(self) -> bool {
        self != Self::Matched
    }
}

/// One object, on one or both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub kind: ObjectKind,
    pub our_id: Option<String>,
    pub gateway_id: Option<String>,
    pub ours: Option<(Money, Standing)>,
    pub theirs: Option<(Money, Standing)>,
    pub outcome: Outcome,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |side: &Option<(Money, Standing)>| {
            side.map_or_else(|| "-".to_owned(), |(amount, standing)| format!("{amount} {}", standing.as_str()))
        };
        write!(
            f,
            "{} {} id={} gateway_id={} ours={} gateway={}",
            self.outcome.as_str(),
            self.kind.as_str(),
            self.our_id.as_deref().unwrap_or("-"),
            self.gateway_id.as_deref().unwrap_or("-"),
            side(&self.ours),
            side(&self.theirs)
        )
    }
}

/// Compares both sides: every record of either side is on exactly one line. Lines
/// come in our records' order, then the gateway's records we do not have.
pub fn compare(ours: &[Record], theirs: &[Record]) -> Vec<Line> {
    let mut unmatched: Vec<Option<&Record>> = theirs.iter().map(Some).collect();
    let mut lines = Vec::with_capacity(ours.len() + theirs.len());
    for record in ours {
        let found = find(&unmatched, record).and_then(|index| unmatched[index].take());
        lines.push(match found {
            Some(other) => line(record, other),
            None => Line {
                kind: record.kind,
                our_id: record.our_id.clone(),
                gateway_id: record.gateway_id.clone(),
                ours: Some((record.amount, record.standing)),
                theirs: None,
                outcome: Outcome::MissingAtGateway,
            },
        });
    }
    lines.extend(unmatched.into_iter().flatten().map(|record| Line {
        kind: record.kind,
        our_id: record.our_id.clone(),
        gateway_id: record.gateway_id.clone(),
        ours: None,
        theirs: Some((record.amount, record.standing)),
        outcome: Outcome::MissingInLedger,
    }));
    lines
}

/// The gateway's id decides when both sides have one; our id only otherwise, so a
/// record whose gateway id differs is not taken for another.
fn find(candidates: &[Option<&Record>], ours: &Record) -> Option<usize> {
    let same = |a: &Option<String>, b: &Option<String>| matches!((a, b), (Some(a), Some(b)) if a == b);
    candidates.iter().position(|c| {
        c.is_some_and(|c| {
            c.kind == ours.kind
                && match (&c.gateway_id, &ours.gateway_id) {
                    (Some(_), Some(_)) => same(&c.gateway_id, &ours.gateway_id),
                    _ => same(&c.our_id, &ours.our_id),
                }
        })
    })
}

fn line(ours: &Record, theirs: &Record) -> Line {
    let outcome = if ours.amount.currency() != theirs.amount.currency() {
        Outcome::CurrencyMismatch
    } else if ours.amount.minor() != theirs.amount.minor() {
        Outcome::AmountMismatch
    } else if ours.standing != theirs.standing {
        Outcome::StatusMismatch
    } else {
        Outcome::Matched
    };
    Line {
        kind: ours.kind,
        our_id: ours.our_id.clone().or_else(|| theirs.our_id.clone()),
        gateway_id: ours.gateway_id.clone().or_else(|| theirs.gateway_id.clone()),
        ours: Some((ours.amount, ours.standing)),
        theirs: Some((theirs.amount, theirs.standing)),
        outcome,
    }
}

/// How many lines of each outcome, in `Outcome::ALL`'s order.
pub fn summary(lines: &[Line]) -> Vec<(Outcome, usize)> {
    Outcome::ALL.into_iter().map(|outcome| (outcome, lines.iter().filter(|l| l.outcome == outcome).count())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Currency;

    fn usd(minor: i64) -> Money {
        Money::from_minor(minor, Currency::parse("currency", "USD").unwrap())
    }

    fn record(kind: ObjectKind, our_id: Option<&str>, gateway_id: Option<&str>, amount: Money) -> Record {
        Record {
            kind,
            our_id: our_id.map(str::to_owned),
            gateway_id: gateway_id.map(str::to_owned),
            amount,
            standing: Standing::Succeeded,
        }
    }

    fn outcomes(lines: &[Line]) -> Vec<Outcome> {
        lines.iter().map(|l| l.outcome).collect()
    }

    #[test]
    fn the_same_records_on_both_sides_all_match() {
        let ours = vec![
            record(ObjectKind::Payment, Some("p1"), Some("pi_1"), usd(1000)),
            record(ObjectKind::Transfer, Some("t1"), Some("tr_1"), usd(900)),
        ];
        let theirs = vec![
            record(ObjectKind::Transfer, None, Some("tr_1"), usd(900)),
            record(ObjectKind::Payment, None, Some("pi_1"), usd(1000)),
        ];
        let lines = compare(&ours, &theirs);
        assert_eq!(outcomes(&lines), vec![Outcome::Matched, Outcome::Matched]);
        assert_eq!(lines[0].our_id.as_deref(), Some("p1"));
    }

    #[test]
    fn a_record_only_on_one_side_is_missing_on_the_other() {
        let ours = vec![record(ObjectKind::Refund, Some("r1"), Some("re_1"), usd(500))];
        let theirs = vec![record(ObjectKind::Refund, None, Some("re_2"), usd(500))];
        let lines = compare(&ours, &theirs);
        assert_eq!(outcomes(&lines), vec![Outcome::MissingAtGateway, Outcome::MissingInLedger]);
        assert_eq!(lines[1].gateway_id.as_deref(), Some("re_2"));
        assert_eq!(lines[1].ours, None);
    }

    #[test]
    fn our_id_finds_a_record_when_one_side_has_no_gateway_id() {
        let ours = vec![record(ObjectKind::Payout, Some("po-ours"), None, usd(700))];
        let theirs = vec![record(ObjectKind::Payout, Some("po-ours"), Some("uuid-1"), usd(700))];
        let lines = compare(&ours, &theirs);
        assert_eq!(outcomes(&lines), vec![Outcome::Matched]);
        assert_eq!(lines[0].gateway_id.as_deref(), Some("uuid-1"));
    }

    #[test]
    fn different_gateway_ids_are_different_objects_even_with_the_same_our_id() {
        let ours = vec![record(ObjectKind::Payment, Some("p1"), Some("pi_1"), usd(100))];
        let theirs = vec![record(ObjectKind::Payment, Some("p1"), Some("pi_2"), usd(100))];
        assert_eq!(outcomes(&compare(&ours, &theirs)), vec![Outcome::MissingAtGateway, Outcome::MissingInLedger]);
    }

    #[test]
    fn kinds_never_match_each_other() {
        let ours = vec![record(ObjectKind::Transfer, Some("x"), Some("id"), usd(100))];
        let theirs = vec![record(ObjectKind::Reversal, Some("x"), Some("id"), usd(100))];
        assert_eq!(outcomes(&compare(&ours, &theirs)), vec![Outcome::MissingAtGateway, Outcome::MissingInLedger]);
    }

    #[test]
    fn currency_then_amount_then_status_are_compared() {
        let eur = Money::from_minor(1000, Currency::parse("currency", "EUR").unwrap());
        let ours = vec![
            record(ObjectKind::Payment, None, Some("a"), usd(1000)),
            record(ObjectKind::Payment, None, Some("b"), usd(1000)),
            record(ObjectKind::Payment, None, Some("c"), usd(1000)),
        ];
        let mut pending = record(ObjectKind::Payment, None, Some("c"), usd(1000));
        pending.standing = Standing::Pending;
        let theirs = vec![
            record(ObjectKind::Payment, None, Some("a"), eur),
            record(ObjectKind::Payment, None, Some("b"), usd(999)),
            pending,
        ];
        let lines = compare(&ours, &theirs);
        assert_eq!(outcomes(&lines), vec![Outcome::CurrencyMismatch, Outcome::AmountMismatch, Outcome::StatusMismatch]);
        assert_eq!(lines[2].theirs, Some((usd(1000), Standing::Pending)));
        assert!(lines.iter().all(|l| l.outcome.is_mismatch()));
    }

    #[test]
    fn each_gateway_record_is_used_once() {
        let ours = vec![
            record(ObjectKind::Payment, Some("p1"), None, usd(100)),
            record(ObjectKind::Payment, Some("p1"), None, usd(100)),
        ];
        let theirs = vec![record(ObjectKind::Payment, Some("p1"), None, usd(100))];
        assert_eq!(outcomes(&compare(&ours, &theirs)), vec![Outcome::Matched, Outcome::MissingAtGateway]);
    }

    #[test]
    fn summary_counts_every_outcome_and_names_round_trip() {
        let ours = vec![record(ObjectKind::Payment, None, Some("a"), usd(1))];
        let lines = compare(&ours, &[]);
        let summary = summary(&lines);
        assert_eq!(summary.len(), Outcome::ALL.len());
        assert!(summary.contains(&(Outcome::MissingAtGateway, 1)));
        assert!(summary.contains(&(Outcome::Matched, 0)));
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
        for kind in ObjectKind::ALL {
            assert_eq!(ObjectKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Standing::parse("failed"), Some(Standing::Failed));
        assert_eq!(lines[0].to_string(), "missing_at_gateway payment id=- gateway_id=a ours=0.01 USD succeeded gateway=-");
    }
}
