//! Posting journal entries and proving the ledger's invariants.

use app::StoreError;
use chrono::Utc;
use std::collections::BTreeMap;

use domain::ledger::{JournalEntry, LedgerAccount, LedgerViolation};
use sqlx::{Any, AnyPool, Row, Transaction};
use uuid::Uuid;

use crate::db;
use crate::rows::{flag, micros};

/// Writes entries and moves the balances in the caller's transaction. Each account's
/// balance is updated once, with the net of all the entries' postings, and the
/// accounts are updated in one global code order: two transactions touching
/// overlapping accounts always lock them in the same order and cannot deadlock. An
/// account that may not go negative and would: `InsufficientFunds`, and the caller's
/// transaction must roll back.
pub(crate) async fn post_entries(tx: &mut Transaction<'_, Any>, entries: &[JournalEntry]) -> Result<(), StoreError> {
    let now = micros(Utc::now());
    let mut net: BTreeMap<String, (&LedgerAccount, i64)> = BTreeMap::new();
    for entry in entries {
        for posting in entry.postings_in_lock_order() {
            let slot = net.entry(posting.account.code()).or_insert((&posting.account, 0));
            slot.1 = slot.1.checked_add(posting.amount).ok_or_else(|| StoreError::Corrupt("balance overflow".into()))?;
        }
    }
    for (code, (account, delta)) in &net {
        sqlx::query(
            "INSERT INTO ledger_accounts (id, kind, owner, currency, balance, may_go_negative, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(code)
        .bind(account.kind.as_str())
        .bind(account.owner.as_deref())
        .bind(account.currency)
        .bind(flag(account.kind.may_go_negative()))
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(db)?;
        let moved = sqlx::query(
            "UPDATE ledger_accounts SET balance = balance + $1 WHERE id = $2 AND (may_go_negative = 1 OR balance + $1 >= 0)",
        )
        .bind(*delta)
        .bind(code)
        .execute(&mut **tx)
        .await
        .map_err(db)?
        .rows_affected();
        if moved != 1 {
            return Err(StoreError::InsufficientFunds { account: code.clone() });
        }
    }
    for entry in entries {
        let entry_id = Uuid::now_v7().to_string();
        sqlx::query("INSERT INTO journal_entries (id, kind, object_id, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&entry_id)
            .bind(entry.kind().as_str())
            .bind(entry.object_id())
            .bind(now)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
        for posting in entry.postings_in_lock_order() {
            sqlx::query("INSERT INTO postings (id, entry_id, account_id, amount, currency) VALUES ($1, $2, $3, $4, $5)")
                .bind(Uuid::now_v7().to_string())
                .bind(&entry_id)
                .bind(posting.account.code())
                .bind(posting.amount)
                .bind(posting.account.currency)
                .execute(&mut **tx)
                .await
                .map_err(db)?;
        }
    }
    Ok(())
}

/// Every invariant of DESIGN §2, plus: each succeeded payment has exactly its capture.
pub(crate) async fn check(pool: &AnyPool) -> Result<Vec<LedgerViolation>, StoreError> {
    let mut violations = Vec::new();
    let text = |row: &sqlx::any::AnyRow, column: &str| row.try_get::<String, _>(column).map_err(db);
    let number = |row: &sqlx::any::AnyRow, column: &str| row.try_get::<i64, _>(column).map_err(db);

    for row in fetch(
        pool,
        "SELECT currency, CAST(SUM(balance) AS BIGINT) AS total FROM ledger_accounts GROUP BY currency HAVING SUM(balance) <> 0",
    )
    .await?
    {
        violations.push(LedgerViolation::CurrencyUnbalanced { currency: text(&row, "currency")?, sum: number(&row, "total")? });
    }
    for row in fetch(
        pool,
        "SELECT entry_id, currency, CAST(SUM(amount) AS BIGINT) AS total FROM postings GROUP BY entry_id, currency HAVING SUM(amount) <> 0",
    )
    .await?
    {
        violations.push(LedgerViolation::EntryUnbalanced {
            entry_id: text(&row, "entry_id")?,
            currency: text(&row, "currency")?,
            sum: number(&row, "total")?,
        });
    }
    for row in fetch(
        pool,
        "SELECT a.id, a.balance, CAST(COALESCE((SELECT SUM(p.amount) FROM postings p WHERE p.account_id = a.id), 0) AS BIGINT) AS total \
         FROM ledger_accounts a",
    )
    .await?
    {
        let (balance, postings_sum) = (number(&row, "balance")?, number(&row, "total")?);
        if balance != postings_sum {
            violations.push(LedgerViolation::BalanceDrift { account: text(&row, "id")?, balance, postings_sum });
        }
    }
    for row in fetch(pool, "SELECT id, balance FROM ledger_accounts WHERE may_go_negative = 0 AND balance < 0").await? {
        violations.push(LedgerViolation::Negative { account: text(&row, "id")?, balance: number(&row, "balance")? });
    }
    for row in fetch(
        pool,
        "SELECT p.id FROM payments p WHERE p.status IN ('succeeded', 'refunded') \
         AND NOT EXISTS (SELECT 1 FROM journal_entries j WHERE j.kind = 'capture' AND j.object_id = p.id)",
    )
    .await?
    {
        violations.push(LedgerViolation::MissingCapture { payment_id: text(&row, "id")? });
    }
    Ok(violations)
}

async fn fetch(pool: &AnyPool, sql: &'static str) -> Result<Vec<sqlx::any::AnyRow>, StoreError> {
    sqlx::query(sql).fetch_all(pool).await.map_err(db)
}
