//! Inserts held back and written in one round trip (issue 11: under load a write
//! costs what its round trips cost). On PostgreSQL they become one statement, each
//! insert a data-modifying CTE of it: they all run, on one snapshot, and the foreign
//! keys are checked when the statement ends. On SQLite they go as one string of
//! statements, run in order in one call (one hand-off to the connection's thread).

use app::StoreError;
use sqlx::any::AnyArguments;
use sqlx::{Any, Arguments, AssertSqlSafe, Encode, Transaction, Type};

use crate::{Dialect, db};

/// Bound values per written statement: below PostgreSQL's 65,535 and SQLite's
/// 32,766 (its limit is per statement of the string, so this is safe there too).
const VALUES_PER_WRITE: usize = 30_000;

/// Inserts that read nothing another of them writes, in the order added (parents
/// before children: SQLite checks a foreign key at each statement).
#[derive(Default)]
pub(crate) struct Inserts {
    writes: Vec<Write>,
}

/// Statements written together, and their values in binding order.
#[derive(Default)]
struct Write {
    statements: Vec<String>,
    /// The placeholders of `statements`: where the next one's are numbered from.
    numbered: usize,
    values: AnyArguments,
    error: Option<String>,
}

impl Inserts {
    /// Adds an `INSERT` whose placeholders are numbered `$1…$n`; its `n` values
    /// follow with `bind`, before the next statement is added.
    pub(crate) fn add(&mut self, statement: &str) -> &mut Self {
        let count = highest_placeholder(statement);
        match self.writes.last_mut() {
            Some(write) if write.numbered + count <= VALUES_PER_WRITE => {
                write.statements.push(renumbered(statement, write.numbered));
                write.numbered += count;
            }
            _ => self.writes.push(Write { statements: vec![statement.to_owned()], numbered: count, ..Write::default() }),
        }
        self
    }

    pub(crate) fn bind<'t, T: Encode<'t, Any> + Type<Any>>(&mut self, value: T) -> &mut Self {
        if let Some(write) = self.writes.last_mut()
            && let Err(error) = write.values.add(value)
        {
            write.error.get_or_insert(error.to_string());
        }
        self
    }

    /// Writes them all in the caller's transaction.
    pub(crate) async fn write(self, tx: &mut Transaction<'_, Any>) -> Result<(), StoreError> {
        let dialect = Dialect::of_connection(tx);
        for write in self.writes {
            if let Some(error) = write.error {
                return Err(StoreError::Database(format!("a value could not be bound: {error}")));
            }
            let sql = joined(dialect, &write.statements);
            sqlx::query_with(AssertSqlSafe(sql), write.values).execute(&mut **tx).await.map_err(db)?;
        }
        Ok(())
    }
}

/// One statement of PostgreSQL (every insert but the last a CTE of the last), or
/// SQLite's statements one after another.
fn joined(dialect: Dialect, statements: &[String]) -> String {
    match (dialect, statements) {
        (Dialect::Postgres, [ctes @ .., last]) if !ctes.is_empty() => {
            let ctes: Vec<String> = ctes.iter().enumerate().map(|(n, insert)| format!("insert_{n} AS ({insert})")).collect();
            format!("WITH {} {last}", ctes.join(", "))
        }
        _ => statements.join(";\n"),
    }
}

/// The largest `$N` of a statement: the number of values it binds.
fn highest_placeholder(statement: &str) -> usize {
    placeholders(statement).map(|(_, n)| n).max().unwrap_or(0)
}

/// The statement with each `$N` made `$(N + offset)`. Our statements hold no `$`
/// but their placeholders (every value is bound, none is a literal).
fn renumbered(statement: &str, offset: usize) -> String {
    if offset == 0 {
        return statement.to_owned();
    }
    let mut out = String::with_capacity(statement.len() + statement.len() / 8);
    let mut copied = 0;
    for (range, n) in placeholders(statement) {
        out.push_str(&statement[copied..range.start]);
        out.push_str(&format!("${}", n + offset));
        copied = range.end;
    }
    out.push_str(&statement[copied..]);
    out
}

/// Each `$N` of a statement: where it stands and its number.
fn placeholders(statement: &str) -> impl Iterator<Item = (std::ops::Range<usize>, usize)> + '_ {
    let bytes = statement.as_bytes();
    bytes.iter().enumerate().filter(|(_, byte)| **byte == b'$').filter_map(move |(start, _)| {
        let digits = bytes[start + 1..].iter().take_while(|byte| byte.is_ascii_digit()).count();
        let number = statement[start + 1..start + 1 + digits].parse().ok()?;
        Some((start..start + 1 + digits, number))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_moved_past_the_values_before_them() {
        let insert = "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $10)";
        assert_eq!(highest_placeholder(insert), 10);
        assert_eq!(renumbered(insert, 0), insert);
        assert_eq!(renumbered(insert, 7), "INSERT INTO t (a, b) VALUES ($8, $9), ($10, $17)");
        assert_eq!(highest_placeholder("SELECT 1"), 0);
    }

    #[test]
    fn postgres_gets_one_statement_and_sqlite_a_string_of_them() {
        let statements = ["INSERT INTO a VALUES ($1)".to_owned(), "INSERT INTO b VALUES ($2)".to_owned()];
        assert_eq!(
            joined(Dialect::Postgres, &statements),
            "WITH insert_0 AS (INSERT INTO a VALUES ($1)) INSERT INTO b VALUES ($2)"
        );
        assert_eq!(joined(Dialect::Sqlite, &statements), "INSERT INTO a VALUES ($1);\nINSERT INTO b VALUES ($2)");
        assert_eq!(joined(Dialect::Postgres, &statements[..1]), "INSERT INTO a VALUES ($1)");
    }

    #[test]
    fn a_write_holds_at_most_its_share_of_values() {
        let mut inserts = Inserts::default();
        let wide = crate::rows::multi_row_insert("t (a)", 1, VALUES_PER_WRITE - 1);
        inserts.add(&wide).add("INSERT INTO u VALUES ($1)").add("INSERT INTO v VALUES ($1, $2)");
        let counts: Vec<usize> = inserts.writes.iter().map(|write| write.statements.len()).collect();
        assert_eq!(counts, [2, 1], "the third would pass the bound: a write of its own");
        assert!(inserts.writes[1].statements[0].ends_with("($1, $2)"), "numbered from its own write's start");
    }
}
