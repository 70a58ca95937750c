//! `EscrowStore`: holds, their release (with the split, transfer and entries) and cancel.

use std::collections::HashMap;

use app::StoreError;
use app::escrow_ports::{EscrowStore, PlanRelease, ReleaseContext, ReleasePlan};
use app::events_ports::OutboxEvent;
use app::marketplace_ports::{AccountStore, Guarded, SplitStore};
use app::ports::{Page, PaymentStore};
use chrono::{DateTime, Utc};
use domain::accounts::ConnectedAccount;
use domain::escrow::{EscrowHold, EscrowStatus};
use domain::fees::SplitRule;
use domain::{Currency, Money};
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Transaction};
use uuid::Uuid;

use crate::inserts::Inserts;
use crate::rows::{PAYMENT_COLUMNS, by_id, corrupt, get, micros, paged, placeholders, time, uuid};
use crate::transfers::{add_splits, add_transfers, post_or_refuse};
use crate::{Dialect, SqlStore, db, outbox, rows};

const COLUMNS: &str = "id, payment_id, merchant_id, amount, currency, status, hold_until, released_at, cancelled_at, \
    cancellation_reason, created_at, updated_at";

/// What a release reads before its transaction: the merchant's account, its fee
/// rules and what it owes the platform.
type ReleaseInputs = (Option<ConnectedAccount>, Vec<SplitRule>, i64);

fn hold(row: &AnyRow) -> Result<EscrowHold, StoreError> {
    let currency = Currency::parse("currency", &get::<String>(row, "currency")?).map_err(corrupt)?;
    let optional_time = |column: &str| get::<Option<i64>>(row, column)?.map(time).transpose();
    Ok(EscrowHold {
        id: uuid(&get::<String>(row, "id")?)?,
        payment_id: uuid(&get::<String>(row, "payment_id")?)?,
        merchant_id: uuid(&get::<String>(row, "merchant_id")?)?,
        amount: Money::from_minor(get(row, "amount")?, currency),
        status: EscrowStatus::from_str_opt(&get::<String>(row, "status")?).ok_or_else(|| corrupt("escrow status"))?,
        hold_until: time(get(row, "hold_until")?)?,
        released_at: optional_time("released_at")?,
        cancelled_at: optional_time("cancelled_at")?,
        cancellation_reason: get(row, "cancellation_reason")?,
        created_at: time(get(row, "created_at")?)?,
        updated_at: time(get(row, "updated_at")?)?,
    })
}

/// Adds the holds and their events.
pub(crate) fn add_holds(inserts: &mut Inserts, holds: &[&EscrowHold]) {
    inserts.add_rows(&format!("escrow_holds ({COLUMNS})"), 12, holds, |row, h| {
        row.bind(h.id.to_string())
            .bind(h.payment_id.to_string())
            .bind(h.merchant_id.to_string())
            .bind(h.amount.minor())
            .bind(h.amount.currency().code())
            .bind(h.status.as_str())
            .bind(micros(h.hold_until))
            .bind(h.released_at.map(micros))
            .bind(h.cancelled_at.map(micros))
            .bind(h.cancellation_reason.as_deref())
            .bind(micros(h.created_at))
            .bind(micros(h.updated_at));
    });
    outbox::add_events(inserts, &holds.iter().map(|h| OutboxEvent::escrow(h)).collect::<Vec<_>>());
}

/// The hold of a payment, read in the caller's transaction.
pub(crate) async fn hold_of_payment(tx: &mut Transaction<'_, Any>, payment_id: Uuid) -> Result<Option<EscrowHold>, StoreError> {
    hold_of_payment_locked(tx, payment_id, "").await
}

/// The hold of a payment with a row lock (`lock` is the dialect's `FOR UPDATE`).
pub(crate) async fn hold_of_payment_locked(
    tx: &mut Transaction<'_, Any>,
    payment_id: Uuid,
    lock: &str,
) -> Result<Option<EscrowHold>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM escrow_holds WHERE payment_id = $1{lock}")))
        .bind(payment_id.to_string())
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    row.as_ref().map(hold).transpose()
}

/// Moves a hold out of `holding`; false when someone else got there first. The
/// caller writes the hold's event (`OutboxEvent::escrow`) when true: a batch adds
/// its holds' events together (`releases`).
///
/// The status is compared as `status || ''`, an expression the partial index of
/// holding holds cannot serve, so the row is found by its id alone. With `status =
/// 'holding'`, a plan made while statistics counted no holding hold (analyzed after
/// a release, before new holds fell due) scanned that whole index for every hold:
/// 10,000 holds released at 1,440/s instead of 2,890/s.
pub(crate) async fn end_hold(tx: &mut Transaction<'_, Any>, h: &EscrowHold) -> Result<bool, StoreError> {
    let updated = sqlx::query(
        "UPDATE escrow_holds SET status = $1, released_at = $2, cancelled_at = $3, cancellation_reason = $4, updated_at = $5 \
         WHERE id = $6 AND status || '' = 'holding'",
    )
    .bind(h.status.as_str())
    .bind(h.released_at.map(micros))
    .bind(h.cancelled_at.map(micros))
    .bind(h.cancellation_reason.as_deref())
    .bind(micros(h.updated_at))
    .bind(h.id.to_string())
    .execute(&mut **tx)
    .await
    .map_err(db)?
    .rows_affected();
    Ok(updated == 1)
}

impl SqlStore {
    /// Locks the hold (skipping one another transaction holds, when `skip_locked`).
    async fn locked_hold(
        &self,
        tx: &mut Transaction<'_, Any>,
        id: Uuid,
        skip_locked: bool,
    ) -> Result<Option<EscrowHold>, StoreError> {
        let lock = match (self.dialect(), skip_locked) {
            (Dialect::Postgres, true) => " FOR UPDATE SKIP LOCKED",
            (Dialect::Postgres, false) => " FOR UPDATE",
            (Dialect::Sqlite, _) => "",
        };
        let sql = format!("SELECT {COLUMNS} FROM escrow_holds WHERE id = $1{lock}");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(&mut **tx).await.map_err(db)?;
        row.as_ref().map(hold).transpose()
    }

    /// Releases one expired hold unless another replica holds or ended it.
    async fn release_one_expired(&self, id: Uuid, plan: PlanRelease<'_>) -> Result<Option<ReleasePlan>, StoreError> {
        let Some(inputs) = self.release_inputs(id).await? else { return Ok(None) };
        let mut tx = self.begin().await?;
        // Locked by another replica right now, or already ended: not ours.
        let Some(current) = self.locked_hold(&mut tx, id, true).await? else { return Ok(None) };
        if current.status != EscrowStatus::Holding {
            return Ok(None);
        }
        match self.release_locked(&mut tx, current, inputs, plan).await? {
            Guarded::Done(release) => {
                tx.commit().await.map_err(db)?;
                Ok(Some(release))
            }
            Guarded::Refused(reason) => {
                tracing::warn!(escrow_id = %id, reason, "expired escrow hold not released");
                Ok(None)
            }
            Guarded::KeyExists { .. } => Ok(None),
        }
    }

    /// The merchant's account and fee rules, read before the transaction: on SQLite the
    /// transaction holds the only writing connection, and these reads need no lock.
    async fn release_inputs(&self, id: Uuid) -> Result<Option<ReleaseInputs>, StoreError> {
        let Some(snapshot) = self.escrow(id).await? else { return Ok(None) };
        let owed = self.owed(snapshot.merchant_id, snapshot.amount.currency()).await?;
        Ok(Some((self.account(snapshot.merchant_id).await?, self.fee_rules(snapshot.merchant_id).await?, owed)))
    }

    /// What a merchant owes the platform in `currency` (its receivable, as a positive
    /// amount). Read outside the lock: two recoveries racing are stopped by the
    /// receivable's guard (it never goes above zero), which rolls one back.
    async fn owed(&self, merchant: Uuid, currency: Currency) -> Result<i64, StoreError> {
        let receivable = domain::transfers::receivable(merchant, currency);
        Ok(-self.ledger_balance(&receivable.code()).await?.min(0))
    }

    /// Releases a locked hold inside `tx`: the plan's hold, split, transfer and entries.
    async fn release_locked(
        &self,
        tx: &mut Transaction<'_, Any>,
        current: EscrowHold,
        inputs: ReleaseInputs,
        plan: PlanRelease<'_>,
    ) -> Result<Guarded<ReleasePlan>, StoreError> {
        let plan = match write_release(tx, current, inputs, plan).await? {
            Ok(plan) => plan,
            Err(reason) => return Ok(Guarded::Refused(reason)),
        };
        if let Some(refusal) = post_or_refuse(tx, self.known_accounts(), &plan.entries, releases(&[&plan])?).await? {
            return Ok(Guarded::Refused(refusal));
        }
        Ok(Guarded::Done(plan))
    }

    /// The merchants' accounts, fee rules and debts of the holds `ids`, per merchant
    /// and currency, read before the batch's transaction (on SQLite it holds the only
    /// writing connection). Two holds of one indebted merchant both plan to recover the whole
    /// debt; the receivable's guard then refuses the batch, and the holds are released
    /// one per transaction, each reading the debt anew.
    async fn batch_inputs(&self, ids: &[String]) -> Result<HashMap<(Uuid, Currency), ReleaseInputs>, StoreError> {
        let sql = format!("SELECT DISTINCT merchant_id, currency FROM escrow_holds WHERE id IN ({})", placeholders(ids.len()));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id.as_str());
        }
        let mut inputs = HashMap::new();
        for row in query.fetch_all(self.reads()).await.map_err(db)? {
            let merchant = uuid(&get::<String>(&row, "merchant_id")?)?;
            let currency = Currency::parse("currency", &get::<String>(&row, "currency")?).map_err(corrupt)?;
            let owed = self.owed(merchant, currency).await?;
            inputs.insert((merchant, currency), (self.account(merchant).await?, self.fee_rules(merchant).await?, owed));
        }
        Ok(inputs)
    }

    /// One transaction for the batch; `None` when the ledger refused its entries
    /// together (nothing of the batch was written).
    async fn release_batch(&self, ids: &[String], plan: PlanRelease<'_>) -> Result<Option<Vec<ReleasePlan>>, StoreError> {
        let inputs = self.batch_inputs(ids).await?;
        let lock = match self.dialect() {
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            Dialect::Sqlite => "",
        };
        let mut tx = self.begin().await?;
        // Locked by another batch or replica right now, or already ended: not ours.
        // The status is checked on the locked row, not in the WHERE: there, a planner
        // without statistics (a new table, autovacuum off) read the whole partial index
        // of holding holds for every batch.
        let sql = format!("SELECT {COLUMNS} FROM escrow_holds WHERE id IN ({}) ORDER BY id{lock}", placeholders(ids.len()));
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id.as_str());
        }
        let locked = query.fetch_all(&mut *tx).await.map_err(db)?;
        let mut released = Vec::with_capacity(locked.len());
        for row in &locked {
            let current = hold(row)?;
            if current.status != EscrowStatus::Holding {
                continue;
            }
            let id = current.id;
            let merchant_inputs = inputs.get(&(current.merchant_id, current.amount.currency())).cloned().unwrap_or_default();
            match write_release(&mut tx, current, merchant_inputs, plan).await? {
                Ok(release) => released.push(release),
                Err(reason) => tracing::warn!(escrow_id = %id, reason, "expired escrow hold not released"),
            }
        }
        let entries: Vec<_> = released.iter().flat_map(|release| release.entries.iter().cloned()).collect();
        let rows = releases(&released.iter().collect::<Vec<_>>())?;
        if post_or_refuse(&mut tx, self.known_accounts(), &entries, rows).await?.is_some() {
            return Ok(None);
        }
        tx.commit().await.map_err(db)?;
        Ok(Some(released))
    }
}

/// Ends a locked hold: the plan's refusal, or the release whose rows (`releases`)
/// and entries the caller writes (alone, or with its batch's).
async fn write_release(
    tx: &mut Transaction<'_, Any>,
    current: EscrowHold,
    (account, rules, owed_minor): ReleaseInputs,
    plan: PlanRelease<'_>,
) -> Result<Result<ReleasePlan, String>, StoreError> {
    let payment_sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1");
    let payment_row =
        sqlx::query(AssertSqlSafe(payment_sql)).bind(current.payment_id.to_string()).fetch_one(&mut **tx).await.map_err(db)?;
    let disputed = crate::disputes::is_disputed(tx, current.payment_id).await?;
    let context = ReleaseContext { payment: rows::payment(&payment_row)?, account, rules, hold: current, disputed, owed_minor };
    let plan = match plan(&context) {
        Ok(plan) => plan,
        Err(reason) => return Ok(Err(reason)),
    };
    if !end_hold(tx, &plan.hold).await? {
        return Ok(Err("escrow hold was already released or cancelled".into()));
    }
    Ok(Ok(plan))
}

/// The rows of ended holds' releases: their splits, their transfers, the transfers'
/// events and the holds', a few multi-row statements for a whole batch.
fn releases(plans: &[&ReleasePlan]) -> Result<Inserts, StoreError> {
    let mut rows = Inserts::default();
    add_splits(&mut rows, &plans.iter().map(|plan| &plan.split).collect::<Vec<_>>());
    add_transfers(&mut rows, &plans.iter().filter_map(|plan| plan.transfer.as_ref()).collect::<Vec<_>>())?;
    outbox::add_events(&mut rows, &plans.iter().map(|plan| OutboxEvent::escrow(&plan.hold)).collect::<Vec<_>>());
    Ok(rows)
}

#[async_trait::async_trait]
impl EscrowStore for SqlStore {
    async fn escrow(&self, id: Uuid) -> Result<Option<EscrowHold>, StoreError> {
        by_id(self.reads(), "escrow_holds", COLUMNS, id, hold).await
    }

    async fn escrow_by_payment(&self, payment_id: Uuid) -> Result<Option<EscrowHold>, StoreError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM escrow_holds WHERE payment_id = $1")))
            .bind(payment_id.to_string())
            .fetch_optional(self.reads())
            .await
            .map_err(db)?;
        row.as_ref().map(hold).transpose()
    }

    async fn escrows(&self, status: Option<EscrowStatus>, page: Page) -> Result<(Vec<EscrowHold>, i64), StoreError> {
        let status = status.map(|s| s.as_str().to_owned());
        let filter = "($1 IS NULL OR status = $1)";
        paged(
            self.reads(),
            "escrow_holds",
            COLUMNS,
            filter,
            "created_at DESC, id DESC",
            1,
            |q| q.bind(status.clone()),
            page,
            hold,
        )
        .await
    }

    async fn release_escrow(&self, id: Uuid, plan: PlanRelease<'_>) -> Result<Guarded<ReleasePlan>, StoreError> {
        let Some(inputs) = self.release_inputs(id).await? else {
            return Ok(Guarded::Refused(format!("escrow hold {id} does not exist")));
        };
        let mut tx = self.begin().await?;
        let Some(current) = self.locked_hold(&mut tx, id, false).await? else {
            return Ok(Guarded::Refused(format!("escrow hold {id} does not exist")));
        };
        let outcome = self.release_locked(&mut tx, current, inputs, plan).await?;
        if matches!(outcome, Guarded::Done(_)) {
            tx.commit().await.map_err(db)?;
        }
        Ok(outcome)
    }

    async fn expired_holds(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Uuid>, StoreError> {
        // Only holds whose merchant can receive money and whose payment is not
        // disputed: a refused hold would otherwise sit at the head of the queue and
        // starve the rest.
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT h.id FROM escrow_holds h JOIN connected_accounts a ON a.id = h.merchant_id \
             WHERE h.status = 'holding' AND h.hold_until < $1 AND a.status = 'active' \
             AND NOT EXISTS (SELECT 1 FROM disputes d WHERE d.payment_id = h.payment_id AND d.{}) \
             ORDER BY h.hold_until, h.id LIMIT $2",
            crate::disputes::OPEN
        )))
        .bind(micros(now))
        .bind(limit)
        .fetch_all(self.reads())
        .await
        .map_err(db)?;
        rows.iter().map(|row| uuid(&get::<String>(row, "id")?)).collect()
    }

    async fn release_expired(&self, ids: &[Uuid], plan: PlanRelease<'_>) -> Result<Vec<ReleasePlan>, StoreError> {
        let texts: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(released) = self.release_batch(&texts, plan).await? {
            return Ok(released);
        }
        // The ledger refused the batch's entries together: one hold per transaction
        // finds the one it refuses and releases the others.
        let mut released = Vec::new();
        for &id in ids {
            // One hold's failure must not lose the releases already committed.
            match self.release_one_expired(id, plan).await {
                Ok(Some(release)) => released.push(release),
                Ok(None) => {}
                Err(error) => tracing::error!(escrow_id = %id, %error, "expired escrow hold could not be released"),
            }
        }
        Ok(released)
    }

    async fn cancel_escrow(&self, id: Uuid, reason: &str, now: DateTime<Utc>) -> Result<Guarded<EscrowHold>, StoreError> {
        let mut tx = self.begin().await?;
        let Some(current) = self.locked_hold(&mut tx, id, false).await? else {
            return Ok(Guarded::Refused(format!("escrow hold {id} does not exist")));
        };
        if !current.status.can_become(EscrowStatus::Cancelled) {
            return Ok(Guarded::Refused(format!("escrow hold is {}, only a holding escrow can be cancelled", current.status)));
        }
        if crate::disputes::is_disputed(&mut tx, current.payment_id).await? {
            return Ok(Guarded::Refused(app::escrow_ports::FROZEN.to_owned()));
        }
        let cancelled = current.cancelled(reason.to_owned(), now);
        if !end_hold(&mut tx, &cancelled).await? {
            return Ok(Guarded::Refused("escrow hold was already released or cancelled".into()));
        }
        outbox::emit(&mut tx, Some(OutboxEvent::escrow(&cancelled))).await?;
        tx.commit().await.map_err(db)?;
        Ok(Guarded::Done(cancelled))
    }
}
