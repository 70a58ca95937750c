//! `PayoutStore`: payouts and their state changes with ledger entries.

use app::StoreError;
use app::events_ports::OutboxEvent;
use app::marketplace_ports::{DecidePayout, Guarded, PayoutStore};
use app::ports::{IdempotencyClaim, Page};
use chrono::{DateTime, Utc};
use domain::ledger::JournalEntry;
use domain::payouts::{Payout, PayoutMethod, PayoutStatus};
use domain::{Currency, Money};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::inserts::Inserts;
use crate::rows::{by_id, corrupt, due, get, micros, paged, time, uuid};
use crate::transfers::post_or_refuse;
use crate::{SqlStore, db, idempotency, outbox};

const COLUMNS: &str = "id, connected_account_id, amount, fee_amount, currency, method, status, destination_type, destination_id, \
    arrival_date, failure_code, failure_message, description, statement_descriptor, gateway_payout_id, idempotency_key, metadata, \
    paid_at, failed_at, canceled_at, created_at, updated_at, gateway_account_id";

fn payout(row: &AnyRow) -> Result<Payout, StoreError> {
    let currency = Currency::parse("currency", &get::<String>(row, "currency")?).map_err(corrupt)?;
    let optional_time = |column: &str| get::<Option<i64>>(row, column)?.map(time).transpose();
    Ok(Payout {
        id: uuid(&get::<String>(row, "id")?)?,
        connected_account_id: uuid(&get::<String>(row, "connected_account_id")?)?,
        gateway_account_id: get::<Option<String>>(row, "gateway_account_id")?.unwrap_or_default(),
        amount: Money::from_minor(get(row, "amount")?, currency),
        fee: Money::from_minor(get(row, "fee_amount")?, currency),
        method: PayoutMethod::from_str_opt(&get::<String>(row, "method")?).ok_or_else(|| corrupt("payout method"))?,
        status: PayoutStatus::from_str_opt(&get::<String>(row, "status")?).ok_or_else(|| corrupt("payout status"))?,
        destination_type: get(row, "destination_type")?,
        destination_id: get(row, "destination_id")?,
        arrival_date: time(get(row, "arrival_date")?)?,
        failure_code: get(row, "failure_code")?,
        failure_message: get(row, "failure_message")?,
        description: get(row, "description")?,
        statement_descriptor: get(row, "statement_descriptor")?,
        gateway_payout_id: get(row, "gateway_payout_id")?,
        idempotency_key: get(row, "idempotency_key")?,
        metadata: serde_json::from_str(&get::<String>(row, "metadata")?).map_err(corrupt)?,
        paid_at: optional_time("paid_at")?,
        failed_at: optional_time("failed_at")?,
        canceled_at: optional_time("canceled_at")?,
        created_at: time(get(row, "created_at")?)?,
        updated_at: time(get(row, "updated_at")?)?,
    })
}

#[async_trait::async_trait]
impl PayoutStore for SqlStore {
    async fn create_payout(
        &self,
        claim: Option<&IdempotencyClaim>,
        p: &Payout,
        entries: &[JournalEntry],
    ) -> Result<Guarded<Payout>, StoreError> {
        let mut tx = self.begin().await?;
        if let Some(existing) = idempotency::claim_optional(&mut tx, claim, &p.id.to_string()).await? {
            tx.rollback().await.map_err(db)?;
            return Ok(existing.into_guarded());
        }
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO payouts ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)"
        )))
        .bind(p.id.to_string())
        .bind(p.connected_account_id.to_string())
        .bind(p.amount.minor())
        .bind(p.fee.minor())
        .bind(p.amount.currency().code())
        .bind(p.method.as_str())
        .bind(p.status.as_str())
        .bind(&p.destination_type)
        .bind(&p.destination_id)
        .bind(micros(p.arrival_date))
        .bind(p.failure_code.as_deref())
        .bind(p.failure_message.as_deref())
        .bind(&p.description)
        .bind(&p.statement_descriptor)
        .bind(p.gateway_payout_id.as_deref())
        .bind(p.idempotency_key.as_deref())
        .bind(serde_json::to_string(&p.metadata).map_err(corrupt)?)
        .bind(p.paid_at.map(micros))
        .bind(p.failed_at.map(micros))
        .bind(p.canceled_at.map(micros))
        .bind(micros(p.created_at))
        .bind(micros(p.updated_at))
        .bind(&p.gateway_account_id)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        if let Some(refusal) = post_or_refuse(&mut tx, self.known_accounts(), entries, Inserts::default()).await? {
            tx.rollback().await.map_err(db)?;
            return Ok(Guarded::Refused(
                refusal.replace("does not hold enough for this movement", "holds less than amount + fee"),
            ));
        }
        tx.commit().await.map_err(db)?;
        Ok(Guarded::Done(p.clone()))
    }

    async fn payout(&self, id: Uuid) -> Result<Option<Payout>, StoreError> {
        by_id(self.reads(), "payouts", COLUMNS, id, payout).await
    }

    async fn payouts(
        &self,
        account: Option<Uuid>,
        status: Option<PayoutStatus>,
        page: Page,
    ) -> Result<(Vec<Payout>, i64), StoreError> {
        let filter = "($1 IS NULL OR connected_account_id = $1) AND ($2 IS NULL OR status = $2)";
        let (account, status) = (account.map(|a| a.to_string()), status.map(|s| s.as_str().to_owned()));
        paged(
            self.reads(),
            "payouts",
            COLUMNS,
            filter,
            "created_at DESC, id DESC",
            2,
            |q| q.bind(account.clone()).bind(status.clone()),
            page,
            payout,
        )
        .await
    }

    async fn change_payout(&self, id: Uuid, decide: DecidePayout<'_>) -> Result<Guarded<Payout>, StoreError> {
        let mut tx = self.begin().await?;
        let sql = format!("SELECT {COLUMNS} FROM payouts WHERE id = $1{}", self.dialect().for_update());
        let Some(row) = sqlx::query(AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(&mut *tx).await.map_err(db)? else {
            return Ok(Guarded::Refused(format!("payout {id} does not exist")));
        };
        let current = payout(&row)?;
        let change = match decide(&current) {
            Ok(change) => change,
            Err(reason) => return Ok(Guarded::Refused(reason)),
        };
        let p = &change.payout;
        sqlx::query(
            "UPDATE payouts SET status = $1, failure_code = $2, failure_message = $3, gateway_payout_id = $4, paid_at = $5, \
             failed_at = $6, canceled_at = $7, updated_at = $8 WHERE id = $9 AND status = $10",
        )
        .bind(p.status.as_str())
        .bind(p.failure_code.as_deref())
        .bind(p.failure_message.as_deref())
        .bind(p.gateway_payout_id.as_deref())
        .bind(p.paid_at.map(micros))
        .bind(p.failed_at.map(micros))
        .bind(p.canceled_at.map(micros))
        .bind(micros(p.updated_at))
        .bind(p.id.to_string())
        .bind(current.status.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        let mut event = Inserts::default();
        if p.status != current.status {
            outbox::add_events(&mut event, OutboxEvent::payout(p).as_slice());
        }
        if let Some(refusal) = post_or_refuse(&mut tx, self.known_accounts(), &change.entries, event).await? {
            tx.rollback().await.map_err(db)?;
            return Ok(Guarded::Refused(refusal));
        }
        tx.commit().await.map_err(db)?;
        Ok(Guarded::Done(change.payout))
    }

    async fn unsent_payouts(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<Payout>, StoreError> {
        let unsent = "status = 'pending' AND gateway_payout_id IS NULL";
        due(self.reads(), ("payouts", COLUMNS), unsent, "created_at", before, limit, payout).await
    }

    async fn open_payouts(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<Payout>, StoreError> {
        due(self.reads(), ("payouts", COLUMNS), "status IN ('pending', 'in_transit')", "updated_at", before, limit, payout).await
    }
}
