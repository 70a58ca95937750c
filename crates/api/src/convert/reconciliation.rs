//! Reconciliation runs and lines → wire.

use app::reconciliation_ports::ReconciliationRun;
use domain::Money;
use domain::reconciliation::{Line, ObjectKind, Outcome, Standing};

use super::{timestamp, wire_enum};
use crate::proto;

wire_enum!(kind, ObjectKind => proto::ReconciliationObjectKind { Payment, Refund, Transfer, Reversal, Payout });
wire_enum!(outcome, Outcome => proto::ReconciliationOutcome {
    Matched, MissingAtGateway, MissingInLedger, AmountMismatch, CurrencyMismatch, StatusMismatch
});
wire_enum!(standing, Standing => proto::ReconciliationStanding { Pending, Succeeded, Failed });

pub fn run(run: &ReconciliationRun) -> proto::ReconciliationRun {
    let count = |o: Outcome| i32::try_from(run.count(o)).unwrap_or(i32::MAX);
    proto::ReconciliationRun {
        id: run.id.to_string(),
        gateway_name: run.gateway_name.clone(),
        since: Some(timestamp(run.window.since)),
        until: Some(timestamp(run.window.until)),
        finished_at: Some(timestamp(run.finished_at)),
        matched: count(Outcome::Matched),
        missing_at_gateway: count(Outcome::MissingAtGateway),
        missing_in_ledger: count(Outcome::MissingInLedger),
        amount_mismatch: count(Outcome::AmountMismatch),
        currency_mismatch: count(Outcome::CurrencyMismatch),
        status_mismatch: count(Outcome::StatusMismatch),
    }
}

fn side(side: Option<(Money, Standing)>) -> Option<proto::ReconciliationSide> {
    side.map(|(amount, s)| proto::ReconciliationSide {
        amount: amount.to_decimal_string(),
        currency: amount.currency().code().to_owned(),
        standing: standing(s),
    })
}

pub fn line(line: &Line) -> proto::ReconciliationLine {
    proto::ReconciliationLine {
        kind: kind(line.kind),
        outcome: outcome(line.outcome),
        our_id: line.our_id.clone().unwrap_or_default(),
        gateway_id: line.gateway_id.clone().unwrap_or_default(),
        ours: side(line.ours),
        gateway: side(line.theirs),
    }
}
