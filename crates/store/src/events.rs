//! `EventStore`: endpoints, the outbox's events, and their deliveries' claims and
//! results.

use app::StoreError;
use app::events_ports::{
    ClaimedDelivery, Delivery, DeliveryResult, EndpointSecret, EventEndpoint, EventFilter, EventStore, OutboxEvent,
};
use app::ports::Page;
use chrono::{DateTime, Utc};
use domain::events::{DeliveryStatus, EventType, Subscription};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::outbox::stored_types;
use crate::rows::{by_id, corrupt, flag, get, micros, paged, time, uuid};
use crate::{Dialect, SqlStore, db};

const ENDPOINT_COLUMNS: &str = "id, url, description, secret, event_types, enabled, created_at, updated_at";
const EVENT_COLUMNS: &str = "id, event_type, object_id, payload, created_at";
/// A delivery with its event's type, from `event_deliveries d JOIN events v`.
const DELIVERY_COLUMNS: &str = "d.event_id, d.endpoint_id, v.event_type, d.status, d.attempts, d.next_attempt_at, \
    d.last_status_code, d.last_error, d.delivered_at, d.since";

fn endpoint(row: &AnyRow) -> Result<EventEndpoint, StoreError> {
    let types = get::<String>(row, "event_types")?;
    Ok(EventEndpoint {
        id: uuid(&get::<String>(row, "id")?)?,
        url: get(row, "url")?,
        description: get(row, "description")?,
        subscription: Subscription::from_stored(types.split(',').filter(|t| !t.is_empty()).map(str::to_owned).collect()),
        secret: EndpointSecret::from_stored(get(row, "secret")?),
        enabled: get::<i64>(row, "enabled")? == 1,
        created_at: time(get(row, "created_at")?)?,
        updated_at: time(get(row, "updated_at")?)?,
    })
}

fn event_type(row: &AnyRow) -> Result<EventType, StoreError> {
    let text = get::<String>(row, "event_type")?;
    EventType::from_str_opt(&text).ok_or_else(|| corrupt(format!("event type {text}")))
}

fn event(row: &AnyRow) -> Result<OutboxEvent, StoreError> {
    Ok(OutboxEvent {
        id: uuid(&get::<String>(row, "id")?)?,
        event_type: event_type(row)?,
        object_id: uuid(&get::<String>(row, "object_id")?)?,
        payload: serde_json::from_str(&get::<String>(row, "payload")?).map_err(corrupt)?,
        created_at: time(get(row, "created_at")?)?,
    })
}

fn delivery(row: &AnyRow) -> Result<Delivery, StoreError> {
    let status = get::<String>(row, "status")?;
    Ok(Delivery {
        event_id: uuid(&get::<String>(row, "event_id")?)?,
        endpoint_id: uuid(&get::<String>(row, "endpoint_id")?)?,
        event_type: event_type(row)?,
        status: DeliveryStatus::from_str_opt(&status).ok_or_else(|| corrupt(format!("delivery status {status}")))?,
        attempts: get(row, "attempts")?,
        next_attempt_at: time(get(row, "next_attempt_at")?)?,
        last_status_code: get(row, "last_status_code")?,
        last_error: get(row, "last_error")?,
        delivered_at: get::<Option<i64>>(row, "delivered_at")?.map(time).transpose()?,
        since: time(get(row, "since")?)?,
    })
}

impl SqlStore {
    /// Runs a claim, `UPDATE … WHERE … IN (SELECT … LIMIT $3{lock}) RETURNING …`
    /// (`$1` now, `$2` the lease's end), in a transaction of its own; `{lock}` skips
    /// the rows another worker is claiming on PostgreSQL.
    async fn claim_rows(
        &self,
        sql: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<AnyRow>, StoreError> {
        let lock = match self.dialect() {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let mut tx = self.begin().await?;
        let rows = sqlx::query(AssertSqlSafe(sql.replace("{lock}", lock)))
            .bind(micros(now))
            .bind(micros(lease_until))
            .bind(limit)
            .fetch_all(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(rows)
    }
}

#[async_trait::async_trait]
impl EventStore for SqlStore {
    async fn insert_endpoint(&self, e: &EventEndpoint) -> Result<(), StoreError> {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO event_endpoints ({ENDPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )))
        .bind(e.id.to_string())
        .bind(&e.url)
        .bind(&e.description)
        .bind(e.secret.expose())
        .bind(stored_types(e.subscription.types()))
        .bind(flag(e.enabled))
        .bind(micros(e.created_at))
        .bind(micros(e.updated_at))
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn endpoint(&self, id: Uuid) -> Result<Option<EventEndpoint>, StoreError> {
        by_id(self.reads(), "event_endpoints", ENDPOINT_COLUMNS, id, endpoint).await
    }

    async fn endpoints(&self, page: Page) -> Result<(Vec<EventEndpoint>, i64), StoreError> {
        paged(self.reads(), "event_endpoints", ENDPOINT_COLUMNS, "1 = 1", "created_at, id", 0, |q| q, page, endpoint).await
    }

    async fn update_endpoint(&self, e: &EventEndpoint) -> Result<bool, StoreError> {
        let updated = sqlx::query(
            "UPDATE event_endpoints SET url = $1, description = $2, event_types = $3, enabled = $4, updated_at = $5 WHERE id = $6",
        )
        .bind(&e.url)
        .bind(&e.description)
        .bind(stored_types(e.subscription.types()))
        .bind(flag(e.enabled))
        .bind(micros(e.updated_at))
        .bind(e.id.to_string())
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(updated.rows_affected() == 1)
    }

    async fn delete_endpoint(&self, id: Uuid) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query("DELETE FROM event_deliveries WHERE endpoint_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let deleted =
            sqlx::query("DELETE FROM event_endpoints WHERE id = $1").bind(id.to_string()).execute(&mut *tx).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(deleted.rows_affected() == 1)
    }

    async fn event(&self, id: Uuid) -> Result<Option<OutboxEvent>, StoreError> {
        by_id(self.reads(), "events", EVENT_COLUMNS, id, event).await
    }

    async fn events(&self, filter: &EventFilter, page: Page) -> Result<(Vec<OutboxEvent>, i64), StoreError> {
        let object = filter.object_id.map(|id| id.to_string());
        let event_type = filter.event_type.map(|t| t.as_str().to_owned());
        let condition = "($1 IS NULL OR object_id = $1) AND ($2 IS NULL OR event_type = $2)";
        paged(
            self.reads(),
            "events",
            EVENT_COLUMNS,
            condition,
            "id DESC",
            2,
            |q| q.bind(object.clone()).bind(event_type.clone()),
            page,
            event,
        )
        .await
    }

    async fn deliveries(&self, endpoint_id: Option<Uuid>, page: Page) -> Result<(Vec<Delivery>, i64), StoreError> {
        let endpoint_id = endpoint_id.map(|id| id.to_string());
        let table = "event_deliveries d JOIN events v ON v.id = d.event_id";
        let filter = "($1 IS NULL OR d.endpoint_id = $1)";
        let order = "d.event_id DESC, d.endpoint_id";
        paged(self.reads(), table, DELIVERY_COLUMNS, filter, order, 1, |q| q.bind(endpoint_id.clone()), page, delivery).await
    }

    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        // Only the oldest pending delivery of each object for each endpoint: a later
        // event of that object waits until the earlier one is delivered or dead.
        let sql = "UPDATE event_deliveries SET locked_until = $2 WHERE (event_id, endpoint_id) IN ( \
               SELECT d.event_id, d.endpoint_id FROM event_deliveries d \
               WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND (d.locked_until IS NULL OR d.locked_until <= $1) \
               AND NOT EXISTS (SELECT 1 FROM event_deliveries p WHERE p.endpoint_id = d.endpoint_id \
                 AND p.object_id = d.object_id AND p.status = 'pending' AND p.event_id < d.event_id) \
               ORDER BY d.event_id LIMIT $3{lock}) \
             RETURNING event_id, endpoint_id";
        let claimed = self.claim_rows(sql, now, lease_until, limit).await?;
        let mut deliveries = Vec::with_capacity(claimed.len());
        for row in &claimed {
            let select = format!(
                "SELECT {DELIVERY_COLUMNS}, v.object_id, v.payload, v.created_at, e.url, e.secret \
                 FROM event_deliveries d JOIN events v ON v.id = d.event_id JOIN event_endpoints e ON e.id = d.endpoint_id \
                 WHERE d.event_id = $1 AND d.endpoint_id = $2"
            );
            let found = sqlx::query(AssertSqlSafe(select))
                .bind(get::<String>(row, "event_id")?)
                .bind(get::<String>(row, "endpoint_id")?)
                .fetch_optional(self.reads())
                .await
                .map_err(db)?;
            // Deleted with its endpoint since the claim: nothing to send.
            let Some(found) = found else { continue };
            let delivery = delivery(&found)?;
            let event = OutboxEvent {
                id: delivery.event_id,
                event_type: delivery.event_type,
                object_id: uuid(&get::<String>(&found, "object_id")?)?,
                payload: serde_json::from_str(&get::<String>(&found, "payload")?).map_err(corrupt)?,
                created_at: time(get(&found, "created_at")?)?,
            };
            deliveries.push(ClaimedDelivery {
                delivery,
                event,
                url: get(&found, "url")?,
                secret: EndpointSecret::from_stored(get(&found, "secret")?),
            });
        }
        Ok(deliveries)
    }

    async fn finish_delivery(&self, event_id: Uuid, endpoint_id: Uuid, result: &DeliveryResult) -> Result<(), StoreError> {
        let (status, code, error, next, delivered_at) = match result {
            DeliveryResult::Delivered { status_code, at } => {
                (DeliveryStatus::Delivered, Some(*status_code), None, None, Some(micros(*at)))
            }
            DeliveryResult::Failed { status_code, error, next_attempt_at: Some(next) } => {
                (DeliveryStatus::Pending, *status_code, Some(error.as_str()), Some(micros(*next)), None)
            }
            DeliveryResult::Failed { status_code, error, next_attempt_at: None } => {
                (DeliveryStatus::Dead, *status_code, Some(error.as_str()), None, None)
            }
        };
        sqlx::query(
            "UPDATE event_deliveries SET status = $1, attempts = attempts + 1, last_status_code = $2, last_error = $3, \
             next_attempt_at = COALESCE($4, next_attempt_at), delivered_at = $5, locked_until = NULL \
             WHERE event_id = $6 AND endpoint_id = $7 AND status = 'pending'",
        )
        .bind(status.as_str())
        .bind(code)
        .bind(error)
        .bind(next)
        .bind(delivered_at)
        .bind(event_id.to_string())
        .bind(endpoint_id.to_string())
        .execute(self.pool())
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn redeliver(&self, event_id: Uuid, endpoint_id: Option<Uuid>, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let now = micros(now);
        let result =
            match endpoint_id {
                Some(endpoint_id) => sqlx::query(
                    "INSERT INTO event_deliveries (event_id, endpoint_id, object_id, status, attempts, next_attempt_at, since) \
                     SELECT v.id, $2, v.object_id, 'pending', 0, $3, $3 FROM events v WHERE v.id = $1 \
                     ON CONFLICT (event_id, endpoint_id) DO UPDATE SET status = 'pending', next_attempt_at = $3, since = $3, \
                     locked_until = NULL",
                )
                .bind(event_id.to_string())
                .bind(endpoint_id.to_string())
                .bind(now)
                .execute(self.pool())
                .await,
                None => {
                    sqlx::query(
                        "UPDATE event_deliveries SET status = 'pending', next_attempt_at = $2, since = $2, locked_until = NULL \
                     WHERE event_id = $1",
                    )
                    .bind(event_id.to_string())
                    .bind(now)
                    .execute(self.pool())
                    .await
                }
            };
        Ok(result.map_err(db)?.rows_affected())
    }

    async fn claim_unpublished(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        // Only the oldest unpublished event of each object: a later one waits until
        // the earlier one is on the bus, so the bus has each object's in order.
        let sql = format!(
            "UPDATE events SET nats_locked_until = $2 WHERE id IN ( \
               SELECT v.id FROM events v \
               WHERE v.nats_published_at IS NULL AND (v.nats_locked_until IS NULL OR v.nats_locked_until <= $1) \
               AND NOT EXISTS (SELECT 1 FROM events p WHERE p.object_id = v.object_id \
                 AND p.nats_published_at IS NULL AND p.id < v.id) \
               ORDER BY v.id LIMIT $3{{lock}}) \
             RETURNING {EVENT_COLUMNS}"
        );
        let rows = self.claim_rows(&sql, now, lease_until, limit).await?;
        let mut events = rows.iter().map(event).collect::<Result<Vec<_>, _>>()?;
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    async fn finish_publication(&self, event_id: Uuid, published_at: Option<DateTime<Utc>>) -> Result<(), StoreError> {
        sqlx::query("UPDATE events SET nats_published_at = $1, nats_locked_until = NULL WHERE id = $2")
            .bind(published_at.map(micros))
            .bind(event_id.to_string())
            .execute(self.pool())
            .await
            .map_err(db)?;
        Ok(())
    }
}
