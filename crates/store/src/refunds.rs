//! `RefundStore`: refunds with the payment's refunded amount and the ledger, in one
//! transaction under the payment's row lock.

use app::StoreError;
use app::escrow_ports::{PlanRefund, RefundContext, RefundStore, UndoRefund};
use app::events_ports::OutboxEvent;
use app::marketplace_ports::Guarded;
use app::ports::IdempotencyClaim;
use chrono::{DateTime, Utc};
use domain::refunds::{Refund, RefundStatus};
use domain::{Currency, Money};
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Transaction};
use uuid::Uuid;

use crate::inserts::Inserts;
use crate::rows::{PAYMENT_COLUMNS, by_id, corrupt, due, get, micros, time, uuid};
use crate::transfers::post_or_refuse;
use crate::{SqlStore, db, idempotency, ledger, outbox, rows};

const COLUMNS: &str =
    "id, payment_id, amount, currency, status, gateway_refund_id, reason, idempotency_key, processed_at, created_at, updated_at";

fn refund(row: &AnyRow) -> Result<Refund, StoreError> {
    let currency = Currency::parse("currency", &get::<String>(row, "currency")?).map_err(corrupt)?;
    Ok(Refund {
        id: uuid(&get::<String>(row, "id")?)?,
        payment_id: uuid(&get::<String>(row, "payment_id")?)?,
        amount: Money::from_minor(get(row, "amount")?, currency),
        status: RefundStatus::from_str_opt(&get::<String>(row, "status")?).ok_or_else(|| corrupt("refund status"))?,
        gateway_refund_id: get(row, "gateway_refund_id")?,
        reason: get(row, "reason")?,
        idempotency_key: get(row, "idempotency_key")?,
        processed_at: get::<Option<i64>>(row, "processed_at")?.map(time).transpose()?,
        created_at: time(get(row, "created_at")?)?,
        updated_at: time(get(row, "updated_at")?)?,
    })
}

impl SqlStore {
    /// The payment (locked), its escrow hold and whether a dispute on it is open,
    /// read in `tx`.
    async fn refund_context(&self, tx: &mut Transaction<'_, Any>, payment_id: Uuid) -> Result<Option<RefundContext>, StoreError> {
        let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1{}", self.dialect().for_update());
        let Some(row) =
            sqlx::query(AssertSqlSafe(sql)).bind(payment_id.to_string()).fetch_optional(&mut **tx).await.map_err(db)?
        else {
            return Ok(None);
        };
        let hold = crate::escrow::hold_of_payment(tx, payment_id).await?;
        let (transferred_minor, fee) = crate::transfers::distributed(tx, payment_id).await?;
        // Under the payment's lock, which a dispute report takes first too.
        let disputed = crate::disputes::is_disputed(tx, payment_id).await?;
        let payment = rows::payment(&row)?;
        Ok(Some(RefundContext { payment, hold, fee_minor: fee.unwrap_or(0), transferred_minor, disputed }))
    }
}

#[async_trait::async_trait]
impl RefundStore for SqlStore {
    async fn create_refund(
        &self,
        claim: Option<&IdempotencyClaim>,
        payment_id: Uuid,
        plan: PlanRefund<'_>,
    ) -> Result<Guarded<Refund>, StoreError> {
        let mut tx = self.begin().await?;
        let Some(context) = self.refund_context(&mut tx, payment_id).await? else {
            return Ok(Guarded::Refused(format!("payment {payment_id} does not exist")));
        };
        let plan = match idempotency::claim_for_plan(&mut tx, claim, plan(&context), |p| p.refund.id.to_string()).await? {
            Ok(plan) => plan,
            Err(answer) => return Ok(answer),
        };
        let r = &plan.refund;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO refunds ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        )))
        .bind(r.id.to_string())
        .bind(r.payment_id.to_string())
        .bind(r.amount.minor())
        .bind(r.amount.currency().code())
        .bind(r.status.as_str())
        .bind(r.gateway_refund_id.as_deref())
        .bind(&r.reason)
        .bind(r.idempotency_key.as_deref())
        .bind(r.processed_at.map(micros))
        .bind(micros(r.created_at))
        .bind(micros(r.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let mut rows = Inserts::default();
        outbox::add_events(&mut rows, &[OutboxEvent::refund(r)]);
        sqlx::query("UPDATE payments SET refunded_amount = $1, status = $2, updated_at = $3 WHERE id = $4 AND status = $5")
            .bind(plan.payment.refunded_minor)
            .bind(plan.payment.status.as_str())
            .bind(micros(plan.payment.updated_at))
            .bind(payment_id.to_string())
            .bind(context.payment.status.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        if plan.payment.status != context.payment.status {
            outbox::add_events(&mut rows, OutboxEvent::payment(&plan.payment).as_slice());
        }
        crate::wallet::add_wallet_transactions(&mut rows, &plan.wallet_row.iter().collect::<Vec<_>>());
        if let Some(refusal) = post_or_refuse(&mut tx, self.known_accounts(), &plan.entries, rows).await? {
            return Ok(Guarded::Refused(refusal));
        }
        tx.commit().await.map_err(db)?;
        Ok(Guarded::Done(plan.refund))
    }

    async fn settle_refund(&self, refund: &Refund, undo: Option<UndoRefund<'_>>) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let settled = sqlx::query(
            // Pending settles either way; a succeeded refund can still fail later
            // (the bank returned it), never the other way round.
            "UPDATE refunds SET status = $1, gateway_refund_id = $2, processed_at = $3, updated_at = $4 \
             WHERE id = $5 AND (status = 'pending' OR (status = 'succeeded' AND $1 = 'failed'))",
        )
        .bind(refund.status.as_str())
        .bind(refund.gateway_refund_id.as_deref())
        .bind(refund.processed_at.map(micros))
        .bind(micros(refund.updated_at))
        .bind(refund.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if settled != 1 {
            return Ok(false);
        }
        outbox::emit(&mut tx, Some(OutboxEvent::refund(refund))).await?;
        if let Some(undo) = undo
            && let Some(context) = self.refund_context(&mut tx, refund.payment_id).await?
        {
            let entry = undo(&context).map_err(StoreError::Corrupt)?;
            ledger::post_entries(&mut tx, self.known_accounts(), std::slice::from_ref(&entry), Inserts::default()).await?;
            sqlx::query(
                "UPDATE payments SET refunded_amount = refunded_amount - $1, \
                 status = CASE WHEN status = 'refunded' THEN 'succeeded' ELSE status END, updated_at = $2 WHERE id = $3",
            )
            .bind(refund.amount.minor())
            .bind(micros(refund.updated_at))
            .bind(refund.payment_id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn stale_refunds(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<Refund>, StoreError> {
        due(self.reads(), ("refunds", COLUMNS), "status = 'pending'", "created_at", before, limit, refund).await
    }

    async fn refund(&self, id: Uuid) -> Result<Option<Refund>, StoreError> {
        by_id(self.reads(), "refunds", COLUMNS, id, refund).await
    }

    async fn payment_refunds(&self, payment_id: Uuid) -> Result<Vec<Refund>, StoreError> {
        let rows =
            sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM refunds WHERE payment_id = $1 ORDER BY created_at, id")))
                .bind(payment_id.to_string())
                .fetch_all(self.reads())
                .await
                .map_err(db)?;
        rows.iter().map(refund).collect()
    }
}
