//! `DisputeStore`: disputes, and a report's write (the dispute, its events to the
//! platform, the hold a lost one ends and its entries) in one transaction under the
//! payment's and hold's locks.

use app::StoreError;
use app::dispute_ports::{DisputeContext, DisputePlan, DisputeStore, PlanDispute};
use app::events_ports::OutboxEvent;
use app::marketplace_ports::Guarded;
use app::ports::{IdempotencyClaim, Page};
use domain::disputes::{ClosedByHand, Dispute, DisputeStatus};
use domain::escrow::EscrowStatus;
use domain::payment::Payment;
use domain::{Currency, Money};
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Transaction};
use uuid::Uuid;

use crate::inserts::Inserts;
use crate::rows::{PAYMENT_COLUMNS, by_id, corrupt, get, micros, paged, time, uuid};
use crate::transfers::post_or_refuse;
use crate::{SqlStore, db, idempotency, outbox, rows};

const COLUMNS: &str = "id, payment_id, gateway_name, gateway_dispute_id, amount, fee, currency, reason, status, closed_at, \
    closed_by, close_reason, created_at, updated_at";

/// The statuses of an open dispute, as SQL.
pub(crate) const OPEN: &str = "status IN ('needs_response', 'under_review')";

fn dispute(row: &AnyRow) -> Result<Dispute, StoreError> {
    let currency = Currency::parse("currency", &get::<String>(row, "currency")?).map_err(corrupt)?;
    Ok(Dispute {
        id: uuid(&get::<String>(row, "id")?)?,
        payment_id: uuid(&get::<String>(row, "payment_id")?)?,
        gateway_name: get(row, "gateway_name")?,
        gateway_dispute_id: get(row, "gateway_dispute_id")?,
        amount: Money::from_minor(get(row, "amount")?, currency),
        fee: Money::from_minor(get(row, "fee")?, currency),
        reason: get(row, "reason")?,
        status: DisputeStatus::from_str_opt(&get::<String>(row, "status")?).ok_or_else(|| corrupt("dispute status"))?,
        closed_at: get::<Option<i64>>(row, "closed_at")?.map(time).transpose()?,
        closed_by_hand: match get::<Option<String>>(row, "closed_by")? {
            Some(operator) => Some(ClosedByHand { operator, reason: get(row, "close_reason")? }),
            None => None,
        },
        created_at: time(get(row, "created_at")?)?,
        updated_at: time(get(row, "updated_at")?)?,
    })
}

/// Whether a dispute on the payment is open, read in the caller's transaction.
pub(crate) async fn is_disputed(tx: &mut Transaction<'_, Any>, payment_id: Uuid) -> Result<bool, StoreError> {
    let sql = format!("SELECT id FROM disputes WHERE payment_id = $1 AND {OPEN}");
    let row = sqlx::query(AssertSqlSafe(sql)).bind(payment_id.to_string()).fetch_optional(&mut **tx).await.map_err(db)?;
    Ok(row.is_some())
}

async fn insert_dispute(tx: &mut Transaction<'_, Any>, d: &Dispute) -> Result<(), StoreError> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO disputes ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    )))
    .bind(d.id.to_string())
    .bind(d.payment_id.to_string())
    .bind(d.gateway_name.as_str())
    .bind(d.gateway_dispute_id.as_str())
    .bind(d.amount.minor())
    .bind(d.fee.minor())
    .bind(d.amount.currency().code())
    .bind(d.reason.as_str())
    .bind(d.status.as_str())
    .bind(d.closed_at.map(micros))
    .bind(d.closed_by_hand.as_ref().map(|c| c.operator.as_str()))
    .bind(d.closed_by_hand.as_ref().map_or("", |c| c.reason.as_str()))
    .bind(micros(d.created_at))
    .bind(micros(d.updated_at))
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// Moves a dispute from the status it was read in; false when another report did first.
async fn update_dispute(tx: &mut Transaction<'_, Any>, d: &Dispute, from: DisputeStatus) -> Result<bool, StoreError> {
    let updated = sqlx::query(
        "UPDATE disputes SET status = $1, amount = $2, fee = $3, closed_at = $4, closed_by = $5, close_reason = $6, \
         updated_at = $7 WHERE id = $8 AND status = $9",
    )
    .bind(d.status.as_str())
    .bind(d.amount.minor())
    .bind(d.fee.minor())
    .bind(d.closed_at.map(micros))
    .bind(d.closed_by_hand.as_ref().map(|c| c.operator.as_str()))
    .bind(d.closed_by_hand.as_ref().map_or("", |c| c.reason.as_str()))
    .bind(micros(d.updated_at))
    .bind(d.id.to_string())
    .bind(from.as_str())
    .execute(&mut **tx)
    .await
    .map_err(db)?
    .rows_affected();
    Ok(updated == 1)
}

impl SqlStore {
    /// The payment (locked), its hold (locked), the dispute and where the money went.
    async fn dispute_context(
        &self,
        tx: &mut Transaction<'_, Any>,
        (gateway_name, gateway_dispute_id): (&str, &str),
        payment_id: Uuid,
    ) -> Result<Option<DisputeContext>, StoreError> {
        let lock = self.dialect().for_update();
        let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1{lock}");
        let Some(row) =
            sqlx::query(AssertSqlSafe(sql)).bind(payment_id.to_string()).fetch_optional(&mut **tx).await.map_err(db)?
        else {
            return Ok(None);
        };
        let hold = crate::escrow::hold_of_payment_locked(tx, payment_id, lock).await?;
        let existing = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM disputes WHERE gateway_name = $1 AND gateway_dispute_id = $2"
        )))
        .bind(gateway_name)
        .bind(gateway_dispute_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
        let (transferred_minor, fee) = crate::transfers::distributed(tx, payment_id).await?;
        let vendor = sqlx::query(
            "SELECT connected_account_id FROM transfers WHERE payment_id = $1 AND status <> 'failed' \
             GROUP BY connected_account_id ORDER BY SUM(amount - reversed_amount) DESC, connected_account_id LIMIT 1",
        )
        .bind(payment_id.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
        Ok(Some(DisputeContext {
            payment: rows::payment(&row)?,
            existing: existing.as_ref().map(dispute).transpose()?,
            hold,
            fee_minor: fee.unwrap_or(0),
            transferred_minor,
            vendor_account_id: vendor.map(|row| uuid(&get::<String>(&row, "connected_account_id")?)).transpose()?,
        }))
    }
}

#[async_trait::async_trait]
impl DisputeStore for SqlStore {
    async fn dispute(&self, id: Uuid) -> Result<Option<Dispute>, StoreError> {
        by_id(self.reads(), "disputes", COLUMNS, id, dispute).await
    }

    async fn disputes(
        &self,
        payment_id: Option<Uuid>,
        status: Option<DisputeStatus>,
        page: Page,
    ) -> Result<(Vec<Dispute>, i64), StoreError> {
        let payment_id = payment_id.map(|id| id.to_string());
        let status = status.map(|s| s.as_str().to_owned());
        let filter = "($1 IS NULL OR payment_id = $1) AND ($2 IS NULL OR status = $2)";
        let order = "created_at DESC, id DESC";
        paged(
            self.reads(),
            "disputes",
            COLUMNS,
            filter,
            order,
            2,
            |q| q.bind(payment_id.clone()).bind(status.clone()),
            page,
            dispute,
        )
        .await
    }

    async fn record_dispute(
        &self,
        claim: Option<&IdempotencyClaim>,
        (gateway_name, gateway_dispute_id): (&str, &str),
        payment_id: Uuid,
        plan: PlanDispute<'_>,
    ) -> Result<Guarded<DisputePlan>, StoreError> {
        let mut tx = self.begin().await?;
        let Some(context) = self.dispute_context(&mut tx, (gateway_name, gateway_dispute_id), payment_id).await? else {
            return Ok(Guarded::Refused(format!("payment {payment_id} does not exist")));
        };
        let plan = match idempotency::claim_for_plan(&mut tx, claim, plan(&context), |p| p.dispute.id.to_string()).await? {
            Ok(plan) => plan,
            Err(answer) => return Ok(answer),
        };
        match &context.existing {
            None => insert_dispute(&mut tx, &plan.dispute).await?,
            Some(existing) => {
                if !update_dispute(&mut tx, &plan.dispute, existing.status).await? {
                    return Ok(Guarded::Refused(format!("dispute {} changed meanwhile", existing.id)));
                }
            }
        }
        let mut rows = Inserts::default();
        outbox::add_events(&mut rows, &OutboxEvent::dispute(&plan.dispute, context.existing.as_ref().map(|d| d.status)));
        // A new open dispute freezes a hold still holding (see `is_disputed`).
        if context.existing.is_none()
            && plan.dispute.status.is_open()
            && let Some(hold) = context.hold.as_ref().filter(|h| h.status == EscrowStatus::Holding)
        {
            outbox::add_events(&mut rows, &[OutboxEvent::escrow_frozen(hold)]);
        }
        if let Some(hold) = &plan.hold
            && !crate::escrow::end_hold(&mut tx, hold).await?
        {
            return Ok(Guarded::Refused("escrow hold was already released or cancelled".into()));
        }
        if let Some(hold) = &plan.hold {
            outbox::add_events(&mut rows, &[OutboxEvent::escrow(hold)]);
        }
        if let Some(refusal) = post_or_refuse(&mut tx, self.known_accounts(), &plan.entries, rows).await? {
            return Ok(Guarded::Refused(refusal));
        }
        tx.commit().await.map_err(db)?;
        Ok(Guarded::Done(plan))
    }

    async fn payment_by_gateway_transaction(
        &self,
        gateway_name: &str,
        gateway_transaction_id: &str,
    ) -> Result<Option<Payment>, StoreError> {
        let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE gateway_name = $1 AND gateway_payment_intent_id = $2");
        let row = sqlx::query(AssertSqlSafe(sql))
            .bind(gateway_name)
            .bind(gateway_transaction_id)
            .fetch_optional(self.reads())
            .await
            .map_err(db)?;
        row.as_ref().map(rows::payment).transpose()
    }
}
