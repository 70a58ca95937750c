//! `WalletStore`: wallet balances from the ledger and the wallet's history.

use app::StoreError;
use app::events_ports::OutboxEvent;
use app::marketplace_ports::Guarded;
use app::ports::{IdempotencyClaim, Page};
use app::wallet_ports::{DecideWallet, WalletStore};
use chrono::{DateTime, Utc};
use domain::ledger::JournalEntry;
use domain::wallet::{WalletTransaction, WalletTransactionKind, WalletTransactionStatus};
use domain::{Currency, Money};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;
use uuid::Uuid;

use crate::inserts::Inserts;
use crate::rows::{by_id, corrupt, due, get, micros, paged, time, uuid};
use crate::transfers::post_or_refuse;
use crate::{SqlStore, db, idempotency, outbox};

const COLUMNS: &str = "id, user_id, kind, amount, currency, status, description, payment_id, idempotency_key, created_at, \
    updated_at, gateway_name, gateway_transaction_id";

fn transaction(row: &AnyRow) -> Result<WalletTransaction, StoreError> {
    let currency = Currency::parse("currency", &get::<String>(row, "currency")?).map_err(corrupt)?;
    Ok(WalletTransaction {
        id: uuid(&get::<String>(row, "id")?)?,
        user_id: get(row, "user_id")?,
        kind: WalletTransactionKind::from_str_opt(&get::<String>(row, "kind")?).ok_or_else(|| corrupt("wallet kind"))?,
        amount: Money::from_minor(get(row, "amount")?, currency),
        status: WalletTransactionStatus::from_str_opt(&get::<String>(row, "status")?).ok_or_else(|| corrupt("wallet status"))?,
        description: get(row, "description")?,
        payment_id: get::<Option<String>>(row, "payment_id")?.as_deref().map(uuid).transpose()?,
        idempotency_key: get(row, "idempotency_key")?,
        created_at: time(get(row, "created_at")?)?,
        updated_at: time(get(row, "updated_at")?)?,
        gateway_name: get(row, "gateway_name")?,
        gateway_transaction_id: get(row, "gateway_transaction_id")?,
    })
}

/// Adds wallet history rows and their events.
pub(crate) fn add_wallet_transactions(inserts: &mut Inserts, transactions: &[&WalletTransaction]) {
    inserts.add_rows(&format!("wallet_transactions ({COLUMNS})"), 13, transactions, |row, t| {
        row.bind(t.id.to_string())
            .bind(t.user_id.as_str())
            .bind(t.kind.as_str())
            .bind(t.amount.minor())
            .bind(t.amount.currency().code())
            .bind(t.status.as_str())
            .bind(t.description.as_str())
            .bind(t.payment_id.map(|p| p.to_string()))
            .bind(t.idempotency_key.as_deref())
            .bind(micros(t.created_at))
            .bind(micros(t.updated_at))
            .bind(t.gateway_name.as_deref())
            .bind(t.gateway_transaction_id.as_deref());
    });
    outbox::add_events(inserts, &transactions.iter().filter_map(|t| OutboxEvent::wallet(t)).collect::<Vec<_>>());
}

#[async_trait::async_trait]
impl WalletStore for SqlStore {
    async fn wallet_balances(&self, user_id: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let rows =
            sqlx::query("SELECT currency, balance FROM ledger_accounts WHERE kind = 'wallet' AND owner = $1 ORDER BY currency")
                .bind(user_id)
                .fetch_all(self.reads())
                .await
                .map_err(db)?;
        rows.iter().map(|row| Ok((get(row, "currency")?, get(row, "balance")?))).collect()
    }

    async fn create_withdrawal(
        &self,
        claim: Option<&IdempotencyClaim>,
        t: &WalletTransaction,
        entries: &[JournalEntry],
    ) -> Result<Guarded<WalletTransaction>, StoreError> {
        let mut tx = self.begin().await?;
        if let Some(existing) = idempotency::claim_optional(&mut tx, claim, &t.id.to_string()).await? {
            return Ok(existing.into_guarded());
        }
        let mut row = Inserts::default();
        add_wallet_transactions(&mut row, &[t]);
        if let Some(refusal) = post_or_refuse(&mut tx, self.known_accounts(), entries, row).await? {
            return Ok(Guarded::Refused(refusal.replace("does not hold enough for this movement", "holds less than the amount")));
        }
        tx.commit().await.map_err(db)?;
        Ok(Guarded::Done(t.clone()))
    }

    async fn wallet_transaction(&self, id: Uuid) -> Result<Option<WalletTransaction>, StoreError> {
        by_id(self.reads(), "wallet_transactions", COLUMNS, id, transaction).await
    }

    async fn wallet_transactions(&self, user_id: &str, page: Page) -> Result<(Vec<WalletTransaction>, i64), StoreError> {
        let user_id = user_id.to_owned();
        let order = "created_at DESC, id DESC";
        paged(
            self.reads(),
            "wallet_transactions",
            COLUMNS,
            "user_id = $1",
            order,
            1,
            |q| q.bind(user_id.clone()),
            page,
            transaction,
        )
        .await
    }

    async fn change_wallet_transaction(
        &self,
        id: Uuid,
        decide: DecideWallet<'_>,
    ) -> Result<Guarded<WalletTransaction>, StoreError> {
        let mut tx = self.begin().await?;
        let sql = format!("SELECT {COLUMNS} FROM wallet_transactions WHERE id = $1{}", self.dialect().for_update());
        let Some(row) = sqlx::query(AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(&mut *tx).await.map_err(db)? else {
            return Ok(Guarded::Refused(format!("wallet transaction {id} does not exist")));
        };
        let current = transaction(&row)?;
        let change = match decide(&current) {
            Ok(change) => change,
            Err(reason) => return Ok(Guarded::Refused(reason)),
        };
        sqlx::query(
            "UPDATE wallet_transactions SET status = $1, updated_at = $2, gateway_transaction_id = $5 WHERE id = $3 AND status = $4",
        )
            .bind(change.transaction.status.as_str())
            .bind(micros(change.transaction.updated_at))
            .bind(id.to_string())
            .bind(current.status.as_str())
            .bind(change.transaction.gateway_transaction_id.as_deref())
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let mut rows = Inserts::default();
        if change.transaction.status != current.status {
            outbox::add_events(&mut rows, OutboxEvent::wallet(&change.transaction).as_slice());
        }
        add_wallet_transactions(&mut rows, &change.added.iter().collect::<Vec<_>>());
        if let Some(refusal) = post_or_refuse(&mut tx, self.known_accounts(), &change.entries, rows).await? {
            return Ok(Guarded::Refused(refusal));
        }
        tx.commit().await.map_err(db)?;
        Ok(Guarded::Done(change.transaction))
    }

    async fn open_withdrawals(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<WalletTransaction>, StoreError> {
        let condition = "status = 'pending' AND kind = 'withdrawal' AND gateway_name IS NULL";
        due(self.reads(), ("wallet_transactions", COLUMNS), condition, "updated_at", before, limit, transaction).await
    }

    async fn unsent_withdrawals(&self, before: DateTime<Utc>, limit: i64) -> Result<Vec<WalletTransaction>, StoreError> {
        let condition =
            "status = 'pending' AND kind = 'withdrawal' AND gateway_name IS NOT NULL AND gateway_transaction_id IS NULL";
        due(self.reads(), ("wallet_transactions", COLUMNS), condition, "created_at", before, limit, transaction).await
    }

    async fn card_on_file(&self, user_id: &str, gateway_name: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query(
            "SELECT gateway_payment_intent_id FROM payments WHERE user_id = $1 AND gateway_name = $2 \
             AND payment_type = 'balance_deposit' AND status IN ('succeeded', 'refunded') \
             AND gateway_payment_intent_id IS NOT NULL ORDER BY paid_at DESC, id DESC LIMIT 1",
        )
        .bind(user_id)
        .bind(gateway_name)
        .fetch_optional(self.reads())
        .await
        .map_err(db)?;
        row.as_ref().map(|row| get(row, "gateway_payment_intent_id")).transpose()
    }
}
