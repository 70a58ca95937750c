//! Storage port of disputes: reads, and the one guarded write a gateway's report
//! or an operator's closing makes.

use domain::disputes::{Dispute, DisputeStatus};
use domain::escrow::EscrowHold;
use domain::ledger::JournalEntry;
use domain::payment::Payment;
use uuid::Uuid;

use crate::error::StoreError;
use crate::marketplace_ports::Guarded;
use crate::ports::{IdempotencyClaim, Page};

/// A dispute as a gateway event reports it, before we know which payment it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedDispute {
    /// Ours, when the gateway echoes it (AllSecure's original merchantTransactionId).
    pub payment_id: Option<Uuid>,
    /// The gateway's id of the disputed transaction (Stripe's payment intent).
    pub gateway_transaction_id: Option<String>,
    pub gateway_dispute_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub fee_minor: i64,
    pub reason: String,
    pub status: DisputeStatus,
}

/// Everything a dispute report decides on, read with the payment's hold locked.
#[derive(Debug, Clone)]
pub struct DisputeContext {
    pub payment: Payment,
    /// The dispute as stored, when an earlier report opened it.
    pub existing: Option<Dispute>,
    pub hold: Option<EscrowHold>,
    /// The platform's fee taken on the payment, if any.
    pub fee_minor: i64,
    /// Σ (share − reversed) of the payment's transfers that did not fail (a share's
    /// part that repaid the vendor's debt included).
    pub transferred_minor: i64,
    /// The vendor those transfers went to (the one with the most, if several).
    pub vendor_account_id: Option<Uuid>,
}

/// What a report writes: the dispute (inserted when new), the hold a lost dispute
/// ends, and the lost dispute's entries.
#[derive(Debug, Clone)]
pub struct DisputePlan {
    pub dispute: Dispute,
    pub hold: Option<EscrowHold>,
    pub entries: Vec<JournalEntry>,
}

pub type PlanDispute<'a> = &'a (dyn Fn(&DisputeContext) -> Result<DisputePlan, String> + Send + Sync);

#[async_trait::async_trait]
pub trait DisputeStore: Send + Sync + 'static {
    async fn dispute(&self, id: Uuid) -> Result<Option<Dispute>, StoreError>;
    /// Newest first, with the total count; `None` filters match all.
    async fn disputes(
        &self,
        payment_id: Option<Uuid>,
        status: Option<DisputeStatus>,
        page: Page,
    ) -> Result<(Vec<Dispute>, i64), StoreError>;
    /// Locks the payment's hold (a release waits, then sees the dispute), reads the
    /// dispute by its gateway and gateway id, claims the key (an operator's
    /// closing; a gateway's report has none), lets `plan` decide and writes the
    /// dispute, the hold and the entries in one transaction. A refusal writes nothing.
    async fn record_dispute(
        &self,
        claim: Option<&IdempotencyClaim>,
        gateway_dispute: (&str, &str),
        payment_id: Uuid,
        plan: PlanDispute<'_>,
    ) -> Result<Guarded<DisputePlan>, StoreError>;
    /// The payment a gateway's transaction id (Stripe's payment intent, AllSecure's
    /// debit uuid) belongs to.
    async fn payment_by_gateway_transaction(
        &self,
        gateway_name: &str,
        gateway_transaction_id: &str,
    ) -> Result<Option<Payment>, StoreError>;
}
