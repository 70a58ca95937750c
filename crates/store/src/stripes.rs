//! Striped balances of busy accounts (`AccountKind::striped`): the platform's own, and
//! a vendor's pending and available balances.
//!
//! Nearly every write moves `external` and `platform_cash`, and every transfer to a
//! vendor its `vendor_pending`. With one balance row each, a writer held that row's
//! lock until its commit and the others queued behind it (issue 11). A striped account keeps its balance in `STRIPES` rows of
//! `ledger_stripes`; its balance is their sum plus its `ledger_accounts.balance`, which
//! stays 0 (the `ledger_balances` view). A move takes the first stripe, from one chosen by the
//! operation, that no other transaction holds and, for a debit of an account that may
//! not go negative, that holds enough: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so
//! concurrent writers take different stripes instead of waiting.
//!
//! The guard: every stripe of a non-negative account is itself never negative (the
//! update's condition, and a CHECK), so their sum is not either. A debit that no free
//! stripe covers alone locks all the account's stripes in stripe order, and takes from
//! several of them, or refuses when their sum is short. Stripes are locked after the
//! accounts before them in code order and before those after, so the ledger's one
//! global lock order still holds and two writers never wait on each other in a cycle.

use app::StoreError;
use sqlx::{Any, AssertSqlSafe, Row, Transaction};

use crate::{Dialect, db, ledger};

/// Stripes per account: more than the pool's connections rarely helps, since at most
/// that many transactions can hold one at a time. The migrations that introduced them
/// made 16 for the accounts that existed; a change here needs one that adds the rest.
const STRIPES: i64 = 16;

/// Adds `delta` to a striped account, starting the search at the stripe `start`
/// chooses. False when the account has no stripes yet (the caller creates the
/// account); `InsufficientFunds` when a guarded account's stripes do not hold enough.
pub(crate) async fn move_striped(
    tx: &mut Transaction<'_, Any>,
    code: &str,
    may_go_negative: bool,
    delta: i64,
    start: u64,
) -> Result<bool, StoreError> {
    let first = first_stripe(start)?;
    if take_free_stripe(tx, code, delta, first).await? {
        return Ok(true);
    }
    if !has_stripes(tx, code).await? {
        return Ok(false);
    }
    if may_go_negative || delta >= 0 {
        // Every stripe is held by another writer: wait for the chosen one.
        return add_to_stripe(tx, code, first, delta).await;
    }
    spread_debit(tx, code, delta).await.map(|()| true)
}

/// Creates the stripes of an account whose `ledger_accounts` row exists.
pub(crate) async fn create_stripes(tx: &mut Transaction<'_, Any>, code: &str, may_go_negative: bool) -> Result<(), StoreError> {
    let tuples: Vec<String> = (0..STRIPES).map(|stripe| format!("($1, {stripe}, 0, $2)")).collect();
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO ledger_stripes (account_id, stripe, balance, may_go_negative) VALUES {} \
         ON CONFLICT (account_id, stripe) DO NOTHING",
        tuples.join(", ")
    )))
    .bind(code)
    .bind(i64::from(may_go_negative))
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

/// The stripe an operation's search for a free one begins at, from its `start`.
pub(crate) fn first_stripe(start: u64) -> Result<i64, StoreError> {
    i64::try_from(start % STRIPES.unsigned_abs()).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The UPDATE that moves account `$2`'s first stripe from `$3` on that no one holds
/// and that the move by `$1` leaves non-negative (or that may go negative); `gate`
/// (`" AND …"`) must hold too before a stripe is chosen and locked. It returns `moved`.
pub(crate) fn free_stripe_update(skip_locked: &str, gate: &str) -> String {
    format!(
        "UPDATE ledger_stripes SET balance = balance + $1 \
         WHERE account_id = $2 AND (may_go_negative = 1 OR balance + $1 >= 0) AND stripe = \
         (SELECT stripe FROM ledger_stripes WHERE account_id = $2 AND (may_go_negative = 1 OR balance + $1 >= 0){gate} \
         ORDER BY (stripe + {STRIPES} - $3) % {STRIPES} LIMIT 1{skip_locked}) RETURNING account_id AS moved"
    )
}

/// One statement: the first free stripe from `first` on, moved by `delta`.
async fn take_free_stripe(tx: &mut Transaction<'_, Any>, code: &str, delta: i64, first: i64) -> Result<bool, StoreError> {
    let skip_locked = match Dialect::of_connection(tx) {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    let update = sqlx::query(AssertSqlSafe(free_stripe_update(skip_locked, ""))).bind(delta).bind(code).bind(first);
    ledger::moved_one(tx, update).await
}

async fn has_stripes(tx: &mut Transaction<'_, Any>, code: &str) -> Result<bool, StoreError> {
    let row = sqlx::query("SELECT 1 AS one FROM ledger_stripes WHERE account_id = $1 LIMIT 1")
        .bind(code)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db)?;
    Ok(row.is_some())
}

async fn add_to_stripe(tx: &mut Transaction<'_, Any>, code: &str, stripe: i64, delta: i64) -> Result<bool, StoreError> {
    let update = sqlx::query(
        "UPDATE ledger_stripes SET balance = balance + $1 \
         WHERE account_id = $2 AND stripe = $3 AND (may_go_negative = 1 OR balance + $1 >= 0)",
    );
    ledger::moved_one(tx, update.bind(delta).bind(code).bind(stripe)).await
}

/// A debit no single free stripe covers: lock every stripe (in stripe order) and take
/// from each in turn, or refuse when all of them together hold too little.
async fn spread_debit(tx: &mut Transaction<'_, Any>, code: &str, delta: i64) -> Result<(), StoreError> {
    let lock = match Dialect::of_connection(tx) {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT stripe, balance FROM ledger_stripes WHERE account_id = $1 ORDER BY stripe{lock}"
    )))
    .bind(code)
    .fetch_all(&mut **tx)
    .await
    .map_err(db)?;
    let mut stripes = Vec::with_capacity(rows.len());
    for row in &rows {
        stripes.push((row.try_get::<i64, _>("stripe").map_err(db)?, row.try_get::<i64, _>("balance").map_err(db)?));
    }
    let takes = domain::ledger::spread_debit(&stripes, delta)
        .ok_or_else(|| StoreError::InsufficientFunds { account: code.to_owned() })?;
    for (stripe, take) in takes {
        if !add_to_stripe(tx, code, stripe, -take).await? {
            return Err(StoreError::Corrupt(format!("stripe {stripe} of {code} moved under its lock")));
        }
    }
    Ok(())
}
