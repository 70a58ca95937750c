//! The `Store` port: payments, idempotency keys and webhook logs. Every method that
//! writes more than one row does so in one transaction, begun and committed here.

use app::StoreError;
use app::ports::{
    CreatePaymentOutcome, EventOutcome, NewPayment, Page, PaymentEvent, PaymentStore, SessionAttachment, WebhookLog,
};
use domain::ledger::LedgerViolation;
use domain::payment::Payment;
use sqlx::{AssertSqlSafe, Row};
use uuid::Uuid;

use crate::held_reads::Kept;
use crate::rows::{PAYMENT_COLUMNS, by_id, by_ids, paged};
use crate::{Dialect, SqlStore, db, ledger, payment_events, rows};

type Found = std::collections::HashMap<Uuid, Result<Payment, StoreError>>;

impl SqlStore {
    /// The payments of `ids`: on PostgreSQL on the kept reading connection when there
    /// is one (`held_reads`), else on one from the pool, kept after its read.
    async fn payments_by_ids(&self, ids: &[Uuid]) -> Result<Found, StoreError> {
        if self.dialect() != Dialect::Postgres {
            return read_payments(self.reads(), ids).await;
        }
        if let Some(mut kept) = self.held_reads().take() {
            // A kept connection that fails is dropped (the pool's ping closes it if
            // broken), and the batch read again on one from the pool.
            if let Ok(found) = read_payments(kept.connection(), ids).await {
                self.held_reads().keep(kept);
                return Ok(found);
            }
        }
        let mut fresh = Kept::from_pool(self.reads().acquire().await.map_err(db)?);
        let found = read_payments(fresh.connection(), ids).await?;
        self.held_reads().keep(fresh);
        Ok(found)
    }
}

async fn read_payments<'c>(executor: impl sqlx::Executor<'c, Database = sqlx::Any>, ids: &[Uuid]) -> Result<Found, StoreError> {
    by_ids(executor, "payments", PAYMENT_COLUMNS, ids, rows::payment).await
}

#[async_trait::async_trait]
impl PaymentStore for SqlStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.pool()).await.map(|_| ()).map_err(db)
    }

    async fn create_payments(&self, payments: &[NewPayment]) -> Vec<Result<CreatePaymentOutcome, StoreError>> {
        let together = |payments| self.create_payments_together(payments);
        crate::together_or_alone(payments, "payments", together, |new| self.create_payment_alone(new)).await
    }

    async fn attach_checkout_sessions(&self, sessions: &[SessionAttachment]) -> Vec<Result<Payment, StoreError>> {
        let together = |sessions| self.attach_sessions_together(sessions);
        crate::together_or_alone(sessions, "checkout sessions", together, |session| self.attach_session_alone(session)).await
    }

    async fn payment(&self, payment_id: Uuid) -> Result<Option<Payment>, StoreError> {
        by_id(self.reads(), "payments", PAYMENT_COLUMNS, payment_id, rows::payment).await
    }

    async fn payments(&self, payment_ids: &[Uuid]) -> Vec<Result<Option<Payment>, StoreError>> {
        match self.payments_by_ids(payment_ids).await {
            Ok(found) => payment_ids.iter().map(|id| found.get(id).cloned().transpose()).collect(),
            Err(error) => payment_ids.iter().map(|_| Err(error.clone())).collect(),
        }
    }

    async fn payment_by_session(&self, gateway_name: &str, session_id: &str) -> Result<Option<Payment>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {PAYMENT_COLUMNS} FROM payments WHERE gateway_name = $1 AND gateway_session_id = $2"
        )))
        .bind(gateway_name)
        .bind(session_id)
        .fetch_optional(self.reads())
        .await
        .map_err(db)?;
        row.as_ref().map(rows::payment).transpose()
    }

    async fn user_payments(&self, user_id: &str, page: Page) -> Result<(Vec<Payment>, i64), StoreError> {
        let user_id = user_id.to_owned();
        paged(
            self.reads(),
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
        let together = |events| self.apply_together(events);
        crate::together_or_alone(events, "payment events", together, |event| self.apply_alone(event)).await
    }

    async fn webhook_seen(&self, gateway_name: &str, event_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 AS seen FROM webhook_logs WHERE gateway_name = $1 AND event_id = $2")
            .bind(gateway_name)
            .bind(event_id)
            .fetch_optional(self.reads())
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
            .fetch_optional(self.reads())
            .await
            .map_err(db)?;
        row.map(|r| r.try_get("balance").map_err(db)).transpose().map(Option::unwrap_or_default)
    }
}
