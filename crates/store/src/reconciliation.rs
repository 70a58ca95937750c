//! `ReconciliationStore`: our side of a reconciliation, and the stored runs.

use app::StoreError;
use app::ports::Page;
use app::reconciliation_ports::{OurRecord, ReconciliationRun, ReconciliationStore, Via, Window};
use domain::reconciliation::{Line, ObjectKind, Outcome, Record, Standing};
use domain::{Currency, Money};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::rows::{by_id, corrupt, get, micros, paged, time, uuid};
use crate::{SqlStore, db};

/// Our records that moved money, or are about to, created in the window ($1..$2):
/// one shape for every kind, with the gateway or the account they went through.
const OUR_RECORDS: &str = "\
    SELECT 'payment' AS kind, id AS our_id, gateway_payment_intent_id AS gateway_id, amount, currency, status, \
        gateway_name AS via_gateway, CAST(NULL AS TEXT) AS via_account \
    FROM payments WHERE status IN ('succeeded', 'refunded') AND COALESCE(paid_at, created_at) >= $1 \
        AND COALESCE(paid_at, created_at) < $2 \
    UNION ALL SELECT 'refund', r.id, r.gateway_refund_id, r.amount, r.currency, r.status, p.gateway_name, NULL \
    FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE r.status <> 'failed' AND r.created_at >= $1 AND r.created_at < $2 \
    UNION ALL SELECT 'transfer', id, gateway_transfer_id, amount - recovered_amount, currency, status, NULL, \
        gateway_account_id \
    FROM transfers WHERE status <> 'failed' AND amount > recovered_amount AND created_at >= $1 AND created_at < $2 \
    UNION ALL SELECT 'reversal', v.id, v.gateway_reversal_id, v.amount - v.recovered_amount, v.currency, v.status, NULL, \
        t.gateway_account_id \
    FROM transfer_reversals v JOIN transfers t ON t.id = v.transfer_id \
    WHERE v.status <> 'failed' AND v.amount > v.recovered_amount AND v.created_at >= $1 AND v.created_at < $2 \
    UNION ALL SELECT 'payout', id, gateway_payout_id, amount, currency, status, NULL, COALESCE(gateway_account_id, '') \
    FROM payouts WHERE gateway_payout_id IS NOT NULL AND created_at >= $1 AND created_at < $2 \
    ORDER BY 1, 2";

const RUN_COLUMNS: &str = "id, gateway_name, window_start, window_end, finished_at, matched, missing_at_gateway, \
    missing_in_ledger, amount_mismatch, currency_mismatch, status_mismatch";

const LINE_COLUMNS: &str = "position, kind, outcome, our_id, gateway_id, our_amount, our_currency, our_status, \
    gateway_amount, gateway_currency, gateway_status";

/// Our statuses of every kind in the words both sides share.
fn standing(status: &str) -> Standing {
    match status {
        "pending" | "processing" | "in_transit" => Standing::Pending,
        "failed" | "canceled" | "cancelled" => Standing::Failed,
        _ => Standing::Succeeded,
    }
}

fn currency(code: &str) -> Result<Currency, StoreError> {
    Currency::parse("currency", code).map_err(corrupt)
}

fn our_record(row: &AnyRow) -> Result<OurRecord, StoreError> {
    let kind = get::<String>(row, "kind")?;
    let record = Record {
        kind: ObjectKind::parse(&kind).ok_or_else(|| corrupt(format!("reconciliation kind {kind}")))?,
        our_id: Some(get(row, "our_id")?),
        gateway_id: get(row, "gateway_id")?,
        amount: Money::from_minor(get(row, "amount")?, currency(&get::<String>(row, "currency")?)?),
        standing: standing(&get::<String>(row, "status")?),
    };
    let via = match get::<Option<String>>(row, "via_gateway")? {
        Some(gateway) => Via::Gateway(gateway),
        None => Via::Account(get::<Option<String>>(row, "via_account")?.unwrap_or_default()),
    };
    Ok(OurRecord { record, via })
}

fn run(row: &AnyRow) -> Result<ReconciliationRun, StoreError> {
    let counts = Outcome::ALL
        .into_iter()
        .map(|outcome| {
            let count = get::<i64>(row, outcome.as_str())?;
            Ok((outcome, usize::try_from(count).map_err(corrupt)?))
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(ReconciliationRun {
        id: uuid(&get::<String>(row, "id")?)?,
        gateway_name: get(row, "gateway_name")?,
        window: Window { since: time(get(row, "window_start")?)?, until: time(get(row, "window_end")?)? },
        finished_at: time(get(row, "finished_at")?)?,
        counts,
    })
}

/// One side of a line: all three columns or none.
fn side(row: &AnyRow, prefix: &str) -> Result<Option<(Money, Standing)>, StoreError> {
    let amount = get::<Option<i64>>(row, &format!("{prefix}_amount"))?;
    let code = get::<Option<String>>(row, &format!("{prefix}_currency"))?;
    let status = get::<Option<String>>(row, &format!("{prefix}_status"))?;
    match (amount, code, status) {
        (Some(amount), Some(code), Some(status)) => {
            let standing = Standing::parse(&status).ok_or_else(|| corrupt(format!("reconciliation status {status}")))?;
            Ok(Some((Money::from_minor(amount, currency(&code)?), standing)))
        }
        _ => Ok(None),
    }
}

fn line(row: &AnyRow) -> Result<Line, StoreError> {
    let kind = get::<String>(row, "kind")?;
    let outcome = get::<String>(row, "outcome")?;
    Ok(Line {
        kind: ObjectKind::parse(&kind).ok_or_else(|| corrupt(format!("reconciliation kind {kind}")))?,
        outcome: Outcome::parse(&outcome).ok_or_else(|| corrupt(format!("reconciliation outcome {outcome}")))?,
        our_id: get(row, "our_id")?,
        gateway_id: get(row, "gateway_id")?,
        ours: side(row, "our")?,
        theirs: side(row, "gateway")?,
    })
}

#[async_trait::async_trait]
impl ReconciliationStore for SqlStore {
    async fn reconciliation_records(&self, window: &Window) -> Result<Vec<OurRecord>, StoreError> {
        let rows = sqlx::query(OUR_RECORDS)
            .bind(micros(window.since))
            .bind(micros(window.until))
            .fetch_all(self.reads())
            .await
            .map_err(db)?;
        rows.iter().map(our_record).collect()
    }

    async fn save_reconciliation(&self, run: &ReconciliationRun, lines: &[Line]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let counts: Vec<i64> = Outcome::ALL.into_iter().map(|o| i64::try_from(run.count(o)).unwrap_or(i64::MAX)).collect();
        let mut insert = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO reconciliation_runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        )))
        .bind(run.id.to_string())
        .bind(run.gateway_name.clone())
        .bind(micros(run.window.since))
        .bind(micros(run.window.until))
        .bind(micros(run.finished_at));
        for count in counts {
            insert = insert.bind(count);
        }
        insert.execute(&mut *tx).await.map_err(db)?;
        let sql = format!(
            "INSERT INTO reconciliation_lines (run_id, {LINE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
        );
        for (position, line) in (0_i64..).zip(lines) {
            let part = |side: &Option<(Money, Standing)>| {
                side.map(|(amount, standing)| (amount.minor(), amount.currency().code(), standing.as_str()))
            };
            let (ours, theirs) = (part(&line.ours), part(&line.theirs));
            sqlx::query(AssertSqlSafe(sql.clone()))
                .bind(run.id.to_string())
                .bind(position)
                .bind(line.kind.as_str())
                .bind(line.outcome.as_str())
                .bind(line.our_id.clone())
                .bind(line.gateway_id.clone())
                .bind(ours.map(|s| s.0))
                .bind(ours.map(|s| s.1))
                .bind(ours.map(|s| s.2))
                .bind(theirs.map(|s| s.0))
                .bind(theirs.map(|s| s.1))
                .bind(theirs.map(|s| s.2))
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)
    }

    async fn reconciliation_runs(&self, page: Page) -> Result<(Vec<ReconciliationRun>, i64), StoreError> {
        paged(self.reads(), "reconciliation_runs", RUN_COLUMNS, "1 = 1", "finished_at DESC, id DESC", 0, |q| q, page, run).await
    }

    async fn reconciliation_run(&self, id: Uuid) -> Result<Option<(ReconciliationRun, Vec<Line>)>, StoreError> {
        let Some(found) = by_id(self.reads(), "reconciliation_runs", RUN_COLUMNS, id, run).await? else {
            return Ok(None);
        };
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {LINE_COLUMNS} FROM reconciliation_lines WHERE run_id = $1 \
             ORDER BY CASE WHEN outcome = 'matched' THEN 1 ELSE 0 END, position"
        )))
        .bind(id.to_string())
        .fetch_all(self.reads())
        .await
        .map_err(db)?;
        Ok(Some((found, rows.iter().map(line).collect::<Result<_, _>>()?)))
    }
}
