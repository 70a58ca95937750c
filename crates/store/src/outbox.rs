//! Writing an event to the outbox, in the caller's transaction: the event row and
//! one pending delivery per enabled endpoint subscribed to its type right now.

use app::StoreError;
use app::events_ports::OutboxEvent;
use sqlx::{Any, AssertSqlSafe, Transaction};

use crate::rows::micros;
use crate::{Dialect, db};

/// Writes `event` (nothing for a state change the platform does not hear of). On
/// PostgreSQL the event and its deliveries go in one statement (one round trip in
/// the caller's transaction, which often holds a row lock); SQLite takes two.
pub(crate) async fn emit(tx: &mut Transaction<'_, Any>, event: Option<OutboxEvent>) -> Result<(), StoreError> {
    let Some(event) = event else { return Ok(()) };
    let (id, object_id, created_at) = (event.id.to_string(), event.object_id.to_string(), micros(event.created_at));
    let deliveries = "INSERT INTO event_deliveries (event_id, endpoint_id, object_id, status, attempts, next_attempt_at, since) \
         SELECT $1, e.id, $3, 'pending', 0, $5, $5 FROM event_endpoints e \
         WHERE e.enabled = 1 AND (e.event_types LIKE '%,*,%' OR e.event_types LIKE $6 ESCAPE '\\')";
    let insert_event = "INSERT INTO events (id, event_type, object_id, payload, created_at) VALUES ($1, $2, $3, $4, $5)";
    let statements = match Dialect::of_connection(tx) {
        Dialect::Postgres => vec![format!("WITH event AS ({insert_event}) {deliveries}")],
        Dialect::Sqlite => vec![insert_event.to_owned(), deliveries.to_owned()],
    };
    let subscribed = format!("%,{},%", like_literal(event.event_type.as_str()));
    let payload = event.payload.to_string();
    for sql in statements {
        // Every statement gets all six values; SQLite ignores the ones it does not use.
        sqlx::query(AssertSqlSafe(sql))
            .bind(&id)
            .bind(event.event_type.as_str())
            .bind(&object_id)
            .bind(&payload)
            .bind(created_at)
            .bind(&subscribed)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
    }
    Ok(())
}

/// `text` matched literally by LIKE: `_` and `%` are wildcards there.
pub(crate) fn like_literal(text: &str) -> String {
    text.replace('\\', "\\\\").replace('_', "\\_").replace('%', "\\%")
}

/// The stored form of a subscription: `,a,b,`, so `LIKE '%,a,%'` finds a type.
pub(crate) fn stored_types(types: &[String]) -> String {
    format!(",{},", types.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_are_escaped_and_types_are_fenced() {
        assert_eq!(like_literal("a_b%c\\"), "a\\_b\\%c\\\\");
        assert_eq!(stored_types(&["payment.succeeded".into(), "*".into()]), ",payment.succeeded,*,");
    }
}
