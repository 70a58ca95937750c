//! Writing an event to the outbox with the state change it tells of (in the
//! caller's transaction, or the one statement that makes the change): the event
//! row and one pending delivery per enabled endpoint subscribed to its type right now.

use app::StoreError;
use app::events_ports::OutboxEvent;
use sqlx::{Any, Transaction};

use crate::inserts::Inserts;
use crate::rows::{micros, value_rows};

/// Writes `event` and its deliveries in one round trip (nothing for a state change
/// the platform does not hear of).
pub(crate) async fn emit(tx: &mut Transaction<'_, Any>, event: Option<OutboxEvent>) -> Result<(), StoreError> {
    let mut inserts = Inserts::default();
    add_events(&mut inserts, event.as_slice());
    inserts.write(tx).await
}

/// Events per statement: far below SQLite's 32,766 bound parameters.
const EVENTS_PER_STATEMENT: usize = 100;

/// Adds `events` and their deliveries: one per enabled endpoint subscribed to the
/// event's type right now.
pub(crate) fn add_events(inserts: &mut Inserts, events: &[OutboxEvent]) {
    add_events_of(inserts, events, None);
}

/// `add_events`, but only the events whose object's id `changed` (a query of a
/// CTE before them, on PostgreSQL) answers: the rows a statement changed.
pub(crate) fn add_events_of(inserts: &mut Inserts, events: &[OutboxEvent], changed: Option<&str>) {
    let (events_of, deliveries_of) = match changed {
        Some(ids) => (format!(" WHERE v.column3 IN ({ids})"), format!(" AND i.column2 IN ({ids})")),
        None => (String::new(), String::new()),
    };
    for chunk in events.chunks(EVENTS_PER_STATEMENT) {
        // VALUES' columns are column1… on both databases (SQLite cannot rename them).
        inserts.add(&format!(
            "INSERT INTO events (id, event_type, object_id, payload, created_at) SELECT * FROM (VALUES {}) AS v{events_of}",
            value_rows(5, chunk.len())
        ));
        for event in chunk {
            inserts
                .bind(event.id.to_string())
                .bind(event.event_type.as_str())
                .bind(event.object_id.to_string())
                .bind(event.payload.to_string())
                .bind(micros(event.created_at));
        }
        inserts.add(&format!(
            "INSERT INTO event_deliveries (event_id, endpoint_id, object_id, status, attempts, next_attempt_at, since) \
             SELECT i.column1, e.id, i.column2, 'pending', 0, i.column3, i.column3 FROM (VALUES {}) AS i \
             JOIN event_endpoints e ON e.enabled = 1 AND (e.event_types LIKE '%,*,%' OR e.event_types LIKE i.column4 ESCAPE '\\'){deliveries_of}",
            value_rows(4, chunk.len())
        ));
        for event in chunk {
            inserts
                .bind(event.id.to_string())
                .bind(event.object_id.to_string())
                .bind(micros(event.created_at))
                .bind(format!("%,{},%", like_literal(event.event_type.as_str())));
        }
    }
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
