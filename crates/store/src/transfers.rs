//! `TransferStore`: transfers, reversals and the maturing of pending funds.

use std::collections::HashSet;

use app::StoreError;
use app::events_ports::OutboxEvent;
use app::marketplace_ports::{
    Guarded, LinkedPayment, PaymentSplit, PlanReversal, TransferPlan, TransferRequest, TransferSettlement, TransferStore,
    UndoReversal,
};
use app::ports::{IdempotencyClaim, Page};
use chrono::{DateTime, Utc};
use domain::Currency;
use domain::Money;
use domain::ledger::{EntryKind, JournalEntry};
use domain::transfers::{ReversalStatus, Transfer, TransferReversal, TransferStatus};
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Row, Transaction};
use uuid::Uuid;

use crate::inserts::Inserts;
use crate::known_vendors::Vendors;
use crate::rows::{
    PAYMENT_COLUMNS, WIDE_ROWS_PER_STATEMENT, by_id, corrupt, due, first_of_value_rows, get, micros, paged, time, uuid,
    value_rows,
};
use crate::{Dialect, SqlStore, accounts, db, idempotency, known_vendors, ledger, outbox, rows};

/// `amount` is the vendor's share, `recovered_amount` what of it repaid the vendor's
/// debt: the domain's amount (what reached the vendor) is their difference. Stored
/// so, as the share is never zero (the column's CHECK) while what reaches the vendor
/// may be, and `amount - reversed_amount` is what left the platform for a payment.
/// `reversed_recovered_amount` is the part of `reversed_amount` that gave the debt back.
const COLUMNS: &str = "id, connected_account_id, gateway_account_id, payment_id, amount, recovered_amount, currency, \
    reversed_amount, reversed_recovered_amount, status, description, source_transaction, gateway_transfer_id, idempotency_key, metadata, \
    available_on, matured_at, paid_at, created_at, updated_at";

fn transfer(row: &AnyRow) -> Result<Transfer, StoreError> {
    let currency = Currency::parse("currency", &get::<String>(row, "currency")?).map_err(corrupt)?;
    let optional_time = |column: &str| get::<Option<i64>>(row, column)?.map(time).transpose();
    let recovered: i64 = get(row, "recovered_amount")?;
    Ok(Transfer {
        id: uuid(&get::<String>(row, "id")?)?,
        connected_account_id: uuid(&get::<String>(row, "connected_account_id")?)?,
        gateway_account_id: get(row, "gateway_account_id")?,
        payment_id: get::<Option<String>>(row, "payment_id")?.as_deref().map(uuid).transpose()?,
        amount: Money::from_minor(get::<i64>(row, "amount")? - recovered, currency),
        recovered_minor: recovered,
        reversed_minor: get(row, "reversed_amount")?,
        reversed_recovered_minor: get(row, "reversed_recovered_amount")?,
        status: TransferStatus::from_str_opt(&get::<String>(row, "status")?).ok_or_else(|| corrupt("transfer status"))?,
        description: get(row, "description")?,
        source_transaction: get(row, "source_transaction")?,
        gateway_transfer_id: get(row, "gateway_transfer_id")?,
        idempotency_key: get(row, "idempotency_key")?,
        metadata: serde_json::from_str(&get::<String>(row, "metadata")?).map_err(corrupt)?,
        available_on: time(get(row, "available_on")?)?,
        matured_at: optional_time("matured_at")?,
        paid_at: optional_time("paid_at")?,
        created_at: time(get(row, "created_at")?)?,
        updated_at: time(get(row, "updated_at")?)?,
    })
}

fn reversal(row: &AnyRow) -> Result<TransferReversal, StoreError> {
    let currency = Currency::parse("currency", &get::<String>(row, "currency")?).map_err(corrupt)?;
    Ok(TransferReversal {
        id: uuid(&get::<String>(row, "id")?)?,
        transfer_id: uuid(&get::<String>(row, "transfer_id")?)?,
        amount: Money::from_minor(get(row, "amount")?, currency),
        recovered_minor: get(row, "recovered_amount")?,
        description: get(row, "description")?,
        idempotency_key: get(row, "idempotency_key")?,
        status: ReversalStatus::from_str_opt(&get::<String>(row, "status")?).ok_or_else(|| corrupt("reversal status"))?,
        gateway_reversal_id: get(row, "gateway_reversal_id")?,
        created_at: time(get(row, "created_at")?)?,
    })
}

const REVERSAL_COLUMNS: &str =
    "id, transfer_id, amount, recovered_amount, currency, description, idempotency_key, status, gateway_reversal_id, created_at";

/// What left the platform for a payment: Σ (share − reversed) of its transfers that
/// did not fail (a share's recovered part repaid the vendor's debt: it is spent too),
/// and the fee taken on it (if any).
pub(crate) async fn distributed(connection: &mut AnyConnection, payment_id: Uuid) -> Result<(i64, Option<i64>), StoreError> {
    let transferred: i64 = sqlx::query(
        "SELECT CAST(COALESCE(SUM(amount - reversed_amount), 0) AS BIGINT) AS total FROM transfers \
         WHERE payment_id = $1 AND status <> 'failed'",
    )
    .bind(payment_id.to_string())
    .fetch_one(&mut *connection)
    .await
    .map_err(db)?
    .try_get("total")
    .map_err(db)?;
    let fee = sqlx::query("SELECT fee_amount FROM payment_splits WHERE payment_id = $1")
        .bind(payment_id.to_string())
        .fetch_optional(&mut *connection)
        .await
        .map_err(db)?
        .map(|row| row.try_get::<i64, _>("fee_amount"))
        .transpose()
        .map_err(db)?;
    Ok((transferred, fee))
}

/// Posts entries, with `beside` (`ledger::post_entries`); an overdraw becomes a
/// refusal message (the caller rolls back).
pub(crate) async fn post_or_refuse(
    tx: &mut Transaction<'_, Any>,
    known: &ledger::KnownAccounts,
    entries: &[JournalEntry],
    beside: Inserts,
) -> Result<Option<String>, StoreError> {
    match ledger::post_entries(tx, known, entries, beside).await {
        Ok(()) => Ok(None),
        Err(StoreError::InsufficientFunds { account }) => {
            Ok(Some(format!("insufficient_funds: {account} does not hold enough for this movement")))
        }
        Err(other) => Err(other),
    }
}

/// Adds the transfers and their events.
pub(crate) fn add_transfers(inserts: &mut Inserts, transfers: &[&Transfer]) -> Result<(), StoreError> {
    let rows: Vec<(&Transfer, String)> = transfers
        .iter()
        .map(|t| Ok((*t, serde_json::to_string(&t.metadata).map_err(corrupt)?)))
        .collect::<Result<_, StoreError>>()?;
    inserts.add_rows(&format!("transfers ({COLUMNS})"), 20, &rows, |row, (t, metadata)| {
        row.bind(t.id.to_string())
            .bind(t.connected_account_id.to_string())
            .bind(t.gateway_account_id.as_str())
            .bind(t.payment_id.map(|p| p.to_string()))
            .bind(t.amount.minor() + t.recovered_minor)
            .bind(t.recovered_minor)
            .bind(t.amount.currency().code())
            .bind(t.reversed_minor)
            .bind(t.reversed_recovered_minor)
            .bind(t.status.as_str())
            .bind(t.description.as_str())
            .bind(t.source_transaction.as_deref())
            .bind(t.gateway_transfer_id.as_deref())
            .bind(t.idempotency_key.as_deref())
            .bind(metadata.as_str())
            .bind(micros(t.available_on))
            .bind(t.matured_at.map(micros))
            .bind(t.paid_at.map(micros))
            .bind(micros(t.created_at))
            .bind(micros(t.updated_at));
    });
    let events: Vec<OutboxEvent> = transfers.iter().flat_map(|t| OutboxEvent::new_transfer(t)).collect();
    outbox::add_events(inserts, &events);
    Ok(())
}

/// Adds the splits.
pub(crate) fn add_splits(inserts: &mut Inserts, splits: &[&PaymentSplit]) {
    let now = micros(Utc::now());
    let table = "payment_splits (id, payment_id, rule_id, fee_amount, transfer_amount, currency, created_at)";
    inserts.add_rows(table, 7, splits, |row, split| {
        row.bind(split.id.to_string())
            .bind(split.payment_id.to_string())
            .bind(split.rule_id.map(|r| r.to_string()))
            .bind(split.fee_minor)
            .bind(split.transfer_minor)
            .bind(split.currency)
            .bind(now);
    });
}

/// Writes a transfer's state (a reversal's, a maturing's).
async fn update_transfer(tx: &mut Transaction<'_, Any>, transfer: &Transfer) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE transfers SET status = $1, reversed_amount = $2, gateway_transfer_id = $3, matured_at = $4, paid_at = $5, \
         updated_at = $6, reversed_recovered_amount = $8 WHERE id = $7",
    )
    .bind(transfer.status.as_str())
    .bind(transfer.reversed_minor)
    .bind(transfer.gateway_transfer_id.as_deref())
    .bind(transfer.matured_at.map(micros))
    .bind(transfer.paid_at.map(micros))
    .bind(micros(transfer.updated_at))
    .bind(transfer.id.to_string())
    .bind(transfer.reversed_recovered_minor)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// What a settlement writes, in the order `add_settlements` binds it.
const SETTLED_COLUMNS: [&str; 8] = [
    "id",
    "status",
    "reversed_amount",
    "reversed_recovered_amount",
    "gateway_transfer_id",
    "matured_at",
    "paid_at",
    "updated_at",
];

/// Adds the UPDATE that writes the gateway's answers for the transfers still
/// pending (one multi-row statement, named `settled`: it returns their ids). A
/// transfer no longer pending (a settlement that lost a race) is left as it is.
fn add_settlements(statement: &mut Inserts, transfers: &[&Transfer]) {
    statement.add_named("settled", &settle_sql(transfers.len()));
    for t in transfers {
        statement
            .bind(t.id.to_string())
            .bind(t.status.as_str())
            .bind(t.reversed_minor)
            .bind(t.reversed_recovered_minor)
            .bind(t.gateway_transfer_id.as_deref())
            .bind(t.matured_at.map(micros))
            .bind(t.paid_at.map(micros))
            .bind(micros(t.updated_at));
    }
}

/// The settlements' UPDATE of `rows` transfers.
pub(crate) fn settle_sql(rows: usize) -> String {
    let set: Vec<String> = SETTLED_COLUMNS[1..].iter().map(|column| format!("{column} = answer.{column}")).collect();
    format!(
        "WITH answer ({}) AS (VALUES {}) UPDATE transfers SET {} FROM answer \
         WHERE transfers.id = answer.id AND transfers.id IN ({}) AND transfers.status = 'pending' RETURNING transfers.id",
        SETTLED_COLUMNS.join(", "),
        value_rows(SETTLED_COLUMNS.len(), rows),
        set.join(", "),
        first_of_value_rows(SETTLED_COLUMNS.len(), rows)
    )
}

/// A batch's rows (its transfers, their splits and events) and its entries.
fn rows_and_entries(planned: &[(usize, TransferPlan)]) -> Result<(Inserts, Vec<JournalEntry>), StoreError> {
    let mut rows = Inserts::default();
    add_transfers(&mut rows, &planned.iter().map(|(_, plan)| &plan.transfer).collect::<Vec<_>>())?;
    add_splits(&mut rows, &planned.iter().filter_map(|(_, plan)| plan.split.as_ref()).collect::<Vec<_>>());
    Ok((rows, planned.iter().flat_map(|(_, plan)| plan.entries.iter().cloned()).collect()))
}

/// Each request's vendor and the receivable its plan is given the balance of.
fn pairs<'r>(requests: impl IntoIterator<Item = &'r TransferRequest>) -> impl Iterator<Item = (Uuid, &'r str)> {
    requests.into_iter().map(|r| (r.account_id, r.receivable.as_str()))
}

/// The keys of the planned requests, each with the transfer it would point at.
fn claims_of<'r>(requests: &'r [TransferRequest], planned: &[(usize, TransferPlan)]) -> Vec<(&'r IdempotencyClaim, String)> {
    let claim =
        |(index, plan): &(usize, TransferPlan)| requests[*index].claim.as_ref().map(|c| (c, plan.transfer.id.to_string()));
    planned.iter().filter_map(claim).collect()
}

/// Each request's answer from a written batch: its transfer, or `None` when it was left out.
fn answered(requests: usize, planned: Vec<(usize, TransferPlan)>) -> Vec<Option<Guarded<Transfer>>> {
    let mut answers = vec![None; requests];
    for (index, plan) in planned {
        answers[index] = Some(Guarded::Done(plan.transfer));
    }
    answers
}

/// The ids a statement returned.
fn returned_ids(rows: Vec<AnyRow>) -> Result<HashSet<String>, StoreError> {
    rows.iter().map(|row| get::<String>(row, "id")).collect()
}

impl SqlStore {
    /// The settlements together: each transfer still pending is written with its
    /// event (the platform's `transfer.paid` or `transfer.failed`), and their entries
    /// posted at once (the accounts they share move once). Whether each was written
    /// (a transfer settled twice in the batch, only the first time); nothing is when
    /// any statement fails.
    async fn settle_together(&self, settlements: &[TransferSettlement]) -> Result<Vec<bool>, StoreError> {
        // A transfer's first settlement in the batch is the one sent, and the one that
        // counts: the UPDATE would pick one of two rows for it at random.
        let mut seen = HashSet::with_capacity(settlements.len());
        let firsts: Vec<&Transfer> = settlements.iter().map(|(transfer, _)| transfer).filter(|t| seen.insert(t.id)).collect();
        let posts_nothing = settlements.iter().all(|(_, entries)| entries.is_empty());
        let mut settled = if posts_nothing && self.dialect() == Dialect::Postgres && firsts.len() <= WIDE_ROWS_PER_STATEMENT {
            self.settle_in_one_statement(&firsts).await?
        } else {
            self.settle_in_a_transaction(settlements, &firsts).await?
        };
        Ok(settlements.iter().map(|(transfer, _)| settled.remove(&transfer.id.to_string())).collect())
    }

    /// The usual settlement, which posts nothing (the funds mature days later), on
    /// PostgreSQL: one statement that commits alone, with no transaction around it
    /// (one round trip instead of four). The events are written for the rows the
    /// UPDATE changed, read from its `RETURNING`.
    async fn settle_in_one_statement(&self, firsts: &[&Transfer]) -> Result<HashSet<String>, StoreError> {
        const SETTLED_IDS: &str = "SELECT id FROM settled";
        let mut statement = Inserts::default();
        add_settlements(&mut statement, firsts);
        let events: Vec<OutboxEvent> = firsts.iter().filter_map(|t| OutboxEvent::transfer(t)).collect();
        outbox::add_events_of(&mut statement, &events, Some(SETTLED_IDS));
        returned_ids(statement.fetch_all(Dialect::Postgres, self.pool(), Some(SETTLED_IDS)).await?)
    }

    async fn settle_in_a_transaction(
        &self,
        settlements: &[TransferSettlement],
        firsts: &[&Transfer],
    ) -> Result<HashSet<String>, StoreError> {
        let mut tx = self.begin().await?;
        let mut settled = HashSet::with_capacity(firsts.len());
        for chunk in firsts.chunks(WIDE_ROWS_PER_STATEMENT) {
            let mut update = Inserts::default();
            add_settlements(&mut update, chunk);
            settled.extend(returned_ids(update.fetch_all(self.dialect(), &mut *tx, None).await?)?);
        }
        let mut events = Inserts::default();
        let written: Vec<OutboxEvent> =
            firsts.iter().filter(|t| settled.contains(&t.id.to_string())).filter_map(|t| OutboxEvent::transfer(t)).collect();
        outbox::add_events(&mut events, &written);
        // Each transfer's entries once, from its first settlement, if it was written.
        let mut posted = HashSet::with_capacity(settled.len());
        let entries: Vec<JournalEntry> = settlements
            .iter()
            .filter(|(transfer, _)| settled.contains(&transfer.id.to_string()) && posted.insert(transfer.id))
            .flat_map(|(_, entries)| entries.iter().cloned())
            .collect();
        ledger::post_entries(&mut tx, self.known_accounts(), &entries, events).await?;
        tx.commit().await.map_err(db)?;
        Ok(settled)
    }

    /// The requests together, each statement written for all of them at once (their
    /// claims, their rows, their events, their entries: the accounts they share move
    /// once). Left out (`None`) for `create_alone` to answer: a request naming no
    /// existing vendor account (there `NotFound`, no key claimed), one its plan
    /// refuses or whose payment is missing (there its key is claimed first), one whose
    /// key was used before or earlier in the batch (there it is replayed), and one
    /// drawing on a payment an earlier one of the batch draws on (its plan would not
    /// see the earlier transfer). `Err` when any statement fails or the entries
    /// together would overdraw, and then nothing is written.
    ///
    /// On PostgreSQL a batch to one vendor drawing on no payment (nothing to lock) is
    /// first tried as one statement that commits alone, after the read of its vendors
    /// (none when the last batch to them kept them): one or two round trips instead of
    /// five. It is all or nothing, and when it cannot be or fails (a key used before
    /// refuses it, an account not yet known, a balance that does not move one stripe,
    /// or a vendor changed since planned on), the batch is written in a transaction,
    /// where each of those is handled.
    async fn create_together(&self, requests: &[TransferRequest]) -> Result<Vec<Option<Guarded<Transfer>>>, StoreError> {
        if let Some(answers) = self.try_at_once(requests).await {
            return Ok(answers);
        }
        let mut tx = self.begin().await?;
        let vendors = accounts::vendors_with_receivables(&mut tx, pairs(requests)).await?;
        let mut planned = self.plan_together(&mut tx, requests, &vendors).await?;
        let claims = claims_of(requests, &planned);
        let claimed = idempotency::claim_all(&mut tx, &claims).await?;
        planned.retain(|(index, _)| {
            requests[*index].claim.as_ref().is_none_or(|c| claimed.contains(&(c.scope.clone(), c.key.clone())))
        });
        let (rows, entries) = rows_and_entries(&planned)?;
        ledger::post_entries(&mut tx, self.known_accounts(), &entries, rows).await?;
        tx.commit().await.map_err(db)?;
        Ok(answered(requests.len(), planned))
    }

    /// `create_in_one_statement` where it may be tried (PostgreSQL, no request drawing
    /// on a payment, whose lock needs a transaction), and for one vendor: the answers
    /// when it wrote. A batch spread over vendors moves more accounts, and its
    /// statement's text then varies with their number as well as with its rows:
    /// PostgreSQL planned so many of them afresh that it cost more than the round
    /// trips saved (ARCHITECTURE.md, "Performance").
    async fn try_at_once(&self, requests: &[TransferRequest]) -> Option<Vec<Option<Guarded<Transfer>>>> {
        let one_vendor = requests.windows(2).all(|pair| pair[0].account_id == pair[1].account_id);
        if self.dialect() != Dialect::Postgres || !one_vendor || requests.iter().any(|r| r.payment_id.is_some()) {
            return None;
        }
        match self.create_in_one_statement(requests).await {
            Ok(answers) => answers,
            Err(error) => {
                tracing::debug!(%error, "transfers not written in one statement: in a transaction");
                None
            }
        }
    }

    /// `create_together` as one statement outside a transaction, its keys claimed by a
    /// plain INSERT in it: `None` when the batch cannot be one statement. Planned on
    /// the vendors the last batch to them was written on when they are kept
    /// (`known_vendors`), else on a read of them; the statement writes nothing unless
    /// they are unchanged. They are kept for the next batch when every request was
    /// written and none moved a receivable.
    async fn create_in_one_statement(
        &self,
        requests: &[TransferRequest],
    ) -> Result<Option<Vec<Option<Guarded<Transfer>>>>, StoreError> {
        let mut connection = self.pool().acquire().await.map_err(db)?;
        let vendors = match self.known_vendors().of(pairs(requests)) {
            Some(kept) => kept,
            None => accounts::vendors_with_receivables(&mut connection, pairs(requests)).await?,
        };
        let planned = self.plan_together(&mut connection, requests, &vendors).await?;
        let written = self.write_planned_at_once(&mut connection, requests, &planned, &vendors).await;
        let whole_and_no_debt_moved =
            planned.len() == requests.len() && planned.iter().all(|(_, plan)| plan.transfer.recovered_minor == 0);
        match written {
            Ok(true) if whole_and_no_debt_moved => self.known_vendors().keep(pairs(requests), &vendors),
            _ => self.known_vendors().forget(pairs(requests)),
        }
        if !written? {
            return Ok(None);
        }
        Ok(Some(answered(requests.len(), planned)))
    }

    /// The planned requests in one statement, if the vendors are still as `vendors`
    /// says: false when they do not fit in one. True when none was planned.
    async fn write_planned_at_once(
        &self,
        connection: &mut AnyConnection,
        requests: &[TransferRequest],
        planned: &[(usize, TransferPlan)],
        vendors: &Vendors,
    ) -> Result<bool, StoreError> {
        if planned.is_empty() {
            return Ok(true);
        }
        const CLAIMED: &str = "claimed";
        let claims = claims_of(requests, planned);
        let (mut rows, entries) = rows_and_entries(planned)?;
        let after = (!claims.is_empty()).then_some(CLAIMED);
        if let Some(name) = after {
            idempotency::add_claims(&mut rows, name, &claims);
        }
        let written_on = planned.iter().map(|(index, _)| &requests[*index]);
        let unchanged = known_vendors::add_unchanged(&mut rows, pairs(written_on), vendors, after);
        if !ledger::post_at_once(connection, self.known_accounts(), &entries, rows, Some(unchanged)).await? {
            return Ok(false);
        }
        self.transfer_batches_at_once.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(true)
    }

    /// The plans of the batch's requests that can be written together (`create_together`),
    /// with their place in the batch; their linked payments are locked.
    async fn plan_together(
        &self,
        connection: &mut AnyConnection,
        requests: &[TransferRequest],
        vendors: &Vendors,
    ) -> Result<Vec<(usize, TransferPlan)>, StoreError> {
        let (mut keys, mut payments) = (HashSet::new(), HashSet::new());
        let mut firsts = Vec::with_capacity(requests.len());
        for (index, request) in requests.iter().enumerate() {
            if !vendors.accounts.contains_key(&request.account_id) {
                continue;
            }
            let first_of_its_key = request.claim.as_ref().is_none_or(|c| keys.insert((c.scope.as_str(), c.key.as_str())));
            let first_on_its_payment = request.payment_id.is_none_or(|id| payments.insert(id));
            if first_of_its_key && first_on_its_payment {
                firsts.push(index);
            }
        }
        // Their payments are locked in id order, as a batch of payment events locks
        // them, so two batches never wait on each other's locks.
        firsts.sort_by_key(|&index| requests[index].payment_id);
        let mut planned = Vec::with_capacity(firsts.len());
        for index in firsts {
            let request = &requests[index];
            let linked = match request.payment_id {
                Some(id) => match self.linked_payment(connection, id).await? {
                    Some(linked) => Some(linked),
                    None => continue,
                },
                None => None,
            };
            let receivable = vendors.receivable(&request.receivable);
            if let Ok(plan) = (request.plan)(&vendors.accounts[&request.account_id], linked.as_ref(), receivable) {
                planned.push((index, plan));
            }
        }
        Ok(planned)
    }

    /// One request in a transaction of its own. A request planned again after its
    /// batch's transaction failed may find its transfer written (the commit went
    /// through, its answer was lost): its own id is then refused as a duplicate, or
    /// its plan sees the transfer's money gone, and the stored transfer is the answer.
    async fn create_alone(&self, request: &TransferRequest) -> Result<Guarded<Transfer>, StoreError> {
        let answer = self.write_alone(request).await;
        if matches!(answer, Ok(Guarded::Refused(_)) | Err(StoreError::Database(_)))
            && let Some(written) = self.transfer(request.transfer_id).await?
        {
            return Ok(Guarded::Done(written));
        }
        answer
    }

    /// The key is claimed before the plan's verdict counts, so the retry of a transfer
    /// that succeeded replays it even when the same request would now be refused.
    /// The vendor's debt is read with its account, before a linked payment's lock
    /// (as in a batch): a debt that moved while the request waited for that lock is
    /// caught by the receivable's guard, which refuses the transfer, never the money.
    async fn write_alone(&self, request: &TransferRequest) -> Result<Guarded<Transfer>, StoreError> {
        let TransferRequest { claim, account_id, transfer_id: _, payment_id, receivable, plan } = request;
        let mut tx = self.begin().await?;
        let mut vendors =
            accounts::vendors_with_receivables(&mut tx, std::iter::once((*account_id, receivable.as_str()))).await?;
        let Some(vendor) = vendors.accounts.remove(account_id) else {
            return Err(StoreError::NotFound("connected account"));
        };
        let linked = match *payment_id {
            Some(id) => match self.linked_payment(&mut tx, id).await? {
                Some(linked) => Some(linked),
                None => return Ok(Guarded::Refused(format!("payment {id} does not exist"))),
            },
            None => None,
        };
        let planned = plan(&vendor, linked.as_ref(), vendors.receivable(receivable));
        let plan = match idempotency::claim_for_plan(&mut tx, claim.as_ref(), planned, |p| p.transfer.id.to_string()).await? {
            Ok(plan) => plan,
            Err(answer) => return Ok(answer),
        };
        let mut rows = Inserts::default();
        add_transfers(&mut rows, &[&plan.transfer])?;
        add_splits(&mut rows, &plan.split.iter().collect::<Vec<_>>());
        if let Some(refusal) = post_or_refuse(&mut tx, self.known_accounts(), &plan.entries, rows).await? {
            tx.rollback().await.map_err(db)?;
            return Ok(Guarded::Refused(refusal));
        }
        tx.commit().await.map_err(db)?;
        Ok(Guarded::Done(plan.transfer))
    }

    /// The payment a transfer draws on, locked (in a transaction), with what left for it.
    async fn linked_payment(
        &self,
        connection: &mut AnyConnection,
        payment_id: Uuid,
    ) -> Result<Option<LinkedPayment>, StoreError> {
        let sql = format!("SELECT {PAYMENT_COLUMNS} FROM payments WHERE id = $1{}", self.dialect().for_update());
        let Some(row) =
            sqlx::query(AssertSqlSafe(sql)).bind(payment_id.to_string()).fetch_optional(&mut *connection).await.map_err(db)?
        else {
            return Ok(None);
        };
        let payment = rows::payment(&row)?;
        let (transferred, fee) = distributed(connection, payment_id).await?;
        Ok(Some(LinkedPayment { payment, transferred_minor: transferred, fee_taken_minor: fee }))
    }
}

#[async_trait::async_trait]
impl TransferStore for SqlStore {
    async fn create_transfers(&self, requests: &[TransferRequest]) -> Vec<Result<Guarded<Transfer>, StoreError>> {
        // A lone request (most under light load) is tried as one statement too; one
        // a batch left out is not: its batch was tried so already.
        if let [_] = requests
            && let Some(Some(done)) = self.try_at_once(requests).await.and_then(|mut answers| answers.pop())
        {
            return vec![Ok(done)];
        }
        let together = |requests| self.create_together(requests);
        crate::together_or_alone(requests, "transfers", together, |request| self.create_alone(request)).await
    }

    async fn settle_transfers(&self, settlements: &[TransferSettlement]) -> Vec<Result<bool, StoreError>> {
        if settlements.is_empty() {
            return Vec::new();
        }
        match self.settle_together(settlements).await {
            Ok(written) => written.into_iter().map(Ok).collect(),
            Err(error) => {
                tracing::warn!(%error, transfers = settlements.len(), "transfers not settled together: one at a time");
                let mut answers = Vec::with_capacity(settlements.len());
                for settlement in settlements {
                    let alone = self.settle_together(std::slice::from_ref(settlement)).await;
                    answers.push(alone.map(|written| written.first().copied().unwrap_or(false)));
                }
                answers
            }
        }
    }

    async fn stale_transfers(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<Transfer>, StoreError> {
        due(self.reads(), ("transfers", COLUMNS), "status = 'pending'", "created_at", before, limit, transfer).await
    }

    async fn transfer(&self, id: Uuid) -> Result<Option<Transfer>, StoreError> {
        by_id(self.reads(), "transfers", COLUMNS, id, transfer).await
    }

    async fn transfers(&self, account: Option<Uuid>, page: Page) -> Result<(Vec<Transfer>, i64), StoreError> {
        let account = account.map(|a| a.to_string());
        let filter = "($1 IS NULL OR connected_account_id = $1)";
        paged(
            self.reads(),
            "transfers",
            COLUMNS,
            filter,
            "created_at DESC, id DESC",
            1,
            |q| q.bind(account.clone()),
            page,
            transfer,
        )
        .await
    }

    async fn reverse_transfer(
        &self,
        claim: Option<&IdempotencyClaim>,
        transfer_id: Uuid,
        plan: PlanReversal<'_>,
    ) -> Result<Guarded<(TransferReversal, Transfer)>, StoreError> {
        let mut tx = self.begin().await?;
        let sql = format!("SELECT {COLUMNS} FROM transfers WHERE id = $1{}", self.dialect().for_update());
        let Some(row) =
            sqlx::query(AssertSqlSafe(sql)).bind(transfer_id.to_string()).fetch_optional(&mut *tx).await.map_err(db)?
        else {
            return Ok(Guarded::Refused(format!("transfer {transfer_id} does not exist")));
        };
        let current = transfer(&row)?;
        let balance = ledger::balance_in(&mut tx, &current.balance_account().code()).await?;
        let plan =
            match idempotency::claim_for_plan(&mut tx, claim, plan(&current, balance), |p| p.reversal.id.to_string()).await? {
                Ok(plan) => plan,
                Err(answer) => return Ok(answer),
            };
        let r = &plan.reversal;
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO transfer_reversals ({REVERSAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )))
        .bind(r.id.to_string())
        .bind(r.transfer_id.to_string())
        .bind(r.amount.minor())
        .bind(r.recovered_minor)
        .bind(r.amount.currency().code())
        .bind(&r.description)
        .bind(r.idempotency_key.as_deref())
        .bind(r.status.as_str())
        .bind(r.gateway_reversal_id.as_deref())
        .bind(micros(r.created_at))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        outbox::emit(&mut tx, Some(OutboxEvent::reversal(r))).await?;
        update_transfer(&mut tx, &plan.transfer).await?;
        if let Some(refusal) = post_or_refuse(&mut tx, self.known_accounts(), &plan.entries, Inserts::default()).await? {
            tx.rollback().await.map_err(db)?;
            return Ok(Guarded::Refused(refusal));
        }
        tx.commit().await.map_err(db)?;
        Ok(Guarded::Done((plan.reversal, plan.transfer)))
    }

    async fn reversal(&self, id: Uuid) -> Result<Option<TransferReversal>, StoreError> {
        by_id(self.reads(), "transfer_reversals", REVERSAL_COLUMNS, id, reversal).await
    }

    async fn settle_reversal(&self, settled: &TransferReversal, undo: Option<UndoReversal<'_>>) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        // The transfer's row lock orders this against other reversals of it.
        let sql = format!("SELECT {COLUMNS} FROM transfers WHERE id = $1{}", self.dialect().for_update());
        let row = sqlx::query(AssertSqlSafe(sql)).bind(settled.transfer_id.to_string()).fetch_one(&mut *tx).await.map_err(db)?;
        let current = transfer(&row)?;
        let claimed = sqlx::query(
            "UPDATE transfer_reversals SET status = $1, gateway_reversal_id = COALESCE($2, gateway_reversal_id) \
             WHERE id = $3 AND status = 'pending'",
        )
        .bind(settled.status.as_str())
        .bind(settled.gateway_reversal_id.as_deref())
        .bind(settled.id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if claimed != 1 {
            return Ok(false);
        }
        outbox::emit(&mut tx, Some(OutboxEvent::reversal(settled))).await?;
        if let Some(undo) = undo {
            let receivable = domain::transfers::receivable(current.connected_account_id, current.amount.currency());
            let owed_now = -ledger::balance_in(&mut tx, &receivable.code()).await?.min(0);
            let taken =
                current.reversal_taken(&ledger::postings_of(&mut tx, EntryKind::Reversal, &settled.id.to_string()).await?);
            let (restored, entry) = undo(&current, taken, owed_now).map_err(StoreError::Corrupt)?;
            update_transfer(&mut tx, &restored).await?;
            ledger::post_entries(&mut tx, self.known_accounts(), std::slice::from_ref(&entry), Inserts::default()).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn stale_reversals(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<TransferReversal>, StoreError> {
        due(self.reads(), ("transfer_reversals", REVERSAL_COLUMNS), "status = 'pending'", "created_at", before, limit, reversal)
            .await
    }

    async fn mature_transfers(&self, now: DateTime<Utc>, limit: i64) -> Result<usize, StoreError> {
        let skip_locked = match self.dialect() {
            crate::Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Dialect::Sqlite => "",
        };
        let sql = format!(
            "SELECT {COLUMNS} FROM transfers WHERE matured_at IS NULL AND available_on <= $1 \
             AND status IN ('paid', 'partially_reversed', 'reversed') ORDER BY available_on, id LIMIT 1{skip_locked}"
        );
        let mut matured = 0;
        while (matured as i64) < limit {
            let mut tx = self.begin().await?;
            let Some(row) =
                sqlx::query(AssertSqlSafe(sql.clone())).bind(micros(now)).fetch_optional(&mut *tx).await.map_err(db)?
            else {
                break;
            };
            let mut due = transfer(&row)?;
            if let Some(entry) = due.maturation_entry().map_err(corrupt)? {
                ledger::post_entries(&mut tx, self.known_accounts(), std::slice::from_ref(&entry), Inserts::default()).await?;
            }
            due.matured_at = Some(now);
            due.updated_at = now;
            update_transfer(&mut tx, &due).await?;
            tx.commit().await.map_err(db)?;
            matured += 1;
        }
        Ok(matured)
    }
}
