//! Writing an event to the outbox, in the caller's transaction: the event row and
//! one pending delivery per enabled endpoint subscribed to its type right now.

use app::StoreError;
use app::events_ports::OutboxEvent;
use sqlx::{Any, AssertSqlSafe, Transaction};

use crate::rows::micros;
use crate::{Dialect, db};

/// Writes `event` (nothing for a state change the platform does not hear of).
pub(crate) async fn emit(tx: &mut Transaction<'_, Any>, event: Option<OutboxEvent>) -> Result<(), StoreError> {
    emit_all(tx, event.into_iter().collect()).await
}

/// Values bound per event, in the order `emit_all` binds them.
const VALUES_PER_EVENT: usize = 6;
/// Events per statement: far below SQLite's 32,766 bound parameters.
const EVENTS_PER_STATEMENT: usize = 100;

/// Writes `events` and their deliveries. On PostgreSQL the events and their
/// deliveries go in one statement (one round trip in the caller's transaction, which
/// often holds a row lock, whatever the number of events); SQLite takes two.
pub(crate) async fn emit_all(tx: &mut Transaction<'_, Any>, events: Vec<OutboxEvent>) -> Result<(), StoreError> {
    for chunk in events.chunks(EVENTS_PER_STATEMENT) {
        let rows = |pick: &[usize]| -> String {
            let tuple = |event: usize| {
                let numbers: Vec<String> = pick.iter().map(|n| format!("${}", event * VALUES_PER_EVENT + n)).collect();
                format!("({})", numbers.join(", "))
            };
            (0..chunk.len()).map(tuple).collect::<Vec<_>>().join(", ")
        };
        let insert_events =
            format!("INSERT INTO events (id, event_type, object_id, payload, created_at) VALUES {}", rows(&[1, 2, 3, 4, 5]));
        // Each event's deliveries: one per enabled endpoint subscribed to its type.
        let deliveries = format!(
            "input (id, object_id, created_at, subscribed) AS (VALUES {}) \
             INSERT INTO event_deliveries (event_id, endpoint_id, object_id, status, attempts, next_attempt_at, since) \
             SELECT i.id, e.id, i.object_id, 'pending', 0, i.created_at, i.created_at FROM input i JOIN event_endpoints e \
             ON e.enabled = 1 AND (e.event_types LIKE '%,*,%' OR e.event_types LIKE i.subscribed ESCAPE '\\')",
            rows(&[1, 3, 5, 6])
        );
        let statements = match Dialect::of_connection(tx) {
            Dialect::Postgres => vec![format!("WITH event AS ({insert_events}), {deliveries}")],
            Dialect::Sqlite => vec![insert_events, format!("WITH {deliveries}")],
        };
        for sql in statements {
            // Every statement gets all the values; SQLite ignores the ones it does not use.
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for event in chunk {
                query = query
                    .bind(event.id.to_string())
                    .bind(event.event_type.as_str())
                    .bind(event.object_id.to_string())
                    .bind(event.payload.to_string())
                    .bind(micros(event.created_at))
                    .bind(format!("%,{},%", like_literal(event.event_type.as_str())));
            }
            query.execute(&mut **tx).await.map_err(db)?;
        }
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
