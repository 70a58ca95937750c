//! Storage and gateway ports of the marketplace contexts: connected accounts, split
//! rules, transfers, balances and payouts.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use domain::accounts::{AccountStatus, ConnectedAccount};
use domain::fees::SplitRule;
use domain::ledger::JournalEntry;
use domain::payment::Payment;
use domain::payouts::{Payout, PayoutStatus};
use domain::transfers::{ReversalSplit, Transfer, TransferReversal};
use uuid::Uuid;

use crate::error::StoreError;
use crate::ports::{GatewayError, IdempotencyClaim, Page};

/// The result of a write guarded by an idempotency key and by checks that must run
/// under the store's row locks.
#[derive(Debug, Clone)]
pub enum Guarded<T> {
    Done(T),
    /// The key was used before: the app compares fingerprints and loads the resource.
    KeyExists {
        request_hash: String,
        method: String,
        resource_id: Option<String>,
    },
    /// A precondition failed (the message is for the client); nothing was written.
    Refused(String),
}

/// A one-time onboarding link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLink {
    pub id: Uuid,
    pub account_id: Uuid,
    pub return_url: String,
    pub refresh_url: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnboardingOutcome {
    /// KYC completed (or was already): go to the return URL.
    Completed { return_url: String },
    /// The link expired or was used: go to the refresh URL for a new one.
    Expired { refresh_url: String },
}

#[async_trait::async_trait]
pub trait AccountStore: Send + Sync + 'static {
    async fn insert_account(&self, account: &ConnectedAccount) -> Result<(), StoreError>;
    async fn account(&self, id: Uuid) -> Result<Option<ConnectedAccount>, StoreError>;
    /// Newest first; `owner` limits to accounts linked to that subject.
    async fn accounts(
        &self,
        status: Option<AccountStatus>,
        owner: Option<&str>,
        page: Page,
    ) -> Result<(Vec<ConnectedAccount>, i64), StoreError>;
    async fn account_by_gateway_id(&self, gateway_account_id: &str) -> Result<Option<ConnectedAccount>, StoreError>;
    /// Writes the gateway's view of the account unless an event created after
    /// `event_at` (unix seconds) was applied already; false then.
    async fn apply_gateway_account(&self, updated: &ConnectedAccount, event_at: i64) -> Result<bool, StoreError>;
    async fn insert_account_link(&self, link: &AccountLink) -> Result<(), StoreError>;
    /// The account's link, and whether it was used; `None` for an unknown link.
    async fn account_link(&self, account_id: Uuid, link_id: Uuid) -> Result<Option<(AccountLink, bool)>, StoreError>;
    /// In one transaction: uses the link, keeps the card on its account and enables
    /// payouts (onboarding through a card gateway). The account's id, or `None` for an
    /// unknown link or a disabled account.
    async fn register_payout_card(
        &self,
        link_id: Uuid,
        card_reference: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>, StoreError>;
    /// In one transaction: uses the link (once), activates the account and logs an
    /// `account.updated` event. Unknown link: `None`.
    async fn complete_onboarding(
        &self,
        account_id: Uuid,
        link_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<OnboardingOutcome>, StoreError>;
}

#[async_trait::async_trait]
pub trait SplitStore: Send + Sync + 'static {
    async fn insert_split_rule(&self, rule: &SplitRule) -> Result<(), StoreError>;
    async fn split_rule(&self, id: Uuid) -> Result<Option<SplitRule>, StoreError>;
    /// `account`: that account's rules only; `None`: all rules. Oldest first.
    async fn split_rules(&self, account: Option<Uuid>, page: Page) -> Result<(Vec<SplitRule>, i64), StoreError>;
    /// The candidates for a fee: the account's rules plus the platform-wide ones.
    async fn fee_rules(&self, account: Uuid) -> Result<Vec<SplitRule>, StoreError>;
    async fn update_split_rule(&self, rule: &SplitRule) -> Result<bool, StoreError>;
    async fn delete_split_rule(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError>;
}

/// What the store knows, under lock, about the payment a transfer is linked to.
#[derive(Debug, Clone)]
pub struct LinkedPayment {
    pub payment: Payment,
    /// Σ (amount − reversed) of the payment's transfers that did not fail.
    pub transferred_minor: i64,
    /// The fee already taken on this payment, if any.
    pub fee_taken_minor: Option<i64>,
}

/// The fee split recorded the first time a payment's money is distributed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentSplit {
    pub id: Uuid,
    pub payment_id: Uuid,
    pub rule_id: Option<Uuid>,
    pub fee_minor: i64,
    pub transfer_minor: i64,
    pub currency: &'static str,
}

/// What a transfer writes: the row, maybe the payment's split, and the entries.
#[derive(Debug, Clone)]
pub struct TransferPlan {
    pub transfer: Transfer,
    pub split: Option<PaymentSplit>,
    pub entries: Vec<JournalEntry>,
}

/// What a reversal writes.
#[derive(Debug, Clone)]
pub struct ReversalPlan {
    pub reversal: TransferReversal,
    pub transfer: Transfer,
    pub entries: Vec<JournalEntry>,
}

/// Given the vendor's account and the linked payment (read in the write's
/// transaction, the payment locked) and the balance of the vendor's receivable (read
/// there too, not locked: two recoveries racing are stopped by its guard, it never
/// goes above zero), the transfer to write or the refusal; owned, so that the request
/// can wait in the group commit's queue.
pub type PlanTransfer = Arc<dyn Fn(&ConnectedAccount, Option<&LinkedPayment>, i64) -> Result<TransferPlan, String> + Send + Sync>;
/// One CreateTransfer's write: its idempotency claim, the vendor's account (read in
/// the batch: one statement for all, not one round trip per request), the id its plan
/// gives the transfer (made once: a request planned again finds it if written), the
/// payment it draws on, the vendor's receivable account (its debt is recovered
/// first), its plan.
#[derive(Clone)]
pub struct TransferRequest {
    pub claim: Option<IdempotencyClaim>,
    pub account_id: Uuid,
    pub transfer_id: Uuid,
    pub payment_id: Option<Uuid>,
    pub receivable: String,
    pub plan: PlanTransfer,
}
/// Given the locked transfer and the vendor's balance its money is in (read in the
/// same transaction; the balance's guard refuses a plan it no longer covers), the
/// reversal to write.
pub type PlanReversal<'a> = &'a (dyn Fn(&Transfer, i64) -> Result<ReversalPlan, String> + Send + Sync);
/// A transfer as the gateway's answer left it (paid or failed), and the entries its
/// settlement posts.
pub type TransferSettlement = (Transfer, Vec<JournalEntry>);

/// Given the locked transfer, what the reversal's entry took (read from its
/// postings) and what the vendor owes now, what the transfer becomes and the entry
/// that gives a refused reversal's money back.
pub type UndoReversal<'a> = &'a (dyn Fn(&Transfer, ReversalSplit, i64) -> Result<(Transfer, JournalEntry), String> + Send + Sync);

#[async_trait::async_trait]
pub trait TransferStore: Send + Sync + 'static {
    /// For each request: reads the vendor's account (`StoreError::NotFound` when
    /// there is none: nothing claimed), claims the key, locks the linked payment, lets
    /// the plan decide and writes what it decided; one answer per request, in order. They go
    /// in one transaction, their entries posted together; a request refused (by its
    /// plan, or entries that would overdraw: insufficient_funds) or a transaction
    /// that fails leaves the requests concerned to a transaction each, so a refusal
    /// or an error stays the request's own.
    async fn create_transfers(&self, requests: &[TransferRequest]) -> Vec<Result<Guarded<Transfer>, StoreError>>;
    /// Records the gateway's answers for transfers still pending: each paid (with its
    /// id) or failed, with its entries, all in one transaction, their entries posted
    /// together; one answer per settlement, in order, false for a transfer no longer
    /// pending (someone settled it first). When that transaction fails (the ledger
    /// refuses their entries together, say), each is settled in a transaction of its
    /// own, so one transfer's failure stays its own.
    async fn settle_transfers(&self, settlements: &[TransferSettlement]) -> Vec<Result<bool, StoreError>>;
    /// Transfers still pending (the gateway never answered) created before `before`.
    async fn stale_transfers(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<Transfer>, StoreError>;
    async fn transfer(&self, id: Uuid) -> Result<Option<Transfer>, StoreError>;
    async fn transfers(&self, account: Option<Uuid>, page: Page) -> Result<(Vec<Transfer>, i64), StoreError>;
    async fn reverse_transfer(
        &self,
        claim: Option<&IdempotencyClaim>,
        transfer_id: Uuid,
        plan: PlanReversal<'_>,
    ) -> Result<Guarded<(TransferReversal, Transfer)>, StoreError>;
    async fn reversal(&self, id: Uuid) -> Result<Option<TransferReversal>, StoreError>;
    /// Records the gateway's answer for a reversal still pending; `undo` (a refusal)
    /// restores the transfer and posts the entry in the same transaction. False when
    /// it was no longer pending.
    async fn settle_reversal(&self, settled: &TransferReversal, undo: Option<UndoReversal<'_>>) -> Result<bool, StoreError>;
    /// Reversals still pending (the gateway never answered) created before `before`.
    async fn stale_reversals(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<TransferReversal>, StoreError>;
    /// Moves due pending funds to available, one transfer per transaction, claiming
    /// rows so that replicas never mature the same transfer twice. Returns how many.
    async fn mature_transfers(&self, now: DateTime<Utc>, limit: i64) -> Result<usize, StoreError>;
}

/// One currency of a vendor's balance, read from the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceLine {
    pub currency: String,
    pub available_minor: i64,
    pub pending_minor: i64,
    /// What the vendor owes the platform (≥ 0): its receivable's deficit.
    pub receivable_minor: i64,
    /// Entry kinds that moved this currency's balance (for `source_types`).
    pub source_types: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BalanceSnapshot {
    pub id: Uuid,
    pub connected_account_id: Uuid,
    /// The account's gateway id (`acct_…`) when the snapshot was taken.
    pub gateway_account_id: String,
    pub currency: String,
    pub available_minor: i64,
    pub pending_minor: i64,
    pub instant_available_minor: i64,
    /// What the vendor owed the platform (≥ 0).
    pub receivable_minor: i64,
    pub source_types: Vec<String>,
    /// What the gateway reported when the snapshot was taken against it.
    pub gateway: Option<GatewayFigures>,
    pub snapshot_type: SnapshotType,
    pub created_at: DateTime<Utc>,
}

/// A gateway's own balance figures, kept beside the ledger's in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayFigures {
    pub available_minor: i64,
    pub pending_minor: i64,
}

impl BalanceSnapshot {
    /// The gateway's total differs from the ledger's.
    pub fn gateway_mismatch(&self) -> bool {
        self.gateway.is_some_and(|g| g.available_minor + g.pending_minor != self.available_minor + self.pending_minor)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnapshotType {
    Scheduled,
    OnDemand,
    Webhook,
}

impl SnapshotType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::OnDemand => "on_demand",
            Self::Webhook => "webhook",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::Scheduled, Self::OnDemand, Self::Webhook].into_iter().find(|t| t.as_str() == text)
    }
}

#[async_trait::async_trait]
pub trait BalanceStore: Send + Sync + 'static {
    async fn balance_lines(&self, account: Uuid) -> Result<Vec<BalanceLine>, StoreError>;
    async fn insert_snapshots(&self, snapshots: &[BalanceSnapshot]) -> Result<(), StoreError>;
    /// The newest on-demand snapshots of `account` taken at or after `since` (one
    /// per currency), or none.
    async fn recent_on_demand_snapshots(&self, account: Uuid, since: DateTime<Utc>) -> Result<Vec<BalanceSnapshot>, StoreError>;
    /// Stores on-demand `snapshots` of `account` unless a concurrent caller stored
    /// some at or after `since` first (the account's row is locked meanwhile).
    /// Returns the snapshots that are stored: these, or the other caller's.
    async fn insert_on_demand_snapshots(
        &self,
        account: Uuid,
        snapshots: &[BalanceSnapshot],
        since: DateTime<Utc>,
    ) -> Result<Vec<BalanceSnapshot>, StoreError>;
    async fn snapshots(
        &self,
        account: Uuid,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        page: Page,
    ) -> Result<(Vec<BalanceSnapshot>, i64), StoreError>;
    /// Accounts that hold or held any vendor balance (for scheduled snapshots).
    async fn accounts_with_balances(&self) -> Result<Vec<Uuid>, StoreError>;
    /// True for the one caller (of all replicas) that claims `slot` of `job` first.
    async fn claim_job_slot(&self, job: &str, slot: i64) -> Result<bool, StoreError>;
}

/// A payout's next state as decided under its row lock.
#[derive(Debug, Clone)]
pub struct PayoutChange {
    pub payout: Payout,
    pub entries: Vec<JournalEntry>,
}

pub type DecidePayout<'a> = &'a (dyn Fn(&Payout) -> Result<PayoutChange, String> + Send + Sync);

#[async_trait::async_trait]
pub trait PayoutStore: Send + Sync + 'static {
    /// Claims the key and writes the payout with its entry; an overdraw is `Refused`.
    async fn create_payout(
        &self,
        claim: Option<&IdempotencyClaim>,
        payout: &Payout,
        entries: &[JournalEntry],
    ) -> Result<Guarded<Payout>, StoreError>;
    async fn payout(&self, id: Uuid) -> Result<Option<Payout>, StoreError>;
    async fn payouts(
        &self,
        account: Option<Uuid>,
        status: Option<PayoutStatus>,
        page: Page,
    ) -> Result<(Vec<Payout>, i64), StoreError>;
    /// Locks the payout, lets `decide` choose its next state, writes it with entries.
    async fn change_payout(&self, id: Uuid, decide: DecidePayout<'_>) -> Result<Guarded<Payout>, StoreError>;
    /// Pending payouts the gateway never answered (no gateway id), created before
    /// `before`, oldest first.
    async fn unsent_payouts(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<Payout>, StoreError>;
    /// Open payouts (pending, in transit) last changed before `before`, oldest first.
    async fn open_payouts(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<Payout>, StoreError>;
}

/// One currency of a connected account's balance as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayBalance {
    pub currency: String,
    pub available_minor: i64,
    pub pending_minor: i64,
}

/// The gateway side of Connect: accounts, onboarding, transfers, payouts. Every call
/// is idempotent per our id.
#[async_trait::async_trait]
pub trait ConnectGateway: Send + Sync + 'static {
    /// `account` is not stored yet; its id keys the call. Returns the gateway's id.
    async fn create_account(&self, account: &ConnectedAccount) -> Result<String, GatewayError>;
    /// The URL the vendor opens to complete KYC.
    async fn create_account_link(&self, account: &ConnectedAccount, link: &AccountLink) -> Result<String, GatewayError>;
    /// `source` is the payment the money came from, when the transfer is linked to one.
    async fn create_transfer(&self, transfer: &Transfer, source: Option<&Payment>) -> Result<String, GatewayError>;
    /// The transfer's id, when the gateway makes it without a call (the mock derives
    /// it from ours): the transfer is then written paid, one write instead of a write,
    /// a call and a second write (issue 11). It must be what `create_transfer` answers
    /// for that transfer, with no side effect; `None` when a call is needed.
    fn transfer_without_call(&self, _transfer: &Transfer) -> Option<String> {
        None
    }
    /// Takes back the reversal's `sent_minor` (its recovered part is the ledger's alone).
    async fn reverse_transfer(&self, transfer: &Transfer, reversal: &TransferReversal) -> Result<String, GatewayError>;
    async fn create_payout(&self, payout: &Payout, account: &ConnectedAccount) -> Result<String, GatewayError>;
    async fn cancel_payout(&self, payout: &Payout, account: &ConnectedAccount) -> Result<(), GatewayError>;
    /// The account's balance at the gateway; `None` when the gateway keeps none of
    /// its own (the mock: our ledger is the balance).
    async fn balance(&self, account: &ConnectedAccount) -> Result<Option<Vec<GatewayBalance>>, GatewayError>;
    /// True when payouts move by themselves at this gateway (its events settle them);
    /// false for the mock, whose scheduler job moves them.
    fn settles_payouts_by_events(&self) -> bool;
    /// Whether the account id (`acct_…`) is one this gateway made.
    fn owns_account(&self, gateway_account_id: &str) -> bool;
    /// Why this account cannot be paid out yet (no card registered), checked
    /// before anything is written.
    fn payout_precondition(&self, _account: &ConnectedAccount) -> Result<(), String> {
        Ok(())
    }
}
