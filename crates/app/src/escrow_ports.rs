//! Storage ports of escrow and refunds: the flows that hold money and give it back.

use chrono::{DateTime, Utc};
use domain::accounts::ConnectedAccount;
use domain::escrow::{EscrowHold, EscrowStatus};
use domain::fees::SplitRule;
use domain::ledger::JournalEntry;
use domain::payment::Payment;
use domain::refunds::Refund;
use domain::transfers::Transfer;
use uuid::Uuid;

use crate::error::StoreError;
use crate::marketplace_ports::{Guarded, PaymentSplit};
use crate::ports::{IdempotencyClaim, Page};

/// Why a hold of a disputed payment neither releases nor cancels.
pub const FROZEN: &str = "escrow hold is frozen: a dispute on its payment is open";

/// Everything a release decides on, read under the hold's row lock.
#[derive(Debug, Clone)]
pub struct ReleaseContext {
    pub hold: EscrowHold,
    pub payment: Payment,
    pub account: Option<ConnectedAccount>,
    /// The merchant's fee candidates (its rules and the platform-wide ones).
    pub rules: Vec<SplitRule>,
    /// An open dispute on the payment freezes the hold.
    pub disputed: bool,
    /// What the merchant owes the platform in the hold's currency (≥ 0): recovered
    /// from the release before the merchant is credited.
    pub owed_minor: i64,
}

/// What a release writes: the released hold, the split, the vendor's transfer (none
/// when the fee took everything) and the entries.
#[derive(Debug, Clone)]
pub struct ReleasePlan {
    pub hold: EscrowHold,
    pub split: PaymentSplit,
    pub transfer: Option<Transfer>,
    pub entries: Vec<JournalEntry>,
}

pub type PlanRelease<'a> = &'a (dyn Fn(&ReleaseContext) -> Result<ReleasePlan, String> + Send + Sync);

#[async_trait::async_trait]
pub trait EscrowStore: Send + Sync + 'static {
    async fn escrow(&self, id: Uuid) -> Result<Option<EscrowHold>, StoreError>;
    async fn escrow_by_payment(&self, payment_id: Uuid) -> Result<Option<EscrowHold>, StoreError>;
    async fn escrows(&self, status: Option<EscrowStatus>, page: Page) -> Result<(Vec<EscrowHold>, i64), StoreError>;
    /// Locks the hold; `plan` decides; everything is written in one transaction.
    async fn release_escrow(&self, id: Uuid, plan: PlanRelease<'_>) -> Result<Guarded<ReleasePlan>, StoreError>;
    /// Up to `limit` holds expired before `now` whose merchant can receive money and
    /// whose payment is not disputed, the longest due first.
    async fn expired_holds(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Uuid>, StoreError>;
    /// Releases those of `ids` still holding, in one transaction: the holds, splits and
    /// transfers are written and all their entries posted at once, so the accounts they
    /// share are moved once per batch. Rows are claimed with `FOR UPDATE SKIP LOCKED` on
    /// PostgreSQL, so concurrent batches and replicas never release a hold twice nor
    /// wait on each other. Refused holds (a dispute opened meanwhile, say) are logged
    /// and left holding; a batch the ledger refuses is released one hold per
    /// transaction instead.
    async fn release_expired(&self, ids: &[Uuid], plan: PlanRelease<'_>) -> Result<Vec<ReleasePlan>, StoreError>;
    /// Refused while a dispute on the payment is open (the hold is frozen).
    async fn cancel_escrow(&self, id: Uuid, reason: &str, now: DateTime<Utc>) -> Result<Guarded<EscrowHold>, StoreError>;
}

/// The payment a refund is for, read under its row lock, with what already left the
/// platform for it.
#[derive(Debug, Clone)]
pub struct RefundContext {
    pub payment: Payment,
    pub hold: Option<EscrowHold>,
    /// The platform's fee on it, if taken (it stays in the fee account).
    pub fee_minor: i64,
    /// Σ (share − reversed) of its transfers that did not fail.
    pub transferred_minor: i64,
    /// A dispute on it is open: the buyer's bank may take the money back itself.
    pub disputed: bool,
}

#[derive(Debug, Clone)]
pub struct RefundPlan {
    pub refund: Refund,
    pub payment: Payment,
    pub entries: Vec<JournalEntry>,
    /// A top-up's refund leaves the wallet: its history row.
    pub wallet_row: Option<domain::wallet::WalletTransaction>,
}

pub type UndoRefund<'a> = &'a (dyn Fn(&RefundContext) -> Result<JournalEntry, String> + Send + Sync);

pub type PlanRefund<'a> = &'a (dyn Fn(&RefundContext) -> Result<RefundPlan, String> + Send + Sync);

#[async_trait::async_trait]
pub trait RefundStore: Send + Sync + 'static {
    /// Claims the key, locks the payment, lets `plan` decide, writes the refund, the
    /// payment's new refunded amount and the entries in one transaction.
    async fn create_refund(
        &self,
        claim: Option<&IdempotencyClaim>,
        payment_id: Uuid,
        plan: PlanRefund<'_>,
    ) -> Result<Guarded<Refund>, StoreError>;
    /// Records the gateway's answer for a pending refund, or the failure of a
    /// succeeded one. `undo` (on failure) gives the entry that puts the money back;
    /// the payment's refunded amount is reduced by the refund's. False when the
    /// refund was in neither state.
    async fn settle_refund(&self, refund: &Refund, undo: Option<UndoRefund<'_>>) -> Result<bool, StoreError>;
    /// Refunds still pending (the gateway never answered) created before `before`.
    async fn stale_refunds(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<Refund>, StoreError>;
    async fn refund(&self, id: Uuid) -> Result<Option<Refund>, StoreError>;
    async fn payment_refunds(&self, payment_id: Uuid) -> Result<Vec<Refund>, StoreError>;
}
