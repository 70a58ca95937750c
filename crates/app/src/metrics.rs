//! Metric names of SPEC §5. Registered at start so a scrape shows every series at 0
//! before the first event.

pub const CHECKOUT_SESSIONS_TOTAL: &str = "payment_checkout_sessions_total";
pub const WEBHOOK_EVENTS_TOTAL: &str = "payment_webhook_events_total";
pub const ESCROW_HOLDS_TOTAL: &str = "escrow_holds_total";
pub const ESCROW_RELEASES_TOTAL: &str = "escrow_releases_total";
pub const TRANSFERS_TOTAL: &str = "transfers_total";
pub const PAYOUTS_TOTAL: &str = "payouts_total";
/// Places where the gateway's figures and our ledger disagree (balances, reversals).
pub const GATEWAY_MISMATCHES_TOTAL: &str = "gateway_mismatches_total";

pub fn register_all() {
    for name in [
        CHECKOUT_SESSIONS_TOTAL,
        WEBHOOK_EVENTS_TOTAL,
        ESCROW_HOLDS_TOTAL,
        ESCROW_RELEASES_TOTAL,
        TRANSFERS_TOTAL,
        PAYOUTS_TOTAL,
        GATEWAY_MISMATCHES_TOTAL,
    ] {
        metrics::counter!(name).absolute(0);
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
