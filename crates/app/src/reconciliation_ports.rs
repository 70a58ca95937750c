//! Ports of reconciliation: our side of it from the store, the gateway's side from
//! the gateway adapter (`PaymentGateway::reconciliation_report`), and the stored runs.

use chrono::{DateTime, Utc};
use domain::reconciliation::{Line, Outcome, Record};
use uuid::Uuid;

use crate::error::StoreError;
use crate::ports::Page;

/// The time span a run compares: records created at or after `since`, before `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

/// Which gateway one of our records went through: a payment and its refunds by the
/// payment's gateway, a transfer, reversal or payout by the connected account's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Gateway(String),
    Account(String),
}

/// One of our records, and the gateway it went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OurRecord {
    pub record: Record,
    pub via: Via,
}

/// A stored run: what it compared and how many lines of each outcome it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconciliationRun {
    pub id: Uuid,
    pub gateway_name: String,
    pub window: Window,
    pub finished_at: DateTime<Utc>,
    /// Every outcome with its count, in `Outcome::ALL`'s order.
    pub counts: Vec<(Outcome, usize)>,
}

impl ReconciliationRun {
    pub fn mismatches(&self) -> usize {
        self.counts.iter().filter(|(outcome, _)| outcome.is_mismatch()).map(|(_, count)| count).sum()
    }

    pub fn count(&self, outcome: Outcome) -> usize {
        self.counts.iter().find(|(o, _)| *o == outcome).map_or(0, |(_, count)| *count)
    }
}

#[async_trait::async_trait]
pub trait ReconciliationStore: Send + Sync + 'static {
    /// Every record of ours that moved money (or is about to) in the window: succeeded
    /// payments, refunds, transfers and reversals not failed, payouts the gateway knows.
    async fn reconciliation_records(&self, window: &Window) -> Result<Vec<OurRecord>, StoreError>;

    /// Stores the run and its lines in one transaction.
    async fn save_reconciliation(&self, run: &ReconciliationRun, lines: &[Line]) -> Result<(), StoreError>;

    /// Newest first, with the total count.
    async fn reconciliation_runs(&self, page: Page) -> Result<(Vec<ReconciliationRun>, i64), StoreError>;

    /// A run and its lines, mismatches first.
    async fn reconciliation_run(&self, id: Uuid) -> Result<Option<(ReconciliationRun, Vec<Line>)>, StoreError>;
}
