//! The `Store` port: payments, idempotency keys and webhook logs. Every method that
//! writes more than one row does so in one transaction, begun and committed here.

use app::StoreError;
use app::events_ports::OutboxEvent;
use app::ports::{CreatePaymentOutcome, Decide, Decision, EventOutcome, IdempotencyClaim, Page, PaymentStore, WebhookLog};
use chrono::Utc;
use domain::ledger::LedgerViolation;
use domain::payment::Payment;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};
use uuid::Uuid;

use crate::rows::{PAYMENT_COLUMNS, by_id, flag, micros, paged};
use crate::{Dialect, SqlStore, db, idempotency, ledger, outbox, rows};

#[async_trait::async_trait]
impl PaymentStore for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.pool()).await.map(|_| ()).map_err(db)
    }

    #[tracing::instrument(skip_all, fields(payment_id = %payment.id))]
    async fn create_payment(
        &self,
        payment: &Payment,
        claim: Option<&IdempotencyClaim>,
    ) -> Result<CreatePaymentOutcome, StoreError> {
        // One autocommit statement where it can be (issue 11: round trips are what a
        // write costs under load): the payment alone, or on PostgreSQL the key's claim
        // and the payment together, the payment inserted only if the claim was. A key
        // claimed before (or SQLite with a key) takes the transaction below, which
        // finds what the key points at; a concurrent claim of the same key waits on
        // the key's unique index in either.
        if claim.is_none() || self.dialect() == Dialect::Postgres {
            let mut connection = self.pool().acquire().await.map_err(db)?;
            if insert_payment(&mut connection, payment, claim).await? {
                return Ok(CreatePaymentOutcome::Created(payment.clone()));
            }
        }
        let mut tx = self.begin().await?;
        if let Some(existing) = idempotency::claim_optional(&mut tx, claim, &payment.id.to_string()).await? {
            tx.rollback().await.map_err(db)?;
            let payment = match existing.resource_id.as_deref().map(Uuid::try_parse) {
                Some(Ok(id)) => self.payment(id).await?,
                _ => None,
            };
            return Ok(CreatePaymentOutcome::KeyExists { request_hash: existing.request_hash, method: existing.method, payment });
        }
        insert_payment(&mut tx, payment, None).await?;
        tx.commit().await.map_err(db)?;
        Ok(CreatePaymentOutcome::Created(payment.clone()))
    }

    async fn attach_checkout_session(
        &self,
        payment_id: Uuid,
        session_id: &str,
        checkout_url: &str,
        gateway_transaction_id: Option<&str>,
    ) -> Result<Payment, StoreError> {
        // One round trip: the row comes back with the update; a payment that had its
        // session already (a concurrent retry attached it first) is read as it is.
        let updated = sqlx::query(AssertSqlSafe(format!(
            "UPDATE payments SET gateway_session_id = $1, checkout_url = $2, updated_at = $3, \
             gateway_payment_intent_id = COALESCE(gateway_payment_intent_id, $5) WHERE id = $4 AND gateway_session_id IS NULL \
             RETURNING {PAYMENT_COLUMNS}"
        )))
        .bind(session_id)
        .bind(checkout_url)
        .bind(micros(Utc::now()))
        .bind(payment_id.to_string())
        .bind(gateway_transaction_id)
        .fetch_optional(self.pool())
        .await
        .map_err(db)?;
        match updated {
            Some(row) => rows::payment(&row),
            None => self.payment(payment_id).await?.ok_or_else(|| StoreError::Corrupt(format!("payment {payment_id} vanished"))),
        }
    }

    async fn payment(&self, payment_id: Uuid) -> Result<Option<Payment>, StoreError> {
        by_id(self.pool(), "payments", PAYMENT_COLUMNS, payment_id, rows::payment).await
    }

    async fn payment_by_session(&self, gateway_name: &str, session_id: &str) -> Result<Option<Payment>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE gateway_name = $1 AND gateway_session_id = $2"
        )))
        .bind(gateway_name)
        .bind(session_id)
        .fetch_optional(self.pool())
        .await
        .map_err(db)?;
        row.as_ref().map(rows::payment).transpose()
    }

    async fn user_payments(&self, user_id: &str, page: Page) -> Result<(Vec<Payment>, i64), StoreError> {
        let user_id = user_id.to_owned();
        paged(
            self.pool(),
            "payments",
            PAYMENT_COLUMNS,
            "user_id = $1",
            "created_at DESC, id DESC",
            1,
            |q| q.bind(user_id.clone()),
            page,
            rows::payment,
        )
        .await
    }

    #[tracing::instrument(skip_all, fields(gateway = %log.gateway_name, event_id = %log.event_id))]
    async fn apply_payment_event(
        &self,
        log: &WebhookLog,
        session_id: Option<&str>,
        payment_id: Option<Uuid>,
        decide: Decide<'_>,
    ) -> Result<EventOutcome, StoreError> {
        // The payment is locked first and the log row written once, with its outcome:
        // a duplicate delivered concurrently waits on the payment's row lock (or, with
        // no payment, on the log's unique key) and then finds the log row and changes
        // nothing. One statement fewer than inserting the log first and finishing it.
        let mut tx = self.begin().await?;
        // By our id when the gateway echoes it: a session whose id we never stored
        // (a crash after the gateway call) still finds its payment.
        // By id the primary key alone, the gateway compared here: with `gateway_name`
        // in the WHERE, PostgreSQL planned a (gateway_name, …) index on an empty table
        // and a pooled connection kept that plan while the table grew, scanning every
        // payment of the gateway (issue 11's checkout slowdown).
        let (filter, key) = match (payment_id, session_id) {
            (Some(id), _) => ("id = $1", Some(id.to_string())),
            (None, session) => ("gateway_session_id = $1 AND gateway_name = $2", session.map(str::to_owned)),
        };
        let payment = match key {
            None => None,
            Some(key) => {
                let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE {filter}{}", self.dialect().for_update());
                let mut query = sqlx::query(AssertSqlSafe(sql)).bind(key);
                if payment_id.is_none() {
                    query = query.bind(&log.gateway_name);
                }
                let row = query.fetch_optional(&mut *tx).await.map_err(db)?;
                row.as_ref().map(rows::payment).transpose()?.filter(|payment| payment.gateway_name == log.gateway_name)
            }
        };
        let outcome = match (&payment, payment.as_ref().map(decide)) {
            (Some(current), Some(Decision::Apply(settlement))) => {
                if !insert_webhook_log(&mut tx, log, Some(current.id), None).await? {
                    return duplicate(tx).await;
                }
                let sql = format!(
                    "UPDATE payments SET status = $1, gateway_payment_intent_id = COALESCE($2, gateway_payment_intent_id), \
                     failure_reason = $3, paid_at = COALESCE($4, paid_at), updated_at = $5 WHERE id = $6 AND status = $7 \
                     RETURNING {PAYMENT_COLUMNS}"
                );
                let updated = sqlx::query(AssertSqlSafe(sql))
                    .bind(settlement.status.as_str())
                    .bind(settlement.payment_intent_id.as_deref())
                    .bind(settlement.failure_reason.as_deref())
                    .bind(settlement.paid_at.map(micros))
                    .bind(micros(Utc::now()))
                    .bind(current.id.to_string())
                    .bind(current.status.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?
                    .ok_or_else(|| StoreError::Database(format!("payment {} changed under a row lock", current.id)))?;
                let updated = rows::payment(&updated)?;
                outbox::emit(&mut tx, OutboxEvent::payment(&updated)).await?;
                if let Some(hold) = &settlement.escrow_hold {
                    crate::escrow::insert_hold(&mut tx, hold).await?;
                }
                if let Some(deposit) = &settlement.wallet_deposit {
                    crate::wallet::insert_wallet_transaction(&mut tx, deposit).await?;
                }
                // Last, so the balance rows stay locked for the shortest time.
                ledger::post_entries(&mut tx, self.known_accounts(), &settlement.entries).await?;
                EventOutcome::Applied(updated)
            }
            (Some(current), Some(Decision::Skip(reason))) => {
                if !insert_webhook_log(&mut tx, log, Some(current.id), Some(&reason)).await? {
                    return duplicate(tx).await;
                }
                EventOutcome::Skipped { payment: payment.clone(), reason }
            }
            _ => {
                let reason = match (session_id, payment_id) {
                    (None, None) => "event type is not handled".to_owned(),
                    _ => "no payment of this gateway matches the event".to_owned(),
                };
                if !insert_webhook_log(&mut tx, log, None, Some(&reason)).await? {
                    return duplicate(tx).await;
                }
                EventOutcome::Skipped { payment: None, reason }
            }
        };
        tx.commit().await.map_err(db)?;
        Ok(outcome)
    }

    async fn webhook_seen(&self, gateway_name: &str, event_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 AS seen FROM webhook_logs WHERE gateway_name = $1 AND event_id = $2")
            .bind(gateway_name)
            .bind(event_id)
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        Ok(row.is_some())
    }

    async fn record_webhook(&self, log: &WebhookLog, note: Option<&str>) -> Result<bool, StoreError> {
        let mut connection = self.pool().acquire().await.map_err(db)?;
        insert_webhook_log(&mut connection, log, None, note).await
    }

    async fn check_ledger(&self) -> Result<Vec<LedgerViolation>, StoreError> {
        ledger::check(self.pool()).await
    }

    async fn ledger_balance(&self, account_code: &str) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT balance FROM ledger_balances WHERE id = $1")
            .bind(account_code)
            .fetch_optional(self.pool())
            .await
            .map_err(db)?;
        row.map(|r| r.try_get("balance").map_err(db)).transpose().map(Option::unwrap_or_default)
    }
}

/// Inserts the payment; with `claim` (PostgreSQL only: a data-modifying `WITH`), only
/// if the claim of its key is new, in the same statement. False: the key was claimed.
async fn insert_payment(
    connection: &mut sqlx::AnyConnection,
    payment: &Payment,
    claim: Option<&IdempotencyClaim>,
) -> Result<bool, StoreError> {
    const VALUES: &str =
        "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23";
    let metadata = serde_json::to_string(&payment.metadata).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let sql = match claim {
        None => format!("INSERT INTO payments ({PAYMENT_COLUMNS}) VALUES ({VALUES})"),
        Some(_) => format!(
            "WITH claim AS ({} RETURNING 1) INSERT INTO payments ({PAYMENT_COLUMNS}) SELECT {VALUES} \
             WHERE EXISTS (SELECT 1 FROM claim)",
            idempotency::insert(24)
        ),
    };
    let id = payment.id.to_string();
    let mut query = sqlx::query(AssertSqlSafe(sql))
        .bind(&id)
        .bind(&payment.user_id)
        .bind(payment.amount.minor())
        .bind(payment.amount.currency().code())
        .bind(payment.payment_type.as_str())
        .bind(payment.status.as_str())
        .bind(&payment.gateway_name)
        .bind(payment.gateway_session_id.as_deref())
        .bind(payment.gateway_payment_intent_id.as_deref())
        .bind(payment.checkout_url.as_deref())
        .bind(&payment.success_url)
        .bind(&payment.cancel_url)
        .bind(payment.merchant_id.map(|m| m.to_string()))
        .bind(payment.buyer_id.as_deref())
        .bind(flag(payment.escrow.is_some()))
        .bind(payment.escrow.as_ref().map_or(0, |e| i64::from(e.hold_days)))
        .bind(payment.refunded_minor)
        .bind(payment.idempotency_key.as_deref())
        .bind(metadata)
        .bind(payment.failure_reason.as_deref())
        .bind(payment.paid_at.map(micros))
        .bind(micros(payment.created_at))
        .bind(micros(payment.updated_at));
    if let Some(claim) = claim {
        query = idempotency::bind(query, claim, &id);
    }
    Ok(query.execute(&mut *connection).await.map_err(db)?.rows_affected() == 1)
}

/// A duplicate event: nothing it did in `tx` stays.
async fn duplicate(tx: Transaction<'_, Any>) -> Result<EventOutcome, StoreError> {
    tx.rollback().await.map_err(db)?;
    Ok(EventOutcome::Duplicate)
}

/// Logs a handled event with its outcome (the payment it changed or names, the
/// reason it changed nothing); false when the (gateway, event id) was logged before.
async fn insert_webhook_log(
    connection: &mut sqlx::AnyConnection,
    log: &WebhookLog,
    payment_id: Option<Uuid>,
    error: Option<&str>,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO webhook_logs \
         (id, gateway_name, event_id, event_type, payload, signature_valid, processed, payment_id, error, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9) ON CONFLICT (gateway_name, event_id) DO NOTHING",
    )
    .bind(log.id.to_string())
    .bind(&log.gateway_name)
    .bind(&log.event_id)
    .bind(&log.event_type)
    .bind(&log.payload)
    .bind(flag(log.signature_valid))
    .bind(payment_id.map(|p| p.to_string()))
    .bind(error)
    .bind(micros(log.received_at))
    .execute(&mut *connection)
    .await
    .map_err(db)?
    .rows_affected();
    Ok(inserted == 1)
}
