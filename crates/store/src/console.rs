//! `ConsoleStore`: the operator console's reads. A filter left empty binds NULL
//! and matches every row, so one query serves every combination.

use app::StoreError;
use app::console_ports::{ConsoleStore, LedgerLine, PaymentFilter, WebhookEvent};
use app::ports::Page;
use domain::payment::Payment;
use domain::{Currency, Money};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::rows::{PAYMENT_COLUMNS, corrupt, get, micros, paged, time, uuid};
use crate::{SqlStore, db, rows};

const PAYMENT_FILTER: &str = "($1 IS NULL OR status = $1) AND ($2 IS NULL OR user_id = $2) \
    AND ($3 IS NULL OR gateway_name = $3) AND ($4 IS NULL OR created_at >= $4) AND ($5 IS NULL OR created_at < $5)";

/// The objects whose entries belong to a payment: itself, its refunds, its hold
/// and its transfers.
const PAYMENT_OBJECTS: &str = "e.object_id = $1 OR e.object_id IN (SELECT id FROM refunds WHERE payment_id = $1) \
    OR e.object_id IN (SELECT id FROM escrow_holds WHERE payment_id = $1) \
    OR e.object_id IN (SELECT id FROM transfers WHERE payment_id = $1) \
    OR e.object_id IN (SELECT id FROM disputes WHERE payment_id = $1)";

const WEBHOOK_COLUMNS: &str = "gateway_name, event_id, event_type, signature_valid, processed, error, payment_id, received_at";

fn ledger_line(row: &AnyRow) -> Result<LedgerLine, StoreError> {
    let currency = Currency::parse("currency", &get::<String>(row, "currency")?).map_err(corrupt)?;
    Ok(LedgerLine {
        entry_kind: get(row, "kind")?,
        object_id: get(row, "object_id")?,
        account: get(row, "account_id")?,
        amount: Money::from_minor(get(row, "amount")?, currency),
        created_at: time(get(row, "created_at")?)?,
    })
}

fn webhook_event(row: &AnyRow) -> Result<WebhookEvent, StoreError> {
    Ok(WebhookEvent {
        gateway_name: get(row, "gateway_name")?,
        event_id: get(row, "event_id")?,
        event_type: get(row, "event_type")?,
        signature_valid: get::<i64>(row, "signature_valid")? == 1,
        processed: get::<i64>(row, "processed")? == 1,
        error: get(row, "error")?,
        payment_id: get::<Option<String>>(row, "payment_id")?.as_deref().map(uuid).transpose()?,
        received_at: time(get(row, "received_at")?)?,
    })
}

#[async_trait::async_trait]
impl ConsoleStore for SqlStore {
    async fn filtered_payments(&self, filter: &PaymentFilter, page: Page) -> Result<(Vec<Payment>, i64), StoreError> {
        let status = filter.status.map(|s| s.as_str().to_owned());
        let (from, until) = (filter.from.map(micros), filter.until.map(micros));
        paged(
            self.reads(),
            "payments",
            PAYMENT_COLUMNS,
            PAYMENT_FILTER,
            "created_at DESC, id DESC",
            5,
            |q| q.bind(status.clone()).bind(filter.user_id.clone()).bind(filter.gateway_name.clone()).bind(from).bind(until),
            page,
            rows::payment,
        )
        .await
    }

    async fn payment_ledger(&self, payment_id: Uuid) -> Result<Vec<LedgerLine>, StoreError> {
        let sql = format!(
            "SELECT e.kind, e.object_id, e.created_at, p.account_id, p.amount, p.currency \
             FROM journal_entries e JOIN postings p ON p.entry_id = e.id WHERE {PAYMENT_OBJECTS} \
             ORDER BY e.created_at, e.id, p.amount"
        );
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(payment_id.to_string()).fetch_all(self.reads()).await.map_err(db)?;
        rows.iter().map(ledger_line).collect()
    }

    async fn payment_webhooks(&self, payment_id: Uuid) -> Result<Vec<WebhookEvent>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {WEBHOOK_COLUMNS} FROM webhook_logs WHERE payment_id = $1 ORDER BY received_at, id"
        )))
        .bind(payment_id.to_string())
        .fetch_all(self.reads())
        .await
        .map_err(db)?;
        rows.iter().map(webhook_event).collect()
    }

    async fn webhook_log(&self, page: Page) -> Result<(Vec<WebhookEvent>, i64), StoreError> {
        paged(self.reads(), "webhook_logs", WEBHOOK_COLUMNS, "1 = 1", "received_at DESC, id DESC", 0, |q| q, page, webhook_event)
            .await
    }
}
