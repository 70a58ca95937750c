//! The traits the use cases need from the outside world. Storage and gateway
//! adapters implement them; nothing here knows SQL or HTTP.

use chrono::{DateTime, Utc};
use domain::ledger::{JournalEntry, LedgerViolation};
use domain::payment::{Payment, PaymentOutcome, PaymentStatus};
use uuid::Uuid;

use crate::error::StoreError;

/// A page of a list: `limit` is already clamped to the contract's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

/// The idempotency claim written in the same transaction as the effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// The caller's subject: keys are scoped per caller.
    pub scope: String,
    pub key: String,
    pub method: &'static str,
    /// Fingerprint of the request, to tell a retry from a different request.
    pub request_hash: String,
}

/// Result of creating a payment under an optional idempotency key.
#[derive(Debug, Clone)]
pub enum CreatePaymentOutcome {
    Created(Payment),
    /// The key was used before; the app compares the fingerprints.
    KeyExists {
        request_hash: String,
        method: String,
        payment: Option<Payment>,
    },
}

/// A gateway event as received, before or after verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookLog {
    pub id: Uuid,
    pub gateway_name: String,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    pub signature_valid: bool,
    pub received_at: DateTime<Utc>,
}

/// What the app decided to do with a payment given an event.
#[derive(Debug, Clone)]
pub enum Decision {
    Apply(Box<Settlement>),
    /// Nothing changes; the reason is recorded on the webhook log.
    Skip(String),
}

#[derive(Debug, Clone)]
pub struct Settlement {
    pub status: PaymentStatus,
    pub payment_intent_id: Option<String>,
    pub failure_reason: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub entries: Vec<JournalEntry>,
    /// The hold a succeeded escrowed payment gets, written in the same transaction.
    pub escrow_hold: Option<domain::escrow::EscrowHold>,
    /// The wallet history row of a succeeded top-up.
    pub wallet_deposit: Option<domain::wallet::WalletTransaction>,
}

#[derive(Debug, Clone)]
pub enum EventOutcome {
    /// The (gateway, event id) was seen before: no second effect.
    Duplicate,
    Applied(Payment),
    Skipped {
        payment: Option<Payment>,
        reason: String,
    },
}

/// Decides, inside the store's transaction, what an event does to a payment.
pub type Decide<'a> = &'a (dyn Fn(&Payment) -> Decision + Send + Sync);

/// Everything the use cases need from storage, one trait per bounded context.
pub trait Store:
    PaymentStore
    + crate::marketplace_ports::AccountStore
    + crate::marketplace_ports::SplitStore
    + crate::marketplace_ports::TransferStore
    + crate::marketplace_ports::BalanceStore
    + crate::marketplace_ports::PayoutStore
    + crate::escrow_ports::EscrowStore
    + crate::escrow_ports::RefundStore
    + crate::wallet_ports::WalletStore
{
}

#[async_trait::async_trait]
pub trait PaymentStore: Send + Sync + 'static {
    async fn ping(&self) -> Result<(), StoreError>;

    /// Inserts the payment and the idempotency claim in one transaction; when the
    /// key exists, returns what it points at instead. Concurrent identical claims
    /// resolve to one payment.
    async fn create_payment(
        &self,
        payment: &Payment,
        claim: Option<&IdempotencyClaim>,
    ) -> Result<CreatePaymentOutcome, StoreError>;

    /// Records the gateway's session unless one was recorded already; returns the
    /// payment as stored afterwards.
    async fn attach_checkout_session(
        &self,
        payment_id: Uuid,
        session_id: &str,
        checkout_url: &str,
    ) -> Result<Payment, StoreError>;

    async fn payment(&self, payment_id: Uuid) -> Result<Option<Payment>, StoreError>;

    async fn payment_by_session(&self, gateway_name: &str, session_id: &str) -> Result<Option<Payment>, StoreError>;

    /// Newest first, with the total count.
    async fn user_payments(&self, user_id: &str, page: Page) -> Result<(Vec<Payment>, i64), StoreError>;

    /// In one transaction: logs the event (a duplicate stops here), finds the payment
    /// of `session_id`, applies `decide`'s settlement and its ledger entries.
    async fn apply_payment_event(
        &self,
        log: &WebhookLog,
        session_id: Option<&str>,
        decide: Decide<'_>,
    ) -> Result<EventOutcome, StoreError>;

    /// Every broken ledger invariant; empty means the ledger is sound.
    async fn check_ledger(&self) -> Result<Vec<LedgerViolation>, StoreError>;

    /// Balances of one ledger account code (tests and reports).
    async fn ledger_balance(&self, account_code: &str) -> Result<i64, StoreError>;
}

/// Amount and currency bounds of one gateway (SPEC §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayLimits {
    /// `None` accepts every ISO currency.
    pub currencies: Option<Vec<String>>,
    pub min_minor: i64,
    pub max_minor: i64,
}

#[derive(Debug, Clone)]
pub struct GatewayCheckout {
    pub payment_id: Uuid,
    pub amount: domain::Money,
    pub success_url: String,
    pub cancel_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySession {
    pub session_id: String,
    pub checkout_url: String,
}

/// What a verified gateway event means for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayEvent {
    pub event_id: String,
    pub event_type: String,
    pub effect: EventEffect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventEffect {
    Checkout {
        session_id: String,
        outcome: PaymentOutcome,
        payment_intent_id: Option<String>,
        failure_reason: Option<String>,
        /// What the gateway says was charged (minor units, currency code), when it says.
        charged: Option<(i64, String)>,
    },
    /// An event type we log but do not act on.
    Ignored,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    // Rendered after the field name: "signature is missing".
    #[error("is missing")]
    MissingSignature,
    #[error("does not match the payload")]
    InvalidSignature,
    #[error("timestamp is outside the 5-minute tolerance")]
    StaleSignature,
    #[error("cannot be checked: no webhook secret is configured for this gateway")]
    NoSecret,
    #[error("is not a valid event: {0}")]
    MalformedPayload(String),
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum GatewayError {
    #[error("gateway unavailable: {0}")]
    Unavailable(String),
    #[error("gateway refused the request: {0}")]
    Refused(String),
}

#[async_trait::async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    fn name(&self) -> &str;
    fn limits(&self) -> &GatewayLimits;

    /// Must be idempotent per `payment_id`: a retry returns the same session.
    async fn create_checkout(&self, checkout: &GatewayCheckout) -> Result<GatewaySession, GatewayError>;

    /// Refunds at the gateway; idempotent per refund id. Returns the gateway's id.
    async fn refund(&self, refund: &domain::refunds::Refund) -> Result<String, GatewayError>;

    /// Verifies a webhook delivery's signature and parses the event.
    fn verify_webhook(&self, payload: &[u8], signature: &str, now: DateTime<Utc>) -> Result<GatewayEvent, WebhookError>;

    /// Interprets an event that a trusted caller already verified.
    fn parse_event(&self, event_id: &str, event_type: &str, object: &[u8]) -> Result<GatewayEvent, WebhookError>;
}
