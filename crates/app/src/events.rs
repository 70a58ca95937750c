//! Events to the platform: its endpoints (admin or service role), the outbox's
//! events and deliveries, redelivery by hand, and the delivery job.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use domain::events::{EndpointInput, EventType, RetryPolicy, Subscription};
use domain::payment::{parse_optional_uuid, parse_uuid};
use domain::validation::{RedirectUrl, parse_free_text};
use domain::{FieldError, events};
use uuid::Uuid;

use crate::auth::Principal;
use crate::events_ports::{
    ClaimedDelivery, Delivery, DeliveryResult, EndpointSecret, EventEndpoint, EventFilter, EventPublisher, EventSender,
    OutboxEvent, SendFailure,
};
use crate::ports::Page;
use crate::{App, AppError};

/// How the delivery job sends: the HTTP adapter, when to retry, and how long one
/// send may take (a claim lasts a whole batch of them); and the message bus every
/// event is also published on, when there is one.
#[derive(Clone)]
pub struct EventDelivery {
    pub sender: Arc<dyn EventSender>,
    pub retry: RetryPolicy,
    pub send_timeout: Duration,
    pub publisher: Option<Arc<dyn EventPublisher>>,
}

/// Deliveries one run of the job claims and sends at once. The claim takes at most
/// one per object and endpoint, so sending them together keeps each object's order,
/// and one slow endpoint holds the batch up for one timeout, not one per delivery.
pub const DELIVERY_BATCH: i64 = 16;
/// Send timeouts a delivery claim lasts: the batch's sends run at once.
const DELIVERY_LEASE_TIMEOUTS: u32 = 2;

/// Absent fields are left unchanged.
#[derive(Debug, Clone, Default)]
pub struct EndpointUpdate {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

impl App {
    /// The new endpoint, whose secret this is the only answer to show.
    pub async fn create_event_endpoint(
        &self,
        principal: &Principal,
        url: &str,
        description: &str,
        event_types: &[String],
    ) -> Result<EventEndpoint, AppError> {
        let input = EndpointInput::parse(url, description, event_types)?;
        principal.ensure_service()?;
        let now = Utc::now();
        let endpoint = EventEndpoint {
            id: Uuid::now_v7(),
            url: input.url,
            description: input.description,
            subscription: input.subscription,
            secret: EndpointSecret::generate(),
            enabled: true,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_endpoint(&endpoint).await?;
        Ok(endpoint)
    }

    pub async fn event_endpoint(&self, principal: &Principal, endpoint_id: &str) -> Result<EventEndpoint, AppError> {
        let id = parse_uuid("endpoint_id", endpoint_id)?;
        principal.ensure_service()?;
        self.store.endpoint(id).await?.ok_or(AppError::NotFound("event endpoint"))
    }

    pub async fn event_endpoints(&self, principal: &Principal, page: Page) -> Result<(Vec<EventEndpoint>, i64), AppError> {
        principal.ensure_service()?;
        Ok(self.store.endpoints(page).await?)
    }

    pub async fn update_event_endpoint(
        &self,
        principal: &Principal,
        endpoint_id: &str,
        update: EndpointUpdate,
    ) -> Result<EventEndpoint, AppError> {
        let id = parse_uuid("endpoint_id", endpoint_id)?;
        let url = update.url.as_deref().map(|url| RedirectUrl::parse("url", url)).transpose()?;
        let description =
            update.description.as_deref().map(|d| parse_free_text("description", d, events::DESCRIPTION_LEN_MAX)).transpose()?;
        let subscription = update.event_types.as_deref().map(|t| Subscription::parse("event_types", t)).transpose()?;
        principal.ensure_service()?;
        let mut endpoint = self.store.endpoint(id).await?.ok_or(AppError::NotFound("event endpoint"))?;
        if let Some(url) = url {
            endpoint.url = url.as_str().to_owned();
        }
        endpoint.description = description.unwrap_or(endpoint.description);
        endpoint.subscription = subscription.unwrap_or(endpoint.subscription);
        endpoint.enabled = update.enabled.unwrap_or(endpoint.enabled);
        endpoint.updated_at = Utc::now();
        if !self.store.update_endpoint(&endpoint).await? {
            return Err(AppError::NotFound("event endpoint"));
        }
        Ok(endpoint)
    }

    pub async fn delete_event_endpoint(&self, principal: &Principal, endpoint_id: &str) -> Result<(), AppError> {
        let id = parse_uuid("endpoint_id", endpoint_id)?;
        principal.ensure_service()?;
        if self.store.delete_endpoint(id).await? { Ok(()) } else { Err(AppError::NotFound("event endpoint")) }
    }

    /// Newest first; `object_id` and `event_type` narrow the list when not empty.
    pub async fn events(
        &self,
        principal: &Principal,
        object_id: &str,
        event_type: &str,
        page: Page,
    ) -> Result<(Vec<OutboxEvent>, i64), AppError> {
        let object_id = parse_optional_uuid("object_id", object_id)?;
        let event_type = match event_type {
            "" => None,
            text => Some(EventType::from_str_opt(text).ok_or_else(|| FieldError::new("event_type", "is not an event type"))?),
        };
        principal.ensure_service()?;
        Ok(self.store.events(&EventFilter { object_id, event_type }, page).await?)
    }

    /// One endpoint's deliveries, or every endpoint's for an empty id.
    pub async fn event_deliveries(
        &self,
        principal: &Principal,
        endpoint_id: &str,
        page: Page,
    ) -> Result<(Vec<Delivery>, i64), AppError> {
        let endpoint_id = parse_optional_uuid("endpoint_id", endpoint_id)?;
        principal.ensure_service()?;
        Ok(self.store.deliveries(endpoint_id, page).await?)
    }

    /// Sends the event again now: to one endpoint (subscribed or not), or to every
    /// endpoint that had it. Returns how many deliveries were made due.
    pub async fn redeliver_event(&self, principal: &Principal, event_id: &str, endpoint_id: &str) -> Result<u64, AppError> {
        let event_id = parse_uuid("event_id", event_id)?;
        let endpoint_id = parse_optional_uuid("endpoint_id", endpoint_id)?;
        principal.ensure_service()?;
        self.store.event(event_id).await?.ok_or(AppError::NotFound("event"))?;
        if let Some(id) = endpoint_id {
            self.store.endpoint(id).await?.ok_or(AppError::NotFound("event endpoint"))?;
        }
        Ok(self.store.redeliver(event_id, endpoint_id, Utc::now()).await?)
    }

    /// The delivery job: claims due deliveries a batch at a time, sends each
    /// (outside any transaction) and records the answer, until none is due.
    /// Returns how many were delivered.
    pub async fn deliver_events(&self) -> Result<usize, AppError> {
        let mut delivered = 0;
        loop {
            let (now, lease_until) = self.claim_lease(DELIVERY_LEASE_TIMEOUTS);
            let claimed = self.store.claim_deliveries(now, lease_until, DELIVERY_BATCH).await?;
            let full = claimed.len() as i64 == DELIVERY_BATCH;
            let sent = futures_util::future::join_all(claimed.into_iter().map(|claim| self.deliver(claim))).await;
            for taken in sent {
                delivered += usize::from(taken?);
            }
            if !full {
                return Ok(delivered);
            }
        }
    }

    /// The publishing job: claims the events not yet on the message bus a batch at
    /// a time and publishes each (outside any transaction), marking it published
    /// only once the bus acknowledged it. A failure ends the run; the event is
    /// tried again at the next. Returns how many were published.
    pub async fn publish_events(&self) -> Result<usize, AppError> {
        let Some(publisher) = &self.events.publisher else { return Ok(0) };
        let mut published = 0;
        loop {
            let (now, lease_until) = self.claim_lease(DELIVERY_BATCH as u32 + 1);
            let claimed = self.store.claim_unpublished(now, lease_until, DELIVERY_BATCH).await?;
            let full = claimed.len() as i64 == DELIVERY_BATCH;
            let mut pending = claimed.into_iter();
            for event in pending.by_ref() {
                if let Err(error) = publisher.publish(event.event_type, event.id, &event.body()).await {
                    tracing::warn!(event_id = %event.id, %error, "event not published on the message bus");
                    crate::metrics::event_publication("failed");
                    self.store.finish_publication(event.id, None).await?;
                    for unsent in pending {
                        self.store.finish_publication(unsent.id, None).await?;
                    }
                    return Ok(published);
                }
                self.store.finish_publication(event.id, Some(Utc::now())).await?;
                crate::metrics::event_publication("published");
                published += 1;
            }
            if !full {
                return Ok(published);
            }
        }
    }

    /// Now, and the end of a claim made now: `timeouts` send timeouts, long enough for
    /// a whole batch. A crashed replica's claims wait that long before another takes
    /// them, so deliveries (sent at once) claim two, publications (one after another)
    /// one per event and one more.
    fn claim_lease(&self, timeouts: u32) -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
        let now = Utc::now();
        let lease = self.events.send_timeout.saturating_mul(timeouts);
        (now, now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX))
    }

    /// One try of one claimed delivery; true when the endpoint took it.
    async fn deliver(&self, claim: ClaimedDelivery) -> Result<bool, AppError> {
        let (event, endpoint_id) = (&claim.event, claim.delivery.endpoint_id);
        let sent = self.events.sender.send(&claim.url, &claim.secret, event.id, &event.body()).await;
        let result = match sent {
            Ok(status_code) => DeliveryResult::Delivered { status_code: i64::from(status_code), at: Utc::now() },
            Err(SendFailure { status_code, message }) => {
                let attempts = u32::try_from(claim.delivery.attempts + 1).unwrap_or(u32::MAX);
                let next_attempt_at = self.events.retry.next_attempt(attempts, claim.delivery.since, Utc::now());
                if next_attempt_at.is_none() {
                    tracing::warn!(event_id = %event.id, %endpoint_id, attempts, "event delivery dead-lettered");
                }
                DeliveryResult::Failed { status_code: status_code.map(i64::from), error: message, next_attempt_at }
            }
        };
        crate::metrics::event_delivery(&result);
        self.store.finish_delivery(event.id, endpoint_id, &result).await?;
        Ok(matches!(result, DeliveryResult::Delivered { .. }))
    }
}
