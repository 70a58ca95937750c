//! The `Store` port: payments, idempotency keys and webhook logs. Every method that
//! writes more than one row does so in one transaction, begun and committed here.

use app::StoreError;
use app::ports::{CreatePaymentOutcome, EventOutcome, IdempotencyClaim, Page, PaymentEvent, PaymentStore, WebhookLog};
use chrono::Utc;
use domain::ledger::LedgerViolation;
use domain::payment::Payment;
use sqlx::{AssertSqlSafe, Row};
use uuid::Uuid;

use crate::rows::{AnyQuery, PAYMENT_COLUMNS, by_id, flag, micros, paged};
use crate::{Dialect, SqlStore, db, idempotency, ledger, payment_events, rows};

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
        let id = payment.id.to_string();
        if (claim.is_none() || self.dialect() == Dialect::Postgres)
            && insert_payment(payment, &id, claim)?.execute(self.pool()).await.map_err(db)?.rows_affected() == 1
        {
            return Ok(CreatePaymentOutcome::Created(payment.clone()));
        }
        let mut tx = self.begin().await?;
        if let Some(existing) = idempotency::claim_optional(&mut tx, claim, &id).await? {
            tx.rollback().await.map_err(db)?;
            let payment = match existing.resource_id.as_deref().map(Uuid::try_parse) {
                Some(Ok(id)) => self.payment(id).await?,
                _ => None,
            };
            return Ok(CreatePaymentOutcome::KeyExists { request_hash: existing.request_hash, method: existing.method, payment });
        }
        insert_payment(payment, &id, None)?.execute(&mut *tx).await.map_err(db)?;
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

    async fn apply_payment_events(&self, events: &[PaymentEvent]) -> Vec<Result<EventOutcome, StoreError>> {
        let together = self.apply_together(events).await;
        crate::alone_where_not_together(events, together, "payment events", |event| self.apply_alone(event)).await
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
        Ok(!payment_events::insert_webhook_logs(&mut connection, &[(log, None, note)]).await?.is_empty())
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

/// The payment's INSERT (`id` is its id); with `claim` (PostgreSQL only: a
/// data-modifying `WITH`), only if the claim of its key is new, in the same statement:
/// no row inserted means the key was claimed.
fn insert_payment<'q>(
    payment: &'q Payment,
    id: &'q str,
    claim: Option<&'q IdempotencyClaim>,
) -> Result<AnyQuery<'q>, StoreError> {
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
    let mut query = sqlx::query(AssertSqlSafe(sql))
        .bind(id)
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
        query = idempotency::bind(query, claim, id);
    }
    Ok(query)
}
