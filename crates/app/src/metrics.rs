//! Metric names of SPEC §5, each described (Prometheus HELP) at start. A counter
//! whose labels are a closed set is registered at 0 for each value, so a scrape
//! shows it before the first event; a counter labelled by gateway appears with its
//! first event. No counter ever exports a bare series beside labelled ones.

use domain::payouts::PayoutStatus;
use domain::transfers::TransferStatus;

pub const CHECKOUT_SESSIONS_TOTAL: &str = "payment_checkout_sessions_total";
pub const WEBHOOK_EVENTS_TOTAL: &str = "payment_webhook_events_total";
pub const ESCROW_HOLDS_TOTAL: &str = "escrow_holds_total";
pub const ESCROW_RELEASES_TOTAL: &str = "escrow_releases_total";
pub const TRANSFERS_TOTAL: &str = "transfers_total";
pub const PAYOUTS_TOTAL: &str = "payouts_total";
/// Places where the gateway's figures and our ledger disagree (balances, reversals).
pub const GATEWAY_MISMATCHES_TOTAL: &str = "gateway_mismatches_total";
/// Lines of the newest reconciliation run that did not match, per gateway and kind.
pub const RECONCILIATION_MISMATCHES: &str = "reconciliation_mismatches";
pub const RECONCILIATION_LAST_RUN: &str = "reconciliation_last_run_timestamp_seconds";
/// Tries to send an event to a platform endpoint.
pub const EVENT_DELIVERIES_TOTAL: &str = "event_deliveries_total";
/// Tries to publish an event on the message bus (NATS JetStream).
pub const EVENT_PUBLICATIONS_TOTAL: &str = "event_publications_total";

/// The `trigger` values of escrow releases.
const RELEASE_TRIGGERS: [&str; 2] = ["manual", "expired"];
/// The `kind` values of gateway mismatches.
const MISMATCH_KINDS: [&str; 3] = ["balance", "late_success", "dispute_closed_by_hand"];
/// The `result` values of event deliveries.
const DELIVERY_RESULTS: [&str; 3] = ["delivered", "retry", "dead"];
/// The `result` values of event publications.
const PUBLICATION_RESULTS: [&str; 2] = ["published", "failed"];

pub fn register_all() {
    metrics::describe_counter!(
        CHECKOUT_SESSIONS_TOTAL,
        "Checkout sessions answered, by gateway and outcome (created, replayed)."
    );
    metrics::describe_counter!(
        WEBHOOK_EVENTS_TOTAL,
        "Gateway events received, by gateway and result (applied, skipped, duplicate, rejected)."
    );
    metrics::describe_counter!(ESCROW_HOLDS_TOTAL, "Escrow holds created by succeeded payments.");
    metrics::describe_counter!(ESCROW_RELEASES_TOTAL, "Escrow holds released, by trigger (manual, expired).");
    metrics::describe_counter!(TRANSFERS_TOTAL, "Transfers to vendors recorded or settled, by status.");
    metrics::describe_counter!(PAYOUTS_TOTAL, "Vendor payouts recorded or settled, by status.");
    metrics::describe_counter!(
        GATEWAY_MISMATCHES_TOTAL,
        "Disagreements between a gateway and our ledger that a person must look at, by kind."
    );
    metrics::describe_gauge!(
        RECONCILIATION_MISMATCHES,
        "Lines of the newest reconciliation run of a gateway that did not match, by kind (missing_at_gateway, missing_in_ledger, amount_mismatch, currency_mismatch, status_mismatch)."
    );
    metrics::describe_gauge!(
        RECONCILIATION_LAST_RUN,
        "When the newest reconciliation run of a gateway finished, in seconds since the epoch."
    );
    metrics::describe_counter!(
        EVENT_DELIVERIES_TOTAL,
        "Tries to send an event to a platform endpoint, by result (delivered, retry, dead)."
    );
    metrics::describe_counter!(
        EVENT_PUBLICATIONS_TOTAL,
        "Tries to publish an event on the message bus, by result (published, failed: it stays in the outbox)."
    );
    metrics::counter!(ESCROW_HOLDS_TOTAL).absolute(0);
    for result in PUBLICATION_RESULTS {
        metrics::counter!(EVENT_PUBLICATIONS_TOTAL, "result" => result).absolute(0);
    }
    for result in DELIVERY_RESULTS {
        metrics::counter!(EVENT_DELIVERIES_TOTAL, "result" => result).absolute(0);
    }
    for trigger in RELEASE_TRIGGERS {
        metrics::counter!(ESCROW_RELEASES_TOTAL, "trigger" => trigger).absolute(0);
    }
    for status in TransferStatus::ALL {
        metrics::counter!(TRANSFERS_TOTAL, "status" => status.as_str()).absolute(0);
    }
    for status in PayoutStatus::ALL {
        metrics::counter!(PAYOUTS_TOTAL, "status" => status.as_str()).absolute(0);
    }
    for kind in MISMATCH_KINDS {
        metrics::counter!(GATEWAY_MISMATCHES_TOTAL, "kind" => kind).absolute(0);
    }
}

pub(crate) fn checkout_session(gateway: &str, outcome: &'static str) {
    metrics::counter!(CHECKOUT_SESSIONS_TOTAL, "gateway" => gateway.to_owned(), "outcome" => outcome).increment(1);
}

pub(crate) fn webhook_event(gateway: &str, result: &'static str) {
    metrics::counter!(WEBHOOK_EVENTS_TOTAL, "gateway" => gateway.to_owned(), "result" => result).increment(1);
}

pub(crate) fn transfer(status: &'static str) {
    metrics::counter!(TRANSFERS_TOTAL, "status" => status).increment(1);
}

pub(crate) fn payout(status: &'static str) {
    metrics::counter!(PAYOUTS_TOTAL, "status" => status).increment(1);
}

pub(crate) fn escrow_hold() {
    metrics::counter!(ESCROW_HOLDS_TOTAL).increment(1);
}

pub(crate) fn escrow_release(trigger: &'static str) {
    metrics::counter!(ESCROW_RELEASES_TOTAL, "trigger" => trigger).increment(1);
}

pub(crate) fn gateway_mismatch(kind: &'static str) {
    metrics::counter!(GATEWAY_MISMATCHES_TOTAL, "kind" => kind).increment(1);
}

/// The gauges of a gateway's newest run: every mismatch kind, zeros included, so
/// an alert on a kind clears when the next run finds none.
pub(crate) fn reconciliation(run: &crate::reconciliation_ports::ReconciliationRun) {
    for (outcome, count) in run.counts.iter().filter(|(outcome, _)| outcome.is_mismatch()) {
        let labels = [("gateway", run.gateway_name.clone()), ("kind", outcome.as_str().to_owned())];
        metrics::gauge!(RECONCILIATION_MISMATCHES, &labels).set(*count as f64);
    }
    metrics::gauge!(RECONCILIATION_LAST_RUN, "gateway" => run.gateway_name.clone()).set(run.finished_at.timestamp() as f64);
}

pub(crate) fn event_publication(result: &'static str) {
    metrics::counter!(EVENT_PUBLICATIONS_TOTAL, "result" => result).increment(1);
}

pub(crate) fn event_delivery(result: &crate::events_ports::DeliveryResult) {
    use crate::events_ports::DeliveryResult;
    let result = match result {
        DeliveryResult::Delivered { .. } => "delivered",
        DeliveryResult::Failed { next_attempt_at: Some(_), .. } => "retry",
        DeliveryResult::Failed { next_attempt_at: None, .. } => "dead",
    };
    metrics::counter!(EVENT_DELIVERIES_TOTAL, "result" => result).increment(1);
}
