//! An operation's balances moved in one statement on PostgreSQL, with the rows
//! they go with (issue 11: an `UPDATE` per account was a round trip per account,
//! each made while holding the locks taken before it).
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
use crate::{Dialect, ledger, stripes};

/// Moves per statement: with the rows beside them, within `Inserts`' share of CTEs.
const MOVES_PER_STATEMENT: usize = 8;
/// The CTE of each move of a statement, by its place in it.
const MOVED: [&str; MOVES_PER_STATEMENT] =
    ["moved_0", "moved_1", "moved_2", "moved_3", "moved_4", "moved_5", "moved_6", "moved_7"];

/// A net change of one account's balance.
pub(crate) struct Move<'a> {
    pub(crate) code: &'a str,
    pub(crate) account: &'a LedgerAccount,
    pub(crate) delta: i64,
}

impl Move<'_> {
    /// Its statement's placeholders: delta and code, and a striped account's first stripe.
    fn values(&self) -> usize {
        if self.account.kind.striped() { 3 } else { 2 }
    }
}

/// Writes `beside` and makes `moves` (in lock order, every account existing) in the
/// caller's transaction, in as few statements as fit (usually one). Answers how many
/// of the moves, from the first, were made: the caller makes the rest.
pub(crate) async fn write_moving(
    tx: &mut Transaction<'_, Any>,
    beside: Inserts,
    moves: &[Move<'_>],
    first_stripe: i64,
) -> Result<usize, StoreError> {
    let mut beside = Some(beside);
    let mut moved = 0;
    for segment in moves.chunks(MOVES_PER_STATEMENT) {
        let values = segment.iter().map(Move::values).sum();
        let mut statement = match beside.take() {
            Some(rows) if rows.has_room_for(segment.len(), values) => rows,
            Some(rows) => {
                rows.write(tx).await?;
                Inserts::default()
            }
            None => Inserts::default(),
        };
        let select = add_moves(&mut statement, segment, first_stripe);
        let made = statement.fetch_all(Dialect::Postgres, &mut **tx, Some(&select)).await?.len();
        moved += made;
        if made < segment.len() {
            break;
        }
    }
    if let Some(rows) = beside {
        rows.write(tx).await?;
    }
    Ok(moved)
}

/// Writes `beside` and makes every one of `moves` in one statement that commits alone
/// (`connection` in no transaction), or fails and writes nothing: its last step
/// divides by zero when a move of the chain was not made. False, and nothing
/// written, when they do not fit in one statement.
pub(crate) async fn write_at_once(
    connection: &mut sqlx::AnyConnection,
    mut beside: Inserts,
    moves: &[Move<'_>],
    first_stripe: i64,
) -> Result<bool, StoreError> {
    let values = moves.iter().map(Move::values).sum();
    if moves.len() > MOVES_PER_STATEMENT || !beside.has_room_for(moves.len(), values) {
        return Ok(false);
    }
    let made = add_moves(&mut beside, moves, first_stripe);
    let all_made = format!("SELECT 1 / CAST(COUNT(*) = {} AS INTEGER) AS all_moved FROM ({made}) AS made", moves.len());
    beside.fetch_all(Dialect::Postgres, connection, Some(&all_made)).await?;
    Ok(true)
}

/// Adds the chain of moves as CTEs, each returning one row when it moved; answers the
/// select that returns those rows.
fn add_moves(statement: &mut Inserts, moves: &[Move<'_>], first_stripe: i64) -> String {
    let mut select = Vec::with_capacity(moves.len());
    for (index, step) in moves.iter().enumerate() {
        let gate = match index {
            0 => String::new(),
            _ => format!(" AND EXISTS (SELECT 1 FROM {})", MOVED[index - 1]),
        };
        if step.account.kind.striped() {
            statement.add_named(MOVED[index], &stripes::free_stripe_update(" FOR UPDATE SKIP LOCKED", &gate));
            statement.bind(step.delta).bind(step.code).bind(first_stripe);
        } else {
            statement.add_named(MOVED[index], &ledger::balance_update(&gate));
            statement.bind(step.delta).bind(step.code);
        }
        select.push(format!("SELECT moved FROM {}", MOVED[index]));
    }
    select.join(" UNION ALL ")
}
