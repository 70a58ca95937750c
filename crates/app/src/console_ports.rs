//! Storage port of the operator console: what an admin reads about payments, their
//! ledger entries and the gateways' events, beyond what a client reads.

use chrono::{DateTime, Utc};
use domain::Money;
use domain::payment::{Payment, PaymentStatus};
use uuid::Uuid;

use crate::error::StoreError;
use crate::ports::Page;

/// Which payments a list shows; every `None` matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentFilter {
    pub status: Option<PaymentStatus>,
    pub user_id: Option<String>,
    pub gateway_name: Option<String>,
    /// Created at or after.
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    pub until: Option<DateTime<Utc>>,
}

/// One posting of a journal entry, with the entry it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerLine {
    pub entry_kind: String,
    /// The payment, refund, escrow hold or transfer the entry is about.
    pub object_id: String,
    pub account: String,
    pub amount: Money,
    pub created_at: DateTime<Utc>,
}

/// A gateway event as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    pub gateway_name: String,
    pub event_id: String,
    pub event_type: String,
    pub signature_valid: bool,
    pub processed: bool,
    pub error: Option<String>,
    pub payment_id: Option<Uuid>,
    pub received_at: DateTime<Utc>,
}

#[async_trait::async_trait]
pub trait ConsoleStore: Send + Sync + 'static {
    /// Newest first, with the total count.
    async fn filtered_payments(&self, filter: &PaymentFilter, page: Page) -> Result<(Vec<Payment>, i64), StoreError>;

    /// The postings of every entry about the payment, its refunds, its escrow hold,
    /// its transfers and its disputes, oldest first.
    async fn payment_ledger(&self, payment_id: Uuid) -> Result<Vec<LedgerLine>, StoreError>;

    /// The events logged for the payment, oldest first.
    async fn payment_webhooks(&self, payment_id: Uuid) -> Result<Vec<WebhookEvent>, StoreError>;

    /// Every logged event, newest first, with the total count.
    async fn webhook_log(&self, page: Page) -> Result<(Vec<WebhookEvent>, i64), StoreError>;
}
