//! Ports of events to the platform: the endpoints, the outbox and its deliveries
//! (`EventStore`), the sending of one delivery (`EventSender`), and the
//! publishing of every event on a message bus (`EventPublisher`).

use chrono::{DateTime, Utc};
use domain::events::{DeliveryStatus, EventType, Subscription};
use uuid::Uuid;

use crate::error::StoreError;
use crate::ports::Page;

/// An endpoint's signing secret. Shown once, when the endpoint is created; never
/// printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointSecret(String);

impl EndpointSecret {
    /// 244 random bits from the operating system (two v4 UUIDs), `whsec_`-prefixed
    /// like the gateway secrets a platform already knows.
    pub fn generate() -> Self {
        Self(format!("whsec_{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple()))
    }

    pub fn from_stored(secret: String) -> Self {
        Self(secret)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for EndpointSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EndpointSecret(<redacted>)")
    }
}

/// Where the platform receives events, and which.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventEndpoint {
    pub id: Uuid,
    pub url: String,
    pub description: String,
    pub subscription: Subscription,
    pub secret: EndpointSecret,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A state change as written to the outbox, in the change's transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    pub id: Uuid,
    pub event_type: EventType,
    pub object_id: Uuid,
    /// The object as the API shows it.
    pub payload: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// One event for one endpoint, and how its sending went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: Uuid,
    pub endpoint_id: Uuid,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status_code: Option<i64>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Start of the retry window: the event's time, or the last redelivery's.
    pub since: DateTime<Utc>,
}

/// A claimed delivery with what sending it needs.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub delivery: Delivery,
    pub event: OutboxEvent,
    pub url: String,
    pub secret: EndpointSecret,
}

/// How one try went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryResult {
    Delivered {
        status_code: i64,
        at: DateTime<Utc>,
    },
    /// Failed; `next_attempt_at` `None` dead-letters it.
    Failed {
        status_code: Option<i64>,
        error: String,
        next_attempt_at: Option<DateTime<Utc>>,
    },
}

/// Which events a list shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub object_id: Option<Uuid>,
    pub event_type: Option<EventType>,
}

#[async_trait::async_trait]
pub trait EventStore: Send + Sync + 'static {
    async fn insert_endpoint(&self, endpoint: &EventEndpoint) -> Result<(), StoreError>;
    async fn endpoint(&self, id: Uuid) -> Result<Option<EventEndpoint>, StoreError>;
    /// Oldest first, with the total.
    async fn endpoints(&self, page: Page) -> Result<(Vec<EventEndpoint>, i64), StoreError>;
    /// False when the endpoint no longer exists.
    async fn update_endpoint(&self, endpoint: &EventEndpoint) -> Result<bool, StoreError>;
    /// Deletes it with its deliveries; false when it did not exist.
    async fn delete_endpoint(&self, id: Uuid) -> Result<bool, StoreError>;
    async fn event(&self, id: Uuid) -> Result<Option<OutboxEvent>, StoreError>;
    /// Newest first, with the total.
    async fn events(&self, filter: &EventFilter, page: Page) -> Result<(Vec<OutboxEvent>, i64), StoreError>;
    /// One endpoint's deliveries (all endpoints' when `None`), newest event first.
    async fn deliveries(&self, endpoint_id: Option<Uuid>, page: Page) -> Result<(Vec<Delivery>, i64), StoreError>;
    /// Claims up to `limit` due deliveries until `lease_until`, each the oldest
    /// pending one of its object for its endpoint, skipping rows another worker is
    /// claiming (`SKIP LOCKED`).
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError>;
    async fn finish_delivery(&self, event_id: Uuid, endpoint_id: Uuid, result: &DeliveryResult) -> Result<(), StoreError>;
    /// Makes the event due again now for `endpoint_id` (added if it never had it),
    /// or for every endpoint that had it; how many deliveries were made due.
    async fn redeliver(&self, event_id: Uuid, endpoint_id: Option<Uuid>, now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Claims up to `limit` events not yet on the message bus until `lease_until`,
    /// each the oldest unpublished one of its object, oldest first, skipping rows
    /// another worker is claiming (`SKIP LOCKED`).
    async fn claim_unpublished(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxEvent>, StoreError>;
    /// Ends the claim: published at `published_at` (the bus acknowledged it), or
    /// `None` to let the next run try again.
    async fn finish_publication(&self, event_id: Uuid, published_at: Option<DateTime<Utc>>) -> Result<(), StoreError>;
}

/// What a failed send says; the status code when the endpoint answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendFailure {
    pub status_code: Option<u16>,
    pub message: String,
}

/// Sends one event to one endpoint: a signed HTTP POST of `body`.
#[async_trait::async_trait]
pub trait EventSender: Send + Sync + 'static {
    /// The endpoint's 2xx status code, or why it is not delivered.
    async fn send(&self, url: &str, secret: &EndpointSecret, event_id: Uuid, body: &[u8]) -> Result<u16, SendFailure>;
}

/// Publishes every event on the platform's message bus (NATS JetStream), besides
/// the endpoints' deliveries.
#[async_trait::async_trait]
pub trait EventPublisher: Send + Sync + 'static {
    /// Returns once the bus has stored it; the event id lets the bus drop a
    /// publication it already has.
    async fn publish(&self, event_type: EventType, event_id: Uuid, body: &[u8]) -> Result<(), String>;
}
