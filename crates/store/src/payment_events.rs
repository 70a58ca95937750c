//! Gateway events about payments: each logged once, its payment locked, settled and
//! its entries posted in the same transaction. Concurrent events are written
//! together (issue 11: a paid checkout's heaviest write); what cannot be, alone.

use std::collections::{HashMap, HashSet};

use app::StoreError;
use app::events_ports::OutboxEvent;
use app::ports::{Decision, EventOutcome, PaymentEvent, Settlement, WebhookLog};
use chrono::Utc;
use domain::ledger::JournalEntry;
use domain::payment::Payment;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};
use uuid::Uuid;

use crate::inserts::Inserts;
use crate::rows::{
    PAYMENT_COLUMNS, WIDE_ROWS_PER_STATEMENT, first_of_value_rows, flag, micros, multi_row_insert, placeholders, value_rows,
};
use crate::{SqlStore, db, ledger, outbox, rows};

/// A log row: the event, the payment it names, why it changed nothing.
pub(crate) type LogRow<'a> = (&'a WebhookLog, Option<Uuid>, Option<&'a str>);

/// What a settlement writes to its payment, in the order `write_settlements` binds it.
/// Named apart from the payment's columns, which the statement returns.
const SETTLED_COLUMNS: [&str; 7] =
    ["answer_id", "new_status", "new_intent", "new_reason", "new_paid_at", "new_updated_at", "old_status"];

impl SqlStore {
    /// The events found by our payment id or by their session, in one transaction,
    /// each statement written for all of them at once. Left out (`None`) for
    /// `apply_alone` to answer: one whose payment is missing, one naming a payment or
    /// repeating an event id an earlier one of the batch does (it must see the earlier
    /// one's write). `Err` when any statement fails, and then nothing is written.
    pub(crate) async fn apply_together(&self, events: &[PaymentEvent]) -> Result<Vec<Option<EventOutcome>>, StoreError> {
        let mut answers = vec![None; events.len()];
        if events.iter().all(|event| event.payment_id.is_none() && event.session_id.is_none()) {
            return Ok(answers);
        }
        let mut tx = self.begin().await?;
        let by_session = ids_by_session(&mut tx, events).await?;
        let (mut payments, mut keys) = (HashSet::new(), HashSet::new());
        let batched: Vec<(usize, Uuid)> = events
            .iter()
            .enumerate()
            .filter_map(|(index, event)| {
                let id = event.payment_id.or_else(|| {
                    let session = event.session_id.as_deref()?;
                    by_session.get(&(event.log.gateway_name.as_str(), session)).copied()
                })?;
                // Both recorded, so a later event repeating either goes alone.
                let first_on_its_payment = payments.insert(id);
                let first_of_its_id = keys.insert((&event.log.gateway_name, &event.log.event_id));
                (first_on_its_payment && first_of_its_id).then_some((index, id))
            })
            .collect();
        if batched.is_empty() {
            tx.rollback().await.map_err(db)?;
            return Ok(answers);
        }
        let locked = self.lock_payments(&mut tx, batched.iter().map(|(_, id)| *id)).await?;
        let decided: Vec<(usize, &Payment, Decision)> = batched
            .iter()
            .filter_map(|(index, id)| {
                let event = &events[*index];
                let payment = locked.get(id).filter(|payment| payment.gateway_name == event.log.gateway_name)?;
                Some((*index, payment, (event.decide)(payment)))
            })
            .collect();
        let logs: Vec<LogRow> = decided
            .iter()
            .map(|(index, payment, decision)| (&events[*index].log, Some(payment.id), skip_reason(decision)))
            .collect();
        let logged = insert_webhook_logs(&mut tx, &logs).await?;
        let mut settled = Vec::new();
        for (index, payment, decision) in decided {
            let log = &events[index].log;
            answers[index] = match decision {
                _ if !logged.contains(&(log.gateway_name.clone(), log.event_id.clone())) => Some(EventOutcome::Duplicate),
                Decision::Skip(reason) => Some(EventOutcome::Skipped { payment: Some(payment.clone()), reason }),
                Decision::Apply(settlement) => {
                    settled.push((index, payment, settlement));
                    None
                }
            };
        }
        let pairs: Vec<(&Payment, &Settlement)> =
            settled.iter().map(|(_, payment, settlement)| (*payment, &**settlement)).collect();
        let written = write_settlements(&mut tx, self.known_accounts(), &pairs).await?;
        tx.commit().await.map_err(db)?;
        for ((index, _, _), payment) in settled.iter().zip(written) {
            answers[*index] = Some(EventOutcome::Applied(payment));
        }
        Ok(answers)
    }

    /// One event in a transaction of its own. The payment is locked first and the log
    /// row written once, with its outcome: a duplicate delivered concurrently waits
    /// on the payment's row lock (or, with no payment, on the log's unique key), then
    /// finds the log row and changes nothing.
    #[tracing::instrument(skip_all, fields(gateway = %event.log.gateway_name, event_id = %event.log.event_id))]
    pub(crate) async fn apply_alone(&self, event: &PaymentEvent) -> Result<EventOutcome, StoreError> {
        let PaymentEvent { log, session_id, payment_id, decide, log_unmatched } = event;
        let mut tx = self.begin().await?;
        // By our id when the gateway echoes it: a session whose id we never stored
        // (a crash after the gateway call) still finds its payment. By id the primary
        // key alone, the gateway compared here: with `gateway_name` in the WHERE,
        // PostgreSQL planned a (gateway_name, …) index on an empty table and a pooled
        // connection kept that plan while the table grew (issue 11).
        let payment = match (payment_id, session_id) {
            (Some(id), _) => self.lock_payments(&mut tx, [*id]).await?.remove(id),
            (None, Some(session)) => {
                let sql = format!(
                    "SELECT {PAYMENT_COLUMNS} FROM payments WHERE gateway_session_id = $1 AND gateway_name = $2{}",
                    self.dialect().for_update()
                );
                let query = sqlx::query(AssertSqlSafe(sql)).bind(session).bind(&log.gateway_name);
                let row = query.fetch_optional(&mut *tx).await.map_err(db)?;
                row.as_ref().map(rows::payment).transpose()?
            }
            (None, None) => None,
        };
        let payment = payment.filter(|payment| payment.gateway_name == log.gateway_name);
        let decision = payment.as_ref().map(|payment| decide(payment));
        let reason = match (&decision, session_id, payment_id) {
            (Some(decision), ..) => skip_reason(decision).map(str::to_owned),
            (None, None, None) => Some("event type is not handled".to_owned()),
            (None, ..) => Some("no payment of this gateway matches the event".to_owned()),
        };
        if payment.is_none() && !log_unmatched {
            tx.rollback().await.map_err(db)?;
            return Ok(EventOutcome::Skipped { payment: None, reason: reason.unwrap_or_default() });
        }
        if insert_webhook_logs(&mut tx, &[(log, payment.as_ref().map(|p| p.id), reason.as_deref())]).await?.is_empty() {
            tx.rollback().await.map_err(db)?;
            return Ok(EventOutcome::Duplicate);
        }
        let outcome = match (payment, decision) {
            (Some(current), Some(Decision::Apply(settlement))) => {
                let written = write_settlements(&mut tx, self.known_accounts(), &[(&current, &settlement)]).await?;
                let updated =
                    written.into_iter().next().ok_or_else(|| StoreError::Corrupt("a settlement without its payment".into()))?;
                EventOutcome::Applied(updated)
            }
            (payment, _) => EventOutcome::Skipped { payment, reason: reason.unwrap_or_default() },
        };
        tx.commit().await.map_err(db)?;
        Ok(outcome)
    }

    /// The payments of `ids` that exist, locked in id order (two batches lock in the
    /// same order, so they wait for each other instead of deadlocking).
    async fn lock_payments(
        &self,
        tx: &mut Transaction<'_, Any>,
        ids: impl IntoIterator<Item = Uuid>,
    ) -> Result<HashMap<Uuid, Payment>, StoreError> {
        // Sorted before chunking: every chunk, and so the whole batch, locks in id order.
        let mut ids: Vec<String> = ids.into_iter().map(|id| id.to_string()).collect();
        ids.sort();
        ids.dedup();
        let mut locked = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(WIDE_ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT {PAYMENT_COLUMNS} FROM payments WHERE id IN ({}) ORDER BY id{}",
                placeholders(chunk.len()),
                self.dialect().for_update()
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                query = query.bind(id);
            }
            for row in query.fetch_all(&mut **tx).await.map_err(db)? {
                let payment = rows::payment(&row)?;
                locked.insert(payment.id, payment);
            }
        }
        Ok(locked)
    }
}

/// Our ids of the payments that the batch's events naming only a session name, by
/// (gateway, session): one read per gateway (per 20 sessions). Read, not locked: a
/// session once attached never changes, so every payment is then locked by id, in
/// id order, with the others.
async fn ids_by_session<'a>(
    tx: &mut Transaction<'_, Any>,
    events: &'a [PaymentEvent],
) -> Result<HashMap<(&'a str, &'a str), Uuid>, StoreError> {
    let mut sessions: HashMap<&str, Vec<&str>> = HashMap::new();
    for event in events.iter().filter(|event| event.payment_id.is_none()) {
        if let Some(session) = event.session_id.as_deref() {
            sessions.entry(event.log.gateway_name.as_str()).or_default().push(session);
        }
    }
    let mut ids = HashMap::new();
    for (gateway, sessions) in sessions {
        for chunk in sessions.chunks(WIDE_ROWS_PER_STATEMENT) {
            let sql = format!(
                "SELECT id, gateway_session_id FROM payments WHERE gateway_session_id IN ({}) AND gateway_name = ${}",
                placeholders(chunk.len()),
                chunk.len() + 1
            );
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for session in chunk {
                query = query.bind(*session);
            }
            for row in query.bind(gateway).fetch_all(&mut **tx).await.map_err(db)? {
                let found = rows::get::<String>(&row, "gateway_session_id")?;
                // The key borrows the event's own session text, equal to the row's.
                if let Some(session) = chunk.iter().find(|session| **session == found) {
                    ids.insert((gateway, *session), rows::uuid(&rows::get::<String>(&row, "id")?)?);
                }
            }
        }
    }
    Ok(ids)
}

fn skip_reason(decision: &Decision) -> Option<&str> {
    match decision {
        Decision::Skip(reason) => Some(reason),
        Decision::Apply(_) => None,
    }
}

/// Writes the settlements of payments still in the status they were locked in (one
/// multi-row UPDATE), their events, holds and top-up rows, and posts their entries
/// together; the payments as written, in order. A payment not written (changed under
/// its row lock) fails the whole write, before anything else of it is written.
async fn write_settlements(
    tx: &mut Transaction<'_, Any>,
    known: &ledger::KnownAccounts,
    settled: &[(&Payment, &Settlement)],
) -> Result<Vec<Payment>, StoreError> {
    let mut updated = HashMap::with_capacity(settled.len());
    let now = micros(Utc::now());
    for chunk in settled.chunks(WIDE_ROWS_PER_STATEMENT) {
        let mut query = sqlx::query(AssertSqlSafe(settle_sql(chunk.len())));
        for (payment, settlement) in chunk {
            query = query
                .bind(payment.id.to_string())
                .bind(settlement.status.as_str())
                .bind(settlement.payment_intent_id.clone())
                .bind(settlement.failure_reason.clone())
                .bind(settlement.paid_at.map(micros))
                .bind(now)
                .bind(payment.status.as_str());
        }
        for row in query.fetch_all(&mut **tx).await.map_err(db)? {
            let payment = rows::payment(&row)?;
            updated.insert(payment.id, payment);
        }
    }
    let written = settled
        .iter()
        .map(|(payment, _)| {
            updated
                .remove(&payment.id)
                .ok_or_else(|| StoreError::Database(format!("payment {} changed under a row lock", payment.id)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut rows = Inserts::default();
    outbox::add_events(&mut rows, &written.iter().filter_map(OutboxEvent::payment).collect::<Vec<_>>());
    crate::escrow::add_holds(&mut rows, &settled.iter().filter_map(|(_, s)| s.escrow_hold.as_ref()).collect::<Vec<_>>());
    let deposits: Vec<_> = settled.iter().filter_map(|(_, settlement)| settlement.wallet_deposit.as_ref()).collect();
    crate::wallet::add_wallet_transactions(&mut rows, &deposits);
    let entries: Vec<JournalEntry> = settled.iter().flat_map(|(_, settlement)| settlement.entries.iter().cloned()).collect();
    // Last, so the balance rows stay locked for the shortest time.
    ledger::post_entries(tx, known, &entries, rows).await?;
    Ok(written)
}

/// The settlements' UPDATE of `rows` payments, each still in the status it was locked in.
pub(crate) fn settle_sql(rows: usize) -> String {
    format!(
        "WITH answer ({}) AS (VALUES {}) UPDATE payments SET status = answer.new_status, \
         gateway_payment_intent_id = COALESCE(answer.new_intent, gateway_payment_intent_id), \
         failure_reason = answer.new_reason, paid_at = COALESCE(answer.new_paid_at, paid_at), \
         updated_at = answer.new_updated_at FROM answer WHERE payments.id = answer.answer_id AND payments.id IN ({}) \
         AND payments.status = answer.old_status RETURNING {PAYMENT_COLUMNS}",
        SETTLED_COLUMNS.join(", "),
        value_rows(SETTLED_COLUMNS.len(), rows),
        first_of_value_rows(SETTLED_COLUMNS.len(), rows)
    )
}

/// Logs handled events with their outcomes (one multi-row INSERT); the (gateway,
/// event id) of those logged now, not before.
pub(crate) async fn insert_webhook_logs(
    connection: &mut sqlx::AnyConnection,
    logs: &[LogRow<'_>],
) -> Result<HashSet<(String, String)>, StoreError> {
    let mut logged = HashSet::with_capacity(logs.len());
    for chunk in logs.chunks(WIDE_ROWS_PER_STATEMENT) {
        let sql = format!(
            "{} ON CONFLICT (gateway_name, event_id) DO NOTHING RETURNING gateway_name, event_id",
            multi_row_insert(
                "webhook_logs (id, gateway_name, event_id, event_type, payload, signature_valid, processed, payment_id, \
                 error, received_at)",
                10,
                chunk.len()
            )
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for (log, payment_id, error) in chunk {
            query = query
                .bind(log.id.to_string())
                .bind(&log.gateway_name)
                .bind(&log.event_id)
                .bind(&log.event_type)
                .bind(&log.payload)
                .bind(flag(log.signature_valid))
                .bind(1_i64)
                .bind(payment_id.map(|p| p.to_string()))
                .bind(*error)
                .bind(micros(log.received_at));
        }
        for row in query.fetch_all(&mut *connection).await.map_err(db)? {
            logged.insert((row.try_get("gateway_name").map_err(db)?, row.try_get("event_id").map_err(db)?));
        }
    }
    Ok(logged)
}
