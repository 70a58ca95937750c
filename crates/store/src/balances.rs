//! `BalanceStore`: vendor balances read from the ledger, and balance snapshots.

use std::collections::BTreeMap;

use app::StoreError;
use app::marketplace_ports::{BalanceLine, BalanceSnapshot, BalanceStore, GatewayFigures, SnapshotType};
use app::ports::Page;
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::rows::{corrupt, get, micros, paged, time, uuid};
use crate::{SqlStore, db};

const COLUMNS: &str = "id, connected_account_id, currency, available_amount, pending_amount, instant_available_amount, \
    source_types, snapshot_type, created_at, gateway_available_amount, gateway_pending_amount, gateway_account_id, \
    receivable_amount";

fn snapshot(row: &AnyRow) -> Result<BalanceSnapshot, StoreError> {
    Ok(BalanceSnapshot {
        id: uuid(&get::<String>(row, "id")?)?,
        connected_account_id: uuid(&get::<String>(row, "connected_account_id")?)?,
        gateway_account_id: get::<Option<String>>(row, "gateway_account_id")?.unwrap_or_default(),
        currency: get(row, "currency")?,
        available_minor: get(row, "available_amount")?,
        pending_minor: get(row, "pending_amount")?,
        instant_available_minor: get(row, "instant_available_amount")?,
        receivable_minor: get(row, "receivable_amount")?,
        source_types: serde_json::from_str(&get::<String>(row, "source_types")?).map_err(corrupt)?,
        snapshot_type: SnapshotType::parse(&get::<String>(row, "snapshot_type")?).ok_or_else(|| corrupt("snapshot_type"))?,
        created_at: time(get(row, "created_at")?)?,
        gateway: match (get::<Option<i64>>(row, "gateway_available_amount")?, get::<Option<i64>>(row, "gateway_pending_amount")?)
        {
            (Some(available_minor), Some(pending_minor)) => Some(GatewayFigures { available_minor, pending_minor }),
            _ => None,
        },
    })
}

#[async_trait::async_trait]
impl BalanceStore for SqlStore {
    async fn balance_lines(&self, account: Uuid) -> Result<Vec<BalanceLine>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, currency, balance FROM ledger_balances WHERE owner = $1 \
             AND kind IN ('vendor_available', 'vendor_pending', 'vendor_receivable') ORDER BY currency",
        )
        .bind(account.to_string())
        .fetch_all(self.reads())
        .await
        .map_err(db)?;
        let mut lines: BTreeMap<String, BalanceLine> = BTreeMap::new();
        for row in &rows {
            let currency: String = get(row, "currency")?;
            let line = lines.entry(currency.clone()).or_insert_with(|| BalanceLine {
                currency,
                available_minor: 0,
                pending_minor: 0,
                receivable_minor: 0,
                source_types: Vec::new(),
            });
            match get::<String>(row, "kind")?.as_str() {
                "vendor_available" => line.available_minor = get(row, "balance")?,
                "vendor_receivable" => line.receivable_minor = -get::<i64>(row, "balance")?,
                _ => line.pending_minor = get(row, "balance")?,
            }
        }
        let sources = sqlx::query(
            "SELECT DISTINCT a.currency, j.kind FROM postings p JOIN ledger_accounts a ON a.id = p.account_id \
             JOIN journal_entries j ON j.id = p.entry_id \
             WHERE a.owner = $1 AND a.kind IN ('vendor_available', 'vendor_pending') ORDER BY j.kind",
        )
        .bind(account.to_string())
        .fetch_all(self.reads())
        .await
        .map_err(db)?;
        for row in &sources {
            if let Some(line) = lines.get_mut(&get::<String>(row, "currency")?) {
                line.source_types.push(get(row, "kind")?);
            }
        }
        Ok(lines.into_values().collect())
    }

    async fn insert_snapshots(&self, snapshots: &[BalanceSnapshot]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        insert(&mut tx, snapshots).await?;
        tx.commit().await.map_err(db)
    }

    async fn recent_on_demand_snapshots(&self, account: Uuid, since: DateTime<Utc>) -> Result<Vec<BalanceSnapshot>, StoreError> {
        let mut connection = self.reads().acquire().await.map_err(db)?;
        recent_on_demand(&mut connection, account, since).await
    }

    async fn insert_on_demand_snapshots(
        &self,
        account: Uuid,
        snapshots: &[BalanceSnapshot],
        since: DateTime<Utc>,
    ) -> Result<Vec<BalanceSnapshot>, StoreError> {
        let mut tx = self.begin().await?;
        // Concurrent refreshes of one account queue here; the first one's rows win.
        sqlx::query(AssertSqlSafe(format!("SELECT id FROM connected_accounts WHERE id = $1{}", self.dialect().for_update())))
            .bind(account.to_string())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let stored = recent_on_demand(&mut tx, account, since).await?;
        if !stored.is_empty() {
            return Ok(stored);
        }
        insert(&mut tx, snapshots).await?;
        tx.commit().await.map_err(db)?;
        Ok(snapshots.to_vec())
    }

    async fn snapshots(
        &self,
        account: Uuid,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        page: Page,
    ) -> Result<(Vec<BalanceSnapshot>, i64), StoreError> {
        let filter = "connected_account_id = $1 AND created_at >= $2 AND created_at <= $3";
        let (account, from, to) = (account.to_string(), from.map_or(i64::MIN, micros), to.map_or(i64::MAX, micros));
        paged(
            self.reads(),
            "balance_snapshots",
            COLUMNS,
            filter,
            "created_at, id",
            3,
            |q| q.bind(account.clone()).bind(from).bind(to),
            page,
            snapshot,
        )
        .await
    }

    async fn claim_job_slot(&self, job: &str, slot: i64) -> Result<bool, StoreError> {
        let claimed = sqlx::query(
            "INSERT INTO scheduler_slots (job, slot, claimed_at) VALUES ($1, $2, $3) ON CONFLICT (job, slot) DO NOTHING",
        )
        .bind(job)
        .bind(slot)
        .bind(micros(Utc::now()))
        .execute(self.pool())
        .await
        .map_err(db)?
        .rows_affected();
        Ok(claimed == 1)
    }

    async fn accounts_with_balances(&self) -> Result<Vec<Uuid>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT owner FROM ledger_accounts WHERE kind IN ('vendor_available', 'vendor_pending', 'vendor_receivable') \
             ORDER BY owner",
        )
        .fetch_all(self.reads())
        .await
        .map_err(db)?;
        rows.iter().map(|row| uuid(&get::<String>(row, "owner")?)).collect()
    }
}

async fn insert(connection: &mut AnyConnection, snapshots: &[BalanceSnapshot]) -> Result<(), StoreError> {
    for s in snapshots {
        sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO balance_snapshots ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        )))
        .bind(s.id.to_string())
        .bind(s.connected_account_id.to_string())
        .bind(&s.currency)
        .bind(s.available_minor)
        .bind(s.pending_minor)
        .bind(s.instant_available_minor)
        .bind(serde_json::to_string(&s.source_types).map_err(corrupt)?)
        .bind(s.snapshot_type.as_str())
        .bind(micros(s.created_at))
        .bind(s.gateway.map(|g| g.available_minor))
        .bind(s.gateway.map(|g| g.pending_minor))
        .bind(&s.gateway_account_id)
        .bind(s.receivable_minor)
        .execute(&mut *connection)
        .await
        .map_err(db)?;
    }
    Ok(())
}

/// One on-demand refresh writes all its currencies with the same `created_at`.
async fn recent_on_demand(
    connection: &mut AnyConnection,
    account: Uuid,
    since: DateTime<Utc>,
) -> Result<Vec<BalanceSnapshot>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM balance_snapshots WHERE connected_account_id = $1 AND snapshot_type = 'on_demand' \
         AND created_at = (SELECT MAX(created_at) FROM balance_snapshots \
         WHERE connected_account_id = $2 AND snapshot_type = 'on_demand' AND created_at >= $3) ORDER BY currency"
    )))
    .bind(account.to_string())
    .bind(account.to_string())
    .bind(micros(since))
    .fetch_all(&mut *connection)
    .await
    .map_err(db)?;
    rows.iter().map(snapshot).collect()
}
