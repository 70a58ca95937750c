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

/// A checkout's new payment and its key's claim.
#[derive(Debug, Clone)]
pub struct NewPayment {
    pub payment: Payment,
    pub claim: Option<IdempotencyClaim>,
}

/// The session a gateway opened for a payment.
#[derive(Debug, Clone)]
pub struct SessionAttachment {
    pub payment_id: Uuid,
    pub session_id: String,
    pub checkout_url: String,
    pub gateway_transaction_id: Option<String>,
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

/// Decides, inside the store's transaction, what an event does to a payment. Owned,
/// so the event can queue for a group commit.
pub type Decide = std::sync::Arc<dyn Fn(&Payment) -> Decision + Send + Sync>;

/// One gateway event about a payment: its log row, how its payment is found (by
/// `payment_id` when given, else by `session_id`) and what it does to it.
pub struct PaymentEvent {
    pub log: WebhookLog,
    pub session_id: Option<String>,
    pub payment_id: Option<Uuid>,
    pub decide: Decide,
    /// A gateway's event is logged even when no payment of its gateway matches (the
    /// log is the record of what the gateway said); a click on the mock page that
    /// matches none is only a wrong link, and writes nothing.
    pub log_unmatched: bool,
}

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
    + crate::console_ports::ConsoleStore
    + crate::reconciliation_ports::ReconciliationStore
    + crate::events_ports::EventStore
    + crate::dispute_ports::DisputeStore
{
}

#[async_trait::async_trait]
pub trait PaymentStore: Send + Sync + 'static {
    async fn ping(&self) -> Result<(), StoreError>;

    /// Each payment inserted with its key's claim, all or nothing; when the key was
    /// used before, what it points at instead. Concurrent identical claims resolve to
    /// one payment. Concurrent payments are written together; one answer each, in
    /// order, and one's failure stays its own.
    async fn create_payments(&self, payments: &[NewPayment]) -> Vec<Result<CreatePaymentOutcome, StoreError>>;

    /// Records each gateway's session unless its payment had one already; each
    /// payment as stored afterwards, in order. Concurrent ones are written together.
    async fn attach_checkout_sessions(&self, sessions: &[SessionAttachment]) -> Vec<Result<Payment, StoreError>>;

    async fn payment(&self, payment_id: Uuid) -> Result<Option<Payment>, StoreError>;

    /// The payment of each id, in order (`None` where there is none), read together:
    /// concurrent `GetPayment`s share one statement. A failed read fails each.
    async fn payments(&self, payment_ids: &[Uuid]) -> Vec<Result<Option<Payment>, StoreError>>;

    async fn payment_by_session(&self, gateway_name: &str, session_id: &str) -> Result<Option<Payment>, StoreError>;

    /// Newest first, with the total count.
    async fn user_payments(&self, user_id: &str, page: Page) -> Result<(Vec<Payment>, i64), StoreError>;

    /// Each event, all or nothing: logged (a duplicate stops there), its payment found
    /// and locked, `decide`'s settlement and its ledger entries written. Concurrent
    /// events go in one transaction; one answer per event, in order. When that
    /// transaction fails (the ledger refuses their entries together, say), each is
    /// applied in a transaction of its own, so one event's failure stays its own.
    async fn apply_payment_events(&self, events: &[PaymentEvent]) -> Vec<Result<EventOutcome, StoreError>>;

    /// Whether the (gateway, event id) was logged before.
    async fn webhook_seen(&self, gateway_name: &str, event_id: &str) -> Result<bool, StoreError>;

    /// Logs an event that was applied outside the payment path (its effect is
    /// idempotent on its own); false when the event was logged already.
    async fn record_webhook(&self, log: &WebhookLog, note: Option<&str>) -> Result<bool, StoreError>;

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
    /// What the buyer sees on the gateway's page.
    pub description: String,
    pub success_url: String,
    pub cancel_url: String,
    pub metadata: std::collections::BTreeMap<String, String>,
    /// Keep the buyer's card at the gateway (wallet top-ups), to pay withdrawals to it.
    pub keep_card: bool,
}

/// Money out to a card on file.
#[derive(Debug, Clone)]
pub struct GatewayPayout {
    pub id: Uuid,
    pub amount: domain::Money,
    /// The gateway's transaction that registered the card (a top-up's debit).
    pub card_reference: String,
    pub description: String,
}

/// A payout as the gateway answered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayPayoutAnswer {
    Paid {
        gateway_id: String,
    },
    /// A callback follows.
    Pending {
        gateway_id: String,
    },
}

/// A refund as the gateway reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRefund {
    pub gateway_refund_id: String,
    /// Pending until the gateway settles it (a refund event follows).
    pub status: domain::refunds::RefundStatus,
    pub failure_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewaySession {
    pub session_id: String,
    pub checkout_url: String,
    /// The gateway's own transaction, when it is not the session (AllSecure's uuid).
    pub gateway_transaction_id: Option<String>,
    /// The outcome, when the gateway settled the payment in its answer (AllSecure's
    /// FINISHED or ERROR); applied like the event it would otherwise send.
    pub settled: Option<GatewayEvent>,
}

/// A webhook as it arrived: the exact body, the headers (names in lower case) and
/// our own path and query, which some gateways sign.
#[derive(Debug, Clone, Copy)]
pub struct WebhookDelivery<'a> {
    pub payload: &'a [u8],
    pub headers: &'a [(String, String)],
    pub path_and_query: &'a str,
}

impl WebhookDelivery<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// What a verified gateway event means for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayEvent {
    pub event_id: String,
    pub event_type: String,
    /// When the gateway created the event (unix seconds): orders events whose object
    /// can move back and forth, so an older one never undoes a newer state.
    pub created: Option<i64>,
    pub effect: EventEffect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventEffect {
    Checkout {
        session_id: Option<String>,
        /// Our payment id, when the gateway echoes it (client reference, metadata).
        payment_id: Option<Uuid>,
        outcome: PaymentOutcome,
        payment_intent_id: Option<String>,
        failure_reason: Option<String>,
        /// What the gateway says was charged (minor units, currency code), when it says.
        charged: Option<(i64, String)>,
    },
    Refund {
        /// Ours, from the refund's metadata; else found by the gateway's id.
        refund_id: Option<Uuid>,
        gateway_refund_id: String,
        status: domain::refunds::RefundStatus,
        failure_reason: Option<String>,
    },
    Account {
        gateway_account_id: String,
        charges_enabled: bool,
        payouts_enabled: bool,
        details_submitted: bool,
        disabled_reason: Option<String>,
    },
    Payout {
        payout_id: Option<Uuid>,
        gateway_payout_id: String,
        status: domain::payouts::PayoutStatus,
        failure_code: Option<String>,
        failure_message: Option<String>,
    },
    /// A vendor registered (or failed to register) the card payouts go to, through
    /// the onboarding link `link_id`.
    CardRegistered { link_id: Option<Uuid>, card_reference: String, ok: bool },
    /// The gateway's running total of reversals of a transfer.
    TransferReversed { transfer_id: Option<Uuid>, gateway_transfer_id: String, amount_reversed: i64 },
    /// A dispute (chargeback) opened, moved or closed.
    Dispute(crate::dispute_ports::ReportedDispute),
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
    /// Timeout, 5xx or conflict after the retries: the gateway may have acted, so the
    /// record stays pending and is sent again with the same idempotency key.
    #[error("gateway unavailable: {0}")]
    Unavailable(String),
    /// A decline or a business refusal (insufficient balance, already refunded):
    /// nothing happened at the gateway.
    #[error("gateway refused the request: {0}")]
    Refused(String),
    /// The gateway found our request invalid: nothing happened.
    #[error("gateway found the request invalid: {0}")]
    Invalid(String),
    /// Our credentials were refused: nothing happened, an operator must act. Records
    /// stay pending so that they go through once the key is fixed.
    #[error("gateway refused our credentials: {0}")]
    Misconfigured(String),
}

impl GatewayError {
    /// True when the record must stay pending for the recovery job.
    pub fn keeps_pending(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Misconfigured(_))
    }

    /// Says why a record stays pending: credentials (or a key) the gateway refused
    /// need an operator, silence only the recovery job.
    pub fn log_kept_pending(&self, record: &'static str, id: Uuid) {
        match self {
            Self::Misconfigured(_) => {
                tracing::error!(record, %id, error = %self, "the gateway refused the call; it stays pending until an operator acts")
            }
            _ => tracing::warn!(record, %id, error = %self, "the gateway did not answer; it stays pending for the recovery job"),
        }
    }
}

#[async_trait::async_trait]
pub trait PaymentGateway: Send + Sync + 'static {
    fn name(&self) -> &str;
    fn limits(&self) -> &GatewayLimits;

    /// Must be idempotent per `payment_id`: a retry returns the same session.
    async fn create_checkout(&self, checkout: &GatewayCheckout) -> Result<GatewaySession, GatewayError>;

    /// The session, when the gateway opens it without a call (the mock derives it
    /// from the payment id): it is then written with the payment, and the checkout is
    /// one write instead of a write, a call and a second write (issue 11). It must be
    /// what `create_checkout` answers for that payment, with no side effect: a
    /// payment stored without its session gets it from `create_checkout` later.
    fn session_without_call(&self, _checkout: &GatewayCheckout) -> Option<GatewaySession> {
        None
    }

    /// Refunds at the gateway; idempotent per refund id. A refund that already has
    /// the gateway's id is read back instead of sent again.
    async fn refund(&self, refund: &domain::refunds::Refund, payment: &Payment) -> Result<GatewayRefund, GatewayError>;

    /// True for a gateway that pays withdrawals out to cards (`payout`).
    fn pays_out_to_cards(&self) -> bool {
        false
    }

    /// Pays money out to a card the buyer paid with (a wallet withdrawal), keyed by
    /// our record's id. Gateways that cannot do this refuse.
    async fn payout(&self, payout: &GatewayPayout) -> Result<GatewayPayoutAnswer, GatewayError> {
        Err(GatewayError::Refused(format!("{} does not pay out to cards (payout {})", self.name(), payout.id)))
    }

    /// Verifies a webhook delivery's signature and parses the event.
    fn verify_webhook(&self, delivery: &WebhookDelivery<'_>, now: DateTime<Utc>) -> Result<GatewayEvent, WebhookError>;

    /// Interprets an event that a trusted caller already verified.
    fn parse_event(&self, event_id: &str, event_type: &str, object: &[u8]) -> Result<GatewayEvent, WebhookError>;

    /// Whether transfers, reversals and payouts of this connected account went
    /// through this gateway, so that its reconciliation covers them.
    fn reconciles_account(&self, gateway_account_id: &str) -> bool;

    /// The gateway's own records of the window's money movements, for reconciliation:
    /// what it lists for the window, and what it answers about each of `ours` (our
    /// records that went through it) that the list does not cover.
    async fn reconciliation_report(
        &self,
        window: &crate::reconciliation_ports::Window,
        ours: &[crate::reconciliation_ports::OurRecord],
    ) -> Result<Vec<domain::reconciliation::Record>, GatewayError>;
}
