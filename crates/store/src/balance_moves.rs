//! An operation's balances moved in one statement on PostgreSQL: after its rows in a
//! transaction, or with them in a statement that commits alone (issue 11: an
//! `UPDATE` per account was a round trip per account, each made while holding the
//! locks taken before it).
//!
//! Each account's move is a data-modifying CTE, in the ledger's lock order (account
//! code), and each is gated on the one before it having moved: an account's row or
//! stripe is locked only after every account before it, so the one global lock order
//! that keeps writers from deadlocking holds inside the statement too. A striped
//! account takes a free stripe only (`SKIP LOCKED`: the statement never waits for a
//! stripe); a plain account's row is waited for, as one by one. The chain stops at the
//! first account that did not move (every stripe held, no single stripe covering a
//! debit, no row, or a guard), and the caller moves that one and the rest one by one.

use app::StoreError;
use domain::ledger::LedgerAccount;
use sqlx::{Any, Transaction};

use crate::inserts::Inserts;
use crate::{Dialect, db, ledger, stripes};

/// Moves per statement: with the rows beside them, within `Inserts`' share of CTEs.
const MOVES_PER_STATEMENT: usize = 8;
/// The CTE of each move of a statement, by its place in it.
const MOVED: [&str; MOVES_PER_STATEMENT] =
    ["moved_0", "moved_1", "moved_2", "moved_3", "moved_4", "moved_5", "moved_6", "moved_7"];

/// A net change of one account's balance.
pub(crate) struct Move<'a> {
    pub(crate) code: String,
    pub(crate) account: &'a LedgerAccount,
    pub(crate) delta: i64,
}

impl Move<'_> {
    /// Its statement's placeholders: delta and code, and a striped account's first stripe.
    fn values(&self) -> usize {
        if self.account.kind.striped() { 3 } else { 2 }
    }
}

/// Makes `moves` (in lock order, every account existing) in the caller's transaction,
/// up to `MOVES_PER_STATEMENT` per statement. Answers how many of the moves, from the
/// first, were made: the caller makes the rest. The write's rows go in a statement
/// before these (`ledger::post_entries`): the keys they claim and the rows their
/// foreign keys check are locked before any balance, as one by one.
pub(crate) async fn make_moves(
    tx: &mut Transaction<'_, Any>,
    moves: &[Move<'_>],
    first_stripe: i64,
) -> Result<usize, StoreError> {
    let mut moved = 0;
    for segment in moves.chunks(MOVES_PER_STATEMENT) {
        let mut statement = Inserts::default();
        let select = add_moves(&mut statement, segment, first_stripe, None);
        let made = statement.fetch_all(Dialect::Postgres, &mut **tx, Some(&select)).await?.len();
        moved += made;
        if made < segment.len() {
            break;
        }
    }
    Ok(moved)
}

/// Writes `beside` and makes every one of `moves` in one statement that commits alone
/// (`connection` in no transaction), or fails and writes nothing: its last step
/// divides by zero when a move of the chain was not made. False, and nothing
/// written, when they do not fit in one statement. `after` names a CTE of `beside`
/// (returning rows) that runs to its end before the first move: the keys' claims,
/// whose wait for a concurrent claim of the same key must come before any balance
/// is locked. The foreign keys are checked as the statement ends, after the moves:
/// their parents (vendors, ledger accounts, endpoints) are never locked by a writer
/// that then waits for a balance.
pub(crate) async fn write_at_once(
    connection: &mut sqlx::AnyConnection,
    mut beside: Inserts,
    moves: &[Move<'_>],
    first_stripe: i64,
    after: Option<&str>,
) -> Result<bool, StoreError> {
    let values = moves.iter().map(Move::values).sum();
    if moves.len() > MOVES_PER_STATEMENT || !beside.has_room_for(moves.len(), values) {
        return Ok(false);
    }
    let made = add_moves(&mut beside, moves, first_stripe, after);
    let all_made = format!("SELECT 1 / CAST(COUNT(*) = {} AS INTEGER) AS all_moved FROM ({made}) AS made", moves.len());
    match beside.try_fetch_all(Dialect::Postgres, connection, Some(&all_made)).await? {
        Ok(_) => Ok(true),
        Err(error) => {
            let code = error.as_database_error().and_then(|e| e.code().map(|code| code.into_owned()));
            // A key used before (23505) or a move not made (22012) is what the
            // statement is for; anything else is worth a look.
            if !matches!(code.as_deref(), Some("23505" | "22012")) {
                tracing::warn!(%error, "a write in one statement failed: it is written in a transaction instead");
            }
            Err(db(error))
        }
    }
}

/// Adds the chain of moves as CTEs, each returning one row when it moved; answers the
/// select that returns those rows.
fn add_moves(statement: &mut Inserts, moves: &[Move<'_>], first_stripe: i64, after: Option<&str>) -> String {
    let mut select = Vec::with_capacity(moves.len());
    for (index, step) in moves.iter().enumerate() {
        let gate = match (index, after) {
            // COUNT reads all of it: the whole INSERT runs first.
            (0, Some(first)) => format!(" AND (SELECT COUNT(*) FROM {first}) > 0"),
            (0, None) => String::new(),
            _ => format!(" AND EXISTS (SELECT 1 FROM {})", MOVED[index - 1]),
        };
        if step.account.kind.striped() {
            statement.add_named(MOVED[index], &stripes::free_stripe_update(" FOR UPDATE SKIP LOCKED", &gate));
            statement.bind(step.delta).bind(step.code.as_str()).bind(first_stripe);
        } else {
            statement.add_named(MOVED[index], &ledger::balance_update(&gate));
            statement.bind(step.delta).bind(step.code.as_str());
        }
        select.push(format!("SELECT moved FROM {}", MOVED[index]));
    }
    select.join(" UNION ALL ")
}
