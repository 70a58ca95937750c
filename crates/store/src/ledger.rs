//! Posting journal entries and proving the ledger's invariants.

use app::StoreError;
use chrono::Utc;
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use domain::ledger::{EntryKind, JournalEntry, LedgerAccount, LedgerViolation};
use sqlx::{Any, AnyPool, AssertSqlSafe, Row, Transaction};
use uuid::Uuid;

use crate::balance_moves::{self, Move};
use crate::inserts::Inserts;
use crate::rows::{flag, micros};
use crate::{Dialect, db, stripes};

/// Writes entries, with `beside` (the rows the entries go with) in the same round
/// trip, and moves the balances in the caller's transaction. Each account's
/// balance is updated once, with the net of all the entries' postings, and the
/// accounts are updated in one global code order: two transactions touching
/// overlapping accounts always lock them in the same order and cannot deadlock. An
/// account that may not go negative and would: `InsufficientFunds`, and the caller's
/// transaction must roll back (the entries may already be written).
///
/// Round trips are what a write costs under load (issue 11): an account is created
/// only when its update finds no row, and the entries, their postings and `beside`
/// go in as few round trips as `Inserts` can (usually one). When every account is one
/// `known` has seen, the entries go first and the balances last, right before the
/// commit, so a busy account's row is locked for the shortest time; on PostgreSQL
/// they then go in one statement (`balance_moves`). Call it once per transaction: it learns an account
/// when its update finds the row, which a second call could find from the first
/// call's own insert, uncommitted (and rolled back, the store would believe it exists).
pub(crate) async fn post_entries(
    tx: &mut Transaction<'_, Any>,
    known: &KnownAccounts,
    entries: &[JournalEntry],
    mut beside: Inserts,
) -> Result<(), StoreError> {
    let now = micros(Utc::now());
    let moves = moves_of(entries)?;
    add_entries(&mut beside, entries, now);
    let start = stripe_start(entries);
    if !known.all(&moves) {
        move_balances(tx, known, &moves, start, now).await?;
        return beside.write(tx).await;
    }
    beside.write(tx).await?;
    let moved = match Dialect::of_connection(tx) {
        Dialect::Postgres => balance_moves::make_moves(tx, &moves, stripes::first_stripe(start)?).await?,
        Dialect::Sqlite => 0,
    };
    move_balances(tx, known, &moves[moved..], start, now).await
}

/// `post_entries` as one statement that commits alone, outside a transaction, on
/// PostgreSQL: all or nothing. False, and nothing written, when it cannot be one (an
/// account not known yet, or more accounts or rows than one statement holds); `Err`,
/// and nothing written, when the statement fails, a balance that did not move
/// included (no free stripe covering it alone, or a guard).
pub(crate) async fn post_at_once(
    connection: &mut sqlx::AnyConnection,
    known: &KnownAccounts,
    entries: &[JournalEntry],
    mut beside: Inserts,
    after: Option<&str>,
) -> Result<bool, StoreError> {
    let moves = moves_of(entries)?;
    if moves.is_empty() || !known.all(&moves) {
        return Ok(false);
    }
    add_entries(&mut beside, entries, micros(Utc::now()));
    balance_moves::write_at_once(connection, beside, &moves, stripes::first_stripe(stripe_start(entries))?, after).await
}

/// Each account's net change over the entries, in the ledger's lock order (code order).
fn moves_of(entries: &[JournalEntry]) -> Result<Vec<Move<'_>>, StoreError> {
    let mut net: BTreeMap<String, (&LedgerAccount, i64)> = BTreeMap::new();
    for entry in entries {
        for posting in entry.postings_in_lock_order() {
            let slot = net.entry(posting.account.code()).or_insert((&posting.account, 0));
            slot.1 = slot.1.checked_add(posting.amount).ok_or_else(|| StoreError::Corrupt("balance overflow".into()))?;
        }
    }
    Ok(net.into_iter().map(|(code, (account, delta))| Move { code, account, delta }).collect())
}

/// An account's balance, striped or not (0 before its first posting), read in the
/// caller's transaction but not locked: `post_entries` locks accounts in code order
/// only, and a lock taken here first could deadlock against it. A plan built on a
/// balance that moved meanwhile is stopped by the account's guard, and rolls back.
pub(crate) async fn balance_in(tx: &mut Transaction<'_, Any>, code: &str) -> Result<i64, StoreError> {
    let row = sqlx::query("SELECT balance FROM ledger_balances WHERE id = $1")
        .bind(code)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    row.map(|r| r.try_get("balance").map_err(db)).transpose().map(Option::unwrap_or_default)
}

/// The postings (account code, amount) of the entries of `kind` about `object_id`.
pub(crate) async fn postings_of(
    tx: &mut Transaction<'_, Any>,
    kind: EntryKind,
    object_id: &str,
) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = sqlx::query(
        "SELECT p.account_id, p.amount FROM postings p JOIN journal_entries e ON e.id = p.entry_id \
         WHERE e.kind = $1 AND e.object_id = $2",
    )
    .bind(kind.as_str())
    .bind(object_id)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    rows.iter().map(|r| Ok((r.try_get("account_id").map_err(db)?, r.try_get("amount").map_err(db)?))).collect()
}

/// The ledger accounts a store has found in the database. Accounts are never deleted,
/// so one found once exists for good and its postings can be inserted before its
/// balance moves (their foreign key needs the row).
#[derive(Default)]
pub(crate) struct KnownAccounts(Mutex<HashSet<String>>);

impl KnownAccounts {
    fn all(&self, moves: &[Move<'_>]) -> bool {
        self.0.lock().is_ok_and(|known| moves.iter().all(|m| known.contains(&m.code)))
    }

    fn learn(&self, code: &str) {
        if let Ok(mut known) = self.0.lock() {
            known.insert(code.to_owned());
        }
    }
}

/// Moves each account in turn (in lock order), creating it when missing.
async fn move_balances(
    tx: &mut Transaction<'_, Any>,
    known: &KnownAccounts,
    moves: &[Move<'_>],
    start: u64,
    now: i64,
) -> Result<(), StoreError> {
    for Move { code, account, delta } in moves {
        if move_account(tx, code, account, *delta, start).await? {
            known.learn(code);
        } else {
            // No row yet, or not enough on it: create it if missing (a concurrent
            // creator makes this wait for its commit), then try once more.
            create_account(tx, code, account, now).await?;
            if !move_account(tx, code, account, *delta, start).await? {
                return Err(StoreError::InsufficientFunds { account: code.clone() });
            }
        }
    }
    Ok(())
}

/// Adds the entries and their postings, one multi-row INSERT each.
fn add_entries(inserts: &mut Inserts, entries: &[JournalEntry], now: i64) {
    let mut journal = Vec::with_capacity(entries.len());
    let mut postings = Vec::new();
    for entry in entries {
        let entry_id = Uuid::now_v7().to_string();
        for posting in entry.postings_in_lock_order() {
            postings.push((entry_id.clone(), posting));
        }
        journal.push((entry_id, entry));
    }
    inserts.add_rows("journal_entries (id, kind, object_id, created_at)", 4, &journal, |row, (entry_id, entry)| {
        row.bind(entry_id.as_str()).bind(entry.kind().as_str()).bind(entry.object_id()).bind(now);
    });
    inserts.add_rows("postings (id, entry_id, account_id, amount, currency)", 5, &postings, |row, (entry_id, posting)| {
        row.bind(Uuid::now_v7().to_string())
            .bind(entry_id.as_str())
            .bind(posting.account.code())
            .bind(posting.amount)
            .bind(posting.account.currency);
    });
}

/// Moves a striped account's stripes, or an account's own row.
async fn move_account(
    tx: &mut Transaction<'_, Any>,
    code: &str,
    account: &LedgerAccount,
    delta: i64,
    start: u64,
) -> Result<bool, StoreError> {
    if account.kind.striped() {
        stripes::move_striped(tx, code, account.kind.may_go_negative(), delta, start).await
    } else {
        move_balance(tx, code, delta).await
    }
}

/// Where an operation's search for a free stripe begins: a hash of its first entry's
/// object id, so concurrent operations start apart (any stripe is correct; this only
/// spreads them).
fn stripe_start(entries: &[JournalEntry]) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(entries.first().map_or("", |entry| entry.object_id()), &mut hasher);
    std::hash::Hasher::finish(&hasher)
}

/// The UPDATE that adds `$1` to account `$2`'s balance unless that would take a
/// non-negative account below zero, or a receivable or expense account above zero
/// (a debt repaid twice), and `gate` (`" AND …"`) holds; it returns `moved`.
pub(crate) fn balance_update(gate: &str) -> String {
    format!(
        "UPDATE ledger_accounts SET balance = balance + $1 WHERE id = $2 AND (may_go_negative = 1 OR balance + $1 >= 0) \
         AND (kind NOT IN ('vendor_receivable', 'platform_expenses') OR balance + $1 <= 0){gate} RETURNING id AS moved"
    )
}

/// False when no row moved (missing account, or not enough on it).
async fn move_balance(tx: &mut Transaction<'_, Any>, code: &str, delta: i64) -> Result<bool, StoreError> {
    moved_one(tx, sqlx::query(AssertSqlSafe(balance_update(""))).bind(delta).bind(code)).await
}

/// Runs a balance UPDATE of one row: false when its guard (or a missing row) left it.
pub(crate) async fn moved_one<'q>(
    tx: &mut Transaction<'_, Any>,
    update: sqlx::query::Query<'q, Any, <Any as sqlx::Database>::Arguments>,
) -> Result<bool, StoreError> {
    Ok(update.execute(&mut **tx).await.map_err(db)?.rows_affected() == 1)
}

async fn create_account(tx: &mut Transaction<'_, Any>, code: &str, account: &LedgerAccount, now: i64) -> Result<(), StoreError> {
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
    if account.kind.striped() {
        stripes::create_stripes(tx, code, account.kind.may_go_negative()).await?;
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
        "SELECT currency, CAST(SUM(balance) AS BIGINT) AS total FROM ledger_balances GROUP BY currency HAVING SUM(balance) <> 0",
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
         FROM ledger_balances a",
    )
    .await?
    {
        let (balance, postings_sum) = (number(&row, "balance")?, number(&row, "total")?);
        if balance != postings_sum {
            violations.push(LedgerViolation::BalanceDrift { account: text(&row, "id")?, balance, postings_sum });
        }
    }
    for row in fetch(pool, "SELECT id, balance FROM ledger_balances WHERE may_go_negative = 0 AND balance < 0").await? {
        violations.push(LedgerViolation::Negative { account: text(&row, "id")?, balance: number(&row, "balance")? });
    }
    // A receivable or expense above zero: the platform recovered more than it was
    // owed. With every balance equal to its postings, this proves each receivable
    // was recovered at most once in total (created − recovered ≥ 0).
    for row in fetch(
        pool,
        "SELECT id, balance FROM ledger_accounts WHERE kind IN ('vendor_receivable', 'platform_expenses') AND balance > 0",
    )
    .await?
    {
        violations.push(LedgerViolation::OverRecovered { account: text(&row, "id")?, balance: number(&row, "balance")? });
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
